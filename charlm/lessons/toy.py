"""The chapter's "hello" toy (sections 2-3): a network that learns to spell one word in a second, with
every score and probability before and after training, so that a class sees the arithmetic of one step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.errors import CharLMError
from charlm.network.model import CharRNN, ModelConfig
from charlm.sampling.pick import softmax


@dataclass
class ToyResult:
    vocab: tuple[str, ...]  # in order of first appearance, as the chapter draws h e l o
    pairs: list[tuple[str, str]]  # (context so far, next character)
    one_hot: np.ndarray  # (steps, V): each input as a one-hot vector
    scores_before: np.ndarray  # (steps, V)
    probs_before: np.ndarray
    scores_after: np.ndarray
    probs_after: np.ndarray
    losses: list[float]  # training loss per step


def toy_model(
    word: str = "hello",
    cell: str = "rnn",
    hidden_size: int = 8,
    steps: int = 300,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> ToyResult:
    """Train a tiny network on one word and show its output scores and softmax at every step."""
    if not isinstance(word, str) or not 2 <= len(word) <= 40:
        raise CharLMError("Type a word of 2 to 40 characters.", key="toy_word")
    if not 1 <= steps <= 5000:
        raise CharLMError("Training steps must be between 1 and 5000.", key="toy_steps")
    chars = tuple(dict.fromkeys(word))
    if len(chars) < 2:
        raise CharLMError("The word needs at least two different characters.", key="toy_distinct")
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([[stoi[c] for c in word]])
    x, y = ids[:, :-1], ids[:, 1:]
    model = CharRNN(
        ModelConfig(len(chars), cell=cell, hidden_size=hidden_size, num_layers=1, dropout=0.0),
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    def scores() -> np.ndarray:
        with torch.no_grad():
            return model(x)[0][0].numpy().copy()

    before = scores()
    losses = []
    for _ in range(steps):
        logits, _ = model(x)
        loss = F.cross_entropy(logits[0], y[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    after = scores()
    return ToyResult(
        vocab=chars,
        pairs=[(word[: i + 1], word[i + 1]) for i in range(len(word) - 1)],
        one_hot=np.eye(len(chars), dtype=np.float32)[x[0].numpy()],
        scores_before=before,
        probs_before=np.apply_along_axis(softmax, 1, before),
        scores_after=after,
        probs_after=np.apply_along_axis(softmax, 1, after),
        losses=losses,
    )
