"""The shapes the page shows are the shapes the model has."""

import numpy as np
import pytest
import torch

from charlm import Corpus, Sampler, preset
from charlm.lessons.recall import ALPHABET
from charlm.lessons.recall import records as recall_records
from charlm.lessons.shapes import io_patterns, model_shapes
from charlm.network.model import CharRNN, ModelConfig


@pytest.mark.parametrize("cell, layers, vocab", [("lstm", 2, 83), ("gru", 1, 83), ("rnn", 3, 2000)])
def test_the_shapes_are_those_of_a_forward_pass(cell, layers, vocab):
    config = preset("quick", cell=cell, num_layers=layers, hidden_size=32, batch_size=5, num_steps=7)
    model = CharRNN(config.model_config(vocab), generator=torch.Generator().manual_seed(0))
    x = torch.randint(0, vocab, (5, 7))
    seen = {}
    model.rnn.register_forward_hook(lambda module, args, out: seen.update(out=out[0].shape, state=out[1]))
    logits, _ = model(x)
    stages = {(s.key, s.layer): s.shape for s in model_shapes(config, vocab)}
    assert stages[("inputs", None)] == tuple(x.shape)
    assert stages.get(("one_hot", None), stages.get(("embedded", None))) == tuple(model.encode_input(x).shape)
    assert stages[("layer", layers - 1)] == tuple(seen["out"])  # the top layer's outputs
    assert stages[("logits", None)] == (35, vocab) == tuple(logits.reshape(-1, vocab).shape)
    states = seen["state"] if isinstance(seen["state"], tuple) else (seen["state"],)
    carried = [s.shape for s in model_shapes(config, vocab) if s.key.startswith("state")]
    assert carried == [tuple(s.shape) for s in states]


def test_the_four_patterns_have_the_shapes_the_app_really_uses():
    corpus = Corpus.from_text("one to one, one to many, many to one, many to many. " * 40, val_fraction=0.1)
    config = preset("tiny", batch_size=5, num_steps=7)
    C = len(corpus.vocab)
    found = {p.key: p for p in io_patterns(config, C, generate_length=30, recall_gap=12)}
    assert list(found) == ["one_to_one", "one_to_many", "many_to_one", "many_to_many"]
    model = CharRNN(config.model_config(C), torch.Generator().manual_seed(0)).eval()
    with torch.no_grad():
        logits, _ = model(torch.zeros(found["one_to_one"].inputs, dtype=torch.long))
        assert tuple(logits[:, -1].shape) == found["one_to_one"].outputs
        x = torch.zeros(found["many_to_many"].inputs, dtype=torch.long)
        assert tuple(model(x)[0].reshape(-1, C).shape) == found["many_to_many"].outputs
    sampler = Sampler(model, corpus.vocab)
    assert len(sampler.generate("o", 30, seed=0)) - 1 == found["one_to_many"].outputs[0] == found["one_to_many"].steps
    x, _ = recall_records(12, found["many_to_one"].inputs[0], np.random.default_rng(0))
    assert tuple(x.shape) == found["many_to_one"].inputs
    recall_model = CharRNN(ModelConfig(len(ALPHABET), hidden_size=8), torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert tuple(recall_model(x)[0][:, -1].shape) == found["many_to_one"].outputs
