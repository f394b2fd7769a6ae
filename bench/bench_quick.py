"""The ``quick`` preset's promise: visible learning in about a minute on two CPU cores.

    python bench/bench_quick.py

Trains ``quick`` on tinyshakespeare.txt and on anna.txt (the last 10 % held out), printing
the wall time, steps, validation loss (goal ≤ 1.9 nats/char on Shakespeare) and a sample.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CORPORA, machine
from charlm import Corpus, Sampler, preset, train


def main() -> None:
    print(f"# quick preset — {machine()}")
    for filename, prime in (("tinyshakespeare.txt", "ROMEO:\n"), ("anna.txt", "Far")):
        corpus = Corpus.from_source(CORPORA / filename)
        cfg = preset("quick", sample_every=0, save_every=0)  # as the app runs it, minus samples and saves
        t = time.perf_counter()
        result = train(corpus, cfg)  # (its end scores every held-out character once: timed with it)
        wall = time.perf_counter() - t
        _, val, chars = result.progress.held_out
        print(
            f"\n## {filename}: {result.progress.step} steps in {wall:.1f} s wall "
            f"({result.progress.elapsed:.1f} s training), held-out loss {val:.3f} nats/char "
            f"over all {chars:,} held-out characters"
        )
        print(Sampler(result.model, corpus.vocab).generate(prime, 400, top_n=4, seed=1))


if __name__ == "__main__":
    main()
