"""Training (chapter sections 5.6-5.10): cross-entropy, Adam, global-norm clipping, state
carried between batches (truncated back-propagation through time), checkpoints and a log.

``train`` is one plain loop that reports what happens through ``on_event`` (a callable that
receives the event dataclasses below), so the CLI prints a progress bar and the web app plots
live curves from the same code. A ``threading.Event`` passed as ``stop`` ends the run cleanly
at the next step boundary, with a checkpoint.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .batches import Batches, check_fits
from .checkpoint import Checkpoint, Progress, restore_optimizer, save_checkpoint
from .config import TrainConfig
from .errors import CharLMError
from .model import CharRNN, ModelConfig, detach_state
from .vocab import Corpus

# Settings that change the model or the data order: a resumed run must keep them.
ARCHITECTURE_FIELDS = ("cell", "num_layers", "hidden_size", "batch_size", "num_steps", "val_fraction")


@dataclass
class StepEvent:
    epoch: int  # 1-based, for the log line
    epochs: int
    step: int
    total_steps: int
    loss: float
    sec_per_batch: float
    chars_per_sec: float
    learning_rate: float
    elapsed: float

    def log_line(self) -> str:
        """The chapter's log line, plus throughput."""
        return (f"Epoch: {self.epoch}/{self.epochs}... Step: {self.step}... loss: {self.loss:.4f}... "
                f"{self.sec_per_batch:.3f} sec/batch, {self.chars_per_sec:,.0f} chars/s")


@dataclass
class EvalEvent:
    step: int
    val_loss: float


@dataclass
class SampleEvent:
    step: int
    text: str


@dataclass
class CheckpointEvent:
    step: int
    path: Path


@dataclass
class TrainResult:
    reason: str  # "finished", "max_steps", "time_limit" or "stopped"
    model: CharRNN
    progress: Progress
    checkpoint: Path | None


EventHandler = Callable[[object], None]


def learning_rate_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """Linear warm-up, then constant or cosine decay; a pure function of the step so that a
    resumed run needs no scheduler state."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant" or total_steps <= config.warmup_steps:
        return config.learning_rate
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    floor = config.learning_rate * config.min_lr_ratio
    return floor + 0.5 * (config.learning_rate - floor) * (1 + math.cos(math.pi * progress))


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def validation_batches(data: np.ndarray, config: TrainConfig) -> Batches:
    """The held-out text cut like the training text; fewer rows if it is short."""
    rows = min(config.batch_size, max(1, (len(data) - 1) // config.num_steps))
    return Batches(data, rows, config.num_steps, what="The validation part")


@torch.inference_mode()
def evaluate(model: CharRNN, batches: Batches, max_batches: int = 0, bf16: bool = False) -> float:
    """Mean cross-entropy per character (nats) over the windows, state carried as in training."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    n = len(batches) if not max_batches else min(max_batches, len(batches))
    try:
        for i in range(n):
            x, y = batches[i]
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, state = model(x, state)
            total += _loss(logits, y).item() * y.numel()
            count += y.numel()
    finally:
        model.train(was_training)
    return total / count


def _sample_prime(corpus: Corpus) -> str:
    return "The " if not corpus.vocab.unknown_chars("The ") else corpus.text[0]


def check_corpus(corpus: Corpus, config: TrainConfig) -> None:
    """Fail early, with a fix, when the text cannot be cut into the requested batches."""
    check_fits(len(corpus.train_data), config.batch_size, config.num_steps, "The training part of the text")
    if config.val_fraction > 0 and len(corpus.val_data) < config.num_steps + 1:
        raise CharLMError(
            f"The validation part has {len(corpus.val_data):,} characters, fewer than one sequence of "
            f"num_steps={config.num_steps} (+1). Use a longer text, a larger val_fraction, smaller num_steps, "
            "or val_fraction=0 to skip validation.", key="val_too_short", n_chars=len(corpus.val_data),
            num_steps=config.num_steps,
        )


def train(
    corpus: Corpus,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    on_event: EventHandler | None = None,
    stop: threading.Event | None = None,
    resume: Checkpoint | None = None,
) -> TrainResult:
    corpus = corpus.with_val_fraction(config.val_fraction)
    check_corpus(corpus, config)
    emit = on_event or (lambda event: None)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    vocab = corpus.vocab
    batches = Batches(corpus.train_data, config.batch_size, config.num_steps, "The training part of the text")
    val_batches = validation_batches(corpus.val_data, config) if config.val_fraction > 0 else None
    inputs, targets = torch.from_numpy(batches.inputs), torch.from_numpy(batches.targets)
    M = config.num_steps

    if resume is None:
        torch.manual_seed(config.seed)
        model = CharRNN(ModelConfig.for_vocab(len(vocab), cell=config.cell, hidden_size=config.hidden_size,
                                              num_layers=config.num_layers, dropout=config.dropout))
        progress, state = Progress(), None
    else:
        if resume.vocab != vocab:
            raise CharLMError("This checkpoint was trained on a text with a different vocabulary; resume it on the "
                              "same text.", key="resume_vocab")
        changed = [f for f in ARCHITECTURE_FIELDS if getattr(resume.train_config, f) != getattr(config, f)]
        if changed:
            raise CharLMError(f"Cannot resume with different {', '.join(changed)}; keep the checkpoint's settings.",
                              key="resume_changed", fields=", ".join(changed))
        if not resume.can_resume:
            raise CharLMError("This checkpoint holds weights only (no optimizer state), so training cannot resume "
                              "from it.", key="resume_weights_only")
        model, progress, state = resume.model, resume.progress, resume.carry_state
        if resume.rng_state is not None:
            torch.set_rng_state(resume.rng_state)
        if model.config.dropout != config.dropout:
            model = _with_dropout(model, config.dropout)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    if resume is not None:
        restore_optimizer(model, optimizer, resume.optimizer_state)

    total_steps = config.epochs * len(batches)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    out_dir = Path(out_dir) if out_dir is not None else None
    last_checkpoint: Path | None = resume.path if resume is not None else None
    saved_step = progress.step if resume is not None else -1

    def save() -> None:
        nonlocal last_checkpoint, saved_step
        if out_dir is None or saved_step == progress.step:
            return
        last_checkpoint = save_checkpoint(out_dir, model, vocab, config, progress, optimizer,
                                          carry_state=state, rng_state=torch.get_rng_state(),
                                          corpus_name=corpus.name)
        saved_step = progress.step
        emit(CheckpointEvent(progress.step, last_checkpoint))

    def run_eval() -> None:
        if val_batches is not None:
            val = evaluate(model, val_batches, config.eval_batches, config.bf16)
            progress.val_loss.append((progress.step, val))
            emit(EvalEvent(progress.step, val))

    reason = "finished"
    started = time.perf_counter() - progress.elapsed
    while progress.epoch < config.epochs:
        if progress.batch == 0:
            state = None  # a new pass over the text starts from a blank memory
        while progress.batch < len(batches):
            if config.max_steps and progress.step >= config.max_steps:
                reason = "max_steps"
                break
            if config.max_seconds and progress.elapsed >= config.max_seconds:
                reason = "time_limit"
                break
            if stop is not None and stop.is_set():
                reason = "stopped"
                break
            t0 = time.perf_counter()
            cols = slice(progress.batch * M, (progress.batch + 1) * M)
            x, y = inputs[:, cols], targets[:, cols]
            lr = learning_rate_at(config, progress.step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                logits, state = model(x, state)
            loss = _loss(logits, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                where = f" The last good checkpoint is {last_checkpoint}." if last_checkpoint else ""
                raise CharLMError(
                    f"Training diverged: the loss became {loss_value} at step {progress.step + 1}. "
                    f"Lower the learning rate (now {lr:g}) or keep gradient clipping on.{where}",
                    key="diverged", loss=str(loss_value), step=progress.step + 1, lr=lr,
                    checkpoint=str(last_checkpoint or ""),
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            state = detach_state(state)
            dt = time.perf_counter() - t0

            progress.step += 1
            progress.batch += 1
            progress.elapsed = time.perf_counter() - started
            progress.train_loss.append((progress.step, loss_value))
            emit(StepEvent(progress.epoch + 1, config.epochs, progress.step, total_steps, loss_value, dt,
                           x.numel() / dt, lr, progress.elapsed))
            if config.eval_every and progress.step % config.eval_every == 0:
                run_eval()
            if config.sample_every and progress.step % config.sample_every == 0:
                emit(SampleEvent(progress.step, sample_text(model, corpus, config)))
            if config.save_every and progress.step % config.save_every == 0:
                save()
        else:
            progress.epoch += 1
            progress.batch = 0
            continue
        break
    if not progress.val_loss or progress.val_loss[-1][0] != progress.step:
        if progress.step:
            run_eval()
    save()
    model.eval()
    return TrainResult(reason, model, progress, last_checkpoint)


def sample_text(model: CharRNN, corpus: Corpus, config: TrainConfig) -> str:
    from .sample import Sampler  # sampling imports the model, not the trainer

    return Sampler(model, corpus.vocab).generate(_sample_prime(corpus), config.sample_length, seed=config.seed)


def _with_dropout(model: CharRNN, dropout: float) -> CharRNN:
    new = CharRNN(ModelConfig(**{**model.config.to_dict(), "dropout": dropout}))
    new.load_state_dict(model.state_dict())
    return new
