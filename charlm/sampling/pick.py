"""What a generation is asked for and how each character is drawn (chapter section 5.12): the settings
checked (``check_settings``, ``prepare_prime``), and the top-N draw from the model's scores (``pick_next``),
shared by the sampler, the batch of generations, the sampling lab and the one-character view.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from charlm.data.vocab import Vocab
from charlm.errors import CharLMError

MAX_PRIME_LENGTH = 100_000
FEW = 32  # top-N up to this (and below the vocabulary) is drawn by plain float arithmetic (``drawn_by_rule``)


def drawn_by_rule(top_n: int, vocab_size: int) -> bool:
    """Whether ``pick_next`` draws by its few-choices rule, which ``kernels.draw_rows`` repeats bit for bit."""
    return top_n < vocab_size and top_n <= FEW


def check_settings(vocab: Vocab, top_n: int, temperature: float, length: int = 0) -> None:
    if not isinstance(top_n, (int, np.integer)) or not 1 <= top_n <= len(vocab):
        raise CharLMError(
            f"top_n must be a whole number from 1 to the vocabulary size ({len(vocab)}); got {top_n}.",
            key="top_n_range",
            vocab_size=len(vocab),
            value=top_n,
        )
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and 0 < temperature <= 100):
        raise CharLMError(
            f"temperature must be above 0 and at most 100; got {temperature}.",
            key="temperature_range",
            value=temperature,
        )
    if not isinstance(length, (int, np.integer)) or length < 0:
        raise CharLMError(
            f"length must be a whole number of characters, 0 or more; got {length}.", key="length_range", value=length
        )


def default_prime(vocab: Vocab) -> str:
    """A prime every model can read: a line break, where the text had one (a model then starts as at the start of
    a line), else the first character of its sorted vocabulary. A fixed word such as "The " fails on any text
    without those letters."""
    return "\n" if "\n" in vocab.chars else vocab.chars[0]


def readable_prime(vocab: Vocab, wanted: str, text: str = "") -> str:
    """``wanted`` if the model can read all of it; else the opening words of ``text`` (the model's own
    corpus, when known: a student's model then starts as its text does); else a letter of its vocabulary,
    or ``default_prime``. What a page offers when its visitor picks another model: the prime typed for
    one model ("Far" for the novel) is often unreadable by a model of another text (a Chinese one)."""
    if isinstance(wanted, str) and wanted and not vocab.unknown_chars(wanted):
        return wanted
    opening = next((line.strip() for line in text[:2000].splitlines() if line.strip()), "")
    words = opening.split()
    opening = " ".join(words[:3]) if len(words) > 1 else opening
    if len(opening) > OPENING_CHARS:  # cut at a word's end where the text has spaces
        cut = opening.rfind(" ", 0, OPENING_CHARS + 1)
        opening = opening[:cut] if cut > 0 else opening[:OPENING_CHARS]
    if opening and not vocab.unknown_chars(opening):
        return opening
    return next((c for c in vocab.chars if c.isalpha()), None) or default_prime(vocab)


OPENING_CHARS = 20  # at most this much of a text's first line becomes its model's prime


def prepare_prime(vocab: Vocab, prime: str | None, on_unknown: str = "error") -> str:
    """Check the prime text against the vocabulary: an error naming unknown characters, or
    (``on_unknown="skip"``) drop them with a warning. None: ``default_prime``, which every model can read."""
    if prime is None:
        return default_prime(vocab)
    if not isinstance(prime, str) or not prime:
        raise CharLMError("The prime text is empty: type at least one character to start from.", key="prime_empty")
    if len(prime) > MAX_PRIME_LENGTH:
        raise CharLMError(
            f"The prime text is {len(prime):,} characters; the limit is {MAX_PRIME_LENGTH:,}.",
            key="prime_too_long",
            n=len(prime),
            limit=MAX_PRIME_LENGTH,
        )
    unknown = vocab.unknown_chars(prime)
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        if on_unknown != "skip":
            raise CharLMError(
                f"The prime text has characters the model never saw: {shown}. Remove them.",
                key="prime_unknown",
                chars=shown,
            )
        warnings.warn(f"skipping characters not in the vocabulary: {shown}", stacklevel=3)
        prime = "".join(c for c in prime if c in vocab.stoi)
        if not prime:
            raise CharLMError(
                f"None of the prime text's characters are in the model's vocabulary ({shown}).",
                key="prime_unknown",
                chars=shown,
            )
    return prime


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(next character) from the scores. Scores that are not finite (a checkpoint whose weights are finite but
    whose outputs overflow) are refused with a message, never turned into "nan%" on a page."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    check_finite_scores(z)
    p = np.exp(z - z.max())
    return p / p.sum()


def check_finite_scores(scores: np.ndarray) -> None:
    """Refuse next-character scores that are not all finite numbers, saying what it means for the model."""
    if not np.isfinite(scores).all():
        raise CharLMError(
            "This model's scores for the next character are not finite numbers: its weights are finite, but what "
            "they compute overflows. It cannot generate or be looked inside; use another checkpoint (an earlier "
            "one of the same run, say).",
            key="outputs_not_finite",
        )


def pick_next(
    logits: np.ndarray, top_n: int, temperature: float, rng: np.random.Generator, record: dict | None = None
) -> int:
    """Keep the top-N scores, renormalise, and draw one (top_n=1 is greedy).

    Uses a single uniform draw per character, so two samplers that compute the same scores
    pick the same characters from the same seed. The few kept scores are handled as plain
    Python floats: for N of a handful that is several times quicker than NumPy calls.
    With ``record``, it keeps what it did: the kept characters (most likely first), their weights,
    and the uniform number drawn (for the Generate tab's one-character view).
    """
    V = len(logits)
    if not drawn_by_rule(top_n, V):
        z = np.asarray(logits, dtype=np.float64) / temperature
        top = np.argsort(-z, kind="stable")[:top_n]
        weights = np.exp(z[top] - z[top[0]])
        cumulative = np.cumsum(weights)
        drawn = rng.random()
        if record is not None:
            record.update(kept=top.tolist(), weights=weights.tolist(), uniform=drawn)
        u = drawn * cumulative[-1]
        return int(top[min(np.searchsorted(cumulative, u, side="right"), top_n - 1)])
    top = np.argsort(-np.asarray(logits), kind="stable")[:top_n].tolist()  # the best first; ties: the lower code
    ranked = list(zip(logits[top].tolist(), top))
    best = ranked[0][0]
    weights = [math.exp((score - best) / temperature) for score, _ in ranked]
    drawn = rng.random()
    if record is not None:
        record.update(kept=[index for _, index in ranked], weights=weights, uniform=drawn)
    u = drawn * sum(weights)
    total = 0.0
    for (_, index), weight in zip(ranked, weights):
        total += weight
        if u < total:
            return index
    return ranked[-1][1]
