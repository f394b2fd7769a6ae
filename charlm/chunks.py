"""One chunk of a training run, from files to files: what a GPU lent for a minute at a time runs.

A ZeroGPU Space gives a GPU only inside a decorated call, in a separate worker process, for a
bounded time. So a run there is a sequence of chunks: each loads the last checkpoint (nothing
is carried in memory from one chunk to the next), trains for at most ``seconds``, saves, and
reports its events as they happen, so that the page's loss curve moves during the chunk too.
Resuming is exact, so the chunks add up to the unbroken run (bit for bit on the CPU).

The caller may stop a chunk early by creating ``stop_file``: the worker cannot see the app's
memory, but it shares the disk.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import load_checkpoint
from .config import TrainConfig
from .train import train
from .vocab import Corpus

STOP_FILE = "stop-requested"  # in the run's folder


@dataclass
class ChunkEnd:
    """The last thing a chunk yields: why it ended ("chunk": only this share of the run) and its checkpoint."""

    reason: str
    checkpoint: str | None
    step: int


def train_chunk(corpus: Corpus, config: TrainConfig, out_dir: str, resume_path: str | None,
                seconds: float) -> Iterator[object]:
    """Train from ``resume_path`` (None: from the start) for at most ``seconds``; yield each event as it
    happens, then a ``ChunkEnd``. Arguments and events are plain data, so this can run in another process."""
    resume = load_checkpoint(resume_path) if resume_path else None
    stop, events = threading.Event(), queue.Queue()
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(train(corpus, config, out_dir, on_event=events.put, stop=stop, resume=resume,
                                 chunk_seconds=seconds))
        except BaseException as err:  # handed to the generator below, which raises it in the caller's place
            outcome.append(err)
        events.put(None)

    worker = threading.Thread(target=run, name="charlm-chunk", daemon=True)
    worker.start()
    try:
        yield from _relay(events, stop, Path(out_dir) / STOP_FILE)
    finally:  # also when the caller stops listening: the training ends at its next step, with a checkpoint
        stop.set()
        worker.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    yield ChunkEnd(result.reason, str(result.checkpoint) if result.checkpoint else None, result.progress.step)


def _relay(events: queue.Queue, stop: threading.Event, stop_file: Path) -> Iterator[object]:
    """The training's events until it ends, checking twice a second whether the caller asked it to stop."""
    checked = time.monotonic()
    while True:
        try:
            event = events.get(timeout=0.5)
        except queue.Empty:
            event = _NOTHING
        if time.monotonic() - checked >= 0.5:
            checked = time.monotonic()
            if stop_file.exists():
                stop.set()
        if event is None:
            return
        if event is not _NOTHING:
            yield event


_NOTHING = object()
