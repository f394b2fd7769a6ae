"""Cold starts: does the model cope with a blank memory, as sampling and scoring begin with?

In training, a row's carried memory is blank only at the start of each pass over the text, so a model
may learn little about starting from nothing; sampling, the held-out loss and the app's every prime
start there. A model that never learned it can get *stuck* after a cold start: write ``II3I33$3$…`` to
the end, at a loss worse than guessing (issue 17: a Tiny Shakespeare model, from a blank memory at a
line break). ``cold_starts`` measures it: the same characters scored twice, once after a blank start and
once after a long warm-up of the text before them; a start is stuck when the cold loss stays more than
``STUCK_GAP`` nats/char above the warm one well after the start (characters 100 to 300 after it), by which
time any healthy model has recovered. The cure is in training: ``clear_rows`` sends a small share of
the rows back to a blank memory at every batch (``TrainConfig.cold_start_share``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.network.model import CharRNN, State

STUCK_GAP = 1.0  # nats per character
SCORED = (100, 300)  # characters after the start that are compared: past a healthy model's recovery
WARM_UP = 400  # characters read before the start, for the warm score


def clear_rows(state: State, share: float, seed: int, step: int, first_row: int = 0, batch_rows: int = 0) -> State:
    """Training's cure (``TrainConfig.cold_start_share``): ``state`` with a random ``share`` of its rows
    cleared, so the model also learns to start from a blank memory. Which rows is a pure function of the
    seed and the step, so a resumed run clears the same ones. A process that trains rows ``first_row`` on
    of a batch of ``batch_rows`` (``training/distributed.py``) clears its part of the same choice."""
    if not share:
        return state
    rows = (state[0] if isinstance(state, tuple) else state).shape[1]
    chosen = np.random.default_rng([seed, step]).random(batch_rows or rows)
    blank = chosen[first_row : first_row + rows] < share
    if not blank.any():
        return state
    keep = torch.from_numpy(~blank).to(state[0].device if isinstance(state, tuple) else state.device, torch.float32)[
        None, :, None
    ]
    return tuple(s * keep for s in state) if isinstance(state, tuple) else state * keep


@dataclass(frozen=True)
class ColdStarts:
    starts: int  # how many were tried
    stuck: int  # of them, how many stayed STUCK_GAP above the warm loss
    mean_gap: float  # cold minus warm, nats/char, averaged over the starts
    worst_gap: float


@torch.inference_mode()
def cold_starts(model: CharRNN, data: np.ndarray, at: int, starts: int = 300) -> ColdStarts:
    """Up to ``starts`` starts at the character coded ``at`` (a line break, say), evenly spread over ``data``
    (the held-out part), each scored cold and warm on characters ``SCORED`` after it."""
    end = SCORED[1]
    places = np.flatnonzero(data[WARM_UP : len(data) - end - 1] == at) + WARM_UP
    if len(places) == 0:
        return ColdStarts(0, 0, 0.0, 0.0)
    places = np.unique(places[np.linspace(0, len(places) - 1, min(starts, len(places))).round().astype(int)])
    was_training = model.training
    model.eval()
    try:
        cold = _row_losses(model, data, places, 0)
        warm = _row_losses(model, data, places, WARM_UP)
    finally:
        model.train(was_training)
    gaps = cold - warm
    return ColdStarts(len(places), int((gaps > STUCK_GAP).sum()), float(gaps.mean()), float(gaps.max()))


def _row_losses(model: CharRNN, data: np.ndarray, places: np.ndarray, before: int) -> np.ndarray:
    """Per start: the mean loss on characters SCORED after it, reading ``before`` characters ahead of it."""
    device = model.decoder.weight.device
    first, end = SCORED
    index = places[:, None] - before + np.arange(before + end + 1)[None, :]
    rows = torch.from_numpy(data[index]).to(device)
    logits, _ = model(rows[:, :-1])
    scored = slice(before + first, before + end)
    losses = F.cross_entropy(logits[:, scored].float().transpose(1, 2), rows[:, 1:][:, scored].long(), reduction="none")
    return losses.mean(dim=1).double().cpu().numpy()
