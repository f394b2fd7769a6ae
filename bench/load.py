"""Load test: K simultaneous visitors on one app, on loopback only, bounded in count and time.

    python bench/load.py --visitors 10 30
    python bench/load.py --burst 1 4 8 30 [--chars 500] [--rounds 2]

Starts ``app.py`` in a subprocess, then each visitor (a gradio_client thread) loads a corpus,
previews five batches, tries to start a training (past the global cap of 2 it must be told the
server is busy) and generates 300 characters with the pretrained model (or a checkpoint of its
own when none is shipped). Prints requests served, unexpected errors, p50/p95 latencies of
``/preview_batch`` and of the first generated characters while two trainings run, and the
server's peak memory.

``--burst``: K visitors press Generate at the same moment (500 characters each with the pretrained 2×512
model, each its own seed), nothing else running; once with the app as it is (generations stepped together,
``charlm/serving/generations.py``) and once served one by one (``CHARLM_GENERATION_STREAMS=0``: each generation alone
in the pool of four heavy workers), alternating round by round. Prints the first character's wait from the
moment they pressed (p50/p95), when the last one was done (also against one visitor alone), and the
characters per second of all of them together, with the ratio of the two ways (median per round), and the
CPU time the server and the visitors spent. These visitors speak the page's own protocol from one asyncio
loop (``bench/queue_client.py``), since a class's browsers do not share the server's cores: as 30
``gradio_client`` threads they took more CPU than the server did.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA, start_app  # noqa: E402
from bench.queue_client import call, endpoints, new_session  # noqa: E402

FORM = ["quick", "lstm", 1, 128, 0.0, 32, 64, 4e-3, 5.0, 50, 100_000]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(visitors: int, port: int, deadline_s: float) -> None:  # noqa: C901, PLR0915 (one measured story, top to bottom)
    env = {**os.environ, "CHARLM_MAX_JOBS": "2", "CHARLM_DATA_DIR": str(CORPORA), "GRADIO_ANALYTICS_ENABLED": "False"}
    server, url = start_app(port, env)
    try:
        lock = threading.Lock()
        stats = {
            "requests": 0,
            "errors": [],
            "busy": 0,
            "started": 0,
            "preview": [],
            "first_chars": [],
            "first_chars_training": [],
        }
        stop_at = time.monotonic() + deadline_s
        trainers: list[Client] = []

        def visitor(i: int) -> None:
            def call(fn):
                t = time.perf_counter()
                out = fn()
                with lock:
                    stats["requests"] += 1
                return out, time.perf_counter() - t

            try:
                c = Client(url, verbose=False)
                call(lambda: c.predict("anna-karenina", None, 0.1, api_name="/load_corpus"))
                for j in range(5):
                    out, dt = call(lambda j=j: c.predict(10 + j, 50, j, 0, False, api_name="/preview_batch"))
                    assert "both" in out[0], out[0]
                    with lock:
                        stats["preview"].append(dt)
                msg, _ = call(lambda: c.predict(*FORM, api_name="/start_training"))[0]
                with lock:
                    if "busy" in msg:
                        stats["busy"] += 1
                    elif "started" in msg:
                        stats["started"] += 1
                        trainers.append(c)
                    else:
                        stats["errors"].append(msg)
                models = call(lambda: c.predict(api_name="/model_choices"))[0]["choices"]
                pretrained = [v for v, _ in models if v.startswith("pretrained")]
                if not pretrained:
                    return
                training_now = len(trainers) >= 2
                t = time.perf_counter()
                job = c.submit(pretrained[0], "Far", 300, 4, 1.0, i, api_name="/generate")
                first = None
                for _ in job:
                    if first is None:
                        first = time.perf_counter() - t
                    if time.monotonic() > stop_at:
                        break
                result = job.result()
                with lock:
                    stats["requests"] += 1
                    stats["first_chars"].append(first if first is not None else time.perf_counter() - t)
                    if training_now:
                        stats["first_chars_training"].append(stats["first_chars"][-1])
                    if not result[0].startswith("Far"):
                        stats["errors"].append(result[1])
            except Exception as err:
                with lock:
                    stats["errors"].append(f"{type(err).__name__}: {err}")

        t0 = time.perf_counter()
        threads = [threading.Thread(target=visitor, args=(i,)) for i in range(visitors)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, stop_at - time.monotonic()))
        wall = time.perf_counter() - t0
        for c in trainers:
            c.predict(api_name="/stop_training")
        peak = server_peak_mb(server.pid)
        print(
            f"| {visitors} | {stats['requests']} | {len(stats['errors'])} | {stats['started']} started, "
            f"{stats['busy']} told busy | {percentile(stats['preview'], 0.5) * 1000:.0f} / "
            f"{percentile(stats['preview'], 0.95) * 1000:.0f} ms | "
            f"{percentile(stats['first_chars'], 0.5) * 1000:.0f} / "
            f"{percentile(stats['first_chars'], 0.95) * 1000:.0f} ms | "
            f"{wall:.0f} s | {peak:,.0f} MB |",
            flush=True,
        )
        for err in stats["errors"][:5]:
            print("   error:", err[:200])
    finally:
        server.terminate()
        server.wait(30)


def server_cpu_s(pid: int) -> float:
    """CPU-seconds the server has used so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _burst(url: str, visitors: int, chars: int, server_pid: int) -> tuple[list[float], float, float, float]:
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=4 * visitors + 8)) as http:
        prefix, fns = await endpoints(http, url)
        sessions = [new_session() for _ in range(visitors)]
        # each visitor's page asks for the models on opening
        choices = await asyncio.gather(*(call(http, url, prefix, fns["model_choices"], [], s) for s in sessions))
        label = choices[0][0]["value"]
        firsts, done = [0.0] * visitors, [0.0] * visitors
        t0, mine, theirs = time.perf_counter(), time.process_time(), server_cpu_s(server_pid)

        async def visitor(i: int) -> None:
            def shown(outputs: list) -> None:
                if not firsts[i] and len(outputs[0]) > len("The "):
                    firsts[i] = time.perf_counter() - t0

            out = await call(http, url, prefix, fns["generate"], [label, "The ", chars, 4, 1.0, i], sessions[i], shown)
            if len(out[0]) != len("The ") + chars:
                raise RuntimeError(f"visitor {i} got {len(out[0])} characters: {out[1]}")
            done[i] = time.perf_counter() - t0

        await asyncio.gather(*(visitor(i) for i in range(visitors)))
        return firsts, max(done), server_cpu_s(server_pid) - theirs, time.process_time() - mine


def burst(url: str, visitors: int, chars: int, server_pid: int) -> tuple[list[float], float, float, float]:
    """K visitors press Generate at once: (first-character waits, seconds until the last one is done, the
    server's CPU-seconds, the visitors' CPU-seconds)."""
    return asyncio.run(_burst(url, visitors, chars, server_pid))


def run_bursts(sizes: list[int], chars: int, rounds: int, port: int) -> None:
    ways = {"together": "64", "one by one": "0"}  # CHARLM_GENERATION_STREAMS
    results: dict[tuple[int, str], list[tuple[list[float], float, float, float]]] = {}
    alone: list[float] = []
    for r in range(rounds):
        for way in ways if r % 2 == 0 else dict(reversed(ways.items())):
            env = {
                **os.environ,
                "CHARLM_DATA_DIR": str(CORPORA),
                "GRADIO_ANALYTICS_ENABLED": "False",
                "CHARLM_GENERATION_STREAMS": ways[way],
            }
            server, url = start_app(port, env)
            try:
                burst(url, 1, chars, server.pid)  # the model loaded and the kernel compiled before timing
                if way == "together":
                    alone.append(burst(url, 1, chars, server.pid)[1])
                for k in sizes:
                    results.setdefault((k, way), []).append(burst(url, k, chars, server.pid))
            finally:
                server.terminate()
                server.wait(30)
    one = statistics.median(alone)
    print(f"# one visitor alone: {chars} characters in {one * 1000:.0f} ms; load average {os.getloadavg()[0]:.2f}")
    print(
        "| visitors | served | first character p50 / p95 | last one done | ÷ one alone | chars/s, all | "
        "together ÷ one by one | server CPU ms per 100 chars | visitors' CPU-s |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for k in sizes:
        ratio = statistics.median(b[1] / a[1] for a, b in zip(results[(k, "together")], results[(k, "one by one")]))
        for way in ways:
            runs = results[(k, way)]
            firsts = [f for r in runs for f in r[0]]
            last = statistics.median(r[1] for r in runs)
            server_ms = statistics.median(r[2] for r in runs) * 1000 / (k * chars / 100)
            print(
                f"| {k} | {way} | {percentile(firsts, 0.5) * 1000:,.0f} / {percentile(firsts, 0.95) * 1000:,.0f} ms "
                f"| {last:.1f} s | {last / one:.1f}× | {k * chars / last:,.0f} | "
                f"{f'{ratio:.2f}×' if way == 'together' else ''} | {server_ms:.1f} | "
                f"{statistics.median(r[3] for r in runs):.2f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--burst", type=int, nargs="+", help="K visitors pressing Generate at once (see above)")
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds per round, at most")
    args = parser.parse_args()
    if args.burst:
        run_bursts(args.burst, args.chars, args.rounds, args.port)
        return
    print(
        "| visitors | requests served | unexpected errors | training | /preview_batch p50 / p95 | "
        "first characters p50 / p95 | wall | server peak memory |"
    )
    print("|---:|---:|---:|---|---|---|---:|---:|")
    for k in args.visitors:
        run(min(k, 50), args.port, args.deadline)


if __name__ == "__main__":
    main()
