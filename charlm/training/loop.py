"""Training (chapter sections 5.6-5.10): cross-entropy, Adam, global-norm clipping, state
carried between batches (truncated back-propagation through time), checkpoints and a log.

``train`` is one plain loop that reports what happens through ``on_event`` (a callable that
receives the event dataclasses below), so the CLI prints a progress bar and the web app plots
live curves from the same code. A ``threading.Event`` passed as ``stop`` ends the run cleanly
at the next step boundary, with a checkpoint.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from charlm.data.batches import Batches, check_corpus
from charlm.data.vocab import Corpus
from charlm.errors import CharLMError
from charlm.network.model import CharRNN, State, detach_state
from charlm.sampling.sampler import Sampler
from charlm.training.checkpoint import Checkpoint, Progress, prune_checkpoints, save_checkpoint
from charlm.training.cold_start import clear_rows
from charlm.training.config import TrainConfig
from charlm.training.device import mixed_precision, resolve_device, to_device
from charlm.training.distributed import ALONE, Ranks, Saved
from charlm.training.evaluate import HeldOutScore, cross_entropy, score_held_out
from charlm.training.events import CheckpointEvent, EvalEvent, EventHandler, SampleEvent, StepEvent
from charlm.training.history import append_history, restart_history
from charlm.training.memory import check_training_memory, device_memory_bytes
from charlm.training.optimizer_state import restore_optimizer
from charlm.training.resume import take_up
from charlm.training.schedule import learning_rate_at, reanchor

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    reason: str  # one of STOP_REASONS: "chunk" is this call's share done, the run not
    model: CharRNN
    progress: Progress
    checkpoint: Path | None


STOP_REASONS = ("finished", "max_steps", "time_limit", "early_stop", "stopped", "chunk")


class _Run:
    """One training run's moving parts: the model, its optimizer, where it stands, and what it
    carries from one batch to the next. ``train`` below drives it one named stage at a time."""

    def __init__(
        self,
        corpus: Corpus,
        config: TrainConfig,
        out_dir: Path | None,
        emit: EventHandler,
        resume: Checkpoint | None,
        ranks: Ranks = ALONE,
    ):
        self.corpus, self.config, self.out_dir, self.ranks = corpus, config, out_dir, ranks
        self.emit = emit if ranks.writes else (lambda event: None)  # rank 0 reports for the run
        self.batches = Batches(corpus.train_data, config.batch_size, config.num_steps, "The training part of the text")
        # The whole text goes to the device once (this process's rows of it); each step then slices its batch there.
        self.device = resolve_device(config.device)
        if self.device.type == "cuda" and not ranks.alone:
            self.device = torch.device("cuda", ranks.local_rank)
        rows = ranks.rows(config.batch_size)
        self.inputs = torch.from_numpy(self.batches.inputs[rows]).to(self.device)
        self.targets = torch.from_numpy(self.batches.targets[rows]).to(self.device)
        # The run's own random numbers (weights, dropout): never torch's global generator, which
        # other trainings and visitors in the same process share. The first weights are drawn on the
        # CPU (the same start on every device); on the CPU that generator then draws the dropout masks too.
        self.generator = torch.Generator().manual_seed(config.seed)
        if resume is None:
            self.model = CharRNN(config.model_config(len(corpus.vocab)), generator=self.generator)
            self.progress, self.state = Progress(), None
            self.last_checkpoint, self.saved_step = None, -1
        else:  # the checkpoint's weights and place, its whole loss history, this process's rows of its memory
            self.model, self.progress = take_up(resume, corpus, config, ranks.world)
            self.state = ranks.my_rows(resume.carry_state, config.batch_size)
            self.last_checkpoint, self.saved_step = resume.path, resume.progress.step
            if self.out_dir is not None and ranks.writes:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                restart_history(self.out_dir, self.progress.train_loss, self.progress.val_loss)
        self.logged = (len(self.progress.train_loss), len(self.progress.val_loss))  # points already in losses.csv
        # the dropout masks' generator: on the run's device; with several processes, one per process
        saved = None if resume is None else Saved(resume.rng_state, resume.progress.ranks, resume.progress.step)
        self.generator = ranks.masks_generator(self.generator, self.device, config.seed, saved)
        self.progress.ranks = ranks.world
        self.model.to(self.device)
        self.state = to_device(self.state, self.device)
        self.best: tuple[float, Path] | None = None  # the lowest validation loss saved so far, and its checkpoint
        self.model.train()
        # With several processes, DistributedDataParallel averages the gradients over them during backward;
        # the model itself (``self.model``) is what is scored, sampled and saved.
        self.forward = self.model
        if not ranks.alone:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        if resume is not None:
            restore_optimizer(self.model, self.optimizer, resume.optimizer_state)
        self.total_steps = config.epochs * len(self.batches)
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        # the epochs the run will reach: "Epoch 1/1" for a run that max_steps ends in its first pass, not "1/50"
        self.epochs_reached = min(config.epochs, math.ceil(self.total_steps / len(self.batches)))
        # a resumed run of a new length goes on decaying from the rate it had reached (charlm/training/schedule.py)
        p = self.progress
        p.lr_anchor = reanchor(config, p.step, p.total_steps, self.total_steps, p.lr_anchor)
        p.total_steps = self.total_steps
        self.started = time.perf_counter() - self.progress.elapsed  # the clock goes on from the checkpoint's
        self.chunk_end_step: int | None = None  # this call's share of the run (see ``train``'s chunk_*)
        self.chunk_deadline: float | None = None

    def reason_to_stop(self, stop: threading.Event | None) -> str | None:
        """Why the run ends before the next batch, or None to go on (moving to the next epoch
        when this one's batches are used up). "chunk": this call's share is done, the run is not."""
        p, config = self.progress, self.config
        if p.batch >= len(self.batches):
            p.epoch, p.batch = p.epoch + 1, 0
        if p.epoch >= config.epochs:
            return "finished"
        if config.max_steps and p.step >= config.max_steps:
            return "max_steps"
        if config.max_seconds and p.elapsed >= config.max_seconds:
            return "time_limit"
        if config.patience and self.validations_since_best() >= config.patience:
            return "early_stop"
        if stop is not None and stop.is_set():
            return "stopped"
        if self.chunk_end_step is not None and p.step >= self.chunk_end_step:
            return "chunk"
        if self.chunk_deadline is not None and time.perf_counter() >= self.chunk_deadline:
            return "chunk"
        return None

    def agreed_reason_to_stop(self, stop: threading.Event | None) -> str | None:
        """``reason_to_stop`` as rank 0 sees it, on every process (one process: its own)."""
        return self.ranks.agree(self.reason_to_stop(stop), STOP_REASONS)

    def validations_since_best(self) -> int:
        """How many validations have come since the lowest one (0: the latest is the best)."""
        values = [v for _, v in self.progress.val_loss]
        return len(values) - 1 - values.index(min(values)) if values else 0

    def carried_state(self) -> State | None:
        """The memory the next batch starts from: none at the start of a pass over the text; otherwise the
        last batch's, with the rows ``cold_start_share`` clears at this step (see ``charlm.training.cold_start``)."""
        p, config = self.progress, self.config
        if p.batch == 0 or self.state is None:
            return None
        first_row = self.ranks.rows(config.batch_size).start
        return clear_rows(self.state, config.cold_start_share, config.seed, p.step, first_row, config.batch_size)

    def train_step(self) -> StepEvent:
        """One mini-batch: forward over M steps from the carried state, cross-entropy, backward,
        clip, Adam; then cut the graph at the batch boundary (truncated BPTT)."""
        p, config = self.progress, self.config
        started = time.perf_counter()
        self.state = self.carried_state()
        cols = slice(p.batch * config.num_steps, (p.batch + 1) * config.num_steps)
        x, y = self.inputs[:, cols], self.targets[:, cols]
        lr = learning_rate_at(config, p.step, self.total_steps, p.lr_anchor)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with mixed_precision(self.device, config.bf16):
            logits, self.state = self.forward(x, self.state, generator=self.generator)
        loss = cross_entropy(logits, y)
        # the one synchronisation a step makes with a GPU: the log needs the number (the mean over the processes)
        loss_value = self.ranks.mean(loss.item())
        if not math.isfinite(loss_value):
            where = f" The last good checkpoint is {self.last_checkpoint.name}." if self.last_checkpoint else ""
            raise CharLMError(
                f"Training diverged: the loss became {loss_value} at step {p.step + 1}. "
                f"Lower the learning rate (now {lr:g}) or keep gradient clipping on.{where}",
                key="diverged",
                loss=str(loss_value),
                step=p.step + 1,
                lr=lr,
                checkpoint=self.last_checkpoint.name if self.last_checkpoint else "",
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # the gradient's global norm before clipping (clipping off: measured, not changed), for the coach
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip or math.inf)
        self.optimizer.step()
        self.state = detach_state(self.state)
        took = time.perf_counter() - started
        p.step += 1
        p.batch += 1
        p.elapsed = time.perf_counter() - self.started
        p.train_loss.append((p.step, loss_value))
        return StepEvent(
            p.epoch + 1,
            self.epochs_reached,
            p.step,
            self.total_steps,
            loss_value,
            took,
            x.numel() * self.ranks.world / took,
            lr,
            p.elapsed,
            float(norm),
        )

    def evaluate(self) -> None:
        """The periodic check: the loss on the same evenly spread windows of the held-out text each time
        (``eval_batches`` per row; the curve), recorded and reported (nothing when there is no held-out part)."""
        if self.config.val_fraction > 0:
            score = self.held_out(self.config.eval_batches)
            self.progress.val_loss.append((self.progress.step, score.loss))
            self.emit(EvalEvent(self.progress.step, score.loss, score.chars))

    def score_held_out(self) -> None:
        """The run's final figure: every held-out character scored once (the curve's windows are a subset),
        or, past the config's ``final_score_gflop``, as many spread windows as that pays for."""
        if self.config.val_fraction > 0:
            score = self.held_out(windows=0, budget=self.config.final_score_gflop * 1e9)
            self.progress.held_out = (self.progress.step, score.loss, score.chars)
            self.emit(
                EvalEvent(self.progress.step, score.loss, score.chars, whole=True, held_out_chars=score.held_out_chars)
            )

    def held_out(self, windows: int, budget: float = 0.0) -> HeldOutScore:
        config = self.config
        return score_held_out(
            self.model,
            self.corpus.val_data,
            config.batch_size,
            config.num_steps,
            config.bf16,
            windows=windows,
            budget=budget,
            ranks=self.ranks,
        )

    def sample(self) -> None:
        if self.ranks.writes:
            self.emit(SampleEvent(self.progress.step, sample_text(self.model, self.corpus, self.config)))

    def save(self) -> None:
        """A checkpoint of this step, unless there is no folder, it is saved already, or nothing was trained."""
        if self.out_dir is None or self.progress.step == 0:
            return
        if self.saved_step == self.progress.step:
            if self.ranks.writes:
                self._log_history()  # a held-out loss taken after the save still belongs in the log
            return
        # every process gives its rows' carried memory and its random state; rank 0 alone writes
        carry_state = self.ranks.gather_rows(self.state)
        rng_state = self.ranks.gather_random_states(self.generator)
        if not self.ranks.writes:
            self.saved_step = self.progress.step
            return
        try:
            self.last_checkpoint = save_checkpoint(
                self.out_dir,
                self.model,
                self.corpus.vocab,
                self.config,
                self.progress,
                self.optimizer,
                carry_state=carry_state,
                rng_state=rng_state,
                corpus_name=self.corpus.name,
            )
        except OSError as err:  # a full disk, say: nothing half-written is left (atomic_write), the last one stays
            kept = f" The last one saved is {self.last_checkpoint.name}." if self.last_checkpoint else ""
            raise CharLMError(
                f"The checkpoint of step {self.progress.step} could not be written "
                f"({err.strerror or type(err).__name__}).{kept}",
                key="save_failed",
                step=self.progress.step,
                detail=err.strerror or type(err).__name__,
                checkpoint=self.last_checkpoint.name if self.last_checkpoint else "",
            ) from None
        self.saved_step = self.progress.step
        self._log_history()
        val = self.progress.val_loss[-1] if self.progress.val_loss else None
        if val is not None and val[0] == self.progress.step and (self.best is None or val[1] < self.best[0]):
            self.best = (val[1], self.last_checkpoint)
        if self.config.keep_checkpoints:
            prune_checkpoints(self.out_dir, self.config.keep_checkpoints, keep=self.best[1] if self.best else None)
        self.emit(CheckpointEvent(self.progress.step, self.last_checkpoint))

    def _log_history(self) -> None:
        """Append the losses since the last save to the run's ``losses.csv`` (a log: losing it loses no weights)."""
        p, (n_train, n_val) = self.progress, self.logged
        try:
            append_history(self.out_dir, p.train_loss[n_train:], p.val_loss[n_val:])
        except OSError as err:
            log.warning("could not append to the loss history: %s", err.strerror)
            return
        self.logged = (len(p.train_loss), len(p.val_loss))


def _due(every: int, step: int) -> bool:
    return bool(every) and step % every == 0


FORCE_HINT = " (If you know better: --force on the command line, check_memory=False in Python.)"


def train(
    corpus: Corpus,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    on_event: EventHandler | None = None,
    stop: threading.Event | None = None,
    resume: Checkpoint | None = None,
    chunk_steps: int = 0,
    chunk_seconds: float = 0.0,
    check_memory: bool = True,
    ranks: Ranks = ALONE,
) -> TrainResult:
    """Train (or resume) a model on ``corpus``; report through ``on_event``; end cleanly at the
    next step boundary once ``stop`` is set.

    ``chunk_steps`` / ``chunk_seconds`` (0: no limit) make this call train only that much and end
    with reason "chunk" and a checkpoint; resuming from it continues the run exactly (bit for bit on
    the CPU) as if it had not been cut. A GPU lent for a minute at a time (a ZeroGPU Space), a
    Continue button, and a CPU shared by a class all train this way.

    ``check_memory`` (the default) refuses, before anything is allocated, a run whose estimated peak memory
    (``training/memory.py``) is more than its device has, naming the batch size that fits; False is for
    someone who knows better (the CLI's ``--force``).

    ``ranks`` (``training/distributed.py``): this process's part of a run on several processes started by
    torchrun, each training its share of the batch's rows (by default, alone).

    Thread-safe: all randomness comes from the run's own generator seeded by ``config.seed``, and
    torch's thread count (a process-wide setting) is left to the caller (the CLI sets it from
    ``--num-threads``; the app once at start-up), so several runs in one process do not disturb
    one another and each is reproducible.
    """
    # Stage 1: the data, cut into batches; fail early, with a fix, if the text is too short or the run
    # would not fit in the device's memory (refused now, not killed by the system half-way).
    corpus = corpus.with_val_fraction(config.val_fraction)
    check_corpus(corpus, config.batch_size, config.num_steps)
    ranks.check_rows(config.batch_size)
    if check_memory:  # each process holds its share of the rows; those on one CPU share its memory
        mine = config.replace(batch_size=config.batch_size // ranks.world)
        sharing = ranks.local_world if resolve_device(config.device).type == "cpu" else 1
        check_training_memory(mine, len(corpus.vocab), device_memory_bytes(config.device) // sharing, FORCE_HINT)
    # Stage 2: a new model from the seed, or everything a checkpoint carries (weights, Adam's
    # moments, the memory carried into the next batch, the random state, the place in the text).
    out_dir = Path(out_dir) if out_dir is not None else None
    run = _Run(corpus, config, out_dir, on_event or (lambda event: None), resume, ranks)
    if chunk_steps:
        run.chunk_end_step = run.progress.step + chunk_steps
    if chunk_seconds:
        run.chunk_deadline = time.perf_counter() + chunk_seconds
    # Stage 3: the loop. One batch per step; the state flows on from batch to batch within an
    # epoch; the held-out loss, a sample and a checkpoint now and then. (With several processes, every
    # one runs this same loop on its rows, in step: they agree on when to stop, and rank 0 writes.)
    while (reason := run.agreed_reason_to_stop(stop)) is None:
        run.emit(run.train_step())
        step = run.progress.step
        if _due(config.eval_every, step):
            run.evaluate()
            if run.validations_since_best() == 0:
                run.save()  # the best weights so far always have a checkpoint (pruning keeps it)
        if _due(config.sample_every, step):
            run.sample()
        if _due(config.save_every, step):
            run.save()
    # Stage 4: always end with a checkpoint, and, unless only this chunk ends, the final weights
    # scored: the curve's last point, and every held-out character once (a chunk's extra evaluation
    # would cost every chunk time and add points to the curve).
    if run.progress.step and reason != "chunk":
        if not run.progress.val_loss or run.progress.val_loss[-1][0] != run.progress.step:
            run.evaluate()
        if config.sample_every and not _due(config.sample_every, run.progress.step):
            run.sample()  # what the final weights write (a run shorter than sample_every gets one too)
        run.score_held_out()
        run.saved_step = -1  # saved (again) with that figure in it
    run.save()
    run.forward = run.model  # let go of DistributedDataParallel's hold on the processes' group now, not at exit
    run.model.eval()
    return TrainResult(reason, run.model, run.progress, run.last_checkpoint)


def sample_text(model: CharRNN, corpus: Corpus, config: TrainConfig) -> str:
    prime = (
        "The " if not corpus.vocab.unknown_chars("The ") else corpus.opening(1)
    )  # a text with no "The " gets its own
    return Sampler(model, corpus.vocab).generate(prime, config.sample_length, seed=config.seed)
