"""The shapes the page shows are the shapes the model has."""

import pytest
import torch

from charlm import preset
from charlm.model import CharRNN
from charlm.shapes import model_shapes


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
