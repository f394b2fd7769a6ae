"""Soak test: many visitors for minutes, mixing everything a class does, then leaving. Loopback only,
bounded in visitors and time, stops by itself.

    python bench/soak.py [--visitors 30] [--minutes 10] [--idle-minutes 1] [--memory-limit-gb 4] [--rounds 1]
                         [--actions train,...] [--client gradio|page]

Starts ``app.py`` in a subprocess (API clients forgotten after ``--idle-minutes``), in a memory cgroup of
``--memory-limit-gb`` where this user may create one (as root, or with a delegated cgroup), so the kernel
kills it if it goes over, as a Space's container would. The start is measured after one warm-up visitor has
done everything once, with a second training beside it, and both have left (what any server holds after its
first visitors). Each visitor loops over
random actions: load the novel or upload a small text, preview batches, train for a few seconds and stop,
generate, upload a checkpoint, or abandon its session and come back as a new one. Prints, every 15 s, the
server's RSS and the disk its visitors use; at the end, requests, unexpected errors, p50/p95 latency per
action, and RSS and disk once the visitors have left and their sessions expired, against the start.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA, memory_cgroup, start_app  # noqa: E402
from bench.load import percentile  # noqa: E402
from bench.queue_client import PageClient  # noqa: E402
from charlm.files import folder_bytes  # noqa: E402

ACTIONS = ("load", "upload_text", "preview", "train", "generate", "upload_ckpt", "leave")
UPLOADS = ("upload_text", "upload_ckpt")  # what only gradio_client visitors can do here (``--client``)
TRAIN = ["quick", "lstm", 1, 64, 0.0, 16, 32, 4e-3, 5.0, 50, 300]
TEXT = "It was a bright cold day in April, and the clocks were striking thirteen. " * 60


def rss_mb(pid: int, kind: str = "VmRSS") -> float:
    """The server's resident memory; ``kind="RssAnon"``: without the library code it has paged in
    (which the kernel can drop at any time), i.e. the memory it really holds."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def resident_by_kind(pid: int) -> dict[str, float]:
    """Resident MB by kind of mapping: ``heap`` (glibc's main heap), ``anonymous`` (glibc's other arenas and
    large blocks, Python's object arenas, thread stacks), ``files`` (libraries, mapped files): where growth
    lies says whose memory it is."""
    kinds: dict[str, float] = {}
    kind = "files"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else ""
            kind = "heap" if name == "[heap]" else "anonymous" if not name or name.startswith("[") else "files"
        elif head and head[0] == "Rss:":
            kinds[kind] = kinds.get(kind, 0.0) + int(head[1]) / 1024
    return kinds


def children_rss_mb(pid: int) -> float:
    """The resident memory of the server's child processes and theirs (the fork server its trainings start
    from, and any training still running): memory the host gives the app beyond the server's own."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                total += rss_mb(int(kid)) + children_rss_mb(int(kid))
            except OSError:  # it ended meanwhile
                continue
    return total


def thread_count(pid: int) -> int:
    """The server's threads: each one kept after a class keeps its stack and its allocator caches."""
    return len(os.listdir(f"/proc/{pid}/task"))


def disk_mb(folder: Path) -> float:
    """The files under ``folder`` (which the server is creating and deleting meanwhile)."""
    return folder_bytes(folder) / 1e6


def main() -> None:  # noqa: C901, PLR0915 (one measured story, top to bottom)
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--idle-minutes", type=float, default=1)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--memory-limit-gb", type=float, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="classes one after another, each followed by its sessions' expiry: what each leaves",
    )
    parser.add_argument(
        "--actions",
        default=None,
        help="the actions visitors choose from (comma-separated): one alone says what it costs",
    )
    parser.add_argument(
        "--client",
        choices=("gradio", "page"),
        default="gradio",
        help="gradio: gradio_client visitors (as API callers: the API's description fetched on "
        "arriving, every file of every answer downloaded); page: visitors that ask only "
        "what a page asks (bench/queue_client.py; no uploads)",
    )
    args = parser.parse_args()
    offered = ACTIONS if args.client == "gradio" else tuple(a for a in ACTIONS if a not in UPLOADS)
    actions = [a for a in (args.actions or ",".join(offered)).split(",") if a]
    if not actions or set(actions) - set(offered):
        raise SystemExit(f"--actions: choose from {', '.join(offered)}")
    new_client = (lambda: Client(url, verbose=False)) if args.client == "gradio" else (lambda: PageClient(url))
    work = Path(tempfile.mkdtemp(prefix="charlm-soak-"))
    (work / "story.txt").write_text(TEXT, encoding="utf-8")
    env = {
        **os.environ,
        "CHARLM_DATA_DIR": str(CORPORA),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "CHARLM_API_IDLE_MINUTES": str(args.idle_minutes),
        "TMPDIR": str(work),
    }
    cgroup = memory_cgroup(int(args.memory_limit_gb * 2**30), f"charlm-soak-{os.getpid()}")
    print(
        f"# server in a {args.memory_limit_gb:g} GB memory cgroup ({cgroup})"
        if cgroup
        else "# no memory cgroup could be made here: the server runs without a memory limit",
        flush=True,
    )
    server, url = start_app(args.port, env, cgroup)
    sessions = work / "charlm-sessions" / str(server.pid)
    lock = threading.Lock()
    stats: dict = {"requests": 0, "errors": [], "latency": {}}
    try:
        warm_up(url, work, args.idle_minutes)
        start_rss, start_anon, start_disk = rss_mb(server.pid), rss_mb(server.pid, "RssAnon"), disk_mb(sessions)
        start_kinds, start_children = resident_by_kind(server.pid), children_rss_mb(server.pid)
        start_threads = thread_count(server.pid)
        stop_at, round_number = 0.0, 1  # set per round

        def timed(name, call, *args, **kwargs):
            t = time.perf_counter()
            out = call(*args, **kwargs)
            with lock:
                stats["requests"] += 1
                stats["latency"].setdefault(name, []).append(time.perf_counter() - t)
            first = out[0] if isinstance(out, (list, tuple)) else out
            if isinstance(first, str) and ("Something went wrong" in first or "Traceback" in first):
                with lock:
                    stats["errors"].append(f"{name}: {first[:120]}")
            return out

        def visitor(i: int) -> None:
            rng = random.Random(i + 1000 * round_number)
            c = new_client()
            ckpt = None
            while time.monotonic() < stop_at:
                action = rng.choice(actions)
                try:
                    if action == "load":
                        timed(action, c.predict, "anna-karenina", None, 0.1, api_name="/load_corpus")
                    elif action == "upload_text":
                        story = handle_file(str(work / "story.txt"))
                        timed(action, c.predict, None, story, 0.1, api_name="/load_corpus")
                    elif action == "preview":
                        shape = rng.randint(1, 50), rng.randint(1, 100)
                        timed(action, c.predict, *shape, 0, 0, False, api_name="/preview_batch")
                    elif action == "train":
                        timed(action, c.predict, *TRAIN, api_name="/start_training")
                        time.sleep(rng.uniform(1, 4))
                        timed("stop", c.predict, api_name="/stop_training")
                        files = c.predict(api_name="/training_status")[3]
                        ckpt = files[-1] if files else ckpt
                    elif action == "generate":
                        label = c.predict(api_name="/model_choices")["value"]
                        timed(action, c.predict, label, "The ", 200, 4, 1.0, rng.randint(0, 99), api_name="/generate")
                    elif action == "upload_ckpt" and ckpt and Path(ckpt).exists():
                        timed(action, c.predict, handle_file(ckpt), api_name="/upload_checkpoint")
                    elif action == "leave":  # abandon this session without a goodbye; come back as another
                        c, ckpt = new_client(), None
                except Exception as err:  # Gradio's own input checks answer some random shapes; count the rest
                    message = str(err)
                    if "minimum" not in message and "maximum" not in message:
                        with lock:
                            stats["errors"].append(f"{action}: {type(err).__name__}: {message[:120]}")

        after_rounds: list[float] = []
        for round_number in range(1, args.rounds + 1):  # one class, then the next: what each leaves must not add up
            stop_at = time.monotonic() + args.minutes * 60
            threads = [threading.Thread(target=visitor, args=(i,), daemon=True) for i in range(args.visitors)]
            for t in threads:
                t.start()
            began = time.monotonic()
            print(
                f"# round {round_number}: {args.visitors} visitors for {args.minutes:g} min; start: RSS "
                f"{start_rss:,.0f} MB, disk {start_disk:.1f} MB",
                flush=True,
            )
            while any(t.is_alive() for t in threads):
                time.sleep(15)
                if server.poll() is not None:
                    print(f"# THE SERVER DIED (exit {server.returncode}; -9: killed, out of memory?)", flush=True)
                    break
                print(
                    f"{time.monotonic() - began:5.0f} s  RSS {rss_mb(server.pid):7,.0f} MB  "
                    f"(anon {rss_mb(server.pid, 'RssAnon'):7,.0f} MB)  disk "
                    f"{disk_mb(sessions):7.1f} MB  requests {stats['requests']}",
                    flush=True,
                )
            print("# the visitors left; waiting for their sessions to expire", flush=True)
            time.sleep(args.idle_minutes * 60 + 45)  # the idle time, and the next sweep
            if server.poll() is not None:
                raise SystemExit(f"the server died (exit {server.returncode})")
            after = rss_mb(server.pid)
            after_rounds.append(after)
            print(
                f"# after round {round_number}: RSS {after:,.0f} MB ({after / start_rss:.2f}× the start)"
                + (f", {after / after_rounds[0]:.2f}× after round 1" if round_number > 1 else "")
                + f"; disk {disk_mb(sessions):.1f} MB",
                flush=True,
            )
        end_rss, end_anon, end_disk = rss_mb(server.pid), rss_mb(server.pid, "RssAnon"), disk_mb(sessions)
        print(f"requests {stats['requests']}, unexpected errors {len(stats['errors'])}")
        for err in stats["errors"][:10]:
            print("  ", err)
        for name, values in sorted(stats["latency"].items()):
            print(
                f"  {name:12s} n={len(values):4d}  p50 {percentile(values, 0.5) * 1000:7.0f} ms  "
                f"p95 {percentile(values, 0.95) * 1000:7.0f} ms"
            )
        print(
            f"after: RSS {end_rss:,.0f} MB ({end_rss / start_rss:.2f}× the start's {start_rss:,.0f} MB); without "
            f"library code (RssAnon) {end_anon:,.0f} MB ({end_anon / start_anon:.2f}× {start_anon:,.0f} MB); "
            f"disk {end_disk:.1f} MB (start {start_disk:.1f} MB)"
        )
        left = sorted(str(f.relative_to(sessions)) for f in sessions.rglob("*") if f.is_file())
        if left:
            print(f"files left in the sessions' folder ({len(left)}): " + ", ".join(left[:8]))
        end_kinds = resident_by_kind(server.pid)
        print(f"server threads: {start_threads} at the start, {thread_count(server.pid)} after")
        print(
            f"child processes (the fork server trainings start from): RSS {start_children:,.0f} MB at the start, "
            f"{children_rss_mb(server.pid):,.0f} MB after"
        )
        print(
            "resident by kind of mapping, start → after (MB): "
            + "; ".join(
                f"{kind} {start_kinds.get(kind, 0):,.0f} → {end_kinds.get(kind, 0):,.0f}" for kind in sorted(end_kinds)
            )
        )
        if cgroup:
            print(
                f"cgroup: peak {peak_mb(cgroup):,.0f} MB of {args.memory_limit_gb:g} GB, "
                f"times at the limit: {_read_int(cgroup, 'memory.failcnt')}"
            )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
        if cgroup:
            cgroup.rmdir()


def warm_up(url: str, work: Path, idle_minutes: float) -> None:
    """One visitor does everything once and leaves, with a second one training beside it (both training
    slots used once): what stays loaded after that (the novel, the shipped model, matplotlib, Gradio's routes,
    a kept thread per training slot) is the server's resting size, the start the soak compares with."""
    c = Client(url, verbose=False)
    c.predict(None, handle_file(str(work / "story.txt")), 0.1, api_name="/load_corpus")
    c.predict("anna-karenina", None, 0.1, api_name="/load_corpus")
    c.predict(8, 20, 0, 0, False, api_name="/preview_batch")
    other = Client(url, verbose=False)  # a second visitor trains alongside: the server keeps a thread per slot
    other.predict("anna-karenina", None, 0.1, api_name="/load_corpus")
    for visitor in (c, other):
        visitor.predict(*TRAIN, api_name="/start_training")
    time.sleep(3)
    for visitor in (c, other):
        visitor.predict(api_name="/stop_training")
    time.sleep(2)
    files = c.predict(api_name="/training_status")[3]
    if files:
        c.predict(handle_file(files[-1]), api_name="/upload_checkpoint")
    c.predict(c.predict(api_name="/model_choices")["value"], "The ", 50, 4, 1.0, 1, api_name="/generate")
    time.sleep(idle_minutes * 60 + 45)  # its session expires


def peak_mb(cgroup: Path) -> float:
    for name in ("memory.peak", "memory.max_usage_in_bytes"):
        if (cgroup / name).exists():
            return _read_int(cgroup, name) / 2**20
    return float("nan")


def _read_int(cgroup: Path, name: str) -> int:
    try:
        return int((cgroup / name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


if __name__ == "__main__":
    main()
