"""Generations stepped together against the same generations served one by one, in one process.

    python bench/bench_batching.py [--streams 1 4 8 30] [--chars 500] [--rounds 3] [--busy 2]

For each number of streams K, K visitors ask for ``--chars`` characters at the same moment, with the
pretrained 2×512 model (each with its own seed). Two ways to serve them, interleaved round by round
(one-by-one, together, then together, one-by-one), so that a drift in the machine's load falls on both:

* one by one: ``Sampler.stream`` for each visitor in turn (what four workers and a queue amount to on a
  machine with two cores: everyone's characters wait for the ones before);
* together: ``Generations`` (``charlm/serving/generations.py``), every visitor a reader thread, all lined up and then
  stepped in one batch, cut into parts stepped side by side on this machine's cores;
* together, on one core: the same batch stepped by its one thread (``cores=1``), as before the parts.

With ``--busy N``, N threads keep the interpreter busy meanwhile (plain Python loops: what a server's page
handling and drawing do beside the generations), and a third way is timed: together, but one character per
compiled call (as before ``Generations`` took runs of steps per call, ``_run_ahead``), which must win the
interpreter's lock back at every character. The busy threads' own progress is printed too (their share).

Prints per K: characters per second for all K together, CPU-seconds per 1,000 characters (this process's,
which hold up under contention), the first character's wait (p50/p95 over visitors: from the moment they
all asked), when the last one is done against one visitor alone, and the ratio together / one by one
(median of the per-round ratios). Also checks that every visitor's text is the same both ways.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import machine  # noqa: E402
from bench.load import percentile  # noqa: E402
from charlm import Sampler  # noqa: E402
from charlm.sampling.fast.products import kernel_name  # noqa: E402
from charlm.serving.generations import Generations  # noqa: E402
from charlm.training.checkpoint import load_checkpoint  # noqa: E402


def one_by_one(sampler: Sampler, k: int, chars: int) -> tuple[float, float, list[float], list[str]]:
    """(wall s, CPU s, first-character waits, texts): each visitor in turn."""
    firsts, texts = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for seed in range(k):
        text = ""
        for ch in sampler.stream("The ", chars, 4, 1.0, seed):
            if not text:
                firsts.append(time.perf_counter() - wall)
            text += ch
        texts.append(text)
    return time.perf_counter() - wall, time.process_time() - cpu, firsts, texts


def together(gens: Generations, k: int, chars: int) -> tuple[float, float, list[float], list[str]]:
    """The same visitors as reader threads, lined up, then stepped in one batch."""
    firsts, texts = [0.0] * k, [""] * k
    started = threading.Event()
    t0 = [0.0]

    def reader(seed: int) -> None:
        text = ""
        for ch in gens.stream("The ", chars, 4, 1.0, seed):
            if not text:
                started.wait()
                firsts[seed] = time.perf_counter() - t0[0]
            text += ch
        texts[seed] = text

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(k)]
    with gens.held():
        for t in threads:
            t.start()
        while gens.waiting < k:
            time.sleep(0.001)
        wall, cpu = time.perf_counter(), time.process_time()
        t0[0] = wall
        started.set()
    for t in threads:
        t.join()
    return time.perf_counter() - wall, time.process_time() - cpu, firsts, texts


class OneStepPerCall(Generations):
    """The batch stepped one character per call: the way before runs of steps (for ``--busy``)."""

    def _run_ahead(self, *args) -> int:
        return 0


class Busy:
    """``n`` threads running plain Python loops until the block ends; ``loops`` counts their work."""

    def __init__(self, n: int):
        self.n, self.loops, self._stop = n, 0, threading.Event()

    def _spin(self) -> None:
        while not self._stop.is_set():
            sum(range(1000))
            self.loops += 1

    def __enter__(self) -> Busy:
        self._threads = [threading.Thread(target=self._spin, daemon=True) for _ in range(self.n)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8, 30])
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="threads keeping the interpreter busy meanwhile")
    args = parser.parse_args()
    ckpt = load_checkpoint(ROOT / "assets" / "anna-2x512.safetensors")
    sampler = Sampler(ckpt.model, ckpt.vocab)
    gens, one_core, stepwise = Generations(sampler), Generations(sampler, cores=1), OneStepPerCall(sampler)
    "".join(gens.stream("The ", 20, 4, 1.0, 0))  # compile the kernel before timing
    print(
        f"# {machine()}; {gens.cores} cores for a batch's parts; products by {kernel_name()}; "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    alone = min(one_by_one(sampler, 1, args.chars)[0] for _ in range(3))
    print(f"# one visitor alone: {args.chars} characters in {alone * 1000:.0f} ms ({args.chars / alone:,.0f} chars/s)")
    if args.busy:
        print(f"# {args.busy} busy Python threads beside every run")
    print(
        "\n| visitors | way | chars/s, all together | CPU s per 1,000 chars | first character p50 / p95 | "
        "last one done / one alone | ÷ one by one (chars/s) | same texts | busy loops/s |"
    )
    print("|---:|---|---:|---:|---|---:|---:|---|---:|")
    ways = {
        "one by one": lambda k: one_by_one(sampler, k, args.chars),
        "together": lambda k: together(gens, k, args.chars),
        "together, on one core": lambda k: together(one_core, k, args.chars),
    }
    if args.busy:
        ways["together, a step per call"] = lambda k: together(stepwise, k, args.chars)
    for k in args.streams:
        results: dict[str, list[tuple]] = {way: [] for way in ways}
        for r in range(args.rounds):
            for way in list(ways) if r % 2 == 0 else list(ways)[::-1]:  # there and back: drift falls on all
                with Busy(args.busy) as busy:
                    run = ways[way](k)
                results[way].append((*run, busy.loops / run[0]))
        for way, runs in results.items():
            same = all(a[3] == b[3] for a, b in zip(results["one by one"], runs))
            ratio = statistics.median(b[0] / a[0] for a, b in zip(runs, results["one by one"]))
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            firsts = [f for r in runs for f in r[2]]
            shown = f"{ratio:.2f}×" if way != "one by one" else ""
            print(
                f"| {k} | {way} | {k * args.chars / wall:,.0f} | {cpu / (k * args.chars) * 1000:.3f} | "
                f"{percentile(firsts, 0.5) * 1000:.0f} / {percentile(firsts, 0.95) * 1000:.0f} ms | "
                f"{wall / alone:.1f}× | {shown} | {'yes' if same else 'NO'} | "
                f"{statistics.median(r[4] for r in runs):,.0f} |",
                flush=True,
            )
    print(f"\n# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
