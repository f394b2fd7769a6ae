"""A generation's memory, as the sampler keeps it: ``SamplerState`` for one generation, ``StackedStates`` for many
side by side (one row each), which ``Sampler.advance`` steps together (``serving/generations.py``). The first layer's
h stands alone; every layer above keeps [input, h] in one array (``xh``), its h a view of the second half,
so that one product against the stacked weights serves the layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SamplerState:
    """One generation's memory: per layer the hidden state h (and the LSTM's cell c)."""

    h: list[np.ndarray]
    c: list[np.ndarray]
    xh: list[np.ndarray | None]  # layers ≥ 1: [input, h] side by side (h[l] is a view of its second half)
    gates: np.ndarray  # scratch space for one layer's gate pre-activations
    stacked: StackedStates | None = None  # the same memory as one row of ``StackedStates`` (made at the first step)


@dataclass
class StackedStates:
    """Several generations' memories side by side, one row each (the same fields as ``SamplerState``, with a
    leading axis): what ``Sampler.advance`` steps together. A ``SamplerState`` is stepped as a one-row view."""

    h: list[np.ndarray]  # (M, H) per layer; layers ≥ 1: views into xh
    c: list[np.ndarray]
    xh: list[np.ndarray | None]  # (M, 2H) per layer ≥ 1
    gates: np.ndarray  # (M, G·H)

    def __len__(self) -> int:
        return self.gates.shape[0]

    def take(self, rows: list[int]) -> StackedStates:
        """These rows only, in this order (copies: the others' memory is dropped)."""
        return stacked_from(
            self.h[0][rows],
            [c[rows] for c in self.c],
            [None if a is None else a[rows] for a in self.xh],
            self.gates[rows],
        )

    def part(self, start: int, stop: int) -> StackedStates:
        """StackedStates ``start`` to ``stop``, sharing this memory (views): stepping the part steps these rows here, so
        that parts of one batch can be stepped side by side on several cores."""
        return StackedStates(
            [h[start:stop] for h in self.h],
            [c[start:stop] for c in self.c],
            [None if a is None else a[start:stop] for a in self.xh],
            self.gates[start:stop],
        )

    def join(self, other: StackedStates) -> StackedStates:
        """These rows, then ``other``'s."""
        if not len(self):
            return other
        return stacked_from(
            np.concatenate([self.h[0], other.h[0]]),
            [np.concatenate(p) for p in zip(self.c, other.c)],
            [None if a is None else np.concatenate([a, b]) for a, b in zip(self.xh, other.xh)],
            np.concatenate([self.gates, other.gates]),
        )


def stacked_from(h0: np.ndarray, c: list[np.ndarray], xh: list[np.ndarray | None], gates: np.ndarray) -> StackedStates:
    """``StackedStates`` whose h above the first layer are views into ``xh``'s second halves."""
    H = h0.shape[-1]
    return StackedStates([h0] + [a[..., H:] for a in xh[1:]], c, xh, gates)
