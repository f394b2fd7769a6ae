"""The sampling lab (chapter §5, step 12): several ways of choosing the next character, run side by side from
one prime and one seed, each scored the same way.

The chapter samples with top-N = 4: keep the four likeliest characters, renormalise, draw. Beside it here:
greedy (always the likeliest: top-N 1), top-p (the fewest characters whose probabilities add up to p),
temperature (scores divided by T before the softmax: below 1 sharper, above 1 flatter) and plain sampling
from the whole distribution. For each sample:

* ``bits_per_char``: how likely the model itself (at temperature 1, nothing cut) finds the text it wrote, in
  bits per character. Low is safe and repetitive (greedy loops); high is surprising, and past the model's own
  level on real text (its validation loss) it is mostly typos.
* ``mass_kept``: the share of the model's probability the strategy kept, on average: what it threw away is
  the long tail where misspellings live. Top-4 keeps most of the mass and none of the tail: the chapter's N.

Top-N and temperature strategies draw exactly as the Generate tab does (``pick_next``, one uniform number per
character), so a top-N 4 sample here is the Generate tab's text for the same prime and seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlm.errors import CharLMError
from charlm.sampling.fast.blas_threads import on_one_blas_thread
from charlm.sampling.pick import check_settings, pick_next, prepare_prime, softmax
from charlm.sampling.sampler import Sampler


@dataclass(frozen=True)
class Strategy:
    """One way of choosing the next character. ``top_n`` 0 keeps every character; ``top_p`` 0 cuts nothing."""

    key: str  # what interfaces call it (and translate)
    top_n: int = 0
    top_p: float = 0.0
    temperature: float = 1.0

    def kept(self, logits: np.ndarray) -> np.ndarray:
        """The characters it may choose from, likeliest first (ties by code, as ``pick_next`` ranks them)."""
        order = np.lexsort((np.arange(len(logits)), -np.asarray(logits, dtype=np.float64)))
        if self.top_n:
            return order[: self.top_n]
        if self.top_p:
            p = softmax(logits, self.temperature)[order]
            return order[: int(np.searchsorted(np.cumsum(p), self.top_p * (1 - 1e-12))) + 1]
        return order

    def weights(self, logits: np.ndarray) -> np.ndarray:
        """The distribution it draws from, over the whole vocabulary (zero outside what it keeps)."""
        keep = self.kept(logits)
        p = np.zeros(len(logits))
        p[keep] = softmax(np.asarray(logits, dtype=np.float64)[keep], self.temperature)
        return p

    def choose(self, logits: np.ndarray, rng: np.random.Generator) -> int:
        if not self.top_p:  # the Generate tab's own draw
            return pick_next(logits, self.top_n or len(logits), self.temperature, rng)
        keep = self.kept(logits)
        cumulative = np.cumsum(softmax(np.asarray(logits, dtype=np.float64)[keep], self.temperature))
        return int(keep[min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), len(keep) - 1)])


# The lab's line-up, written once for the page and the tests: the chapter's choice second.
LAB = (
    Strategy("greedy", top_n=1),
    Strategy("top_n", top_n=4),
    Strategy("top_p", top_p=0.9),
    Strategy("cold", temperature=0.5),
    Strategy("whole"),
    Strategy("hot", temperature=1.5),
)
LAB_PRIME_CHARS = 2000  # the longest prime the lab reads: a page of text sets the scene; more only costs time
LAB_LENGTH = (20, 400)  # characters each sample may have: enough to see loops and typos, quick for six


@dataclass
class LabSample:
    strategy: Strategy
    text: str  # the generated characters (without the prime)
    bits_per_char: float  # -log2 P(model, temperature 1) of each generated character, averaged
    mass_kept: float  # the model's probability on the characters the strategy kept, averaged over the steps
    kept_size: float  # how many characters it kept, on average
    most_uncertain: int  # the step where the model was least sure what came next (the highest entropy)


@on_one_blas_thread
def sampling_lab(
    sampler: Sampler, prime: str, length: int, seed: int, strategies: tuple[Strategy, ...] = LAB
) -> list[LabSample]:
    """Each strategy writes ``length`` characters after ``prime``, from its own generator seeded ``seed``."""
    low, high = LAB_LENGTH
    if not isinstance(length, (int, np.integer)) or not low <= length <= high:
        raise CharLMError(
            f"The lab writes from {low} to {high} characters per sample; got {length}.",
            key="lab_length",
            low=low,
            high=high,
            value=length,
        )
    if len(prime) > LAB_PRIME_CHARS:
        raise CharLMError(
            f"The lab reads primes of up to {LAB_PRIME_CHARS:,} characters; this one has {len(prime):,}. "
            "Keep its end (the lab only shows what follows it).",
            key="lab_prime_long",
            n=len(prime),
            limit=LAB_PRIME_CHARS,
        )
    prime = prepare_prime(sampler.vocab, prime)
    for s in strategies:
        check_settings(sampler.vocab, s.top_n or len(sampler.vocab), s.temperature, length)
    read = sampler.new_state()
    after_prime = sampler.feed(read, prime)  # read once; each strategy goes on from its own copy
    out = []
    for strategy in strategies:
        rng = np.random.default_rng(seed)
        state, logits = sampler.copy_state(read), after_prime.copy()
        chars, bits, mass, size, entropies = [], 0.0, 0.0, 0, []
        for i in range(length):
            p = softmax(logits)
            entropies.append(float(-(p * np.log(np.maximum(p, 1e-300))).sum()))
            keep = strategy.kept(logits)
            mass += float(p[keep].sum())
            size += len(keep)
            x = strategy.choose(logits, rng)
            bits -= math.log2(max(float(p[x]), 1e-300))
            chars.append(sampler.vocab.chars[x])
            if i + 1 < length:
                logits = sampler.step(state, x)
        out.append(
            LabSample(strategy, "".join(chars), bits / length, mass / length, size / length, int(np.argmax(entropies)))
        )
    return out


@dataclass
class Distribution:
    """The model's guesses for one position of a text, and what each strategy makes of them."""

    context: str  # the text read so far (prime and sample up to the position)
    chars: tuple[str, ...]  # the vocabulary, in code order
    probs: np.ndarray  # the model's distribution at temperature 1
    weights: dict[str, np.ndarray]  # strategy key -> the distribution it draws from


def distribution_at(sampler: Sampler, text: str, strategies: tuple[Strategy, ...] = LAB) -> Distribution:
    """After reading ``text``: the model's next-character probabilities and each strategy's version of them."""
    text = prepare_prime(sampler.vocab, text)
    logits = sampler.feed(sampler.new_state(), text)
    weights = {s.key: s.weights(logits) for s in strategies}
    return Distribution(text, tuple(sampler.vocab.chars), softmax(logits), weights)
