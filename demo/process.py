"""What the server sets once for its whole process, in the main thread: how glibc hands memory back, what
Python's collector walks, and giving back what forgotten visitors held. None of it belongs to a visitor."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging

log = logging.getLogger(__name__)


def tune_allocator() -> None:
    """glibc, once at start-up, in the main thread: large blocks (tensors, corpora, figures) always get their
    own mappings, handed back to the system when freed. By default glibc raises that threshold after the first
    large block is freed, so a class's arrays end up scattered through the heap, which then cannot shrink; and
    at most two heaps (arenas) for the worker threads, so freed memory is reused rather than spread across many."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 10)  # M_MMAP_THRESHOLD: fixed at 256 KB
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def freeze_what_start_up_built() -> None:
    """Once the page is built, in the main thread: what start-up made (modules, the page's blocks, the shipped
    models: about 470,000 objects) lives as long as the server, yet Python's collector walks all of it in every
    full collection, about 300 ms holding the interpreter, during which no page gets an answer. Frozen, they are
    left out of every collection (``gc.freeze``), so a full one (Python's own, or the sweep's) costs only what
    visitors made since."""
    gc.collect()  # start-up's own garbage goes first, not into the frozen generation
    gc.freeze()


def return_freed_memory() -> None:
    """Hand the memory of forgotten visitors back to the system. What they held in reference cycles (a job and
    its callbacks, a model's modules) is freed only by a full collection, which Python runs rarely; and glibc
    keeps freed heap for reuse, so without both a server's footprint stays at its class's peak long after the
    class has left."""
    log.info("forgotten visitors: %d objects in reference cycles collected", gc.collect())
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
