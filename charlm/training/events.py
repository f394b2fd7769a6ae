"""What a training reports as it goes: one small dataclass per kind of news.

``train`` passes each to the ``on_event`` callable it was given: the CLI prints them, a
``TrainingJob`` folds them into the snapshot the app polls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class StepEvent:
    epoch: int  # 1-based, for the log line
    epochs: int
    step: int
    total_steps: int
    loss: float
    sec_per_batch: float
    chars_per_sec: float
    learning_rate: float
    elapsed: float
    grad_norm: float = math.nan  # the gradient's global norm before clipping (clipping fired if above grad_clip)

    def log_line(self) -> str:
        """The chapter's log line, plus throughput."""
        return (
            f"Epoch: {self.epoch}/{self.epochs}... Step: {self.step}... loss: {self.loss:.4f}... "
            f"{self.sec_per_batch:.3f} sec/batch, {self.chars_per_sec:,.0f} chars/s"
        )


@dataclass
class EvalEvent:
    """A held-out loss: of ``chars`` characters, the periodic subset (``whole`` False: the curve) or the
    run's final figure (``whole`` True): every character of the held-out part's ``held_out_chars``, or,
    past the run's budget, fewer."""

    step: int
    val_loss: float
    chars: int = 0
    whole: bool = False
    held_out_chars: int = 0


@dataclass
class SampleEvent:
    step: int
    text: str


@dataclass
class CheckpointEvent:
    step: int
    path: Path


EventHandler = Callable[[object], None]
