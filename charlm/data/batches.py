"""Mini-batches as the chapter cuts them (section 5.2), with the true last target.

The text is cut into N rows (sequences) of K·M characters, K being the number of whole
batches; batch j is the window of columns [j·M, (j+1)·M). Each target is the character that
follows its input. The book fills the last target column of a window with the window's
*first* input character; here it is the real next character (the first character of the next
window), which is why one extra character is kept past the last whole batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from charlm.errors import CharLMError

if TYPE_CHECKING:  # only named in annotations
    from charlm.data.vocab import Corpus


def fitting_shape(n_chars: int, batch_size: int, num_steps: int) -> tuple[int, int] | None:
    """A batch shape (N, M) that a text of ``n_chars`` characters can fill, keeping M if it can."""
    usable = n_chars - 1
    if usable < 2:
        return None
    if usable // num_steps >= 1:
        return min(batch_size, usable // num_steps), num_steps
    return 1, usable


def fitting_shape_hint(n_chars: int, batch_size: int, num_steps: int) -> str:
    """The shape from ``fitting_shape`` as a sentence for error messages."""
    shape = fitting_shape(n_chars, batch_size, num_steps)
    if shape is None:
        return "The text needs at least 2 characters."
    return f"A shape that fits: batch_size={shape[0]}, num_steps={shape[1]}."


def batch_count(n_chars: int, batch_size: int, num_steps: int) -> int:
    """K: the whole N×M batches in a text of ``n_chars`` (one character more is needed as the last target)."""
    return max(0, (n_chars - 1) // (batch_size * num_steps))


def check_fits(n_chars: int, batch_size: int, num_steps: int, what: str = "The text") -> None:
    """Raise a helpful error unless ``n_chars`` can fill at least one N×M batch (plus one target)."""
    if batch_size < 1 or num_steps < 1:
        raise CharLMError(
            f"batch_size and num_steps must be at least 1 (got {batch_size} and {num_steps}).",
            key="batch_shape",
            batch_size=batch_size,
            num_steps=num_steps,
        )
    need = batch_size * num_steps + 1
    if n_chars < need:
        raise CharLMError(
            f"{what} has {n_chars:,} characters, but one batch of {batch_size}×{num_steps} needs "
            f"{need:,} ({need - n_chars:,} more). {fitting_shape_hint(n_chars, batch_size, num_steps)}",
            key="too_short_for_batch",
            what=what,
            n_chars=n_chars,
            batch_size=batch_size,
            num_steps=num_steps,
            need=need,
            more=need - n_chars,
            fit=fitting_shape(n_chars, batch_size, num_steps),
        )


def check_corpus(corpus: Corpus, batch_size: int, num_steps: int) -> None:
    """Fail early, with a fix, when the text cannot be cut into batches of N = ``batch_size`` rows of M =
    ``num_steps`` characters (and its held-out part, if any, into one sequence)."""
    check_fits(len(corpus.train_data), batch_size, num_steps, "The training part of the text")
    if corpus.val_fraction > 0 and len(corpus.val_data) < num_steps + 1:
        raise CharLMError(
            f"The validation part has {len(corpus.val_data):,} characters, fewer than one sequence of "
            f"num_steps={num_steps} (+1). Use a longer text, a larger val_fraction, smaller num_steps, "
            "or val_fraction=0 to skip validation.",
            key="val_too_short",
            n_chars=len(corpus.val_data),
            num_steps=num_steps,
        )


class Batches:
    """The (N, K·M) input and target grids of a text and the K windows over them."""

    def __init__(self, data: np.ndarray, batch_size: int, num_steps: int, what: str = "The text"):
        check_fits(len(data), batch_size, num_steps, what)
        self.batch_size = batch_size
        self.num_steps = num_steps
        chars_per_batch = batch_size * num_steps
        self.num_batches = batch_count(len(data), batch_size, num_steps)
        used = self.num_batches * chars_per_batch
        self.inputs = np.ascontiguousarray(data[:used].reshape(batch_size, -1))
        self.targets = np.ascontiguousarray(data[1 : used + 1].reshape(batch_size, -1))
        self.dropped = len(data) - used  # characters past the last whole batch (one is used as a target)

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.num_batches:
            raise IndexError(f"batch {index} out of range 0..{self.num_batches - 1}")
        cols = slice(index * self.num_steps, (index + 1) * self.num_steps)
        return self.inputs[:, cols], self.targets[:, cols]

    def __iter__(self):
        for i in range(self.num_batches):
            yield self[i]


def one_hot(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """One-hot vectors for integer codes: shape ``ids.shape + (vocab_size,)``, float32."""
    ids = np.asarray(ids)
    out = np.zeros((*ids.shape, vocab_size), dtype=np.float32)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out
