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
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping

from charlm import CharLMError
from charlm.serving.chunks import train_chunk_in_child, train_chunk_reported, warm_up_children
from charlm.serving.jobs import TrainingJob

from .i18n import AppError

log = logging.getLogger(__name__)


def on_zerogpu(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this is a ZeroGPU Space (the platform sets SPACES_ZERO_GPU, as the ``spaces`` package reads it)."""
    return env.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


ON_ZEROGPU = on_zerogpu()
CHUNK_OVERHEAD_SECONDS = 20  # asked of ZeroGPU beyond a chunk's training: the worker's start, loading, saving

try:  # must come before CUDA is first touched (app.py imports this module first)
    import spaces
except ImportError:
    spaces = None


def _chunk_duration(corpus, config, out_dir, resume_path, seconds) -> int:
    """What a chunk asks of ZeroGPU (called with the chunk's own arguments): shorter requests wait less in
    its queue."""
    return int(seconds + CHUNK_OVERHEAD_SECONDS)


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


def chunk_with_messages(chunk: Callable[..., Iterator[object]]) -> Callable[..., Iterator[object]]:
    """``chunk``, with what ZeroGPU can answer instead of a GPU put in the visitor's words (``zerogpu_refusal``:
    each with the next step; the last checkpoint is kept). charlm's own errors pass through as themselves,
    raised or reported as an item (``chunks.reported``)."""

    def run(*args) -> Iterator[object]:
        try:
            for item in chunk(*args):
                if isinstance(item, CharLMError):
                    raise item
                yield item
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
    """A training in chunks of ``chunk_seconds``, driven by the visitor's own Start event."""

    name = "chunks"
    device = "auto"  # inside the decorated call: the GPU

    def __init__(self, chunk_seconds: float, chunk: Callable[..., Iterator[object]] = gpu_train_chunk):
        self.chunk_seconds, self.chunk = chunk_seconds, chunk_with_messages(chunk)

    def start(self, job: TrainingJob) -> None:
        job.begin_chunks(wait=True)

    def follow(self, job: TrainingJob) -> Iterator[None]:
        yield from job.run_in_chunks(self.chunk, self.chunk_seconds)


def runner_for(kind: str, chunk_seconds: float, threads: int = 1) -> ThreadRunner | ChunkRunner | ProcessRunner:
    """``auto``: chunks on ZeroGPU, a thread elsewhere; or ``thread`` / ``process`` / ``chunks`` as asked."""
    if kind == "chunks" or (kind == "auto" and ON_ZEROGPU):
        return ChunkRunner(chunk_seconds)
    if kind == "process":
        return ProcessRunner(threads)
    return ThreadRunner(device="cpu" if ON_ZEROGPU else "auto")
