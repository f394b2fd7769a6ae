"""Training in the background: one job, one thread, a clear lifecycle.

    pending -> (waiting ->) running -> (stopping ->) done | stopped | failed

A ``TrainingJob`` runs ``train`` in a daemon thread (or, with ``run_in_chunks``, in the caller's
thread one time-boxed chunk after another) and records what its events say; callers
(the web app's timer, a test) read a consistent ``snapshot()`` at any time and call ``stop()``
to end it at the next step boundary. ``JobSlots`` (``waiting_line.py``) caps how many jobs run at once
in a process, so a class on one small server cannot start more trainings than it has cores for.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from charlm.data.vocab import Corpus
from charlm.errors import CharLMError
from charlm.lessons.coach import Finding, RunFacts, clipping_fired, diagnose
from charlm.network.model import CharRNN
from charlm.serving.chunks import STOP_FILE, ChunkEnd
from charlm.serving.training_threads import finishing, run_in_training_thread
from charlm.serving.waiting_line import JobSlots, SmoothedEstimate
from charlm.training.checkpoint import Checkpoint, list_checkpoints
from charlm.training.config import TrainConfig
from charlm.training.loop import CheckpointEvent, EvalEvent, SampleEvent, StepEvent, train

log = logging.getLogger(__name__)

FINISHED_STATES = ("done", "stopped", "failed")


@dataclass
class JobSnapshot:
    state: str
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0  # the epochs the run will reach (fewer than asked when max_steps ends it first)
    epochs_asked: int = 0
    loss: float | None = None
    sec_per_batch: float = 0.0
    chars_per_sec: float = 0.0
    elapsed: float = 0.0
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)  # the periodic subset (the curve)
    held_out: tuple[int, float, int] | None = None  # at the end: (step, loss, characters) over the held-out part
    held_out_chars: int = 0  # the part's size: more than the figure's characters when a budget cut it to a subset
    samples: list[tuple[int, str]] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)  # per step of this job: whether gradient clipping fired
    error: str = ""
    failure: CharLMError | None = None  # the error itself, so an interface can show it in its own language
    reason: str = ""
    place: int = 0  # waiting: the place in line (1: next)
    starts_in: float | None = None  # waiting: about how many seconds until it starts (None: not known yet)

    @property
    def finished(self) -> bool:
        """Whether the job had ended when this snapshot was taken: a view that reads the job again later
        could see it end after drawing "stopping", and stop polling with the old line on the page."""
        return self.state in FINISHED_STATES

    @property
    def eta(self) -> float | None:
        """Seconds left, from the recent pace; None before the first step."""
        if not self.step or not self.total_steps or self.state != "running":
            return None
        return max(0.0, (self.total_steps - self.step) * self.sec_per_batch)


class TrainingJob:
    def __init__(
        self,
        corpus: Corpus,
        config: TrainConfig,
        out_dir: str | Path,
        resume: Checkpoint | None = None,
        slots: JobSlots | None = None,
        niceness: int = 0,
        priority: bool = False,
    ):
        self.corpus, self.config, self.out_dir, self.resume = corpus, config, Path(out_dir), resume
        self.slots = slots
        self.priority = priority  # a teacher's: the line's kept place, and the front of the line
        self.niceness = niceness  # > 0: yield the CPU to interactive work (generation, page updates)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._launched = False  # handed to a training thread (``charlm.serving.training_threads``)
        self._done = threading.Event()  # set when that thread is finished with it
        self._snap = JobSnapshot(state="pending", epochs=config.epochs, epochs_asked=config.epochs)
        if resume is not None:
            self._snap.train_loss = list(resume.progress.train_loss)
            self._snap.val_loss = list(resume.progress.val_loss)
            self._snap.step = resume.progress.step
        self.model: CharRNN | None = None
        self._chunked = False  # driven by run_in_chunks (the caller's thread), not a thread of its own
        self._turn = threading.Event()  # set when a chunked job waiting in line may go
        self._starts_in = SmoothedEstimate()  # the waiting time shown, smoothed across polls

    # lifecycle -------------------------------------------------------------------------
    def start(self, wait: bool = False) -> TrainingJob:
        """Train in a background thread; when every slot is taken, refuse, or with ``wait`` join the line
        (state "waiting") and start by itself when a slot frees."""
        if self._launched or self._snap.state != "pending":
            raise CharLMError("This training job has already been started.", key="job_started")
        if self.slots is None or self.slots.acquire(self, wait):
            self._launch()
        else:
            self._set(state="waiting")
        return self

    def _launch(self) -> None:
        self._set(state="running")
        self._launched = True
        run_in_training_thread(self._run, self.niceness)

    def start_from_line(self) -> None:
        """Start this waiting job: its turn in the line (``JobSlots``) has come."""
        if self._chunked:
            self._set(state="running")
            self._turn.set()
        else:
            self._launch()

    def seconds_left(self) -> float | None:
        """About how long until this running job ends: by its pace and steps, or its time limit."""
        snap = self.snapshot()
        limits = [
            x
            for x in (snap.eta, self.config.max_seconds - snap.elapsed if self.config.max_seconds else None)
            if x is not None
        ]
        return max(0.0, min(limits)) if limits else None

    def stop(self) -> None:
        """Ask the job to end after the current step (it saves a checkpoint first); one still waiting
        in line just leaves it."""
        if self._snap.state == "waiting" and self.slots is not None and self.slots.leave(self):
            self._set(state="stopped", reason="left_line")
            self._turn.set()  # a chunked Start event waiting for its turn ends
            return
        self._stop.set()
        if not self._launched and self._snap.state == "running":  # in chunks: tell the chunk through the disk
            with contextlib.suppress(OSError):
                (self.out_dir / STOP_FILE).touch()
        with self._lock:
            if self._snap.state == "running":
                self._snap.state = "stopping"

    def wait(self, timeout: float | None = None) -> bool:
        if self._launched:
            self._done.wait(timeout)
        return self.finished

    @property
    def finished(self) -> bool:
        return self._snap.state in FINISHED_STATES

    @property
    def holds_a_place_for_nobody_waiting(self) -> bool:
        """Running in a thread of its own (not chunked) while others wait in line: what a silent visitor's
        training must give up, so that their place goes to someone who is there."""
        return self._snap.state == "running" and not self._chunked and bool(self.slots and self.slots.waiting)

    @property
    def waiting_in_line(self) -> bool:
        """Waiting for a place, in a thread of its own when it comes (a chunked job's wait is its caller's,
        which ends when that caller goes)."""
        return self._snap.state == "waiting" and not self._chunked

    @property
    def stopping(self) -> bool:
        """Stop was asked and the job has not ended yet: it finishes its step and saves a checkpoint first."""
        return self._stop.is_set() and not self.finished

    def snapshot(self) -> JobSnapshot:
        place, starts_in = self.slots.place(self) if self._snap.state == "waiting" and self.slots else (0, None)
        if place:
            starts_in = self._starts_in.update(starts_in, place)  # counts down steadily, no jumps of minutes
        with self._lock:
            s = self._snap
            # a copy of every field (the lists too, which the training thread goes on appending to)
            return replace(
                s,
                place=place,
                starts_in=starts_in,
                train_loss=list(s.train_loss),
                val_loss=list(s.val_loss),
                samples=list(s.samples),
                checkpoints=list(s.checkpoints),
                clipped=list(s.clipped),
            )

    @functools.cached_property
    def facts(self) -> RunFacts:
        """What the coach knows before the run: the text's size and letter frequencies, the model's size."""
        return RunFacts.of(self.corpus.with_val_fraction(self.config.val_fraction), self.config)

    def findings(self, snap: JobSnapshot | None = None) -> list[Finding]:
        """The coach's findings on this run so far (or on ``snap``, a snapshot of it)."""
        snap = snap or self.snapshot()
        return diagnose(
            self.facts, snap.train_loss, snap.val_loss, snap.clipped, finished=snap.state in FINISHED_STATES
        )

    # internals -------------------------------------------------------------------------
    def _set(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._snap, key, value)

    def _on_event(self, event: object) -> None:
        with self._lock:
            s = self._snap
            if isinstance(event, StepEvent):
                s.step, s.total_steps, s.epoch, s.epochs = event.step, event.total_steps, event.epoch, event.epochs
                s.loss, s.elapsed = event.loss, event.elapsed
                # a smoothed pace, so the ETA does not jump with every batch
                s.sec_per_batch = (
                    0.9 * s.sec_per_batch + 0.1 * event.sec_per_batch if s.sec_per_batch else event.sec_per_batch
                )
                s.chars_per_sec = self.config.batch_size * self.config.num_steps / s.sec_per_batch
                s.train_loss.append((event.step, event.loss))
                s.clipped.append(clipping_fired(event.grad_norm, self.config.grad_clip))
            elif isinstance(event, EvalEvent) and event.whole:
                s.held_out, s.held_out_chars = (event.step, event.val_loss, event.chars), event.held_out_chars
            elif isinstance(event, EvalEvent):
                s.val_loss.append((event.step, event.val_loss))
            elif isinstance(event, SampleEvent):
                s.samples.append((event.step, event.text))
            elif isinstance(event, CheckpointEvent):
                s.checkpoints = list_checkpoints(self.out_dir)

    def _run(self) -> None:
        try:
            with self._outcome():
                result = train(
                    self.corpus, self.config, self.out_dir, on_event=self._on_event, stop=self._stop, resume=self.resume
                )
                self.model = result.model
                self._set(
                    state="stopped" if result.reason == "stopped" else "done",
                    reason=result.reason,
                    checkpoints=list_checkpoints(self.out_dir),
                )
        finally:
            self._done.set()

    def begin_chunks(self, wait: bool = False) -> TrainingJob:
        """Take a slot (or refuse, or join the line, as ``start`` does) for a job that ``run_in_chunks``
        will then drive."""
        if self._launched or self._snap.state != "pending":
            raise CharLMError("This training job has already been started.", key="job_started")
        self._chunked = True
        (self.out_dir / STOP_FILE).unlink(missing_ok=True)
        if self.slots is None or self.slots.acquire(self, wait):
            self._set(state="running")
        else:
            self._set(state="waiting")
        return self

    def run_in_chunks(
        self, chunk: Callable[..., Iterator[object]], seconds: float | Callable[[JobSnapshot], float]
    ) -> Iterator[None]:
        """Run the job in the caller's thread, one chunk after another, instead of ``start()``: ``chunk`` is
        ``charlm.serving.chunks.train_chunk`` or a stand-in for it (on a ZeroGPU Space, the same function wrapped so
        that it runs on a GPU in a worker process). Yields after each event, so the caller (the visitor's
        own page event, which the GPU time is charged to) can stay alive and answer; ``stop()`` ends the
        current chunk early through its stop file. Nothing passes between chunks but the checkpoint. ``seconds``:
        each chunk's training time, or a function giving it from where the job stands (a GPU call sized to the
        work left)."""
        if not self._chunked:
            raise CharLMError("Call begin_chunks() first, once.", key="job_started")
        while self._snap.state == "waiting":  # in line: the event stays open until its turn
            self._turn.wait(0.5)
            yield
        if self.finished:  # it left the line
            return
        stop_file = self.out_dir / STOP_FILE
        resume_path = str(self.resume.path) if self.resume is not None else None
        try:
            with self._outcome():
                self.out_dir.mkdir(parents=True, exist_ok=True)
                end = ChunkEnd("chunk", resume_path, self._snap.step)
                while end.reason == "chunk" and not self._stop.is_set():
                    budget = seconds(self.snapshot()) if callable(seconds) else seconds
                    for item in chunk(self.corpus, self.config, str(self.out_dir), end.checkpoint, budget):
                        if isinstance(item, ChunkEnd):
                            end = item
                        elif isinstance(item, CharLMError):  # a chunk's failure, reported as an item (chunks.py)
                            raise item
                        else:
                            self._on_event(item)
                        yield
                reason = "stopped" if end.reason in ("chunk", "stopped") else end.reason
                self._set(
                    state="stopped" if reason == "stopped" else "done",
                    reason=reason,
                    checkpoints=list_checkpoints(self.out_dir),
                )
        finally:
            stop_file.unlink(missing_ok=True)
            if not self.finished:  # the page went away mid-chunk (the chunk was closed, and saved on its way out)
                self._set(state="stopped", reason="stopped", checkpoints=list_checkpoints(self.out_dir))

    @contextlib.contextmanager
    def _outcome(self) -> Iterator[None]:
        """Whatever happens inside becomes the job's state: a failure is reported, never hangs the slot."""
        started = time.perf_counter()
        try:
            yield
        except CharLMError as err:
            self._set(state="failed", error=str(err), failure=err, checkpoints=list_checkpoints(self.out_dir))
        except Exception as err:  # a bug or an out-of-memory: report it, never hang the slot
            log.error("training failed:\n%s", traceback.format_exc())
            failure = CharLMError(
                f"Training failed unexpectedly ({type(err).__name__}); the server's log has the details.",
                key="train_crashed",
                kind=type(err).__name__,
            )  # no server paths shown
            self._set(state="failed", error=str(failure), failure=failure, checkpoints=list_checkpoints(self.out_dir))
        finally:
            finishing()  # this thread takes the next job, even one the release below starts at once
            if self.slots is not None:
                self.slots.release(self)
            log.info("training job ended after %.1f s", time.perf_counter() - started)
