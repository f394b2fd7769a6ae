"""The GPU check: the chapter's runs on a CUDA GPU against the 2-core CPU, and what cutting a run into chunks
costs (a ZeroGPU Space trains in chunks of a minute or so). Run it where a GPU is at hand:

    python bench/gpu.py [--epochs 5] [--steps 60] [--cpu-threads 2]

Prints the machine, a Markdown table (preset, precision, characters/s, seconds per epoch of *Anna Karenina*,
ratio to the CPU), the chunked runner's overhead per chunk (save + load + the first step again), and the
chapter's textbook run end to end (``--epochs`` epochs of Anna, 2×512, 100×100) with its held-out loss.
Goal: that run in at most 60 s (one free visitor's daily ZeroGPU quota is 2-5 minutes) and at least 50× the
2-core CPU. ``--device cpu --steps 3 --epochs 0`` checks the script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CORPORA
from charlm import Corpus, StepEvent, latest_checkpoint, load_checkpoint, preset, train


def speed(corpus: Corpus, cfg, steps: int, warmup: int = 5) -> float:
    """Characters per second over ``steps`` steps after ``warmup`` (each step ends with the loss on the host)."""
    times: list[float] = []
    cfg = cfg.replace(max_steps=warmup + steps, epochs=1000, eval_every=0, save_every=0, sample_every=0, max_seconds=0)
    train(corpus, cfg, on_event=lambda e: times.append(e.sec_per_batch) if isinstance(e, StepEvent) else None)
    return cfg.batch_size * cfg.num_steps * steps / sum(times[warmup:])


def chunk_overhead(corpus: Corpus, cfg, steps: int) -> float:
    """Seconds a chunk costs beyond its steps: loading the checkpoint, the first step again, saving."""
    with tempfile.TemporaryDirectory() as folder:
        cfg = cfg.replace(max_steps=0, epochs=1000, eval_every=0, save_every=0, sample_every=0, keep_checkpoints=2)
        train(corpus, cfg, folder, chunk_steps=steps)
        times: list[float] = []
        started = time.perf_counter()
        train(
            corpus,
            cfg,
            folder,
            resume=load_checkpoint(latest_checkpoint(folder)),
            chunk_steps=steps,
            on_event=lambda e: times.append(e.sec_per_batch) if isinstance(e, StepEvent) else None,
        )
        wall = time.perf_counter() - started
    return wall - steps * sorted(times)[len(times) // 2]  # beyond `steps` typical steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cpu-threads", type=int, default=2)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here (use --device cpu to check the script)")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"# {name}, torch {torch.__version__}, CUDA {torch.version.cuda}; CPU reference: {args.cpu_threads} threads")
    corpus = Corpus.from_text((CORPORA / "anna.txt").read_text(encoding="utf-8"), val_fraction=0.1, name="anna.txt")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.cpu_threads)
    cpu = speed(corpus, preset("textbook", device="cpu"), steps=3, warmup=1)
    torch.set_num_threads(threads)
    epoch_chars = len(corpus.train_data)
    print(f"CPU ({args.cpu_threads} threads), textbook fp32: {cpu:,.0f} chars/s, {epoch_chars / cpu:,.0f} s per epoch")
    print("| preset | model | batch | precision | chars/s | s per epoch of Anna | × the CPU |")
    print("|---|---|---|---|---:|---:|---:|")
    for preset_name in ("textbook", "anna"):
        for bf16 in (False, True):
            cfg = preset(preset_name, bf16=bf16, device=args.device)
            rate = speed(corpus, cfg, args.steps)
            print(
                f"| {preset_name} | {cfg.num_layers}×{cfg.hidden_size} {cfg.cell} | {cfg.batch_size}×{cfg.num_steps} "
                f"| {'bf16' if bf16 else 'fp32'} | {rate:,.0f} | {epoch_chars / rate:.1f} | {rate / cpu:.0f}× |",
                flush=True,
            )
    over = chunk_overhead(corpus, preset("textbook", device=args.device), steps=max(3, args.steps // 3))
    print(f"chunked runner: {over:.2f} s per chunk beyond its steps (load + first step + save)")
    if args.epochs:
        cfg = preset("textbook", device=args.device, epochs=args.epochs, eval_every=0, save_every=0)
        started = time.perf_counter()
        result = train(corpus, cfg)
        wall = time.perf_counter() - started
        _, loss, chars = result.progress.held_out  # every held-out character, scored at the run's end
        print(
            f"textbook, {args.epochs} epochs of Anna on {name}: {wall:.1f} s, {result.progress.step} steps, "
            f"held-out loss {loss:.3f} nats/char over {chars:,} characters "
            f"({'within' if wall <= 60 else 'over'} the 60 s goal)"
        )


if __name__ == "__main__":
    main()
