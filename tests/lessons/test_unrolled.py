"""The unrolled network and the cell view draw the model's own numbers: every value checked against
PyTorch running the same weights over the same characters."""

import tracemalloc

import numpy as np
import pytest
import torch

from charlm import CharLMError, Corpus, Sampler
from charlm.lessons.traces import trace, trace_bytes
from charlm.lessons.unrolled import SHOWN_UNITS, busiest_units, unroll
from charlm.network.cells import CELLS
from charlm.network.model import CharRNN, ModelConfig

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way.\n"


def fresh(cell: str, layers: int = 2, hidden: int = 24) -> tuple[CharRNN, Corpus]:
    corpus = Corpus.from_text(TEXT * 3, val_fraction=0.1)
    config = ModelConfig(vocab_size=len(corpus.vocab), hidden_size=hidden, num_layers=layers, cell=cell)
    return CharRNN(config, torch.Generator().manual_seed(3)).eval(), corpus


@torch.inference_mode()
def torch_states(model: CharRNN, codes: list[int]):
    """Per prefix of ``codes``: PyTorch's state after it (h, and c for an LSTM) and its next-char probabilities."""
    out = []
    for t in range(1, len(codes) + 1):
        logits, state = model(torch.tensor([codes[:t]]))
        out.append((state, torch.softmax(logits[0, -1].double(), -1).numpy()))
    return out


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_unrolled_steps_are_pytorchs_own_states(cell):
    model, corpus = fresh(cell)
    sampler = Sampler(model, corpus.vocab)
    passage = TEXT[:30]
    tr = trace(sampler, passage)
    view = unroll(tr, sampler, position=20, window=8)
    assert [s.position for s in view.steps] == list(range(13, 21)) and view.current.char == passage[20]
    assert all(len(u) == min(SHOWN_UNITS, 24) for u in view.units)
    expected = torch_states(model, corpus.vocab.encode(passage).tolist())
    for step in view.steps:
        state, probs = expected[step.position]
        h = state[0] if CELLS[cell].has_cell_state else state
        for layer, units in enumerate(view.units):
            np.testing.assert_allclose(step.after[layer]["hidden"], h[layer, 0, units].numpy(), atol=2e-5)
            if cell == "lstm":
                np.testing.assert_allclose(step.after[layer]["cell"], state[1][layer, 0, units].numpy(), atol=2e-5)
            carried = expected[step.position - 1][0] if step.position else None
            if carried is not None:  # what each step receives is what the step before it left
                h_in = carried[0] if CELLS[cell].has_cell_state else carried
                np.testing.assert_allclose(step.before[layer]["hidden"], h_in[layer, 0, units].numpy(), atol=2e-5)
        assert step.code == corpus.vocab.stoi[step.char]
        top = np.argsort(-probs, kind="stable")[:3]
        assert [c for c, _ in step.guesses] == [corpus.vocab.chars[j] for j in top]
        np.testing.assert_allclose([p for _, p in step.guesses], probs[top], rtol=1e-4)
        assert step.actual == passage[step.position + 1]
        np.testing.assert_allclose(step.actual_prob, probs[corpus.vocab.stoi[step.actual]], rtol=1e-4)


@torch.inference_mode()
def test_the_lstm_gates_are_the_formula_applied_to_pytorchs_weights():
    """c = f·c_prev + i·g and h = o·tanh(c), with i, f, g, o from PyTorch's weights: the cell view's
    gates are those, each in [0, 1], and the candidate in [-1, 1]."""
    model, corpus = fresh("lstm", layers=1, hidden=16)
    sampler = Sampler(model, corpus.vocab)
    tr = trace(sampler, TEXT[:40])
    view = unroll(tr, sampler, position=39, window=40, units=16)
    rnn = model.rnn
    H = 16
    h, c = torch.zeros(H), torch.zeros(H)
    for step in view.steps:
        x = torch.nn.functional.one_hot(torch.tensor(step.code), len(corpus.vocab)).float()
        z = rnn.weight_ih_l0 @ x + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
        i, f, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H : 2 * H]), torch.sigmoid(z[3 * H :])
        g = torch.tanh(z[2 * H : 3 * H])  # PyTorch's order: input, forget, candidate, output
        after = step.after[0]
        np.testing.assert_allclose(step.before[0]["cell"], c.numpy(), atol=2e-5)
        for name, value in (("input", i), ("forget", f), ("candidate", g), ("output", o)):
            np.testing.assert_allclose(after[name], value.numpy(), atol=2e-5, err_msg=name)
        c = f * c + i * g
        h = o * torch.tanh(c)
        np.testing.assert_allclose(after["cell"], c.numpy(), atol=2e-5)
        np.testing.assert_allclose(after["hidden"], h.numpy(), atol=2e-5)
    for name in CELLS["lstm"].gates:
        assert tr.layers[0][name].min() >= 0 and tr.layers[0][name].max() <= 1
    assert np.abs(tr.layers[0]["candidate"]).max() <= 1


def test_busiest_units_are_the_ones_that_move_most():
    model, corpus = fresh("lstm", layers=1, hidden=24)
    sampler = Sampler(model, corpus.vocab)
    tr = trace(sampler, TEXT)
    shown = busiest_units(tr, 0, count=5)
    spread = tr.layers[0]["hidden"].std(0)
    assert list(shown) == sorted(shown) and len(set(shown)) == 5
    assert spread[shown].min() >= np.delete(spread, shown).max()


def test_a_position_outside_the_passage_is_refused():
    model, corpus = fresh("rnn", layers=1)
    sampler = Sampler(model, corpus.vocab)
    tr = trace(sampler, "Happy")
    with pytest.raises(CharLMError) as err:
        unroll(tr, sampler, position=5)
    assert err.value.key == "position_range"
    first = unroll(tr, sampler, position=0)
    assert len(first.steps) == 1 and not first.current.before[0]["hidden"].any()  # a blank memory at the start


@pytest.mark.parametrize("cell,layers,hidden", [("lstm", 2, 256), ("gru", 3, 128), ("rnn", 2, 256)])
def test_a_traces_memory_is_estimated_before_it_is_taken(cell, layers, hidden):
    """The app admits a passage's trace against the server's memory budget by ``trace_bytes``: never less than
    what tracing takes (tracemalloc's peak, NumPy's arrays included), and not wildly more."""
    text = ('Anna said, "The train is late." He did not answer; the snow fell. ' * 40)[:2500]
    torch.manual_seed(0)
    sampler = Sampler(
        CharRNN(
            ModelConfig(len(Corpus.from_text(text).vocab), cell=cell, hidden_size=hidden, num_layers=layers)
        ).eval(),
        Corpus.from_text(text).vocab,
    )
    trace(sampler, text[:20])  # what a first call sets up once is not the passage's
    tracemalloc.start()
    try:
        trace(sampler, text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = trace_bytes(sampler, len(text))
    assert peak <= estimate <= 2 * peak + (8 << 20), (peak, estimate)
