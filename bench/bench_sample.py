"""Sampling speed: charlm's ``Sampler`` against the plain one-step ``nn.LSTM`` loop.

    python bench/bench_sample.py [--chars 2000]

Batch 1, top-N 4, the same seed; the two must produce the same text (checked here too).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine, peak_memory_mb, reset_peak_memory
from charlm import Sampler, Vocab, reference_generate
from charlm.network.model import CharRNN, ModelConfig

GOALS = {512: 2400, 256: 6000, 128: 9000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--ref-chars", type=int, default=300)
    args = parser.parse_args()
    vocab = Vocab(tuple(chr(c) for c in range(32, 115)))  # 83 characters, like anna.txt
    print(f"# sampling speed, batch 1, top-N 4 — {machine()}")
    print("| model | plain nn.LSTM chars/s | charlm chars/s | ratio | goal | same text | peak MB |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for cell in ("lstm", "gru"):
        for hidden in (512, 256, 128):
            torch.manual_seed(0)
            model = CharRNN(ModelConfig(len(vocab), cell=cell, hidden_size=hidden, num_layers=2)).eval()
            reset_peak_memory()
            t = time.perf_counter()
            ref = reference_generate(model, vocab, "The ", args.ref_chars, top_n=4, seed=1)
            ref_rate = args.ref_chars / (time.perf_counter() - t)
            sampler = Sampler(model, vocab)
            sampler.generate("The ", 50, seed=0)  # warm up
            t = time.perf_counter()
            fast = sampler.generate("The ", args.chars, top_n=4, seed=1)
            rate = args.chars / (time.perf_counter() - t)
            goal = GOALS[hidden] if cell == "lstm" else 0
            print(
                f"| 2×{hidden} {cell} | {ref_rate:,.0f} | {rate:,.0f} | {rate / ref_rate:.1f}× | "
                f"{goal or '–'} | {fast[: len(ref)] == ref} | {peak_memory_mb():,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
