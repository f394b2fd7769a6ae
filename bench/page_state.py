"""What Gradio's state of one session costs for this page: Gradio's own ``SessionState`` against the app's
``LeanSessionState`` (``demo/page_states.py``), in memory kept and time to make, in one run.

    python bench/page_state.py [--sessions 50]

Every session that sends the server anything gets one, a page opened in a browser or a script's single call:
a class's reloads and a flood of scripts make hundreds. The memory is what ``tracemalloc`` counts as still
held by the states made (Python's allocations only); the time is the median of making them one by one.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradio.state_holder import SessionState

from bench.common import machine
from demo.app import AppConfig, CharLMApp
from demo.page_states import LeanSessionState


def kept_bytes(make, page, n: int) -> float:
    """Bytes held per state while ``n`` of them are kept."""
    gc.collect()
    tracemalloc.start()
    kept = [make(page) for _ in range(n)]
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size / n


def seconds_to_make(make, page, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        make(page)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        page = CharLMApp(AppConfig(sessions_root=Path(folder) / "sessions")).build()
        print(f"the page: {len(page.blocks)} blocks; {args.sessions} sessions each")
        figures = {}
        for name, make in (("Gradio's SessionState", SessionState), ("LeanSessionState", LeanSessionState)):
            figures[name] = kept_bytes(make, page, args.sessions), seconds_to_make(make, page, args.sessions)
            size, seconds = figures[name]
            print(f"{name:<24}{size / 1024:9.1f} KB kept{seconds * 1000:10.3f} ms to make")
        (full_size, full_time), (lean_size, lean_time) = figures.values()
        print(f"lean / Gradio's: memory {lean_size / full_size:.3f}×, time {lean_time / full_time:.4f}×")


if __name__ == "__main__":
    main()
