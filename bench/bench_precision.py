"""The sampler in int8 against fp32: what it costs in quality and what it gains in speed, in one run.

    python bench/bench_precision.py [--rows 32] [--chars 2000] [--rounds 5]

For each shipped model, on the held-out end of *Anna Karenina* (the last 10 %, which the models never trained
on): the loss in nats per character with each precision (``--rows`` stretches of ``--chars`` characters,
stepped together, each from a blank memory), the mean KL divergence of int8's next-character distribution
from fp32's, and how often their most likely next characters agree. Then the speed: one stream writing 500
characters, and 30 streams together (``Generations``), fp32 and int8 alternated round by round, with the
median per-round ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA, machine  # noqa: E402
from charlm import Sampler  # noqa: E402
from charlm.sampling.fast.products import kernel_name  # noqa: E402
from charlm.serving.generations import Generations  # noqa: E402
from charlm.training.checkpoint import load_checkpoint  # noqa: E402


def log_probs(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def quality(fp32: Sampler, int8: Sampler, codes: np.ndarray) -> tuple[float, float, float, float]:
    """(fp32 loss, int8 loss, mean KL(fp32 ‖ int8), top-1 agreement) over ``codes`` (rows, length)."""
    rows_f, rows_q = (s.stack_states([s.new_state() for _ in range(len(codes))]) for s in (fp32, int8))
    loss_f = loss_q = kl = agree = 0.0
    steps = codes.shape[1] - 1
    for t in range(steps):
        lf, lq = log_probs(fp32.advance(rows_f, codes[:, t])), log_probs(int8.advance(rows_q, codes[:, t]))
        target = codes[:, t + 1]
        loss_f -= lf[np.arange(len(codes)), target].sum()
        loss_q -= lq[np.arange(len(codes)), target].sum()
        kl += (np.exp(lf) * (lf - lq)).sum()
        agree += (lf.argmax(axis=1) == lq.argmax(axis=1)).sum()
    n = steps * len(codes)
    return loss_f / n, loss_q / n, kl / n, agree / n


def one_stream(sampler: Sampler) -> float:
    t = time.perf_counter()
    for _ in sampler.stream("The ", 500, 4, 1.0, 1):
        pass
    return time.perf_counter() - t


def thirty(gens: Generations) -> float:
    threads = [
        threading.Thread(target=lambda s=s: [None for _ in gens.stream("The ", 500, 4, 1.0, s)]) for s in range(30)
    ]
    with gens.held():
        for t in threads:
            t.start()
        while gens.waiting < 30:
            time.sleep(0.001)
        start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    text = (CORPORA / "anna.txt").read_text(encoding="utf-8")
    held_out = text[int(len(text) * 0.9) :]
    print(f"# {machine()}; products by {kernel_name()}; load average {os.getloadavg()[0]:.2f} at the start")
    print(f"\nQuality: {args.rows} stretches of {args.chars:,} held-out characters, each from a blank memory\n")
    print(
        "| model | fp32 loss | int8 loss | int8 − fp32 | mean KL(fp32 ‖ int8), nats | same top choice | "
        "weights fp32 → int8 |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    samplers = {}
    for path in sorted((ROOT / "assets").glob("*.safetensors")):
        ckpt = load_checkpoint(path)
        fp32, int8 = Sampler(ckpt.model, ckpt.vocab), Sampler(ckpt.model, ckpt.vocab, "int8")
        samplers[path.stem] = fp32, int8
        stretch = len(held_out) // args.rows
        codes = np.stack(
            [ckpt.vocab.encode(held_out[i * stretch : i * stretch + args.chars]) for i in range(args.rows)]
        )
        lf, lq, kl, agree = quality(fp32, int8, codes)
        print(
            f"| {path.stem} | {lf:.4f} | {lq:.4f} | {lq - lf:+.4f} | {kl:.5f} | {agree:.2%} | "
            f"{fp32.nbytes / 1e6:.1f} → {int8.nbytes / 1e6:.1f} MB |",
            flush=True,
        )
    print("\nSpeed: fp32 and int8 alternated round by round (median of per-round ratios)\n")
    print(
        "| model | one stream, 500 chars: fp32 / int8 | int8 ÷ fp32 | 30 streams together: fp32 / int8 | int8 ÷ fp32 |"
    )
    print("|---|---|---:|---|---:|")
    for name, (fp32, int8) in samplers.items():
        gens = Generations(fp32), Generations(int8)
        for s in (fp32, int8):
            one_stream(s)  # compiled and warm
        singles, batches = [], []
        for r in range(args.rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            single = {i: one_stream((fp32, int8)[i]) for i in order}
            batch = {i: thirty(gens[i]) for i in order}
            singles.append(single)
            batches.append(batch)
        one = [statistics.median(s[i] for s in singles) for i in (0, 1)]
        many = [statistics.median(b[i] for b in batches) for i in (0, 1)]
        print(
            f"| {name} | {500 / one[0]:,.0f} / {500 / one[1]:,.0f} chars/s | "
            f"{statistics.median(s[0] / s[1] for s in singles):.2f}× | "
            f"{15000 / many[0]:,.0f} / {15000 / many[1]:,.0f} chars/s | "
            f"{statistics.median(b[0] / b[1] for b in batches):.2f}× |",
            flush=True,
        )
    print(f"\n# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
