"""Row-exact matrix products: ``x @ w`` for a stack of rows, each row's result bit-for-bit what it would
be alone. The sampler does every product through ``rows_times``, so a generation stepped together with
thirty others (``batching.py``) writes exactly the text it writes alone under the same seed.

Why not NumPy's or PyTorch's ``@``: BLAS libraries sum each dot product in an order that depends on the
matrix's shape (a single row goes to a matrix-vector kernel, several rows to a blocked matrix-matrix one)
and on a row's position in the block. Measured here with OpenBLAS and MKL: a row's result changed in the
last bits as soon as another row joined it. Those bits are enough to tip a draw now and then, and then
the texts part ways.

The kernel below adds each output's products in the order k = 0, 1, 2, ... whatever the number of rows,
and handles four rows at a time so that every weight it loads serves four streams (the gain of batching:
at 2×512 the products of 30 rows cost about a third less than 30 single ones, see ``bench/bench_batching.py``).
It is compiled by numba when numba is installed (at the first product); without it, ``rows_times``
multiplies row by row with NumPy's matrix-vector product, just as exact (each row alone, the same call) but
without the gain. The two may differ from each other in the last bits (and so, now and then, in a text): a
host gives the same text for a seed every time, and a host without numba may give its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np


def _rows_times_numpy(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The fallback: each row by NumPy's matrix-vector product, the same call whatever the other rows."""
    for m in range(x.shape[0]):
        np.dot(x[m], w, out=out[m])
    return out


def _rows_times_loops(x, w, scale, out):  # pragma: no cover - compiled by numba (``_chosen``); run through rows_times
    """``out = x @ w``, four rows at a time (each group one pass over the weights), every product added in
    k order (``t += a·w`` one term at a time: the same sequence of roundings for every row, whether it is
    in a group of four or on its own; where a partial sum is kept between terms changes nothing).

    ``w`` in float32, or in int8 with ``scale`` (one per output column): each weight is converted to float32
    as it is used (a no-op for float32), and each column multiplied by its scale after the sum, so rows stay
    exact either way. numba compiles one version per kind, the scale's step dropped where it is None."""
    M, K = x.shape
    N = w.shape[1]
    K4 = K - K % 4
    for m0 in range(0, M - M % 4, 4):  # four streams share every weight loaded
        o0, o1, o2, o3 = out[m0], out[m0 + 1], out[m0 + 2], out[m0 + 3]
        for j in range(N):
            o0[j] = 0.0
            o1[j] = 0.0
            o2[j] = 0.0
            o3[j] = 0.0
        for k in range(0, K4, 4):
            a0, a1, a2, a3 = x[m0, k], x[m0, k + 1], x[m0, k + 2], x[m0, k + 3]
            b0, b1, b2, b3 = x[m0 + 1, k], x[m0 + 1, k + 1], x[m0 + 1, k + 2], x[m0 + 1, k + 3]
            c0, c1, c2, c3 = x[m0 + 2, k], x[m0 + 2, k + 1], x[m0 + 2, k + 2], x[m0 + 2, k + 3]
            d0, d1, d2, d3 = x[m0 + 3, k], x[m0 + 3, k + 1], x[m0 + 3, k + 2], x[m0 + 3, k + 3]
            w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
            for j in range(N):
                v0, v1, v2, v3 = np.float32(w0[j]), np.float32(w1[j]), np.float32(w2[j]), np.float32(w3[j])
                t = o0[j]
                t += a0 * v0
                t += a1 * v1
                t += a2 * v2
                t += a3 * v3
                o0[j] = t
                t = o1[j]
                t += b0 * v0
                t += b1 * v1
                t += b2 * v2
                t += b3 * v3
                o1[j] = t
                t = o2[j]
                t += c0 * v0
                t += c1 * v1
                t += c2 * v2
                t += c3 * v3
                o2[j] = t
                t = o3[j]
                t += d0 * v0
                t += d1 * v1
                t += d2 * v2
                t += d3 * v3
                o3[j] = t
        for k in range(K4, K):
            for m in range(m0, m0 + 4):
                a0, wk, o = x[m, k], w[k], out[m]
                for j in range(N):
                    o[j] += a0 * np.float32(wk[j])
    for m in range(M - M % 4, M):  # the rows left over, one at a time
        o = out[m]
        for j in range(N):
            o[j] = 0.0
        for k in range(0, K4, 4):
            a0, a1, a2, a3 = x[m, k], x[m, k + 1], x[m, k + 2], x[m, k + 3]
            w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
            for j in range(N):
                t = o[j]
                t += a0 * np.float32(w0[j])
                t += a1 * np.float32(w1[j])
                t += a2 * np.float32(w2[j])
                t += a3 * np.float32(w3[j])
                o[j] = t
        for k in range(K4, K):
            a0, wk = x[m, k], w[k]
            for j in range(N):
                o[j] += a0 * np.float32(wk[j])
    if scale is not None:
        for m in range(M):
            o = out[m]
            for j in range(N):
                o[j] *= scale[j]
    return out


log = logging.getLogger(__name__)
_lock = threading.Lock()
_kernels: dict[str, Callable] = {}  # "fp32" / "int8": the compiled kernel, or the NumPy fallback, once chosen


class Int8Matrix:
    """A weight matrix stored in int8, one scale per output column (``quantize``): a quarter of fp32's
    bytes. ``rows_times`` multiplies by it as by the float matrix ``q * scale`` it stands for."""

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


def _chosen(kind: str = "fp32") -> Callable:
    """numba is imported (and a kernel compiled, or loaded from its cache) at the first product of its kind,
    not at ``import charlm``: the CLI and the training processes start without it. Anything that goes wrong
    there (no numba, no folder to cache in, a compiler error) leaves the NumPy fallback: slower, never broken."""
    with _lock:
        if kind not in _kernels:
            if kind == "fp32":
                compiled = _compile((_TINY[0], _TINY[1], None, _TINY[2]))
                _kernels[kind] = (lambda x, w, out: compiled(x, w, None, out)) if compiled else _rows_times_numpy
            else:
                compiled = _compile(_TINY_INT8)
                _kernels[kind] = (lambda x, w, out: compiled(x, w.q, w.scale, out)) if compiled else _int8_numpy
        return _kernels[kind]


_TINY = (np.zeros((1, 4), np.float32), np.zeros((4, 4), np.float32), np.zeros((1, 4), np.float32))
_TINY_INT8 = (np.zeros((1, 4), np.float32), np.zeros((4, 4), np.int8), np.ones(4, np.float32),
              np.zeros((1, 4), np.float32))


def _compile(tiny: tuple) -> Callable | None:
    try:
        from numba import njit
    except ImportError:  # a host without numba: the same code, row by row
        return None
    # "contract": a multiply and the add after it may become one fused multiply-add, the same instruction for
    # every row; nothing may be reordered, so each sum stays in k order
    options = {"nogil": True, "boundscheck": False, "fastmath": {"contract"}}
    for cache in (True, False):  # cached next to this file when it is writable (else numba's own folder)
        try:
            kernel = njit(cache=cache, **options)(_rows_times_loops)
            kernel(*tiny)
            return kernel
        except Exception:  # e.g. "cannot cache function": nowhere writable to cache in
            log.warning("compiling the sampler's products%s failed", " with a cache" if cache else "", exc_info=True)
    return None


def kernel_name() -> str:
    """Which products ``rows_times`` uses here: "numba" or "numpy" (benchmarks print it)."""
    return "numpy" if _chosen() is _rows_times_numpy else "numba"


def warm_up() -> str:
    """Compile the kernel (or load it from numba's cache) now, so that the first visitor does not wait for
    it; returns ``kernel_name()``."""
    rows_times(*_TINY)
    return kernel_name()


def rows_times(x: np.ndarray, w: np.ndarray | Int8Matrix, out: np.ndarray) -> np.ndarray:
    """``out[:] = x @ w`` for float32 ``x`` (M, K), ``w`` (K, N) in float32 or int8, ``out`` (M, N), every
    row exactly as if it were alone (same bits for M = 1 and M = 30, in any position)."""
    if isinstance(w, Int8Matrix):
        return (_kernels.get("int8") or _chosen("int8"))(x, w, out)
    return (_kernels.get("fp32") or _chosen())(x, w, out)
