"""The memory estimates against what training and scoring really take: peak RSS of two training steps, and of
scoring held-out text, one process per shape.

    python bench/bench_memory.py

Prints measured and estimated megabytes and their ratio; each estimate (charlm/training/memory.py:
``estimate_training_bytes``, ``estimate_scoring_bytes``) should stay above what is measured (ratio of estimate
to measured ≥ 1) without being wildly above it.
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

SCORING_SHAPES = [
    (2, 512, 100, 100, "lstm"),
    (2, 1024, 256, 128, "lstm"),
    (4, 1024, 512, 512, "lstm"),
    (2, 512, 512, 64, "gru"),
    (2, 1024, 256, 128, "rnn"),
]
SCORING_CHILD = """
import sys, numpy as np, torch
from pathlib import Path
from charlm import preset
from charlm.network.model import CharRNN
from charlm.training.evaluate import score_held_out
from charlm.training.memory import estimate_scoring_bytes
L, H, N, M, cell = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def status(field):
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) / 1024 for line in lines if line.startswith(field))
torch.set_num_threads(1)
cfg = preset("quick", cell=cell, num_layers=L, hidden_size=H, batch_size=N, num_steps=M, dropout=0.0)
model = CharRNN(cfg.model_config(83))
data = np.random.default_rng(0).integers(0, 83, size=N * M * 3 + 1).astype(np.uint8)
Path("/proc/self/clear_refs").write_text("5")
base = status("VmRSS:")
with torch.no_grad():
    score_held_out(model, data, N, M)
print(status("VmHWM:") - base, estimate_scoring_bytes(cfg, 83, N) / 2**20)
"""


def measure(child: str, shape: tuple) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", child, *map(str, shape)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    print("Training (two steps):")
    print("| model | batch | measured MB | estimated MB | estimate / measured |")
    print("|---|---|---:|---:|---:|")
    for L, H, N, M, cell in SHAPES:
        measured, estimated = measure(CHILD, (L, H, N, M, cell))
        print(
            f"| {L}×{H} {cell} | {N}×{M} | {measured:,.0f} | {estimated:,.0f} | {estimated / measured:.2f} |",
            flush=True,
        )
    print("\nScoring held-out text (N rows, windows of max(M, 256)):")
    print("| model | rows × M | measured MB | estimated MB | estimate / measured |")
    print("|---|---|---:|---:|---:|")
    for L, H, N, M, cell in SCORING_SHAPES:
        measured, estimated = measure(SCORING_CHILD, (L, H, N, M, cell))
        print(
            f"| {L}×{H} {cell} | {N}×{M} | {measured:,.0f} | {estimated:,.0f} | {estimated / measured:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
