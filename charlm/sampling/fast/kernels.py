"""The sampler's compiled loops (numba), imported only when a sampler first needs them (``products.py``).

Why compiled, and why whole steps: a server steps every visitor's generation in one thread
(``serving/generations.py``), beside the page's own work and the trainings, all sharing one interpreter lock.
NumPy lets go of that lock inside most calls and must win it back after each, and while other threads
keep the interpreter busy each win can take its switch interval (5 ms). A step done as some thirty NumPy
calls waited for the lock thirty times, and compiled a layer per call, still four: traced in the soak (30
visitors, every kind of action), the batch managed 34 steps a second the first way and 45 the second; in one
process with two busy Python threads beside it, a batch of ten managed 25 (about 450 with nothing beside it).
Here a step is one call (``feed_steps``), and a run of steps, each drawing every stream's next character
and feeding it, is one call too (``generate_steps``): the stepping thread takes the lock once per run, and
computes beside the interpreter meanwhile, on the other core.

Every loop treats each row (one generation) the same way whatever the other rows are, so a row's
result is the same bits alone or in a batch of thirty.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

# "contract": a multiply and the add after it may become one fused multiply-add, the same instruction for
# every row; nothing may be reordered, so each sum stays in k order. error_model "numpy": a division by zero
# gives inf, as in NumPy, instead of a check for Python's ZeroDivisionError at every division, which kept
# the compiler from doing a loop's divisions four at a time (tanh32's loops took four times as long)
OPTIONS = {"nogil": True, "boundscheck": False, "fastmath": {"contract"}, "error_model": "numpy"}


def _compiled(function, **options):
    """``function`` compiled lazily (at its first call), cached on disk where numba finds a writable place."""
    try:
        return njit(cache=True, **{**OPTIONS, **options})(function)
    except RuntimeError:  # "cannot cache function": nowhere writable to cache in
        return njit(**{**OPTIONS, **options})(function)


@_compiled
def exact_product_loops(x, w, scale, out):  # noqa: C901, PLR0915 (four rows unrolled by hand: numba needs it spelt out)
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


# exp(z/32) by its Taylor series (to z¹²/12!), then squared five times: plain multiplies and adds, no branch
# and no library call, which the compiler turns into vector instructions (libm's tanhf, one value at a time,
# took four times NumPy's tanh here, nine times this)
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12 = (1.0 / math.factorial(n) for n in range(13))


@functools.partial(_compiled, inline="always")
def tanh32(v):
    """tanh of a float32, worked in float64 and rounded once: within a rounding of the true value (the
    tests compare it with float64's over the range that matters)."""
    x = np.float64(v)
    a = min(abs(x), 9.5)  # tanh(9.5) rounds to 1.0 in float32
    y = a * (2.0 / 32.0)
    e = (
        (
            (
                ((((((((_C12 * y + _C11) * y + _C10) * y + _C9) * y + _C8) * y + _C7) * y + _C6) * y + _C5) * y + _C4)
                * y
                + _C3
            )
            * y
            + _C2
        )
        * y
        + _C1
    ) * y + _C0
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e  # exp(2a)
    r = 1.0 - 2.0 / (e + 1.0)
    r = a if a < 1e-4 else r  # tanh(a) = a - a³/3 + ...: a is within a rounding, where the formula would cancel
    return np.float32(math.copysign(r, x))


@_compiled
def affine(x, w, scale, table, ids, out):
    """``out[m] = x[m] @ w + table[ids[m]]``, ``x``'s last ``w.shape[0]`` columns taken (a layer's hidden state
    is the second half of its ``[input, h]``): the product, then a row of ``table`` added (a bias as a
    one-row table, or the one-hot input's precomputed row per character)."""
    exact_product_loops(x[:, x.shape[1] - w.shape[0] :], w, scale, out)
    for m in range(out.shape[0]):
        row, o = table[ids[m]], out[m]
        for j in range(out.shape[1]):
            o[j] += row[j]
    return out


@_compiled
def _take_below(below, x, H):
    """The first columns of ``x`` (a layer's ``[input, h]``, h H wide) become the hidden state of the layer
    under it, the last columns of ``below`` (nothing to take for the first layer, whose x is h alone)."""
    B = x.shape[1] - H
    for m in range(x.shape[0]):
        for j in range(B):
            x[m, j] = below[m, below.shape[1] - B + j]


@_compiled
def lstm_layer(below, x, w, scale, table, ids, g, c):
    """One LSTM layer for every row, the cell as ``cells._lstm_step`` does it: its input taken from
    ``below`` (``_take_below``); g = x @ w + table[ids]; then the gates (i, f, o) are sigmoids, through the
    halved weights (0.5·tanh + 0.5), the candidate a tanh; c = f·c + i·candidate, h = o·tanh(c), h being the
    last columns of ``x``. ``g`` keeps the gates and the candidate (for a record)."""
    H = c.shape[1]
    _take_below(below, x, H)
    affine(x, w, scale, table, ids, g)
    B = x.shape[1] - H
    for m in range(g.shape[0]):
        gm, cm = g[m], c[m]
        for j in range(4 * H):
            gm[j] = tanh32(gm[j])
        for j in range(3 * H):
            gm[j] = gm[j] * np.float32(0.5) + np.float32(0.5)
        for j in range(H):
            cm[j] = gm[H + j] * cm[j] + gm[j] * gm[3 * H + j]
            x[m, B + j] = gm[2 * H + j] * tanh32(cm[j])


@_compiled
def rnn_layer(below, x, w, scale, table, ids, g, c):
    """One plain-RNN layer for every row: h = tanh(x @ w + table[ids]), h the last columns of ``x``
    (``c`` only gives the width: the same signature as ``lstm_layer``)."""
    H = c.shape[1]
    _take_below(below, x, H)
    affine(x, w, scale, table, ids, g)
    B = x.shape[1] - H
    for m in range(g.shape[0]):
        for j in range(H):
            x[m, B + j] = tanh32(g[m, j])


@functools.partial(_compiled, fastmath=False)
def draw_rows(logits, top_n, temperature, uniform, out):
    """Every row's next character, drawn as ``draw.pick_next`` draws (its few-choices path, whose rule this
    repeats bit for bit): keep the ``top_n[m]`` best scores (ties: the lower code first), weigh each
    exp((score - best) / temperature), and take the first whose running total passes uniform·total."""
    M, V = logits.shape
    for m in range(M):
        n = top_n[m]
        kept = np.empty(n, np.int64)
        taken = np.zeros(V, np.bool_)
        for i in range(n):  # selection: n passes over V scores (n is a handful)
            best = -1
            for v in range(V):
                if not taken[v] and (best < 0 or logits[m, v] > logits[m, best]):
                    best = v
            taken[best] = True
            kept[i] = best
        top = np.float64(logits[m, kept[0]])
        weights = np.empty(n)
        total = 0.0
        for i in range(n):
            weights[i] = math.exp((np.float64(logits[m, kept[i]]) - top) / temperature[m])
            total += weights[i]
        u = uniform[m] * total
        out[m] = kept[n - 1]
        running = 0.0
        for i in range(n):
            running += weights[i]
            if u < running:
                out[m] = kept[i]
                break
    return out


LSTM, RNN = 0, 1
KINDS = {"lstm_layer": LSTM, "rnn_layer": RNN}  # a cell's ``compiled`` name -> its number in the loops below


@_compiled
def layer(kind, below, x, w, scale, table, ids, g, c):
    """The layer of cell ``kind`` (``KINDS``)."""
    if kind == LSTM:
        lstm_layer(below, x, w, scale, table, ids, g, c)
    else:
        rnn_layer(below, x, w, scale, table, ids, g, c)


@_compiled
def _advance(kind, xs, ws, scales, tables, ids, g, cs, w_out, s_out, b_out, logits):
    """Every layer, bottom up, then the scores: ``xs``, ``ws``, ``scales``, ``tables``, ``cs`` hold one entry per
    layer (x is h for the first layer, [input, h] above it); ``ids`` the characters fed to the first layer's
    table, the others adding their bias (a one-row table)."""
    same = np.zeros(g.shape[0], np.int64)
    for l in range(len(xs)):
        layer(
            kind, xs[l - 1] if l > 0 else xs[0], xs[l], ws[l], scales[l], tables[l], ids if l == 0 else same, g, cs[l]
        )
    affine(xs[len(xs) - 1], w_out, s_out, b_out, same, logits)


@_compiled
def feed_steps(kind, xs, ws, scales, tables, g, cs, w_out, s_out, b_out, feed, logits):
    """Feed row m the characters ``feed[0, m], feed[1, m], ...`` in turn; ``logits``: the scores after the
    last. A whole prime is one call (the lock let go once), and each step is the one-step call's, bit for bit."""
    for t in range(feed.shape[0]):
        _advance(kind, xs, ws, scales, tables, feed[t], g, cs, w_out, s_out, b_out, logits)


@_compiled
def generate_steps(kind, xs, ws, scales, tables, g, cs, w_out, s_out, b_out, logits, top_n, temperature, uniform, out):
    """``out.shape[0]`` times: draw every row's next character from ``logits`` (``draw_rows``, with the uniform
    numbers ``uniform[t]``, each row's from its own generator), then feed it. Many characters per call, the lock
    let go once: a server's stepping thread then computes beside the interpreter instead of queueing for it."""
    for t in range(out.shape[0]):
        draw_rows(logits, top_n, temperature, uniform[t], out[t])
        _advance(kind, xs, ws, scales, tables, out[t], g, cs, w_out, s_out, b_out, logits)


def warm_up(int8: bool = False, layers: tuple[int, ...] = (1, 2)) -> None:
    """Compile the loops a sampler calls (or load them from numba's cache) for fp32 weights and, if asked, int8
    ones, for models of so many ``layers`` (each count is a version of its own; others compile at first use):
    the arrays below have the types a sampler passes, so a visitor's first click finds them ready."""
    M, H, V = 1, 4, 3
    f32, ids = np.float32, np.zeros(M, np.int64)
    for dtype, scale in [(np.float32, None)] + ([(np.int8, np.ones(4 * H, np.float32))] if int8 else []):
        for L in layers:
            xs = tuple(np.zeros((M, H if l == 0 else 2 * H), f32) for l in range(L))
            ws = tuple(np.zeros((H if l == 0 else 2 * H, 4 * H), dtype) for l in range(L))
            tables = tuple(np.zeros((V if l == 0 else 1, 4 * H), f32) for l in range(L))
            g, cs = np.zeros((M, 4 * H), f32), tuple(np.zeros((M, H), f32) for _ in range(L))
            s_out = None if scale is None else np.ones(V, f32)
            args = (LSTM, xs, ws, (scale,) * L, tables, g, cs, np.zeros((H, V), dtype), s_out, np.zeros((1, V), f32))
            feed_steps(*args, np.zeros((1, M), np.int64), np.zeros((M, V), f32))
            generate_steps(
                *args,
                np.zeros((M, V), f32),
                np.ones(M, np.int64),
                np.ones(M),
                np.zeros((1, M)),
                np.zeros((1, M), np.int64),
            )
        layer(LSTM, xs[0], xs[0], ws[0], scale, tables[0], ids, g, cs[0])  # what ``traces`` calls, a layer at a time
