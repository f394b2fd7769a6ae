"""Row-exact products and steps: a generation stepped beside others gets exactly the bits it gets alone."""

import numpy as np
import pytest
import torch

from charlm import CharRNN, ModelConfig, Sampler, Vocab
from charlm.network.cells import CELLS
from charlm.sampling.fast import products as products_module
from charlm.sampling.fast.products import _exact_product_numpy, _int8_numpy, exact_product, quantize

SHAPES = [(1024, 2048), (512, 83), (100, 400), (37, 129), (3, 5)]


def _matrices(k: int, n: int, m: int = 33):
    rng = np.random.default_rng(k * 7 + n)
    return (rng.standard_normal((m, k)).astype(np.float32), (rng.standard_normal((k, n)) * 0.05).astype(np.float32))


@pytest.mark.parametrize("kernel", [exact_product, _exact_product_numpy], ids=["default", "numpy"])
@pytest.mark.parametrize(("k", "n"), SHAPES)
def test_each_row_is_the_same_whatever_rows_share_the_product(kernel, k, n):
    x, w = _matrices(k, n)
    alone = np.stack([kernel(x[m : m + 1], w, np.empty((1, n), np.float32))[0] for m in range(len(x))])
    for count in (2, 3, 4, 5, 8, 17, 33):
        together = kernel(x[:count], w, np.empty((count, n), np.float32))
        assert np.array_equal(together, alone[:count]), f"{count} rows"
    order = np.random.default_rng(0).permutation(len(x))
    shuffled = kernel(x[order], w, np.empty((len(x), n), np.float32))
    assert np.array_equal(shuffled, alone[order])
    np.testing.assert_allclose(alone, x @ w, rtol=1e-4, atol=1e-5)


def test_the_compiled_kernel_is_the_one_in_use():
    """The requirements install numba; without it the products still agree, only slower."""
    pytest.importorskip("numba")
    assert products_module.kernel_name() == "numba"


def _sampler(cell: str, hidden: int, layers: int, embedding: int) -> Sampler:
    torch.manual_seed(3)
    vocab = Vocab.from_text("abcdefghij klmnopqrstuvwxyz.,;!?\n")
    model = CharRNN(ModelConfig(len(vocab), cell, hidden, layers, 0.0, embedding))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # livelier than the initial weights, so that rows really differ
    return Sampler(model, vocab)


@pytest.mark.slow
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize(("hidden", "layers", "embedding"), [(64, 2, 0), (100, 3, 0), (48, 2, 16)])
def test_advancing_rows_together_matches_each_alone(cell, hidden, layers, embedding):
    sampler = _sampler(cell, hidden, layers, embedding)
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, len(sampler.vocab), size=(12, 7))
    alone_states = [sampler.new_state() for _ in range(7)]
    alone = [[sampler.step(s, int(x)).copy() for x in inputs[:, i]] for i, s in enumerate(alone_states)]
    rows = sampler.stack_states([sampler.new_state() for _ in range(7)])
    together = [sampler.advance(rows, step_inputs).copy() for step_inputs in inputs]
    for i in range(7):
        assert all(np.array_equal(together[t][i], alone[i][t]) for t in range(len(inputs))), f"stream {i}"
    kept = rows.take([5, 2])  # two leave the batch and step on: still the same as alone
    more = rng.integers(0, len(sampler.vocab), size=3)
    for x in more:
        got = sampler.advance(kept, np.array([x, x]))
        assert np.array_equal(got[0], sampler.step(alone_states[5], int(x)))
        assert np.array_equal(got[1], sampler.step(alone_states[2], int(x)))


def test_without_numba_the_numpy_products_serve(monkeypatch):
    for name in ("numba", "charlm.sampling.fast.kernels"):
        monkeypatch.setitem(__import__("sys").modules, name, None)  # importing them now fails
    monkeypatch.delattr(
        __import__("charlm.sampling.fast").sampling.fast, "kernels", raising=False
    )  # (``from . import`` looks here first)
    monkeypatch.setattr(products_module, "_kernels", {})
    assert products_module.kernel_name() == "numpy" and products_module.compiled() is None
    x, w = _matrices(37, 129)
    assert np.array_equal(
        exact_product(x, w, np.empty((len(x), 129), np.float32)),
        _exact_product_numpy(x, w, np.empty((len(x), 129), np.float32)),
    )
    for cell in CELLS:  # every cell then steps through NumPy, still row-exact
        test_advancing_rows_together_matches_each_alone(cell, 64, 2, 0)


@pytest.mark.parametrize("kernel", [exact_product, _int8_numpy], ids=["default", "numpy"])
@pytest.mark.parametrize(("k", "n"), SHAPES)
def test_int8_rows_are_exact_too_and_close_to_the_floats(kernel, k, n):
    x, w = _matrices(k, n)
    q = quantize(w)
    alone = np.stack([kernel(x[m : m + 1], q, np.empty((1, n), np.float32))[0] for m in range(len(x))])
    for count in (2, 4, 5, 33):
        assert np.array_equal(kernel(x[:count], q, np.empty((count, n), np.float32)), alone[:count])
    step = np.abs(w).max(axis=0) / 127  # each weight is off by at most half a step of its column
    assert np.all(np.abs(q.q * q.scale - w) <= step / 2 + 1e-7)
    np.testing.assert_allclose(alone, x @ (q.q * q.scale), rtol=1e-4, atol=1e-4)
