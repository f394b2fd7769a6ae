"""What the cells and gates do while reading a passage (section 4; Karpathy, Johnson & Fei-Fei 2015,
"Visualizing and Understanding Recurrent Networks"), and the model's guesses at every position.

* ``trace`` / ``feature_correlations`` / ``gate_saturation``: every layer's states and gates after each character,
  how they follow simple features of the text, and how often the gates sit near 0 or 1.
* ``next_char_guesses`` / ``mean_surprise``: the top guesses at every position, and how surprised the model was on
  average (the cross-entropy, in nats per character).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.errors import CharLMError
from charlm.network.cells import all_gates
from charlm.sampling.fast.blas_threads import on_one_blas_thread
from charlm.sampling.pick import readable_prime, softmax
from charlm.sampling.sampler import Sampler

MAX_PASSAGE = 5000  # characters a passage may have: every view reads the whole passage at every call
PASSAGE_CHARS = 240  # about the length of the views' default passage: three lines of prose


def readable_passage(sampler: Sampler, wanted: str, held_out: str = "") -> str:
    """``wanted`` if the model can read all of it; else a passage it can: the start of its own held-out text
    (from the first line break on, so that it opens on a line), or, with no text known (an uploaded
    checkpoint), a passage the model writes itself under a fixed seed."""
    vocab = sampler.vocab
    if isinstance(wanted, str) and wanted and not vocab.unknown_chars(wanted):
        return wanted
    start = held_out.find("\n", 0, PASSAGE_CHARS) + 1
    passage = held_out[start : start + PASSAGE_CHARS]
    if len(passage) > 1 and not vocab.unknown_chars(passage):
        cut = max(passage.rfind("\n"), passage.rfind(" "))
        return passage[: cut + 1] if cut > PASSAGE_CHARS // 2 else passage
    prime = readable_prime(vocab, "")
    return sampler.generate(prime, PASSAGE_CHARS - len(prime), top_n=min(5, len(vocab)), seed=0)


@dataclass
class Trace:
    text: str
    layers: list[dict[str, np.ndarray]]  # per layer: name -> (T, H) values after reading each character
    probs: np.ndarray  # (T, V): P(next character) after each character


def trace_bytes(sampler: Sampler, chars: int) -> int:
    """The most memory ``trace`` takes over ``chars`` characters: per character and layer, each recorded
    quantity's H floats, held once step by step and once stacked, with an array's own overhead; the
    probabilities likewise; then a quarter more and a little fixed. Measured by tracemalloc's peak (test:
    tests/lessons/test_unrolled.py), e.g. 252 MB for 5,000 characters of the shipped 2×512 LSTM."""
    record: list = []
    sampler.step(sampler.new_state(), 0, want_logits=False, record=record)
    quantities = sum(len(layer) for layer in record)  # over all layers
    per_char = 8 * sum(a.size for layer in record for a in layer.values()) + 8 * len(sampler.vocab)
    per_char += 112 * (quantities + 1)
    chars = min(chars, MAX_PASSAGE)  # a longer passage is refused by ``trace`` before it takes anything
    return int(1.25 * chars * per_char) + (8 << 20)


@on_one_blas_thread
def trace(sampler: Sampler, text: str) -> Trace:
    """Read ``text`` and record, per layer and character, the gates, cell and hidden state."""
    if not text:
        raise CharLMError("Give a passage of text to look at.", key="passage_empty")
    if len(text) > MAX_PASSAGE:
        raise CharLMError(f"Use a passage of at most {MAX_PASSAGE:,} characters.", key="passage_too_long")
    unknown = sampler.vocab.unknown_chars(text)
    if unknown:
        raise CharLMError(
            f"The passage has characters the model never saw: {', '.join(map(repr, unknown[:10]))}.",
            key="passage_unknown",
            chars=", ".join(map(repr, unknown[:10])),
        )
    state = sampler.new_state()
    per_step, probs = [], []
    for x in sampler.vocab.encode(text):
        record: list = []
        logits = sampler.step(state, int(x), record=record)
        per_step.append(record)
        probs.append(softmax(logits))
    layers = [{key: np.stack([step[l][key] for step in per_step]) for key in per_step[0][l]} for l in range(sampler.L)]
    return Trace(text=text, layers=layers, probs=np.stack(probs))


def text_features(text: str) -> dict[str, np.ndarray]:
    """Simple things a cell might track, one value per character (after reading it)."""
    inside_quotes, position, after_newline, in_word, inside_parens = [], [], [], [], []
    quoted, col, depth = False, 0, 0
    for c in text:
        if c == '"':
            quoted = not quoted
        depth = max(0, depth + (c == "(") - (c == ")"))
        col = 0 if c == "\n" else col + 1
        inside_quotes.append(float(quoted))
        position.append(float(col))
        after_newline.append(float(c == "\n"))
        in_word.append(float(c.isalpha()))
        inside_parens.append(float(depth > 0))
    return {
        "inside quotes": np.array(inside_quotes),
        "position in the line": np.array(position),
        "just after a newline": np.array(after_newline),
        "inside a word": np.array(in_word),
        "inside parentheses": np.array(inside_parens),
    }


def feature_correlations(
    activations: np.ndarray, features: dict[str, np.ndarray], top: int = 3
) -> dict[str, list[tuple[int, float]]]:
    """For each feature, the cells whose activation correlates most strongly with it (|r|)."""
    acts = np.asarray(activations, dtype=np.float64)
    result = {}
    a = acts - acts.mean(0)
    a_norm = np.sqrt((a**2).sum(0))
    for name, f in features.items():
        f = np.asarray(f, dtype=np.float64) - np.mean(f)
        f_norm = np.sqrt((f**2).sum())
        if f_norm == 0:
            continue  # the feature never changes in this passage
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (a * f[:, None]).sum(0) / (a_norm * f_norm)
        r = np.nan_to_num(r)
        order = np.argsort(-np.abs(r), kind="stable")[:top]
        result[name] = [(int(i), float(r[i])) for i in order]
    return result


def gate_saturation(tr: Trace, low: float = 0.1, high: float = 0.9) -> list[dict[str, tuple[float, float]]]:
    """Per layer and gate: the share of values below ``low`` (closed) and above ``high`` (open)."""
    result = []
    for layer in tr.layers:
        gates = {k: v for k, v in layer.items() if k in all_gates()}
        result.append({k: (float((v < low).mean()), float((v > high).mean())) for k, v in gates.items()})
    return result


# ----------------------------------------------------------------------------- next-char view
@dataclass
class Guess:
    char: str  # the character that actually came next
    prob: float  # the probability the model gave it
    top: list[tuple[str, float]]  # the model's top guesses


def next_char_guesses(sampler: Sampler, text: str, k: int = 5) -> list[Guess]:
    """At each position: what the model expected next, and how likely it found the real next character."""
    tr = trace(sampler, text)
    guesses = []
    for i in range(len(text) - 1):
        p = tr.probs[i]
        order = np.argsort(-p, kind="stable")[:k]
        actual = sampler.vocab.stoi[text[i + 1]]
        guesses.append(Guess(text[i + 1], float(p[actual]), [(sampler.vocab.chars[j], float(p[j])) for j in order]))
    return guesses


def mean_surprise(guesses: list[Guess]) -> float:
    """The cross-entropy of the passage under the model: the mean of -ln P(actual next character), in nats."""
    return float(-np.mean([np.log(max(g.prob, 1e-12)) for g in guesses]))
