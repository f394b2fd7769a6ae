"""The coach: what a run's numbers say, in a few plain findings a student can act on.

Students cannot read a loss curve on their own (the most common question in char-rnn's issue trackers is
how to read training against validation loss). The coach reads it for them, during a run and after it,
and names the numbers behind each finding, so that the reasoning is visible and can be checked:

* too little text for the model (batches per epoch, characters per parameter);
* over-fitting (validation rising while training falls), with the best step to go back to;
* stuck at the letter-frequency level: the loss no better than knowing how often each character occurs
  (the text's unigram entropy), with the learning rate as the likely cause when it is far from the usual;
* diverging (the loss climbing well above its best);
* clipping firing on most steps;
* under-fitting (still improving when it stopped, training and validation close together);
* learning well.

Each ``Finding`` is a key and numbers; an interface turns it into sentences in its own language. This
module knows nothing about pages: the CLI and the app use the same findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from charlm.data.batches import batch_count
from charlm.data.vocab import Corpus, code_counts
from charlm.network.model import parameter_count
from charlm.training.config import TrainConfig

# Thresholds, each with the reason for its value.
FEW_BATCHES = 20  # batches per epoch below this: a few samples seen again and again
FEW_CHARS_PER_PARAM = 0.1  # the shipped 2x512 model sees ~0.5 per parameter with dropout 0.5: 0.1 is far less
MIN_STEPS = 100  # a curve shorter than this says little about plateaus or trends
NEAR_FREQUENCIES = 0.15  # nats above the unigram entropy's level still count as "only letter frequencies"
HIGH_LR, LOW_LR = 0.02, 3e-4  # Adam on these models learns best between about 1e-3 and 1e-2
RISE = 0.05  # nats: a validation loss this far above its best is rising, not noise (or 3 % of it)
GAP = 0.3  # nats between validation and training: the model knows its training text much better
DIVERGED = 0.5  # nats above the best smoothed training loss: the run is going backwards
MOST_STEPS = 0.5  # share of recent steps on which clipping fired
STILL_FALLING = 0.02  # nats the smoothed loss fell over the last fifth of the run: it was still learning


# What each finding says, in English (an interface may say it in another language by the same key).
_STUCK = (
    "Stuck at the letter-frequency level: after {steps:,} steps the loss ({now:.2f}) is no better than "
    "knowing how often each character occurs ({unigram:.2f} nats). "
)
ENGLISH = {
    "little_text": (
        "Too little text for this model: {chars:,} training characters (batches per epoch: {batches:,}) for "
        "{parameters:,} parameters ({per_parameter:.2f} characters per parameter). It will learn this text by "
        "heart rather than the language: use a longer text, a smaller model, or a smaller batch (N×M)."
    ),
    "overfitting": (
        "Over-fitting: the validation loss was lowest at step {best_step} ({best:.3f}) and has risen to "
        "{last:.3f}, while the training loss fell to {train:.3f}. The model is memorising its training text. "
        "Generate with the checkpoint of step {best_step}; next time stop earlier, add dropout, or use more text."
    ),
    "lr_high": _STUCK + "A learning rate of {lr:g} is too high for Adam here: try 0.002 to 0.005.",
    "lr_low": _STUCK + "A learning rate of {lr:g} is too low to get anywhere soon: try 0.002 to 0.005.",
    "stuck": _STUCK + "Train longer, or try another learning rate.",
    "diverging": (
        "Diverging: the training loss has climbed to {now:.2f} from its best of {best:.2f}. Lower the learning "
        "rate (now {lr:g}) and keep gradient clipping on."
    ),
    "clipping": (
        "Gradient clipping fired on {share:.0%} of the recent steps (gradients longer than {clip:g}): most "
        "updates are being cut short. A lower learning rate usually makes this rare."
    ),
    "underfitting": (
        "Still learning when it stopped: the training loss fell by {fell:.3f} over the last fifth of the run, and "
        "validation ({val:.3f}) is close to training ({train:.3f}). Train longer (Resume), or use a bigger model."
    ),
    "learning": (
        "Learning well: training loss {train:.3f}, validation {val:.3f}, far below the letter-frequency level "
        "({unigram:.2f})."
    ),
}


@dataclass(frozen=True)
class Finding:
    key: str  # one of ``ENGLISH``'s keys
    level: str  # "good", "note" or "warn"
    numbers: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def english(self) -> str:
        return ENGLISH[self.key].format(**self.numbers)


@dataclass(frozen=True)
class RunFacts:
    """What the coach knows about a run before it starts: the text and the model's size."""

    train_chars: int
    batches_per_epoch: int
    parameters: int
    unigram_entropy: float  # nats per character: the loss of knowing only how often each character occurs
    learning_rate: float
    grad_clip: float

    @classmethod
    def of(cls, corpus: Corpus, config: TrainConfig) -> RunFacts:
        train = corpus.train_data
        counts = code_counts(train, len(corpus.vocab)).astype(np.float64)
        p = counts[counts > 0] / max(1, len(train))
        return cls(
            train_chars=len(train),
            batches_per_epoch=batch_count(len(train), config.batch_size, config.num_steps),
            parameters=parameter_count(config.model_config(len(corpus.vocab))),
            unigram_entropy=float(-(p * np.log(p)).sum()),
            learning_rate=config.learning_rate,
            grad_clip=config.grad_clip,
        )

    @property
    def chars_per_parameter(self) -> float:
        return self.train_chars / max(1, self.parameters)


def clipping_fired(grad_norm: float, grad_clip: float) -> bool:
    """Whether a step's gradient was longer than the clip (clipping off: never)."""
    return bool(grad_clip) and grad_norm > grad_clip


def smoothed(losses: list[tuple[int, float]], window: int = 0) -> np.ndarray:
    """The training loss averaged over a moving window (a twentieth of the run, at least 5 steps)."""
    values = np.array([v for _, v in losses], dtype=np.float64)
    window = window or max(5, len(values) // 20)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def best_validation(val_loss: list[tuple[int, float]]) -> tuple[int, float] | None:
    """The step with the lowest validation loss, and that loss (the checkpoint to generate with)."""
    return min(val_loss, key=lambda point: point[1]) if val_loss else None


def diagnose(
    facts: RunFacts,
    train_loss: list[tuple[int, float]],
    val_loss: list[tuple[int, float]],
    clipped: list[bool] = (),
    finished: bool = False,
) -> list[Finding]:
    """The findings for a run so far (``finished``: it has ended), most important first."""
    found: list[Finding] = []
    if facts.batches_per_epoch < FEW_BATCHES or facts.chars_per_parameter < FEW_CHARS_PER_PARAM:
        found.append(
            Finding(
                "little_text",
                "warn",
                {
                    "batches": facts.batches_per_epoch,
                    "chars": facts.train_chars,
                    "parameters": facts.parameters,
                    "per_parameter": facts.chars_per_parameter,
                },
            )
        )
    if not train_loss:
        return found
    curve = smoothed(train_loss)
    now, best_train = float(curve[-1]), float(curve.min())
    steps = len(train_loss)

    if steps >= MIN_STEPS and now > best_train + DIVERGED:
        found.append(Finding("diverging", "warn", {"now": now, "best": best_train, "lr": facts.learning_rate}))
    elif steps >= 2 * MIN_STEPS and now >= facts.unigram_entropy - NEAR_FREQUENCIES:
        key = "lr_high" if facts.learning_rate >= HIGH_LR else "lr_low" if facts.learning_rate <= LOW_LR else "stuck"
        found.append(
            Finding(
                key, "warn", {"now": now, "unigram": facts.unigram_entropy, "lr": facts.learning_rate, "steps": steps}
            )
        )

    overfit = _overfitting(train_loss, val_loss)
    if overfit:
        found.append(overfit)
    recent = list(clipped)[-MIN_STEPS:]
    if facts.grad_clip and len(recent) >= MIN_STEPS // 2 and np.mean(recent) > MOST_STEPS:
        found.append(Finding("clipping", "note", {"share": float(np.mean(recent)), "clip": facts.grad_clip}))
    if found:
        return found

    if val_loss and finished and steps >= MIN_STEPS:
        tail = curve[-max(2, len(curve) // 5) :]
        gap = val_loss[-1][1] - now
        if tail[0] - tail[-1] > STILL_FALLING and gap < GAP:
            return [
                Finding(
                    "underfitting", "note", {"fell": float(tail[0] - tail[-1]), "train": now, "val": val_loss[-1][1]}
                )
            ]
    if val_loss and steps >= MIN_STEPS:
        return [Finding("learning", "good", {"train": now, "val": val_loss[-1][1], "unigram": facts.unigram_entropy})]
    return []


def _overfitting(train_loss: list[tuple[int, float]], val_loss: list[tuple[int, float]]) -> Finding | None:
    """Validation rising from its best while training keeps falling."""
    if len(val_loss) < 3:
        return None
    best_step, best = best_validation(val_loss)
    last_step, last = val_loss[-1]
    if best_step == last_step or last - best < max(RISE, 0.03 * best):
        return None
    train_then = np.mean([v for s, v in train_loss if s <= best_step][-20:] or [math.inf])
    train_now = float(np.mean([v for _, v in train_loss][-20:]))
    if train_now >= train_then:
        return None
    return Finding(
        "overfitting",
        "warn",
        {"best_step": best_step, "best": best, "last": last, "train": train_now, "gap": last - train_now},
    )
