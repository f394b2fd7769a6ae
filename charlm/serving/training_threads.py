"""The threads trainings run in: kept and reused, one job after another, never one new thread per job.

Why: a thread that trains leaves memory behind when it ends. Its math libraries keep per-thread buffers
and pools (MKL's buffers, OpenMP's team of helper threads, glibc's arena) that are not all handed back
when the thread exits, so a server that starts a new thread for every training grows with every class.
Measured with ``bench/soak.py --actions train`` (10 visitors starting and stopping trainings for 2
minutes): the server's memory after the visitors left was 1.28× its start with a new thread per job, and
1.16× with the threads reused (the README's Reliability section has the figures).

Threads are kept per priority (``niceness``: the app lowers its trainings' priority below the pages'
work), since a thread's priority cannot be raised again once lowered. Idle threads wait on their queue;
there are never more of them than trainings that ever ran at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
_lock = threading.Lock()
_queues: dict[int, queue.SimpleQueue] = {}  # per niceness: the work waiting for a thread
_idle: dict[int, int] = {}  # per niceness: threads waiting for work, or about to (``finishing``)
_mine = threading.local()  # in a training thread: its niceness, and whether it already counts as idle


def run_in_training_thread(work: Callable[[], None], niceness: int = 0) -> None:
    """Run ``work`` in a kept training thread of that priority (a new one only when none is idle)."""
    with _lock:
        waiting = _queues.setdefault(niceness, queue.SimpleQueue())
        waiting.put(work)  # an idle thread takes it, or the new one; never a thread's arguments, kept for its life
        if _idle.get(niceness, 0):
            _idle[niceness] -= 1
        else:
            threading.Thread(
                target=_serve, args=(niceness, waiting), name=f"charlm-training-{niceness}", daemon=True
            ).start()


def finishing() -> None:
    """Called by work in its last moments, before it hands its slot to the next job: this thread counts as idle
    from now, so the next job waits in the queue for it instead of starting a thread of its own. Without it, a
    job started the moment another ended (the next in line, a Start pressed at once) found no idle thread yet,
    and a class's soak left a third training thread, with its math libraries' buffers, behind two slots.
    Outside a training thread, nothing."""
    niceness = getattr(_mine, "niceness", None)
    if niceness is None or _mine.idle:
        return
    with _lock:
        _idle[niceness] = _idle.get(niceness, 0) + 1
        _mine.idle = True


def _serve(niceness: int, waiting: queue.SimpleQueue) -> None:
    if niceness:
        with contextlib.suppress(AttributeError, OSError):  # Linux: lower this thread's priority only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    _mine.niceness = niceness
    while True:
        work = waiting.get()
        _mine.idle = False
        try:
            work()  # a job catches its own errors (TrainingJob._outcome); anything else must not end the thread
        except Exception:
            log.exception("a training thread's work failed")
        work = None  # waiting for the next job, the thread must not keep the last one (its model, its data) alive
        finishing()  # unless the work already said so


def training_threads() -> int:
    """How many training threads exist now (busy or idle), for tests."""
    return sum(t.name.startswith("charlm-training-") for t in threading.enumerate())
