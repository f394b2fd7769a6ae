"""Looking inside the network (chapter sections 2-4): the maths behind the app's last tab.

* ``toy_model``: the chapter's "hello" example, trained in a second, with every score and
  probability before and after training.
* ``gradient_decay``: how strongly the loss at the last step depends on each earlier input,
  the measurable face of vanishing gradients.
* ``trace`` / ``feature_correlations`` / ``gate_saturation``: what the LSTM's cells and gates
  do while reading a passage (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding
  Recurrent Networks").
* ``next_char_guesses`` / ``mean_surprise``: the model's top guesses at every position, and how
  surprised it was on average (the cross-entropy, in nats per character).
* ``comparison_config``: the protocol of the RNN vs GRU vs LSTM race the app runs (equal steps, about
  equal parameters, several seeds).

Nothing here touches torch's global random state: each experiment draws from its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .cells import all_gates, simplest_first
from .config import TrainConfig, preset
from .draw import softmax
from .errors import CharLMError
from .model import CharRNN, ModelConfig, parameter_count
from .sample import Sampler
from .threads import on_one_blas_thread


# ------------------------------------------------------------------------------------------ toy
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


def toy_model(word: str = "hello", cell: str = "rnn", hidden_size: int = 8, steps: int = 300,
              learning_rate: float = 0.05, seed: int = 0) -> ToyResult:
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
    model = CharRNN(ModelConfig(len(chars), cell=cell, hidden_size=hidden_size, num_layers=1, dropout=0.0),
                    generator=torch.Generator().manual_seed(seed))
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
        vocab=chars, pairs=[(word[: i + 1], word[i + 1]) for i in range(len(word) - 1)],
        one_hot=np.eye(len(chars), dtype=np.float32)[x[0].numpy()],
        scores_before=before, probs_before=np.apply_along_axis(softmax, 1, before),
        scores_after=after, probs_after=np.apply_along_axis(softmax, 1, after), losses=losses,
    )


# ---------------------------------------------------------------------------- vanishing gradients
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
    return {cell: CharRNN(ModelConfig(vocab_size, cell=cell, hidden_size=hidden_size, num_layers=num_layers,
                                      dropout=0.0), generator=torch.Generator().manual_seed(seed))
            for cell in simplest_first()}


GRADIENT_WINDOW = (100, 201)  # the characters whose gradients are measured: 100 steps back from the last


def gradient_window(ids: np.ndarray) -> np.ndarray:
    """The stretch of a text ``gradient_decay`` is measured on: characters 100-200, away from the
    text's first lines (a title page is not typical text)."""
    start, end = GRADIENT_WINDOW
    if len(ids) <= end:
        raise CharLMError(f"The loaded text is too short: it needs at least {end + 1} characters.",
                          key="gradient_text_short", n=end + 1)
    return np.asarray(ids[start:end])


def gradient_curves(vocab_size: int, ids: np.ndarray, hidden_size: int = 128) -> dict[str, np.ndarray]:
    """``gradient_decay`` of an untrained model of every cell type, on the same characters."""
    window = gradient_window(ids)
    return {cell: gradient_decay(model, window) for cell, model in fresh_models(vocab_size, hidden_size).items()}


RACE_SEEDS = (0, 1, 2)  # each cell runs this many times: the spread says how much one run's luck counts
RACE_SIZE = ("lstm", 128)  # every cell gets about as many parameters as a one-layer LSTM of 128 units


def matched_hidden_size(cell: str, vocab_size: int, like: tuple[str, int] = RACE_SIZE) -> int:
    """The hidden size (a multiple of 8) that gives ``cell`` about as many parameters as the model ``like``:
    a plain RNN has a quarter of an LSTM's weights per unit, so a fair race gives it more units."""
    def count(c: str, h: int) -> int:
        return parameter_count(ModelConfig.for_vocab(vocab_size, cell=c, hidden_size=h, num_layers=1, dropout=0.0))

    target = count(*like)
    return min(range(8, 1025, 8), key=lambda h: abs(count(cell, h) - target))


def comparison_config(cell: str, steps: int, vocab_size: int, seed: int = 0) -> TrainConfig:
    """The app's cell race, on equal footing: the ``quick`` preset with the same number of steps for every cell,
    about the same number of parameters (``matched_hidden_size``), and the seed given; a validation loss five
    times in the run, no checkpoints or samples; on the CPU, where a small model's short run costs no GPU
    start-up (and, on a ZeroGPU Space, no visitor's quota). Time is the cost, reported apart."""
    return preset("quick", cell=cell, hidden_size=matched_hidden_size(cell, vocab_size), max_steps=steps,
                  max_seconds=0.0, epochs=1000, eval_every=max(1, steps // 5), eval_batches=5, save_every=0,
                  sample_every=0, device="cpu", seed=seed)


# ------------------------------------------------------------------------------- cells and gates
MAX_PASSAGE = 5000  # characters a passage may have: every view reads the whole passage at every call


@dataclass
class Trace:
    text: str
    layers: list[dict[str, np.ndarray]]  # per layer: name -> (T, H) values after reading each character
    probs: np.ndarray  # (T, V): P(next character) after each character


@on_one_blas_thread
def trace(sampler: Sampler, text: str) -> Trace:
    """Read ``text`` and record, per layer and character, the gates, cell and hidden state."""
    if not text:
        raise CharLMError("Give a passage of text to look at.", key="passage_empty")
    if len(text) > MAX_PASSAGE:
        raise CharLMError(f"Use a passage of at most {MAX_PASSAGE:,} characters.", key="passage_too_long")
    unknown = sampler.vocab.unknown_chars(text)
    if unknown:
        raise CharLMError(f"The passage has characters the model never saw: {', '.join(map(repr, unknown[:10]))}.",
                          key="passage_unknown", chars=", ".join(map(repr, unknown[:10])))
    state = sampler.new_state()
    per_step, probs = [], []
    for x in sampler.vocab.encode(text):
        record: list = []
        logits = sampler.step(state, int(x), record=record)
        per_step.append(record)
        probs.append(softmax(logits))
    layers = [{key: np.stack([step[l][key] for step in per_step]) for key in per_step[0][l]}
              for l in range(sampler.L)]
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


def feature_correlations(activations: np.ndarray, features: dict[str, np.ndarray],
                         top: int = 3) -> dict[str, list[tuple[int, float]]]:
    """For each feature, the cells whose activation correlates most strongly with it (|r|)."""
    acts = np.asarray(activations, dtype=np.float64)
    result = {}
    a = acts - acts.mean(0)
    a_norm = np.sqrt((a ** 2).sum(0))
    for name, f in features.items():
        f = np.asarray(f, dtype=np.float64) - np.mean(f)
        f_norm = np.sqrt((f ** 2).sum())
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
