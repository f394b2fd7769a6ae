"""The waiting line under a flood: N anonymous clients each press Start once and go quiet, then a real visitor
starts a training and keeps its page open. How long until the visitor's place is fair again, and the server's
memory and folders come back.

    python bench/flood.py [--clients 300] [--minutes 5] [--places-per-address 0]

Starts ``app.py`` in a subprocess on a loopback port (two training places). The flood's clients speak the page's
own protocol (``bench/queue_client.py``): each a new session that joins the Start event once and never calls
again, as a script's would. The visitor polls its status every second, as an open page does. Every 15 s it
prints the visitor's place and estimate, the server's RSS and its session folders. With every client on one
address (this machine), ``--places-per-address 0`` turns the per-address cap off, so that the line fills; with
the cap on (the server's default, 40), the flood is refused past it instead.

Goal (issue 31): the visitor's place at most its fair place among live visitors (here 1: every other waiting
client is silent) within 60 s of the flood going quiet, plus the sweep's period; RSS back within 10 % of the
start within 5 minutes; never more than one place per client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import start_app  # noqa: E402
from bench.queue_client import Visitor, call, endpoints, new_session  # noqa: E402

# the Train form: preset, cell, layers, hidden, dropout, N, M, learning rate, clip, epochs, max steps (a long run)
FORM = ["quick", "lstm", 1, 48, 0.0, 16, 32, 0.01, 5.0, 50, 100_000]
PLACE = re.compile(r"(?:Number|number) (\d+) in line")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def resident_by_kind(pid: int) -> dict[str, float]:
    """The server's resident memory (MB) by the kind of mapping that holds it (``/proc/PID/smaps``): the main
    heap (``[heap]``: Python's small objects and glibc's main arena), the anonymous mappings of the size of a
    thread's stack (8 MB), the heaps of glibc's arenas for worker threads (each 64 MB-aligned), Python's own
    arenas for small objects (1 MB each: one object left in one keeps it all), other
    anonymous ones (tensors, arrays, large blocks), and files (libraries, mapped texts)."""
    kinds: dict[str, float] = {}
    kind = "other"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's first line: range, perms, offset, dev, inode, path
            start, end = (int(x, 16) for x in fields[0].split("-"))
            size, path = end - start, fields[5] if len(fields) > 5 else ""
            if path == "[heap]":
                kind = "heap"
            elif path.startswith("/"):
                kind = "files"
            elif path == "[stack]" or size in (8 << 20, (8 << 20) + 4096):
                kind = "thread stacks"
            elif start % (64 << 20) == 0 and size <= (64 << 20):  # glibc aligns each heap of an arena to 64 MB
                kind = "thread arenas"
            elif size == 1 << 20:
                kind = "Python's object arenas (1 MB)"
            else:
                kind = "other anonymous"
        elif fields[0] == "Rss:":
            kinds[kind] = kinds.get(kind, 0.0) + int(fields[1]) / 1024
    return kinds


def print_kinds(start: dict[str, float], end: dict[str, float]) -> None:
    print("resident by kind of mapping, MB:   start     end")
    for kind in sorted(set(start) | set(end)):
        print(f"  {kind:<30} {start.get(kind, 0):7.1f} {end.get(kind, 0):7.1f}")


def folders(root: Path) -> int:
    """The visitors' folders under the server's sessions folder (its figures' folder left out)."""
    return sum(1 for f in root.glob("charlm-sessions/*/*") if f.name != "pictures")


async def flood(url: str, clients: int) -> tuple[int, int]:
    """``clients`` sessions that each press Start once: (how many got a place or a place in line, refused)."""
    async with httpx.AsyncClient(timeout=120) as http:
        prefix, fns = await endpoints(http, url)
        gate = asyncio.Semaphore(32)

        async def one() -> bool:
            async with gate:
                try:
                    out = await call(http, url, prefix, fns["start_training"], list(FORM), new_session())
                except RuntimeError:
                    return False
                return "⚠" not in str(out[0])

        results = await asyncio.gather(*(one() for _ in range(clients)))
    return sum(results), clients - sum(results)


def warm_up(url: str, pid: int) -> tuple[float, dict[str, float]]:
    """A visitor who trains for 20 s (with its samples) and stops, before the flood: what the server keeps
    after its first training (a training thread, the compiled sampler) is then in the start. The start is
    measured while that training runs, as the end is measured while the real visitor's does: the same
    work in the server both times, so that what differs is the flood's."""
    visitor = Visitor(url)
    visitor("start_training", *FORM)
    time.sleep(18)
    start, kinds = rss_mb(pid), resident_by_kind(pid)
    time.sleep(2)
    visitor("stop_training")
    time.sleep(5)
    print("warm-up:", str(visitor("training_status")[0])[:100].replace("\n", " "))
    visitor.close()
    time.sleep(5)
    return start, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--places-per-address", type=int, default=0)
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()
    sessions = Path(tempfile.mkdtemp(prefix="charlm-flood-"))
    env = {
        **os.environ,
        "CHARLM_MAX_JOBS": "2",
        "CHARLM_PLACES_PER_ADDRESS": str(args.places_per_address),
        "CHARLM_RUNNER": "thread",
        "TMPDIR": str(sessions),
    }
    server, url = start_app(args.port, env)
    try:
        start_rss, start_kinds = warm_up(url, server.pid)
        began = time.monotonic()
        placed, refused = asyncio.run(flood(url, args.clients))
        quiet = time.monotonic()
        print(f"flood: {args.clients} clients in {quiet - began:.0f} s: {placed} placed, {refused} refused")
        print(f"server at start (a training running) {start_rss:.0f} MB; after the flood {rss_mb(server.pid):.0f} MB")
        visitor = Visitor(url)
        said = visitor("start_training", *FORM)[0]
        print("the visitor's Start:", said[:120])
        fair_at = started_at = None
        print("   s  place  estimate / status                                  RSS MB  folders")
        last_print = 0.0
        while time.monotonic() - quiet < args.minutes * 60:
            status = str(visitor("training_status")[0])
            now = time.monotonic() - quiet
            place = PLACE.search(status)
            if place is None and started_at is None and "Step" in status:
                started_at = now
            if fair_at is None and (place is None or int(place.group(1)) <= 1):
                fair_at = now
            if now - last_print >= 15:
                last_print = now
                shown = place.group(1) if place else "-"
                print(f"{now:4.0f}  {shown:>5}  {status[:50]:<50}  {rss_mb(server.pid):6.0f}  {folders(sessions):7d}")
            time.sleep(1.0)
        end_rss = rss_mb(server.pid)
        print_kinds(start_kinds, resident_by_kind(server.pid))
        fair = f"{fair_at:.0f} s after the flood went quiet" if fair_at is not None else "never"
        print(f"the visitor's place was fair (1, or running): {fair}")
        began_training = f"after {started_at:.0f} s" if started_at is not None else "never"
        print(f"its training started: {began_training}")
        ratio = end_rss / start_rss
        print(f"RSS, a training running both times: start {start_rss:.0f} MB, end {end_rss:.0f} MB ({ratio:.2f}x)")
        visitor("stop_training")
        visitor.close()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
