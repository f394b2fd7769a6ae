"""Training speed: charlm's ``train`` against a plain PyTorch loop, same model, same process.

    python bench/bench_train.py [--steps 8] [--presets textbook,small,quick]

The plain loop is what one would write from the chapter with no project code: one-hot ->
fused nn.LSTM -> Linear, Adam, global-norm clipping, state carried with detach(). Each figure
is printed with its ratio to that loop; bfloat16 autocast is measured for the textbook model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CORPORA, machine, peak_memory_mb, reset_peak_memory
from charlm import Corpus, StepEvent, preset, train
from charlm.network.cells import bf16_kernel_works


def plain_loop(data: torch.Tensor, vocab_size: int, cfg, steps: int, warmup: int) -> float:
    """Chars/s of the textbook recipe written directly against PyTorch."""
    torch.manual_seed(cfg.seed)
    rnn = torch.nn.LSTM(
        vocab_size,
        cfg.hidden_size,
        cfg.num_layers,
        batch_first=True,
        dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
    )
    drop = torch.nn.Dropout(cfg.dropout)
    fc = torch.nn.Linear(cfg.hidden_size, vocab_size)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=cfg.learning_rate)
    N, M = cfg.batch_size, cfg.num_steps
    K = (len(data) - 1) // (N * M)
    x_all = data[: K * N * M].view(N, -1)
    y_all = data[1 : K * N * M + 1].view(N, -1)
    state = None
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        x = x_all[:, i * M : (i + 1) * M]
        y = y_all[:, i * M : (i + 1) * M]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            out, state = rnn(F.one_hot(x, vocab_size).float(), state)
            logits = fc(drop(out))
        loss = F.cross_entropy(logits.float().reshape(-1, vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        state = tuple(s.detach() for s in state)
    return steps * N * M / (time.perf_counter() - t0)


def library(corpus: Corpus, cfg, steps: int, warmup: int) -> tuple[float, float]:
    times = []
    cfg = cfg.replace(
        max_steps=warmup + steps,
        epochs=1000,
        eval_every=0,
        save_every=0,
        sample_every=0,
        val_fraction=0.0,
        max_seconds=0,
        device="cpu",
    )  # against the CPU loop (bench/gpu.py: a GPU)
    train(corpus, cfg, on_event=lambda e: times.append(e.sec_per_batch) if isinstance(e, StepEvent) else None)
    sec = sum(times[warmup:]) / steps
    return cfg.batch_size * cfg.num_steps / sec, sec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--presets", default="textbook,small,quick")
    args = parser.parse_args()
    text = (CORPORA / "anna.txt").read_text(encoding="utf-8")
    corpus = Corpus.from_text(text, val_fraction=0.0, name="anna.txt")
    data = torch.from_numpy(corpus.data)
    print(f"# training speed on anna.txt — {machine()}")
    print(
        "| preset | model | batch | precision | plain loop chars/s | charlm chars/s | charlm sec/batch | ratio "
        "| peak MB |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for name in args.presets.split(","):
        # bf16 only where this CPU's oneDNN has a bf16 LSTM kernel (charlm falls back to fp32 layers otherwise)
        for bf16 in (False, True) if name == "textbook" and bf16_kernel_works("lstm") else (False,):
            cfg = preset(name, bf16=bf16, dropout=preset(name).dropout)
            reset_peak_memory()
            ref = plain_loop(data, len(corpus.vocab), cfg, args.steps, args.warmup)
            lib, sec = library(corpus, cfg, args.steps, args.warmup)
            print(
                f"| {name} | {cfg.num_layers}×{cfg.hidden_size} {cfg.cell} | {cfg.batch_size}×{cfg.num_steps} | "
                f"{'bf16' if bf16 else 'fp32'} | {ref:,.0f} | {lib:,.0f} | {sec:.3f} | {lib / ref:.2f}× | "
                f"{peak_memory_mb():,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
