"""What Stop costs a live run: the final held-out figure, whole or within the app's budget.

    python bench/bench_final_score.py

Scores the novel's held-out part with untrained models of the shipped size and larger (the time does not
depend on the weights), as a run with N = M = 1 would at its end (one row: the slowest case) and as one with
N = M = 100, within ``LIVE_FINAL_GFLOP`` and, for reference in the same process, whole. Prints seconds,
characters scored and the whole part's cost in billions of operations.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine
from charlm.data.corpora import load_builtin
from charlm.network.model import CharRNN, ModelConfig
from charlm.training.config import LIVE_FINAL_GFLOP
from charlm.training.evaluate import operations_per_char, score_held_out


def timed(model: CharRNN, data, rows: int, num_steps: int, budget: float) -> str:
    start = time.perf_counter()
    score = score_held_out(model, data, rows, num_steps, budget=budget)
    return f"{time.perf_counter() - start:.1f} s for {score.chars:,} of {score.held_out_chars:,} characters"


def main() -> None:
    torch.set_num_threads(2)  # a shared two-core server, as the figures in docs/library.md
    print(f"# the final held-out figure — {machine()}, torch threads 2, budget {LIVE_FINAL_GFLOP:,.0f} GFLOP")
    data = load_builtin("anna-karenina").val_data
    for hidden, rows, steps in [(512, 1, 1), (1024, 1, 1), (1024, 100, 100)]:
        torch.manual_seed(0)
        model = CharRNN(ModelConfig.for_vocab(83, cell="lstm", hidden_size=hidden, num_layers=2, dropout=0.5))
        cost = operations_per_char(model) * (len(data) - 1) / 1e9
        print(f"\n## 2x{hidden}, N={rows}, M={steps}: the whole part costs {cost:,.0f} GFLOP")
        print(f"within the budget: {timed(model, data, rows, steps, LIVE_FINAL_GFLOP * 1e9)}")
        print(f"whole (reference): {timed(model, data, rows, steps, 0.0)}")


if __name__ == "__main__":
    main()
