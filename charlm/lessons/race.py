"""The RNN vs GRU vs LSTM race (section 4): the protocol the app runs, with equal steps, about equal
parameters (``matched_hidden_size``) and several seeds, so that the cells are compared on equal footing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from charlm.network.model import ModelConfig, parameter_count
from charlm.training.config import TrainConfig, preset

RACE_SEEDS = (0, 1, 2)  # each cell runs this many times: the spread says how much one run's luck counts
RACE_SIZE = ("lstm", 128)  # every cell gets about as many parameters as a one-layer LSTM of 128 units
# The same race run for thousands of steps on the novel (``scripts/long_race.py`` makes it; the page draws it).
LONG_RACE_FILE = Path(__file__).resolve().parents[2] / "assets" / "long-race.json"


def matched_hidden_size(cell: str, vocab_size: int, like: tuple[str, int] = RACE_SIZE) -> int:
    """The hidden size (a multiple of 8) that gives ``cell`` about as many parameters as the model ``like``:
    a plain RNN has a quarter of an LSTM's weights per unit, so a fair race gives it more units."""

    def count(c: str, h: int) -> int:
        return parameter_count(ModelConfig.for_vocab(vocab_size, cell=c, hidden_size=h, num_layers=1, dropout=0.0))

    target = count(*like)
    return min(range(8, 1025, 8), key=lambda h: abs(count(cell, h) - target))


def comparison_config(cell: str, steps: int, vocab_size: int, seed: int = 0) -> TrainConfig:
    """The app's cell race, on equal footing: the ``quick`` preset with the same number of steps for every cell,
    about the same number of parameters (``matched_hidden_size``), and the seed given; a validation loss five
    times in the run, no checkpoints or samples; on the CPU, where a small model's short run costs no GPU
    start-up (and, on a ZeroGPU Space, no visitor's quota). Time is the cost, reported apart."""
    return preset(
        "quick",
        cell=cell,
        hidden_size=matched_hidden_size(cell, vocab_size),
        max_steps=steps,
        max_seconds=0.0,
        epochs=1000,
        eval_every=max(1, steps // 5),
        eval_batches=5,
        save_every=0,
        sample_every=0,
        device="cpu",
        seed=seed,
    )


@dataclass(frozen=True)
class LongRace:
    """The long race as recorded: per cell, each seed's validation curve [(step, loss), ...]."""

    steps: int
    curves: dict[str, list[list[tuple[int, float]]]]
    hidden_sizes: dict[str, int]
    command: str
    machine: str

    def mean_at(self, cell: str, step: int) -> float:
        """The mean over the seeds of the validation loss at ``step`` (the nearest recorded step)."""
        values = [min(curve, key=lambda point: abs(point[0] - step))[1] for curve in self.curves[cell]]
        return sum(values) / len(values)

    def final(self, cell: str) -> tuple[float, float]:
        """The mean of the seeds' last validation losses, and half their spread."""
        last = [curve[-1][1] for curve in self.curves[cell]]
        return sum(last) / len(last), (max(last) - min(last)) / 2


def long_race(path: Path = LONG_RACE_FILE) -> LongRace | None:
    """The recorded long race, or None if the file is missing (the page then shows the live race alone)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    curves: dict[str, list[list[tuple[int, float]]]] = {}
    hidden: dict[str, int] = {}
    for run in record["runs"]:
        curves.setdefault(run["cell"], []).append([(int(s), float(v)) for s, v in run["val_loss"]])
        hidden[run["cell"]] = int(run["hidden_size"])
    return LongRace(int(record["steps"]), curves, hidden, record["command"], record["machine"])
