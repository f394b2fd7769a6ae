"""Cold starts against the share of rows whose memory training clears (``cold_start_share``).

    python bench/bench_cold_start.py [--corpus tinyshakespeare.txt] [--presets quick small] [--shares 0 0.02]

Trains each preset with each share (deterministic: the same seed, so the only difference is the share),
then prints the held-out loss over every held-out character, how many of 300 cold starts at a line
break get stuck (``charlm.training.cold_start``), the mean cold-minus-warm gap, the training time, and the
periodic validation curve (a stuck row start makes it jump about).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CORPORA, machine
from charlm import Corpus, preset, train
from charlm.training.cold_start import cold_starts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="tinyshakespeare.txt")
    parser.add_argument("--presets", nargs="+", default=["quick"])
    parser.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.02])
    parser.add_argument("--at", default="\n", help="the character the cold starts begin at")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    corpus = Corpus.from_source(CORPORA / args.corpus)
    code = corpus.vocab.encode(args.at)[0]
    print(f"# cold starts on {args.corpus} — {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        "| preset | cold_start_share | held-out loss (every character) | stuck of 300 | mean gap | worst gap "
        "| training | the validation curve |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.presets:
        for share in args.shares:
            config = preset(name, cold_start_share=share, sample_every=0, save_every=0)
            with tempfile.TemporaryDirectory() as out:
                t = time.perf_counter()
                result = train(corpus, config, out)
                took = time.perf_counter() - t
            split = corpus.with_val_fraction(config.val_fraction)
            report = cold_starts(result.model, split.val_data, int(code))
            _, loss, chars = result.progress.held_out
            print(
                f"| {name} | {share:g} | {loss:.4f} ({chars:,}) | {report.stuck} of {report.starts} | "
                f"{report.mean_gap:+.3f} | {report.worst_gap:+.2f} | {took:.0f} s | "
                f"{' '.join(f'{v:.2f}' for _, v in result.progress.val_loss)} |",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
