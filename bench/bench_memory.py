"""The memory estimate against what training really takes: peak RSS of two steps, one process per shape.

    python bench/bench_memory.py

Prints measured and estimated megabytes and their ratio; the estimate (charlm/training/memory.py) should stay
above what is measured (ratio of estimate to measured ≥ 1) without being wildly above it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [
    (2, 256, 64, 100, "lstm"),
    (2, 512, 64, 128, "lstm"),
    (1, 1024, 32, 256, "lstm"),
    (3, 512, 128, 64, "lstm"),
    (2, 512, 64, 128, "gru"),
    (2, 512, 64, 128, "rnn"),
]
CHILD = """
import resource, sys, torch
from charlm import Corpus, preset, train
from charlm.training.memory import estimate_training_bytes
L, H, N, M, cell = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
text = ("The quick brown fox jumps over the lazy dog; " * 30000)[:600000] + "".join(map(chr, range(33, 127)))
corpus = Corpus.from_text(text, val_fraction=0.0)
torch.set_num_threads(1)
train(corpus, preset("tiny", max_steps=2, val_fraction=0.0, eval_every=0))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cfg = preset("quick", cell=cell, num_layers=L, hidden_size=H, batch_size=N, num_steps=M, max_steps=2, val_fraction=0.0,
             eval_every=0, sample_every=0, save_every=0, dropout=0.0)
train(corpus, cfg)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(peak - base, estimate_training_bytes(cfg, len(corpus.vocab)) / 2**20)
"""


def main() -> None:
    print("| model | batch | measured MB | estimated MB | estimate / measured |")
    print("|---|---|---:|---:|---:|")
    for L, H, N, M, cell in SHAPES:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(L), str(H), str(N), str(M), cell],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        measured, estimated = float(out[0]), float(out[1])
        print(
            f"| {L}×{H} {cell} | {N}×{M} | {measured:,.0f} | {estimated:,.0f} | {estimated / measured:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
