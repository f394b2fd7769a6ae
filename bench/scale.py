"""Bigger than a laptop's memory: preparing a corpus of a gigabyte, and what training on it costs in memory.

    python bench/scale.py [--gb 1] [--steps 50] [--rounds 3] [--only processes] [--device cpu|cuda]

Writes a text of ``--gb`` gigabytes (the novel repeated, each copy with its own first line so that it is not
one string over and over) to a temporary folder, deleted after. Then, each in a fresh process:

1. ``prepare`` of it: wall time and peak memory (``VmHWM``);
2. ``--steps`` training steps of the ``quick`` preset on it, memory-mapped, against the same on a 10 MB
   prepared text: peak memory of the process's own (anonymous) pages, sampled every 20 ms, and its whole
   peak (``VmHWM``, which also counts the pages of the text the run has read: the kernel's cache, given
   back whenever memory is short).

3. training throughput on the 10 MB text with one process against ``torchrun --nproc_per_node=2`` (the same
   global batch, each process with half the rows and half the cores; on GPUs, one process per GPU), the
   two interleaved ``--rounds`` times: characters per second of training (from the checkpoint's clock, so
   the processes' start is left out) and the ratio in each round.

Goal (issue 32): the training's own peak on the gigabyte within that on 10 MB plus the model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA  # noqa: E402

PREPARE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from charlm.data.prepared import prepare
started = time.perf_counter()
done = prepare({source!r}, {out!r})
lines = Path("/proc/self/status").read_text().splitlines()
hwm = next(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM"))
print(json.dumps({{"seconds": time.perf_counter() - started, "peak": hwm, "chars": done.chars}}))
"""

TRAIN = r"""
import json, sys, threading, time
sys.path.insert(0, {root!r})
from pathlib import Path
import torch
from charlm import preset, train
from charlm.data.prepared import load_prepared

def status(field):
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) / 1024 for line in lines if line.startswith(field))

torch.set_num_threads(2)
corpus = load_prepared({folder!r})
anon, done = [status("RssAnon:")], threading.Event()

def watch():
    while not done.wait(0.02):
        anon.append(status("RssAnon:"))

threading.Thread(target=watch, daemon=True).start()
before = status("RssAnon:")
started = time.perf_counter()
train(corpus, preset("quick", max_steps={steps}, eval_every=0, sample_every=0, val_fraction=0.1, final_score_gflop=20))
done.set()
print(json.dumps({{"anon_before": before, "anon_peak": max(anon), "hwm": status("VmHWM:"),
                   "seconds": time.perf_counter() - started}}))
"""


def write_text(path: Path, size: int) -> None:
    novel = (CORPORA / "anna.txt").read_text(encoding="utf-8")
    written, copy = 0, 0
    with path.open("w", encoding="utf-8") as f:
        while written < size:
            piece = f"Copy {copy}\n" + novel
            piece = piece[: size - written]
            f.write(piece)
            written += len(piece.encode("utf-8"))
            copy += 1


def torchrun_rate(processes: int, folder: Path, steps: int, device: str, threads: int) -> float:
    """Characters per second of ``steps`` training steps of the quick preset on ``processes`` processes."""
    with tempfile.TemporaryDirectory(prefix="charlm-ranks-") as out:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        flags = [f"--corpus={folder}", f"--out={out}", f"--max-steps={steps}", f"--device={device}"]
        flags += ["--eval-every=0", "--sample-every=0", "--save-every=0", "--val-fraction=0.01"]
        flags += [f"--num-threads={threads}"] if threads else []
        subprocess.run([*command, "-m", "charlm", "train", *flags], cwd=ROOT, capture_output=True, check=True)
        description = json.loads(next(Path(out).glob("*.json")).read_text(encoding="utf-8"))
    config = description["train_config"]
    return steps * config["batch_size"] * config["num_steps"] / description["progress"]["elapsed"]


def compare_processes(folder: Path, steps: int, rounds: int, device: str) -> None:
    """One process against two, interleaved, the same global batch (on the CPU, the cores shared out)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    gpus = device == "cuda"
    print(f"\n{steps} steps of the quick preset on {'GPUs' if gpus else f'{cores} CPU cores'}, 1 vs 2 processes:")
    print("| round | 1 process chars/s | 2 processes chars/s | 2 / 1 |")
    print("|---:|---:|---:|---:|")
    ratios = []
    for round_ in range(1, rounds + 1):
        one = torchrun_rate(1, folder, steps, device, 0 if gpus else cores)
        two = torchrun_rate(2, folder, steps, device, 0 if gpus else max(1, cores // 2))
        ratios.append(two / one)
        print(f"| {round_} | {one:,.0f} | {two:,.0f} | {two / one:.2f} |", flush=True)
    print(f"median 2 / 1: {sorted(ratios)[len(ratios) // 2]:.2f}")


def child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="1-vs-2-process rounds")
    parser.add_argument("--only", choices=("processes",), help="only the 1-vs-2-process comparison")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="for the 1-vs-2 comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="charlm-scale-") as folder:
        folder = Path(folder)
        runs = {}
        sizes = [("10 MB", 10_000_000)] + ([] if args.only else [(f"{args.gb:g} GB", int(args.gb * 1e9))])
        for name, size in sizes:
            source = folder / f"{name.replace(' ', '')}.txt"
            started = time.perf_counter()
            write_text(source, size)
            print(f"{name}: text written in {time.perf_counter() - started:.0f} s", flush=True)
            prepared = child(PREPARE.format(root=str(ROOT), source=str(source), out=str(folder / source.stem)))
            rate = prepared["chars"] / prepared["seconds"] / 1e6
            print(
                f"{name}: prepared {prepared['chars']:,} characters in {prepared['seconds']:.0f} s "
                f"({rate:.1f} M chars/s), peak memory {prepared['peak']:.0f} MB",
                flush=True,
            )
            source.unlink()
            if args.only:
                break
            runs[name] = child(TRAIN.format(root=str(ROOT), folder=str(folder / source.stem), steps=args.steps))
        if runs:
            print(f"\n{args.steps} steps of the quick preset, the text memory-mapped:")
            print("| text | own pages before MB | own pages at peak MB | whole peak (VmHWM) MB | seconds |")
            print("|---|---:|---:|---:|---:|")
            for name, m in runs.items():
                print(
                    f"| {name} | {m['anon_before']:.0f} | {m['anon_peak']:.0f} | {m['hwm']:.0f} | {m['seconds']:.1f} |"
                )
        compare_processes(folder / "10MB", args.steps, args.rounds, args.device)


if __name__ == "__main__":
    main()
