"""The held-out loss (chapter section 5.10): the same cross-entropy as training, over the end of the
text the model never trains on, cut into rows with the state carried along each row.

Two figures, named for what they cover:
- ``evaluate`` scores whole N×M windows (``validation_batches``), optionally only the first few: the
  periodic check during training, cheap and always the same characters, so its curve moves only when
  the model does. It is a *subset*, and says how much of the part it covers (``subset_chars``).
- ``score_held_out`` scores every held-out character exactly once: the final figure of a run and of the
  CLI's ``evaluate``. Cutting into whole windows drops up to N·M − 1 characters at the end (on
  ``anna.txt``, its licence text); here the rows run to the end and the last few characters follow the
  last row.

In both, every row but the first starts from the memory of reading the 256 characters before it
(``warm_rows``), as one stream through the part would: a row from a blank memory would add a cold start's
cost to the figure per row, so it would change with how the part is cut.  Both run on the model's device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.data.batches import Batches
from charlm.errors import CharLMError
from charlm.network.model import CharRNN
from charlm.training.config import TrainConfig
from charlm.training.device import mixed_precision


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per character, in float32 whatever the scores' precision."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def validation_batches(data: np.ndarray, config: TrainConfig) -> Batches:
    """The held-out text cut like the training text; fewer rows if it is short."""
    rows = min(config.batch_size, max(1, (len(data) - 1) // config.num_steps))
    return Batches(data, rows, config.num_steps, what="The validation part")


WARM_UP = 256  # characters a held-out row reads before its first scored one


def subset_chars(batches: Batches, max_batches: int = 0) -> int:
    """How many characters ``evaluate(model, batches, max_batches)`` scores."""
    n = len(batches) if not max_batches else min(max_batches, len(batches))
    return n * batches.batch_size * batches.num_steps


@dataclass(frozen=True)
class HeldOutScore:
    """Mean cross-entropy (nats per character) over ``chars`` characters, every one of the part."""

    loss: float
    chars: int

    @property
    def bits(self) -> float:
        return self.loss / math.log(2)


@torch.inference_mode()
def score_held_out(model: CharRNN, data: np.ndarray, rows: int, num_steps: int, bf16: bool = False) -> HeldOutScore:
    """Every character of ``data`` after the first, predicted once from the state carried along its row.

    The part is cut into ``rows`` equal rows (fewer if it is short), each read in windows of ``num_steps``
    (the last one shorter), all rows side by side as in training; the few characters left over (fewer
    than ``rows``) continue the last row, from its state. Each row after the first starts from the memory
    of reading the ``WARM_UP`` characters before it (not scored), as a single stream through the part
    would: otherwise every row would begin from a blank memory, and the figure would change with how many
    rows the part is cut into (by 0.005 nats/char on the novel with 64 rows).
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
    x_all, y_all = grid[:-1].reshape(rows, length), grid[1:].reshape(rows, length)
    total = torch.zeros((), dtype=torch.float64, device=device)
    try:
        state = warm_rows(model, x_all, bf16)
        for start in range(0, length, num_steps):
            x, y = x_all[:, start : start + num_steps], y_all[:, start : start + num_steps]
            with mixed_precision(device, bf16):
                logits, state = model(x, state)
            total += _summed(logits, y)
        tail = targets - rows * length
        if tail:  # the last row goes on over the characters left over
            rest = torch.from_numpy(np.ascontiguousarray(data[rows * length :])).to(device)
            last = (
                tuple(s[:, -1:].contiguous() for s in state) if isinstance(state, tuple) else state[:, -1:].contiguous()
            )
            with mixed_precision(device, bf16):
                logits, _ = model(rest[:-1].unsqueeze(0), last)
            total += _summed(logits, rest[1:].unsqueeze(0))
    finally:
        model.train(was_training)
    return HeldOutScore(float(total.item()) / targets, targets)


def warm_rows(model: CharRNN, inputs: torch.Tensor, bf16: bool = False):
    """The state each row of a (rows, length) grid of contiguous text starts from: blank for the first row;
    for the others, the memory of reading the ``WARM_UP`` characters just before it, which are the end of
    the row above."""
    if inputs.shape[0] == 1:
        return None
    with mixed_precision(inputs.device, bf16):
        _, state = model(inputs[:-1, -min(WARM_UP, inputs.shape[1]) :])
    blank = model.init_state(1)
    if isinstance(state, tuple):
        return tuple(torch.cat([b.to(s.device, s.dtype), s], dim=1) for b, s in zip(blank, state))
    return torch.cat([blank.to(state.device, state.dtype), state], dim=1)


def _summed(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").double()


@torch.inference_mode()
def evaluate(model: CharRNN, batches: Batches, max_batches: int = 0, bf16: bool = False) -> float:
    """Mean cross-entropy per character (nats) over the windows, state carried as in training (each row
    warmed up on the end of the row above, as ``score_held_out`` does), on the model's device. The losses
    stay there until the end: one transfer, not one per batch."""
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    losses, sizes = [], []
    n = len(batches) if not max_batches else min(max_batches, len(batches))
    try:
        state = warm_rows(model, torch.from_numpy(batches.inputs).to(device), bf16)
        for i in range(n):
            x, y = batches[i]
            x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            with mixed_precision(device, bf16):
                logits, state = model(x, state)
            losses.append(cross_entropy(logits, y))  # left on the device: one transfer at the end, not one per batch
            sizes.append(y.numel())
    finally:
        model.train(was_training)
    means = torch.stack(losses).cpu().tolist()
    return sum(mean * size for mean, size in zip(means, sizes)) / sum(sizes)
