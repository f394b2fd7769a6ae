"""Generating text, the plain way (chapter section 5.12): feed the prime one character at a time through the
trained network, then again and again draw the next character from the top-N of its prediction and feed it
back. This is the chapter's loop as written; ``Sampler`` (``sampler.py``) does the same steps faster in NumPy
and is tested to give the same text under the same seed."""

from __future__ import annotations

import numpy as np
import torch

from charlm.data.vocab import Vocab
from charlm.network.model import CharRNN
from charlm.sampling.pick import check_settings, pick_next, prepare_prime


@torch.inference_mode()
def reference_generate(
    model: CharRNN,
    vocab: Vocab,
    prime: str | None = None,
    length: int = 500,
    top_n: int = 4,
    temperature: float = 1.0,
    seed: int | None = None,
) -> str:
    """The straightforward sampler: the fused PyTorch layer called with one character at a time.

    Kept as the yardstick that ``Sampler`` must match (tests) and beat (benchmarks).
    """
    check_settings(vocab, top_n, temperature, length)
    prime = prepare_prime(vocab, prime)
    model.eval()
    rng = np.random.default_rng(seed)
    state = None
    for x in vocab.encode(prime):
        logits, state = model(torch.tensor([[int(x)]]), state)
    out = []
    for i in range(length):
        x = pick_next(logits[0, -1].numpy(), top_n, temperature, rng)
        out.append(vocab.chars[x])
        if i + 1 < length:
            logits, state = model(torch.tensor([[x]]), state)
    return prime + "".join(out)
