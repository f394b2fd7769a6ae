"""The held-out loss (chapter section 5.10): the same cross-entropy as training, over the end of the
text the model never trains on, cut into rows with the state carried along each row.

``score_held_out`` gives two figures, named for what they cover:
- every held-out character scored once (``windows=0``): the final figure of a run and of the CLI's
  ``evaluate``. The rows run to the end, and the last few characters follow the last row, so nothing
  is left out (cutting into whole N×M windows would drop up to N·M − 1 characters at the end: on
  ``anna.txt``, its licence text).
- a *subset* of ``windows`` windows per row, spread evenly along the rows (``windows=k``): the periodic
  check during training, cheap and always the same characters, so its curve moves only when the model
  does. Spread, because a text's parts differ: the first windows of each row alone read 0.07 nats/char
  away from the whole figure on the built-in novel (its last rows are Project Gutenberg's licence, in
  capitals); spread windows read within 0.01 of it.

In both, every scored stretch starts from the memory of reading the 256 characters before it
(``WARM_UP``), as one stream through the part would: a row from a blank memory would add a cold start's
cost to the figure per row, so it would change with how the part is cut. Both run on the model's device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.errors import CharLMError
from charlm.network.model import CharRNN
from charlm.training.device import mixed_precision
from charlm.training.distributed import ALONE, Ranks


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per character, in float32 whatever the scores' precision."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1).long())


WARM_UP = 256  # characters a held-out row reads before its first scored one
WHOLE_WINDOW = 128  # the shortest window the whole part is scored in (any length gives the same figure)


@dataclass(frozen=True)
class HeldOutScore:
    """Mean cross-entropy (nats per character) over ``chars`` of the part's ``held_out_chars`` characters
    (all of them, or a subset of windows spread along it)."""

    loss: float
    chars: int
    held_out_chars: int

    @property
    def bits(self) -> float:
        return self.loss / math.log(2)

    @property
    def whole(self) -> bool:
        return self.chars >= self.held_out_chars


def operations_per_char(model: CharRNN) -> int:
    """What reading one character costs, in arithmetic operations: every weight is used once per character
    in a multiply and an add (the one-hot input's weights too), so twice the parameter count."""
    return 2 * sum(p.numel() for p in model.parameters())


def windows_within(model: CharRNN, chars: int, rows: int, window: int, budget: float) -> int:
    """0 (score every character) when the ``chars`` held-out characters cost at most ``budget`` operations
    (or ``budget`` is 0: no limit); else how many windows of ``window`` per row, spread along the rows, fit
    in it (at least one), each read after its ``WARM_UP`` characters."""
    per_char = operations_per_char(model)
    if not budget or chars * per_char <= budget:
        return 0
    return max(1, int(budget // (per_char * rows * (WARM_UP + window))))


@torch.inference_mode()
def score_held_out(
    model: CharRNN,
    data: np.ndarray,
    rows: int,
    num_steps: int,
    bf16: bool = False,
    windows: int = 0,
    budget: float = 0.0,
    ranks: Ranks = ALONE,
) -> HeldOutScore:
    """The mean cross-entropy over the held-out ``data``: every character after the first predicted once
    from the state carried along its row (``windows=0``), or only ``windows`` windows of ``num_steps``
    per row, spread evenly along the rows (the periodic subset; the whole part if they would cover it).
    With a ``budget`` of operations (0: none), every character is scored only if that fits in it; else
    as many spread windows as fit (a large model on a long part on a shared CPU: minutes become seconds,
    and ``HeldOutScore.whole`` says which it was).

    The part is cut into ``rows`` equal rows (fewer if it is short), each read in windows of ``num_steps``
    (the last one shorter), all rows side by side as in training; the few characters left over (fewer
    than ``rows``) continue the last row, from its state. Each row after the first starts from the memory
    of reading the ``WARM_UP`` characters before it (not scored), as a single stream through the part
    would: otherwise every row would begin from a blank memory, and the figure would change with how many
    rows the part is cut into (by 0.005 nats/char on the novel with 64 rows).

    With several processes (``ranks``), each scores its share of the rows and the sums are added up: the same
    characters, each scored once, whatever the number of processes.
    """
    targets = len(data) - 1
    if targets < 1:
        raise CharLMError(
            "The held-out part needs at least 2 characters.",
            key="val_too_short",
            n_chars=len(data),
            num_steps=num_steps,
        )
    rows = max(1, min(rows, targets // max(1, num_steps)))
    length = targets // rows
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    grid = torch.from_numpy(np.ascontiguousarray(data[: rows * length + 1])).to(device)
    inputs, targets_grid = grid[:-1].reshape(rows, length), grid[1:].reshape(rows, length)
    if not windows:  # every character, unless that costs more than the budget
        window = max(num_steps, WHOLE_WINDOW)
        windows = windows_within(model, targets, rows, window, budget)
        num_steps = window if windows else num_steps
    mine = ranks.share_of(rows)
    try:
        if windows and windows * num_steps < length:
            total = _score_spread(model, inputs, targets_grid, windows, num_steps, bf16, mine)
            chars = windows * num_steps * rows
            return HeldOutScore(float(ranks.total(total).item()) / chars, chars, targets)
        # each row's state is carried exactly from window to window, so longer windows give the same figure:
        # a run with M = 1 is scored in windows of 128, not one character per call (minutes on the novel)
        total = _score_every_character(model, data, inputs, targets_grid, max(num_steps, WHOLE_WINDOW), bf16, mine)
        return HeldOutScore(float(ranks.total(total).item()) / targets, targets, targets)
    finally:
        model.train(was_training)


def _score_every_character(
    model: CharRNN,
    data: np.ndarray,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    num_steps: int,
    bf16: bool,
    mine: range,
) -> torch.Tensor:
    """The summed loss of rows ``mine`` of the grid, every character (the last row's goes on over the
    characters past the grid)."""
    rows, length = inputs.shape
    total = torch.zeros((), dtype=torch.float64, device=inputs.device)
    if not mine:  # more processes than rows: nothing here
        return total
    state = warm_rows(model, inputs, bf16, mine)
    inputs, targets = inputs[mine.start : mine.stop], targets[mine.start : mine.stop]
    for start in range(0, length, num_steps):
        with mixed_precision(inputs.device, bf16):
            logits, state = model(inputs[:, start : start + num_steps], state)
        total += _summed(logits, targets[:, start : start + num_steps])
    tail = len(data) - 1 - rows * length
    if tail and mine.stop == rows:  # the last row goes on over the characters left over
        rest = torch.from_numpy(np.ascontiguousarray(data[rows * length :])).to(inputs.device)
        last = tuple(s[:, -1:].contiguous() for s in state) if isinstance(state, tuple) else state[:, -1:].contiguous()
        with mixed_precision(inputs.device, bf16):
            logits, _ = model(rest[:-1].unsqueeze(0), last)
        total += _summed(logits, rest[1:].unsqueeze(0))
    return total


def spread_starts(length: int, num_steps: int, windows: int) -> list[int]:
    """Where ``windows`` windows of ``num_steps`` sit along a row of ``length``: one in the middle of each
    of ``windows`` equal shares of the row (so they never overlap when they fit)."""
    return [min(max(0, int((i + 0.5) * length / windows - num_steps / 2)), length - num_steps) for i in range(windows)]


def _score_spread(
    model: CharRNN,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    windows: int,
    num_steps: int,
    bf16: bool,
    mine: range,
) -> torch.Tensor:
    """The summed loss of the windows of ``spread_starts`` in rows ``mine``, each window read from the memory
    of the ``WARM_UP`` characters before it (from the row above for a window near the start of its row)."""
    total = torch.zeros((), dtype=torch.float64, device=inputs.device)
    if not mine:
        return total
    row_starts = warm_rows(model, inputs, bf16, mine)
    starts = spread_starts(inputs.shape[1], num_steps, windows)
    inputs, targets = inputs[mine.start : mine.stop], targets[mine.start : mine.stop]
    for start in starts:
        with mixed_precision(inputs.device, bf16):
            if start >= WARM_UP:
                _, state = model(inputs[:, start - WARM_UP : start])
            elif start:
                _, state = model(inputs[:, :start], row_starts)
            else:
                state = row_starts
            logits, _ = model(inputs[:, start : start + num_steps], state)
        total += _summed(logits, targets[:, start : start + num_steps])
    return total


def warm_rows(model: CharRNN, inputs: torch.Tensor, bf16: bool = False, rows: range | None = None):
    """The state each row of a (rows, length) grid of contiguous text starts from (of ``rows``, by default
    all): blank for the first row; for the others, the memory of reading the ``WARM_UP`` characters just
    before it, which are the end of the row above."""
    rows = range(inputs.shape[0]) if rows is None else rows
    above = range(max(rows.start, 1) - 1, rows.stop - 1)  # the row above each of them but the grid's first
    if not above:
        return None  # only the first row: a blank memory
    with mixed_precision(inputs.device, bf16):
        _, state = model(inputs[above.start : above.stop, -min(WARM_UP, inputs.shape[1]) :])
    if rows.start > 0:
        return state
    blank = model.init_state(1)
    if isinstance(state, tuple):
        return tuple(torch.cat([b.to(s.device, s.dtype), s], dim=1) for b, s in zip(blank, state))
    return torch.cat([blank.to(state.device, state.dtype), state], dim=1)


def _summed(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), reduction="sum"
    ).double()
