"""Three ways the app runs a training, behind one interface, picked from the host.

* ``ThreadRunner`` (a laptop, a CPU Space): the job trains in a background thread; the Start
  event answers at once and the page's timer polls the job.
* ``ProcessRunner`` (``CHARLM_RUNNER=process``, a trial): the job trains in a child process of its
  own (``charlm.serving.chunks.train_chunk_in_child``), followed by a thread here, and the Start event
  answers at once as with a thread. What a training allocated goes back to the system when its
  process ends, so less of a class's trainings stays in the server (README, "Reliability"); the
  fork server the children start from costs a resident process of its own.
* ``ChunkRunner`` (a ZeroGPU Space): the GPU exists only inside a call decorated with
  ``@spaces.GPU``, for a bounded time, charged to the visitor whose event makes the call. So the
  Start event itself drives the job, one time-boxed chunk after another (``charlm.serving.chunks``), each
  chunk a decorated call that resumes from the last checkpoint; the timer shows its progress
  exactly as for a thread.

``import spaces`` is optional: without the package (a laptop) or off ZeroGPU its decorator does
nothing, and the chunks run here, on whatever device there is.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from charlm import CharLMError
from charlm.serving.chunks import ChunkEnd, train_chunk_in_child, train_chunk_reported, warm_up_children
from charlm.serving.jobs import JobSnapshot, TrainingJob

from .i18n import AppError

log = logging.getLogger(__name__)


def on_zerogpu(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this is a ZeroGPU Space (the platform sets SPACES_ZERO_GPU, as the ``spaces`` package reads it)."""
    return env.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


ON_ZEROGPU = on_zerogpu()
CHUNK_OVERHEAD_SECONDS = 20.0  # asked beyond a chunk's training until a call has been measured: start, load, save
MIN_CHUNK_SECONDS = 5.0  # a call shorter than this is not worth its overhead (a refusal is not retried below it)

try:  # must come before CUDA is first touched (app.py imports this module first)
    import spaces
except ImportError:
    spaces = None


@dataclass
class ChunkPlan:
    """How much GPU time each call of a training asks for: the work left at the job's own pace (never more
    than a chunk's length, nor than its time limit leaves), plus what a call costs beyond its training,
    measured on the calls made (``overhead``). ZeroGPU refuses a request larger than what is left of the
    visitor's day, and shorter requests wait less in its queue: a run that needs 13 s asks for about that."""

    cap: float  # CHARLM_CHUNK_SECONDS
    overhead: float = CHUNK_OVERHEAD_SECONDS
    margin: float = 1.15  # on the pace: a little slack, so the last chunk rarely falls a few steps short

    def seconds(self, snap: JobSnapshot, time_limit: float = 0.0) -> float:
        """The next chunk's training time for a job that stands at ``snap``."""
        budget = [self.cap]
        if snap.step and snap.total_steps and snap.sec_per_batch:
            budget.append((snap.total_steps - snap.step) * snap.sec_per_batch * self.margin + 1.0)
        if time_limit:
            budget.append(time_limit - snap.elapsed + 1.0)
        return max(1.0, min(budget))

    def measured(self, startup: float, wind_down: float) -> None:
        """A call's cost beyond its training: before its first event (the worker, loading the checkpoint, the
        first step's set-up) and after its last step (saving); the next calls ask for half as much again."""
        self.overhead = max(3.0, 1.5 * (startup + wind_down))


PLAN = ChunkPlan(cap=45.0)  # this process's calls: one GPU, one measured overhead; the cap set by the runner


def _chunk_duration(corpus, config, out_dir, resume_path, seconds) -> int:
    """What a chunk asks of ZeroGPU (called with the chunk's own arguments): its training time, sized to the
    work by ``ChunkPlan``, and the measured overhead of a call."""
    return math.ceil(seconds + PLAN.overhead)


# Decorated at import: a ZeroGPU Space with no decorated function is stopped at start-up. The chunk reports its
# own failure as an item (``spaces`` passes back only ``gr.Error`` from its worker, any other exception as a
# generic one), so "Training diverged" reaches the visitor as itself.
gpu_train_chunk = (
    spaces.GPU(duration=_chunk_duration)(train_chunk_reported) if spaces is not None else train_chunk_reported
)

# ZeroGPU's own answers, by the sentences ``spaces`` (0.51) sends in its gr.Error: (what to look for, the text key)
_QUOTA_NUMBERS = re.compile(r"\((\d+)s requested vs\. (\d+)s left\)(?:\. Try again in ([\d:]+))?")
ZEROGPU_ANSWERS = (
    ("Space app has reached its GPU limit", "err.gpu_space_limit"),  # a visitor not signed in to the Hub
    ("No GPU was available", "err.gpu_busy"),  # none free within ZeroGPU's wait
    ("is larger than the maximum allowed", "err.gpu_duration"),  # a call asked for more than a call may have
    ("credits allocated to running tasks", "err.gpu_busy"),  # too many of the visitor's calls at once
    ("runs limit", "err.gpu_runs"),
    ("quota", "err.gpu_quota"),  # the visitor's own daily quota (the numbers, when it says them)
)


def zerogpu_refusal(err: Exception) -> AppError:
    """What ZeroGPU said instead of giving a GPU, in the visitor's words, with what they can do next."""
    text = str(getattr(err, "message", None) or err)
    key = next((key for sign, key in ZEROGPU_ANSWERS if sign.lower() in text.lower()), "err.gpu_failed")
    if key == "err.gpu_quota":
        numbers = _QUOTA_NUMBERS.search(text)
        if numbers and numbers.group(3):
            requested, left, wait = numbers.groups()
            return AppError("err.gpu_quota_left", requested=int(requested), left=int(left), wait=wait)
    if key == "err.gpu_duration":
        asked = re.search(r"\((\d+)s\)", text)
        return AppError(key, requested=int(asked.group(1)) if asked else 0)
    return AppError(key)


def fitted_seconds(refusal: Exception, asked: float, plan: ChunkPlan = PLAN) -> float | None:
    """After ZeroGPU refused a call for the visitor's quota, saying what it would have cost and what is left:
    the training time of a call that fits what is left (its per-GPU factor taken from the refusal's own
    numbers), or None when none worth making fits."""
    numbers = _QUOTA_NUMBERS.search(str(getattr(refusal, "message", None) or refusal))
    if not numbers or asked <= 0:
        return None
    requested, left = int(numbers.group(1)), int(numbers.group(2))
    factor = requested / asked  # what ZeroGPU charges per second asked, on its GPU
    fits = left / factor - plan.overhead - 1.0
    return fits if fits >= MIN_CHUNK_SECONDS else None


def timed_call(chunk: Callable[..., Iterator[object]], plan: ChunkPlan, *args) -> Iterator[object]:
    """One call of ``chunk``: its items passed on (charlm's errors, reported as items, raised here) and its cost
    beyond its training measured into ``plan``."""
    called = time.monotonic()
    first = last = None
    for item in chunk(*args):
        if isinstance(item, CharLMError):
            raise item
        now = time.monotonic()
        if isinstance(item, ChunkEnd):
            if first is not None:
                plan.measured(first - called, now - last)
        else:
            first, last = first or now, now
        yield item


def _fitted_to_the_quota(chunk: Callable[..., Iterator[object]], plan: ChunkPlan, args: tuple) -> Iterator[object]:
    """A call; refused for more than the visitor has left today (before it trained anything), made once more
    with a training time that fits (``fitted_seconds``)."""
    given = False
    try:
        for item in timed_call(chunk, plan, *args):
            given = True
            yield item
    except CharLMError:
        raise
    except Exception as refusal:
        smaller = None if given else fitted_seconds(refusal, math.ceil(args[-1] + plan.overhead), plan)
        if smaller is None or smaller >= args[-1]:
            raise
        log.info("GPU call refused for the quota; asking for %.0f s of training instead", smaller)
        yield from timed_call(chunk, plan, *args[:-1], smaller)


def chunk_with_messages(
    chunk: Callable[..., Iterator[object]], plan: ChunkPlan = PLAN
) -> Callable[..., Iterator[object]]:
    """``chunk``, timed for ``plan`` (what a call costs beyond its training), made again smaller once if
    ZeroGPU refused it for more than the visitor has left today, and with ZeroGPU's other answers put in the
    visitor's words (``zerogpu_refusal``: each with the next step; the last checkpoint is kept). charlm's own
    errors pass through as themselves, raised or reported as an item (``chunks.reported``)."""

    def run(*args) -> Iterator[object]:
        try:
            yield from _fitted_to_the_quota(chunk, plan, args)
        except CharLMError:
            raise
        except Exception as err:  # ZeroGPU's answers are gr.Error / RuntimeError with a sentence
            log.warning("GPU chunk failed: %s: %s", type(err).__name__, err)
            raise zerogpu_refusal(err) from None

    return run


class ThreadRunner:
    """A training in a background thread: the Start event returns at once."""

    name = "thread"

    def __init__(self, device: str = "auto"):
        self.device = device  # on ZeroGPU, "cpu": outside a decorated call, CUDA there is only emulated

    def start(self, job: TrainingJob) -> None:
        job.start(wait=True)  # a full server: the visitor joins the line

    def follow(self, job: TrainingJob) -> Iterator[None]:
        yield from ()


class ProcessRunner:
    """A training in a child process of its own, followed by a background thread: the Start event returns at
    once. One child per ``chunk_seconds`` of training (each resumes from the last checkpoint, exactly)."""

    name = "process"

    def __init__(self, threads: int, chunk_seconds: float = 600.0, device: str = "auto"):
        self.threads, self.chunk_seconds, self.device = threads, chunk_seconds, device
        threading.Thread(target=warm_up_children, name="charlm-fork-server", daemon=True).start()

    def start(self, job: TrainingJob) -> None:
        job.begin_chunks(wait=True)  # a full server: the visitor joins the line, as with a thread
        chunk = functools.partial(train_chunk_in_child, threads=self.threads, niceness=job.niceness)

        def follow() -> None:
            for _ in job.run_in_chunks(chunk, self.chunk_seconds):
                pass

        threading.Thread(target=follow, name="charlm-training", daemon=True).start()

    def follow(self, job: TrainingJob) -> Iterator[None]:
        yield from ()


class ChunkRunner:
    """A training in chunks of at most ``chunk_seconds``, each sized to the work left (``ChunkPlan``), driven by
    the visitor's own Start event."""

    name = "chunks"
    device = "auto"  # inside the decorated call: the GPU

    def __init__(self, chunk_seconds: float, chunk: Callable[..., Iterator[object]] = gpu_train_chunk):
        PLAN.cap = chunk_seconds  # the process's one plan: the decorator's duration reads its measured overhead
        self.chunk = chunk_with_messages(chunk)

    def start(self, job: TrainingJob) -> None:
        job.begin_chunks(wait=True)

    def follow(self, job: TrainingJob) -> Iterator[None]:
        yield from job.run_in_chunks(self.chunk, lambda snap: PLAN.seconds(snap, job.config.max_seconds))


def runner_for(kind: str, chunk_seconds: float, threads: int = 1) -> ThreadRunner | ChunkRunner | ProcessRunner:
    """``auto``: chunks on ZeroGPU, a thread elsewhere; or ``thread`` / ``process`` / ``chunks`` as asked."""
    if kind == "chunks" or (kind == "auto" and ON_ZEROGPU):
        return ChunkRunner(chunk_seconds)
    if kind == "process":
        return ProcessRunner(threads)
    return ThreadRunner(device="cpu" if ON_ZEROGPU else "auto")
