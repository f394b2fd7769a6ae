"""The compiled loops (charlm/sampling/fast/kernels.py) against what they stand for: NumPy's tanh, the cells' NumPy
steps, and ``pick_next``'s draw, bit for bit where the text depends on it."""

import numpy as np
import pytest
import torch

from charlm import CharRNN, ModelConfig, Sampler, Vocab
from charlm.network.cells import CELLS
from charlm.sampling.pick import pick_next

kernels = pytest.importorskip("charlm.sampling.fast.kernels")


def test_tanh_is_within_a_rounding_of_the_true_value():
    v = np.concatenate(
        [
            np.linspace(-12, 12, 400_001),
            np.geomspace(1e-12, 3, 20_001),
            -np.geomspace(1e-12, 3, 20_001),
            [0.0, -0.0, 1e-4, 9.5, -9.5, 40.0],
        ]
    ).astype(np.float32)
    got = np.array([kernels.tanh32(x) for x in v[::7]] + [kernels.tanh32(x) for x in v[-6:]], np.float32)
    v = np.concatenate([v[::7], v[-6:]])
    exact = np.tanh(v.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - exact) <= ulp), np.max(np.abs(got - exact) / ulp)
    assert np.array_equal(np.signbit(got), np.signbit(v))  # tanh keeps the sign, of zero too


def _sampler(cell: str, hidden: int = 40, layers: int = 3) -> Sampler:
    torch.manual_seed(5)
    vocab = Vocab.from_text("abcdefghij klmnopqrstuvwxyz.,;!?\n")
    model = CharRNN(ModelConfig(len(vocab), cell, hidden, layers, 0.0, 0))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return Sampler(model, vocab)


@pytest.mark.parametrize("cell", [name for name, cell in CELLS.items() if cell.compiled])
def test_a_compiled_layer_does_what_the_numpy_step_does(cell, monkeypatch):
    """From the same memory, the same scores to float32 rounding and the same record (what ``traces``
    shows), step after step."""
    sampler = _sampler(cell)
    inputs = np.random.default_rng(2).integers(0, len(sampler.vocab), size=(30, 5))
    compiled_rows = sampler.stack_states([sampler.new_state() for _ in range(5)])
    for xs in inputs:
        numpy_rows = compiled_rows.take(list(range(5)))  # a copy: roundings would add up over the steps
        got_record, want_record = [], []
        got = sampler.advance(compiled_rows, xs, record=got_record)
        with monkeypatch.context() as m:
            m.setattr("charlm.sampling.sampler.compiled", lambda: None)  # the layers by NumPy, as for a cell with none
            want = sampler.advance(numpy_rows, xs, record=want_record)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
        assert [r.keys() for r in got_record] == [r.keys() for r in want_record]
        for g, w in zip(got_record, want_record):
            for name in g:
                np.testing.assert_allclose(g[name], w[name], rtol=2e-5, atol=2e-5, err_msg=name)


def test_the_compiled_draw_is_pick_next_bit_for_bit():
    """Same scores, same uniform number: the same character, ties included (scores on a coarse grid tie often)."""
    rng = np.random.default_rng(0)
    for trial in range(400):
        V = int(rng.integers(2, 120))
        logits = (rng.standard_normal((6, V)) * 3).astype(np.float32)
        if trial % 2:
            logits = np.round(logits).astype(np.float32)
        top_n = rng.integers(1, min(V - 1, 32) + 1, size=6)
        temperature = rng.choice([0.2, 0.7, 1.0, 1.3, 5.0], size=6)
        seeds = rng.integers(0, 2**31, size=6)
        uniform = np.array([np.random.default_rng(s).random() for s in seeds])
        got = kernels.draw_rows(logits, top_n, temperature, uniform, np.empty(6, np.int64))
        want = [
            pick_next(logits[m], int(top_n[m]), float(temperature[m]), np.random.default_rng(seeds[m]))
            for m in range(6)
        ]
        assert got.tolist() == want, trial


@pytest.mark.parametrize("cell", [name for name, cell in CELLS.items() if cell.compiled])
def test_a_prime_fed_in_one_call_is_the_same_as_step_by_step(cell):
    sampler = _sampler(cell, 32, 2)
    prime = "the quick brown fox, jumps over the lazy dog; again!\n" * 3
    state, stepped = sampler.new_state(), sampler.new_state()
    got = sampler.feed(state, prime)  # one compiled call for the whole prime
    for x in sampler.vocab.encode(prime):
        want = sampler.step(stepped, int(x))
    assert np.array_equal(got, want)
    assert all(np.array_equal(a, b) for a, b in zip(state.h + state.c, stepped.h + stepped.c))


def test_many_characters_per_call_are_the_same_as_one_step_at_a_time():
    """``generate_rows`` (draw, feed, many steps in one call) against ``pick_next`` and ``advance`` per step."""
    sampler = _sampler("lstm", 48, 2)
    rows = sampler.stack_states([sampler.new_state() for _ in range(3)])
    logits = sampler.advance(rows, np.array([1, 2, 3]))
    twin, twin_logits = rows.take([0, 1, 2]), logits.copy()
    top_n, temperature = np.array([3, 1, 8]), np.array([1.0, 0.7, 1.4])
    uniform = np.random.default_rng(4).random((40, 3))
    drawn = sampler.generate_rows(rows, logits, top_n, temperature, uniform)
    for t in range(40):
        chars = [
            pick_next(twin_logits[m], int(top_n[m]), float(temperature[m]), _Fixed(uniform[t, m])) for m in range(3)
        ]
        assert drawn[t].tolist() == chars, t
        twin_logits = sampler.advance(twin, np.array(chars))
    assert np.array_equal(logits, twin_logits)


class _Fixed:
    """A generator whose one uniform number is given."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value
