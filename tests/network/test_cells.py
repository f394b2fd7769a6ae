"""Every entry of the cell table against its PyTorch layer, and randomness that belongs to each run."""

import threading

import numpy as np
import pytest
import torch

from charlm import Corpus, Sampler, preset, train
from charlm.lessons.traces import trace
from charlm.network.cells import CELLS
from charlm.network.model import CharRNN, ModelConfig

TEXT = "the cells read the text and keep what matters. " * 60


@pytest.mark.parametrize("cell", list(CELLS))
def test_the_numpy_step_matches_the_pytorch_layer(cell):
    corpus = Corpus.from_text(TEXT, val_fraction=0.0)
    model = CharRNN(
        ModelConfig(len(corpus.vocab), cell=cell, hidden_size=24, num_layers=2, dropout=0.0),
        generator=torch.Generator().manual_seed(1),
    ).eval()
    ids = corpus.data[:40]
    with torch.no_grad():
        expected = model(torch.from_numpy(ids)[None])[0][0].numpy()
    sampler = Sampler(model, corpus.vocab)
    state = sampler.new_state()
    got = np.stack([sampler.step(state, int(x)) for x in ids])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    recorded = trace(sampler, corpus.text[:30]).layers
    assert len(recorded) == 2 and set(recorded[0]) == set(CELLS[cell].recorded)
    for gate in CELLS[cell].gates:  # gates are after their sigmoid
        assert recorded[0][gate].min() >= 0.0 and recorded[0][gate].max() <= 1.0


@pytest.mark.parametrize("cell", list(CELLS))
def test_the_stack_layer_by_layer_is_the_fused_stack(cell):
    """Dropout between layers runs the stack one layer at a time; without dropping it is the same network."""
    model = CharRNN(ModelConfig(11, cell=cell, hidden_size=16, num_layers=3, dropout=0.4)).eval()
    x = model.encode_input(torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(0)))
    state = model.init_state(4)
    with torch.no_grad():
        fused, fused_state = model.rnn(x, state)
        stacked, stacked_state = model._stack(x, state, None)  # eval mode: nothing is dropped
    torch.testing.assert_close(stacked, fused)
    for a, b in zip(
        stacked_state if isinstance(stacked_state, tuple) else (stacked_state,),
        fused_state if isinstance(fused_state, tuple) else (fused_state,),
    ):
        torch.testing.assert_close(a, b)


def test_weights_and_dropout_come_from_the_run_not_from_the_global_generator():
    model_a = CharRNN(ModelConfig(7, hidden_size=8), generator=torch.Generator().manual_seed(5))
    torch.manual_seed(123)  # whatever the process's global state is ...
    model_b = CharRNN(ModelConfig(7, hidden_size=8), generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()))
    before = torch.get_rng_state()
    train(Corpus.from_text(TEXT, val_fraction=0.1), preset("tiny", max_steps=5, num_layers=2, dropout=0.3))
    assert torch.equal(before, torch.get_rng_state())  # ... training neither reads nor moves it


def test_two_trainings_at_once_are_each_reproducible_while_others_reseed_the_global_generator():
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    config = preset("tiny", max_steps=40, num_layers=2, dropout=0.3, hidden_size=32, eval_every=0)
    alone = train(corpus, config).model.state_dict()
    results, done = [None, None], threading.Event()

    def run(i):
        results[i] = train(corpus, config).model.state_dict()

    def meddle():  # a visitor clicking the toy, say, which once reseeded the global generator
        while not done.is_set():
            torch.manual_seed(7)
            torch.rand(100)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    meddler = threading.Thread(target=meddle)
    meddler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    meddler.join()
    for result in results:
        assert all(torch.equal(alone[k], result[k]) for k in alone)
