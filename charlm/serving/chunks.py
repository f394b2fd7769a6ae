"""One chunk of a training run, from files to files: what a GPU lent for a minute at a time runs.

A ZeroGPU Space gives a GPU only inside a decorated call, in a separate worker process, for a
bounded time. So a run there is a sequence of chunks: each loads the last checkpoint (nothing
is carried in memory from one chunk to the next), trains for at most ``seconds``, saves, and
reports its events as they happen, so that the page's loss curve moves during the chunk too.
Resuming is exact, so the chunks add up to the unbroken run (bit for bit on the CPU).

The caller may stop a chunk early by creating ``stop_file``: the worker cannot see the app's
memory, but it shares the disk. ``train_chunk_in_child`` runs a chunk in a process of its own the same way,
for a server whose memory should not keep what its trainings used.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from charlm.data.vocab import Corpus
from charlm.errors import CharLMError
from charlm.training.checkpoint import load_checkpoint
from charlm.training.config import TrainConfig
from charlm.training.loop import train

STOP_FILE = "stop-requested"  # in the run's folder

log = logging.getLogger(__name__)


@dataclass
class ChunkEnd:
    """The last thing a chunk yields: why it ended ("chunk": only this share of the run) and its checkpoint."""

    reason: str
    checkpoint: str | None
    step: int


def train_chunk(
    corpus: Corpus, config: TrainConfig, out_dir: str, resume_path: str | None, seconds: float
) -> Iterator[object]:
    """Train from ``resume_path`` (None: from the start) for at most ``seconds``; yield each event as it
    happens, then a ``ChunkEnd``. Arguments and events are plain data, so this can run in another process."""
    resume = load_checkpoint(resume_path) if resume_path else None
    stop, events = threading.Event(), queue.Queue()
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(
                train(corpus, config, out_dir, on_event=events.put, stop=stop, resume=resume, chunk_seconds=seconds)
            )
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


def reported(items: Iterator[object]) -> Iterator[object]:
    """A chunk's items with its failure as its last item instead of an exception: charlm's own error as it is
    (pickled with its key and numbers), anything else as ``train_crashed``. A chunk run elsewhere (ZeroGPU's
    forked worker, a child process) passes back what it yields intact, but not what it raises: ``spaces`` turns
    any exception but its own ``gr.Error`` into a generic one, and "Training diverged" would reach the visitor
    as "the GPU call failed". ``TrainingJob.run_in_chunks`` raises such an item where it arrives."""
    try:
        yield from items
    except CharLMError as err:
        yield err
    except Exception as err:  # an out-of-memory or a bug: said to the visitor, the details in the log
        log.exception("a training chunk failed")
        yield CharLMError(
            f"Training failed unexpectedly ({type(err).__name__}); the server's log has the details.",
            key="train_crashed",
            kind=type(err).__name__,
        )


def train_chunk_reported(
    corpus: Corpus, config: TrainConfig, out_dir: str, resume_path: str | None, seconds: float
) -> Iterator[object]:
    """``train_chunk`` for a worker of another process: its failure comes back as an item (``reported``)."""
    yield from reported(train_chunk(corpus, config, out_dir, resume_path, seconds))


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


# ------------------------------------------------------------------------ a chunk in a process of its own
def train_chunk_in_child(
    corpus: Corpus,
    config: TrainConfig,
    out_dir: str,
    resume_path: str | None,
    seconds: float,
    threads: int = 1,
    niceness: int = 0,
) -> Iterator[object]:
    """``train_chunk`` in a child process of its own, its events relayed as they happen. Everything the
    training allocates (the model, Adam's moments, the activations, the kernels' caches) goes back to the
    system when the child ends: a server that trains in its own process keeps what a class's trainings
    fragmented. The child uses ``threads`` CPU threads at ``niceness``; closing this generator early asks the
    child to stop through the stop file (it saves first), as a ZeroGPU worker is asked."""
    context = _process_context()
    events = context.Queue()
    child = context.Process(
        target=_child,
        args=(events, corpus, config, out_dir, resume_path, seconds, threads, niceness, os.getpid()),
        name="charlm-training",
        daemon=True,
    )
    child.start()
    ended = False
    try:
        while True:
            try:
                item = events.get(timeout=0.5)
            except queue.Empty:
                if child.is_alive():
                    continue
                raise CharLMError(
                    "Training failed unexpectedly (its process ended); the server's log has the details.",
                    key="train_crashed",
                    kind=f"exit {child.exitcode}",
                ) from None
            if item is None:
                ended = True
                return
            if isinstance(item, CharLMError):  # pickled with its key: said in the visitor's language
                ended = True
                raise item
            yield item
    finally:
        if not ended:
            with contextlib.suppress(OSError):
                (Path(out_dir) / STOP_FILE).touch()
        child.join(timeout=120)
        if child.is_alive():  # it did not stop in time: its last saved checkpoint stands
            child.terminate()
            child.join(timeout=10)
        events.close()


def _child(
    events,
    corpus: Corpus,
    config: TrainConfig,
    out_dir: str,
    resume_path: str | None,
    seconds: float,
    threads: int,
    niceness: int,
    server: int,
) -> None:
    """The child's main thread: its own thread count and priority (process-wide, and this process is its own)."""
    threading.Thread(target=_stop_without, args=(server, Path(out_dir) / STOP_FILE, events), daemon=True).start()
    if niceness:
        with contextlib.suppress(OSError):
            os.nice(niceness)
    torch.set_num_threads(max(1, threads))
    try:
        for item in train_chunk_reported(corpus, config, out_dir, resume_path, seconds):
            events.put(item)
    except BaseException as err:  # an exit or an interrupt: said in the parent, never a hang
        events.put(
            CharLMError(
                f"Training failed unexpectedly ({type(err).__name__}); the server's log has the details.",
                key="train_crashed",
                kind=type(err).__name__,
            )
        )
        raise
    finally:
        events.put(None)


def _stop_without(server: int, stop_file: Path, events, every: float = 1.0) -> None:
    """In the child: once the process that started the training is gone (a server killed, or stopped in any
    way that skipped its clean-up), the training stops as Stop stops it, with a checkpoint, instead of running
    on for nobody. (The child's parent is the fork server, which outlives nothing: the server is watched.) Its
    events then have no reader: the child ends without waiting to hand them over."""
    while True:
        time.sleep(every)
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            events.cancel_join_thread()
            with contextlib.suppress(OSError):
                stop_file.touch()
            return
        except PermissionError:
            pass


def warm_up_children() -> None:
    """Start the fork server now (a few seconds: it imports torch), so that the first training of a class
    starts as quickly as the next ones."""
    context = _process_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


@functools.cache
def _process_context():
    """A fork server where there is one (Linux, macOS): it imports torch, charlm and the program's main module
    once, then each training starts in a fraction of a second as a clean copy of it (never a copy of the busy,
    threaded server). Else (Windows) a fresh interpreter per training."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "charlm.serving.chunks"])
        return context
    return multiprocessing.get_context("spawn")
