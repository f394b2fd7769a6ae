"""Vanishing gradients (section 4), measured: how strongly the loss at the last step depends on each
earlier input, for an untrained network of every cell type on the same characters."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from charlm.errors import CharLMError
from charlm.network.cells import simplest_first
from charlm.network.model import CharRNN, ModelConfig


def gradient_decay(model: CharRNN, ids: np.ndarray) -> np.ndarray:
    """Norm of d(loss at the last step) / d(input at step T-1-k), for k = 0 .. T-1.

    The input is the one-hot vector (or the embedding) the network read at that step. A plain
    RNN's curve falls off by orders of magnitude within a few dozen steps; an LSTM's cell state
    carries the gradient much further back.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 3:
        raise CharLMError("gradient_decay needs a sequence of at least 3 character codes.", key="gradient_short")
    was_training = model.training
    model.eval()
    try:
        x = torch.from_numpy(ids[:-1].astype(np.int64))[None]
        target = torch.tensor([int(ids[-1])])
        inputs = model.encode_input(x).detach().requires_grad_(True)
        out, _ = model.rnn(inputs, model.init_state(1))
        loss = F.cross_entropy(model.decoder(out[:, -1]), target)
        (grad,) = torch.autograd.grad(loss, inputs)
    finally:
        model.train(was_training)
    norms = grad[0].norm(dim=-1).numpy()
    return norms[::-1].copy()  # index k = k steps before the last


def fresh_models(vocab_size: int, hidden_size: int = 128, num_layers: int = 1, seed: int = 0) -> dict[str, CharRNN]:
    """One untrained model per cell type (simplest first), all of the same size, for a side-by-side comparison."""
    return {
        cell: CharRNN(
            ModelConfig(vocab_size, cell=cell, hidden_size=hidden_size, num_layers=num_layers, dropout=0.0),
            generator=torch.Generator().manual_seed(seed),
        )
        for cell in simplest_first()
    }


GRADIENT_WINDOW = (100, 201)  # the characters whose gradients are measured: 100 steps back from the last


def gradient_window(ids: np.ndarray) -> np.ndarray:
    """The stretch of a text ``gradient_decay`` is measured on: characters 100-200, away from the
    text's first lines (a title page is not typical text)."""
    start, end = GRADIENT_WINDOW
    if len(ids) <= end:
        raise CharLMError(
            f"The loaded text is too short: it needs at least {end + 1} characters.",
            key="gradient_text_short",
            n=end + 1,
        )
    return np.asarray(ids[start:end])


def gradient_curves(vocab_size: int, ids: np.ndarray, hidden_size: int = 128) -> dict[str, np.ndarray]:
    """``gradient_decay`` of an untrained model of every cell type, on the same characters."""
    window = gradient_window(ids)
    return {cell: gradient_decay(model, window) for cell, model in fresh_models(vocab_size, hidden_size).items()}
