"""What a full collection of Python's garbage costs in the app's process, before and after start-up's objects
are frozen out of it (``demo.process.freeze_what_start_up_built``, as ``app.py`` does once the page is built).

    python bench/bench_collector.py [--repeat 5]

A full collection holds the interpreter for its whole walk: no page gets an answer meanwhile. Python runs one
by itself now and then, and the sweep runs one when visitors are forgotten. Prints milliseconds per collection
(median of ``--repeat``) and the objects walked, before and after.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA  # noqa: E402


def collection_ms(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("CHARLM_DATA_DIR", str(CORPORA))
    from demo.app import AppConfig, CharLMApp
    from demo.process import freeze_what_start_up_built

    app = CharLMApp(AppConfig.from_env())
    app.build()
    gc.collect()
    walked, before = len(gc.get_objects()), collection_ms(args.repeat)
    freeze_what_start_up_built()
    after = collection_ms(args.repeat)
    print(f"full collection, the app built: {before:.1f} ms walking {walked:,} objects")
    print(
        f"after freezing them:            {after:.2f} ms walking {len(gc.get_objects()):,} objects "
        "(what visitors make from then on is walked, and freed, as before)"
    )


if __name__ == "__main__":
    main()
