"""The learning rate over a run: linear warm-up, then constant or a cosine decay to a floor.

A pure function of the step (and of where the schedule was last re-anchored), so a resumed run needs no
scheduler state and continues bit for bit. A run resumed with a different length (``--max-steps``,
``--epochs``) under the cosine schedule does not start its decay again from the top (which would jump the
rate back up, e.g. from 4e-4 to 2.3e-3): the schedule is re-anchored at the step it resumes from, and decays
from the rate it had reached there to the floor at the new end. A run resumed past its old end goes on at
the floor.
"""

from __future__ import annotations

import math

from charlm.training.config import TrainConfig

Anchor = tuple[int, float, int]  # (step, learning rate there, the run's last step): the decay restarts from here


def learning_rate_at(config: TrainConfig, step: int, total_steps: int, anchor: Anchor | None = None) -> float:
    """Linear warm-up, then constant or cosine decay (from ``anchor`` when the run's length changed)."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant" or total_steps <= config.warmup_steps:
        return config.learning_rate
    floor = config.learning_rate * config.min_lr_ratio
    start, top, end = anchor if anchor is not None else (config.warmup_steps, config.learning_rate, total_steps)
    progress = min(1.0, max(0, step - start) / max(1, end - start))
    return floor + 0.5 * (top - floor) * (1 + math.cos(math.pi * progress))


def reanchor(config: TrainConfig, step: int, old_total: int, new_total: int, anchor: Anchor | None) -> Anchor | None:
    """The anchor for a run resumed at ``step`` whose length went from ``old_total`` to ``new_total`` steps:
    unchanged when the length is (or nothing decays yet: constant, or still warming up); otherwise the decay
    goes on from the rate reached at ``step``, down to the floor at ``new_total``."""
    if new_total == old_total or not old_total or config.lr_schedule == "constant" or step < config.warmup_steps:
        return anchor
    return step, learning_rate_at(config, step, old_total, anchor), new_total
