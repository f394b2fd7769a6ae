"""Row-exact matrix products: ``x @ w`` for a stack of rows, each row's result bit-for-bit what it would
be alone. The sampler does every product through ``exact_product``, so a generation stepped together with
thirty others (``serving/generations.py``) writes exactly the text it writes alone under the same seed.

Why not NumPy's or PyTorch's ``@``: BLAS libraries sum each dot product in an order that depends on the
matrix's shape (a single row goes to a matrix-vector kernel, several rows to a blocked matrix-matrix one)
and on a row's position in the block. Measured here with OpenBLAS and MKL: a row's result changed in the
last bits as soon as another row joined it. Those bits are enough to tip a draw now and then, and then
the texts part ways.

The kernel (``kernels.exact_product_loops``) adds each output's products in the order k = 0, 1, 2, ...
whatever the number of rows, and handles four rows at a time so that every weight it loads serves four
streams (the gain of batching: at 2×512 the products of 30 rows cost about a third less than 30 single
ones, see ``bench/bench_batching.py``).
It is compiled by numba when numba is installed (at the first product); without it, ``exact_product``
multiplies row by row with NumPy's matrix-vector product, just as exact (each row alone, the same call) but
without the gain. The two may differ from each other in the last bits (and so, now and then, in a text): a
host gives the same text for a seed every time, and a host without numba may give its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

import numpy as np


def _exact_product_numpy(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The fallback: each row by NumPy's matrix-vector product, the same call whatever the other rows."""
    for m in range(x.shape[0]):
        np.dot(x[m], w, out=out[m])
    return out


log = logging.getLogger(__name__)
_lock = threading.Lock()
_kernels: dict = {}  # "kernels": the compiled module (or None); "fp32" / "int8": the product chosen for each


class Int8Matrix:
    """A weight matrix stored in int8, one scale per output column (``quantize``): a quarter of fp32's
    bytes. ``exact_product`` multiplies by it as by the float matrix ``q * scale`` it stands for."""

    def __init__(self, q: np.ndarray, scale: np.ndarray):
        self.q, self.scale = q, scale
        self.shape = q.shape

    @property
    def nbytes(self) -> int:
        return self.q.nbytes + self.scale.nbytes


def quantize(w: np.ndarray) -> Int8Matrix:
    """Round ``w`` (K, N) to int8 with a scale per column (the largest weight into ±127): the error of each
    weight is at most half a step of its own column."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return Int8Matrix(np.ascontiguousarray(np.round(w / scale)).astype(np.int8), scale.astype(np.float32))


def _int8_numpy(x: np.ndarray, w: Int8Matrix, out: np.ndarray) -> np.ndarray:
    q = w.q.astype(np.float32)  # slow, but a host without numba still gets the same model
    for m in range(x.shape[0]):
        np.dot(x[m], q, out=out[m])
    out *= w.scale
    return out


def compiled() -> ModuleType | None:
    """``kernels.py``, compiled, or None where it cannot be: numba is imported (and each loop compiled, or
    loaded from its cache) the first time a sampler needs it, not at ``import charlm``: the CLI and the
    training processes start without it. Anything that goes wrong there (no numba, no folder to cache in, a
    compiler error) leaves the NumPy fallbacks: slower, never broken."""
    with _lock:
        if "kernels" not in _kernels:
            _kernels["kernels"] = _compile()
        return _kernels["kernels"]


def _compile() -> ModuleType | None:
    try:
        from . import kernels
    except ImportError:  # a host without numba: the same code, row by row
        return None
    try:
        for w, scale in ((_TINY_W, None), (_TINY_W.astype(np.int8), np.ones(4, np.float32))):
            kernels.exact_product_loops(_TINY_X, w, scale, np.empty((1, 4), np.float32))
        return kernels
    except Exception:
        log.warning("compiling the sampler's loops failed; NumPy does them instead", exc_info=True)
        return None


def _chosen(kind: str = "fp32") -> Callable:
    with _lock:
        if kind in _kernels:
            return _kernels[kind]
    loops = compiled()
    if kind == "fp32":
        chosen = (lambda x, w, out: loops.exact_product_loops(x, w, None, out)) if loops else _exact_product_numpy
    else:
        chosen = (lambda x, w, out: loops.exact_product_loops(x, w.q, w.scale, out)) if loops else _int8_numpy
    with _lock:
        return _kernels.setdefault(kind, chosen)


_TINY_X, _TINY_W = np.zeros((1, 4), np.float32), np.zeros((4, 4), np.float32)


def kernel_name() -> str:
    """Which products ``exact_product`` uses here: "numba" or "numpy" (benchmarks print it)."""
    return "numpy" if _chosen() is _exact_product_numpy else "numba"


def warm_up(precision: str = "fp32") -> str:
    """Compile the sampler's loops (or load them from numba's cache) now, for fp32 weights and, with
    ``precision="int8"``, int8 ones, so that the first visitor does not wait for it; returns ``kernel_name()``."""
    loops = compiled()
    if loops is not None:
        try:
            loops.warm_up(int8=precision == "int8")
        except Exception:  # a loop numba cannot compile here: the sampler would fail the same way, so say it now
            log.warning("compiling the sampler's layers failed", exc_info=True)
            with _lock:
                _kernels.clear()
                _kernels["kernels"] = None
    return kernel_name()


def parts(w: np.ndarray | Int8Matrix) -> tuple[np.ndarray, np.ndarray | None]:
    """A weight matrix as the compiled loops take it: the values, and the per-column scale (None for fp32)."""
    return (w.q, w.scale) if isinstance(w, Int8Matrix) else (w, None)


def exact_product(x: np.ndarray, w: np.ndarray | Int8Matrix, out: np.ndarray) -> np.ndarray:
    """``out[:] = x @ w`` for float32 ``x`` (M, K), ``w`` (K, N) in float32 or int8, ``out`` (M, N), every
    row exactly as if it were alone (same bits for M = 1 and M = 30, in any position)."""
    if isinstance(w, Int8Matrix):
        return (_kernels.get("int8") or _chosen("int8"))(x, w, out)
    return (_kernels.get("fp32") or _chosen())(x, w, out)
