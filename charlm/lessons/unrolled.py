"""The network unrolled over a passage (chapter §1 and §4): the numbers behind the inside tab's diagrams.

``unroll`` takes a window of a ``trace`` (the sampler's own states as it read the passage, nothing
recomputed): per step, the character in (the 1 of its one-hot vector), every layer's memory and gates,
and the guesses for the next character; at the chosen character, everything one cell did, from the memory
carried in to the h it passes on. ``tests/test_unrolled.py`` checks each value against PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlm.errors import CharLMError
from charlm.lessons.traces import Trace
from charlm.sampling.sampler import Sampler

UNROLL_WINDOW = 8  # characters drawn side by side: as many as a phone shows with a sideways scroll
SHOWN_UNITS = 16  # units drawn per state: a 512-wide vector drawn whole is a blur at any screen's width
NEXT_GUESSES = 3  # the guesses drawn above each step


def busiest_units(tr: Trace, layer: int, count: int = SHOWN_UNITS) -> np.ndarray:
    """The units whose output swings most over the passage (largest spread of h), in index order: the
    few that carry most of what changes, so a drawing of them shows the memory at work."""
    h = tr.layers[layer]["hidden"]
    return np.sort(np.argsort(-h.std(0), kind="stable")[:count])


@dataclass
class StepView:
    """One character's step through the network: what goes in, what each layer holds, what comes out."""

    position: int  # where in the passage
    char: str  # the character read (its one-hot has a 1 at ``code``)
    code: int
    before: list[dict[str, np.ndarray]]  # per layer, the memory carried in ("hidden", and "cell" for an LSTM)
    after: list[dict[str, np.ndarray]]  # per layer, everything the cell recorded (gates, candidate, cell, hidden)
    guesses: list[tuple[str, float]]  # the most likely next characters, most likely first
    actual: str | None  # the character that did come next (None after the passage's last)
    actual_prob: float | None  # the probability the model gave it


@dataclass
class Unrolled:
    """A window of the passage, unrolled: the same cell (the same weights) at every step, its memory
    passed to the right. Every array is cut to ``units`` of its layer."""

    cell: str
    hidden_size: int
    vocab_size: int
    units: list[np.ndarray]  # per layer, the unit numbers drawn
    steps: list[StepView]  # oldest first; the last one is the chosen position

    @property
    def current(self) -> StepView:
        return self.steps[-1]


def unroll(
    tr: Trace,
    sampler: Sampler,
    position: int,
    window: int = UNROLL_WINDOW,
    units: int = SHOWN_UNITS,
    guesses: int = NEXT_GUESSES,
) -> Unrolled:
    """The steps up to ``position`` (at most ``window`` of them), from a trace of the passage: the values
    are the sampler's own states as it read it (``trace``), nothing recomputed."""
    T = len(tr.text)
    if not 0 <= position < T:
        raise CharLMError(f"Choose a position from 0 to {T - 1}.", key="position_range", last=T - 1)
    shown = [busiest_units(tr, l, units) for l in range(len(tr.layers))]
    chars, stoi = sampler.vocab.chars, sampler.vocab.stoi
    steps = []
    for t in range(max(0, position - window + 1), position + 1):
        before = [
            {
                key: (layer[key][t - 1] if t else np.zeros_like(layer[key][0]))[cut]
                for key in ("cell", "hidden")
                if key in layer
            }
            for layer, cut in zip(tr.layers, shown)
        ]
        after = [{key: values[t][cut] for key, values in layer.items()} for layer, cut in zip(tr.layers, shown)]
        p = tr.probs[t]
        order = np.argsort(-p, kind="stable")[:guesses]
        nxt = tr.text[t + 1] if t + 1 < T else None
        steps.append(
            StepView(
                t,
                tr.text[t],
                stoi[tr.text[t]],
                before,
                after,
                [(chars[j], float(p[j])) for j in order],
                nxt,
                None if nxt is None else float(p[stoi[nxt]]),
            )
        )
    return Unrolled(sampler.spec.name, sampler.H, len(sampler.vocab), shown, steps)
