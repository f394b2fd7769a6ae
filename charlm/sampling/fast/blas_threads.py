"""One BLAS thread for NumPy while a sampler serves (issue 16: no oversubscription).

The sampler steps one character at a time: a matrix-vector product per layer, which one core serves at
memory speed. NumPy's OpenBLAS nevertheless wakes all its threads for it, and on a small server those
threads fight the trainings for the same cores: measured on 2 cores with one training running, 500
characters took 5.4× longer than idle with the default threads and 0.9× with one.

So the sampler's entry points run inside ``one_blas_thread()``. Only NumPy's BLAS is limited, never
torch's thread pool (trainings keep their share), and only while some sampler runs: the limit is
counted, so overlapping visitors share it and the last one out puts the old count back. Without
``threadpoolctl`` (or with a BLAS it cannot see) this does nothing, and results are the same either way:
the thread count changes how fast a product is computed, not its value for a vector (one dot product per
row, in the same order).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

_lock = threading.Lock()
_users = 0
_saved: list[tuple[Any, int]] = []  # (library controller, its thread count before the first user)


@functools.cache
def numpy_blas() -> tuple[Any, ...]:
    """The BLAS libraries NumPy has loaded (not torch's own, which trainings use), as threadpoolctl's
    controllers; empty when threadpoolctl is missing."""
    try:
        import numpy  # noqa: F401  (loads NumPy's BLAS before the scan)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(
        lib
        for lib in ThreadpoolController().lib_controllers
        if lib.user_api == "blas" and "/torch/" not in lib.filepath.replace("\\", "/")
    )


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS on one thread for the duration; reentrant and shared by concurrent callers."""
    global _users
    with _lock:
        if _users == 0:
            _saved[:] = [(lib, lib.num_threads) for lib in numpy_blas()]
            for lib, _ in _saved:
                set_blas_threads(lib, 1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                for lib, threads in _saved:
                    set_blas_threads(lib, threads)
                _saved.clear()


def set_blas_threads(lib: Any, threads: int) -> None:
    """Set a library's count from whichever thread holds the lock. threadpoolctl ≥ 3.8 lets only the
    first thread that set an OpenBLAS count change it again (others are silently ignored); here the
    lock above already keeps callers in turn, so that claim is released first."""
    release = getattr(type(lib), "clear_controlling_thread", None)
    if release is not None:
        release(force=True)
    lib.set_num_threads(threads)


def blas_threads() -> list[int]:
    """NumPy's BLAS thread counts now (for tests and benchmarks)."""
    return [lib.num_threads for lib in numpy_blas()]


def on_one_blas_thread(function: Callable) -> Callable:
    """Decorator: ``function`` (a plain function or a generator) runs inside ``one_blas_thread()``; a
    generator holds it until it is exhausted or closed."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs):
            with one_blas_thread():
                yield from function(*args, **kwargs)

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        with one_blas_thread():
            return function(*args, **kwargs)

    return plain
