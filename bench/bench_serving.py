"""Serving while trainings run: generate and preview, idle against one and two trainings, in one run.

    python bench/bench_serving.py [--rounds 4] [--chars 500]

Two parts, each interleaved round by round (idle, one training, two trainings, then back), so that a
drift in the machine's load falls on every condition alike; ratios are taken per round, against the
same round's idle figure, and the median of those is printed.

1. In one process, as the app runs them: trainings (the `quick` shape on the novel, at the app's lower
   priority) in background threads; the pretrained 2×512 sampler writes ``--chars`` characters in the
   main thread. Wall time and the sampling thread's own CPU-seconds (which hold up under contention:
   they count the work, not the wait).
2. Through the app (``app.py`` in a subprocess, two training slots): ``/generate`` of ``--chars``
   characters (its first character and the whole), and ``/preview_batch``, from a fresh visitor while
   other visitors' trainings run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA, machine, start_app  # noqa: E402
from bench.load import FORM, percentile  # noqa: E402
from bench.queue_client import Visitor  # noqa: E402
from charlm import Corpus, Sampler  # noqa: E402
from charlm.serving.jobs import TrainingJob  # noqa: E402
from charlm.training.checkpoint import load_checkpoint  # noqa: E402
from charlm.training.config import preset  # noqa: E402

CONDITIONS = (0, 1, 2)  # trainings running


def order(round_: int) -> tuple[int, ...]:
    """Up and down: 0, 1, 2 then 2, 1, 0, so that each change starts or stops one training."""
    return CONDITIONS if round_ % 2 == 0 else CONDITIONS[::-1]


def median_ratio(rows: list[dict[int, float]], cond: int) -> float:
    return statistics.median(r[cond] / r[0] for r in rows)


def report(title: str, results: dict[str, list[dict[int, list[float]]]], unit: str = "ms") -> None:
    """One line per measure and condition: p50 / p95 over all rounds, and the median per-round ratio of p50s."""
    print(f"\n{title}\n\n| measure | trainings | p50 | p95 | ratio to idle (median per round) |")
    print("|---|---:|---:|---:|---:|")
    for measure, rounds in results.items():
        per_round = [{c: statistics.median(r[c]) for c in CONDITIONS} for r in rounds]
        for c in CONDITIONS:
            values = [v for r in rounds for v in r[c]]
            scale = 1000 if unit == "ms" else 1
            ratio = "1.00×" if c == 0 else f"{median_ratio(per_round, c):.2f}×"
            print(
                f"| {measure} | {c} | {percentile(values, 0.5) * scale:,.1f} {unit} | "
                f"{percentile(values, 0.95) * scale:,.1f} {unit} | {ratio} |"
            )


def in_process(rounds: int, chars: int, work: Path) -> None:
    corpus = Corpus.from_source(CORPORA / "anna.txt")
    ckpt = load_checkpoint(ROOT / "assets" / "anna-2x512.safetensors")
    sampler = Sampler(ckpt.model, ckpt.vocab)
    sampler.generate("The ", 50, seed=0)  # warm up
    config = preset("quick", max_steps=10**6, max_seconds=0, sample_every=0, save_every=0, eval_every=0)
    jobs: list[TrainingJob] = []
    wall: list[dict[int, list[float]]] = []
    cpu: list[dict[int, list[float]]] = []
    for r in range(rounds):
        wall.append({}), cpu.append({})
        for cond in order(r):
            while len(jobs) < cond:
                jobs.append(TrainingJob(corpus, config, work / f"run{r}-{len(jobs)}", niceness=10).start())
            while len(jobs) > cond:
                job = jobs.pop()
                job.stop()
                job.wait(30)
            time.sleep(1.0 if cond else 0.2)  # let a new training get past its first steps
            for seed in range(3):
                t, c = time.perf_counter(), time.thread_time()
                sampler.generate("The ", chars, seed=seed)
                wall[r].setdefault(cond, []).append(time.perf_counter() - t)
                cpu[r].setdefault(cond, []).append(time.thread_time() - c)
    for job in jobs:
        job.stop()
        job.wait(30)
    report(f"### In one process: {chars} characters from the 2×512 sampler", {"wall": wall, "CPU-seconds": cpu})


def through_app(rounds: int, chars: int, port: int) -> None:
    env = {**os.environ, "CHARLM_MAX_JOBS": "2", "CHARLM_DATA_DIR": str(CORPORA), "GRADIO_ANALYTICS_ENABLED": "False"}
    server, url = start_app(port, env)
    try:
        trainers = [Client(url, verbose=False) for _ in range(2)]
        for c in trainers:
            c.predict("anna-karenina", None, 0.1, api_name="/load_corpus")
        visitor = Visitor(url)  # timed: speaks the page's protocol, no client-side polling in the figures
        visitor("load_corpus", "anna-karenina", None, 0.1)
        model = next(v for v, _ in visitor("model_choices")[0]["choices"] if "2x512" in v)
        visitor("generate", model, "The ", 20, 4, 1.0, 0)  # the model loads once, before timing
        running = 0
        first, whole, preview = [], [], []
        for r in range(rounds):
            first.append({}), whole.append({}), preview.append({})
            for cond in order(r):
                while running < cond:
                    msg = trainers[running].predict(*FORM, api_name="/start_training")[0]
                    assert "started" in msg, msg
                    running += 1
                while running > cond:
                    running -= 1
                    trainers[running].predict(api_name="/stop_training")
                time.sleep(2.0 if cond else 0.5)
                for seed in range(3):
                    t, seen = time.perf_counter(), []

                    def shown(_, t=t, seen=seen) -> None:
                        if not seen:
                            seen.append(time.perf_counter() - t)

                    text = visitor("generate", model, "The ", chars, 4, 1.0, seed, on_update=shown)[0]
                    assert len(text) >= chars, text[:200]
                    whole[r].setdefault(cond, []).append(time.perf_counter() - t)
                    first[r].setdefault(cond, []).append(seen[0] if seen else whole[r][cond][-1])
                    t = time.perf_counter()
                    visitor("preview_batch", 10 + seed, 50, seed, 0, False)
                    preview[r].setdefault(cond, []).append(time.perf_counter() - t)
        while running:
            running -= 1
            trainers[running].predict(api_name="/stop_training")
        visitor.close()
        report(
            f"### Through the app: /generate {chars} characters (2×512) and /preview_batch",
            {"/generate first character": first, "/generate whole": whole, "/preview_batch": preview},
        )
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--port", type=int, default=7873)
    parser.add_argument("--part", choices=("both", "process", "app"), default="both")
    args = parser.parse_args()
    print(f"# serving while training — {machine()}; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as work:
        if args.part in ("both", "process"):
            in_process(args.rounds, args.chars, Path(work))
        if args.part in ("both", "app"):
            through_app(args.rounds, args.chars, args.port)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
