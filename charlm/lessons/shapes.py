"""The tensor shapes of the chapter's network for given settings (§5.3-5.6): from the inputs (N, M) to the
logits (N·M, C) and the one number the loss is.

A student who changes N, M or the hidden size should see what each one changes. ``io_patterns`` places
the chapter's four input/output patterns (one/many to one/many) in the app, with the same settings'
shapes. These are the shapes the model really has: ``tests/test_shapes.py`` runs the model and compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from charlm.lessons.recall import ALPHABET, RecallSettings
from charlm.network.cells import CELLS
from charlm.training.config import TrainConfig


@dataclass(frozen=True)
class Stage:
    key: str  # "inputs", "one_hot" or "embedded", "layer", "reshaped", "logits", "targets", "loss", "state_h/c"
    shape: tuple[int, ...]
    layer: int | None = None  # for "layer": which one (0 is the lowest)


def model_shapes(config: TrainConfig, vocab_size: int) -> list[Stage]:
    """Each stage of one training step, in order, with its shape, then the memory carried to the next batch."""
    model = config.model_config(vocab_size)
    N, M, H, C = config.batch_size, config.num_steps, config.hidden_size, vocab_size
    stages = [Stage("inputs", (N, M))]
    stages.append(
        Stage("embedded", (N, M, model.embedding_dim)) if model.embedding_dim else Stage("one_hot", (N, M, C))
    )
    stages += [Stage("layer", (N, M, H), layer) for layer in range(config.num_layers)]
    stages += [
        Stage("reshaped", (N * M, H)),
        Stage("logits", (N * M, C)),
        Stage("targets", (N * M,)),
        Stage("loss", ()),
    ]
    stages.append(Stage("state_h", (config.num_layers, N, H)))
    if CELLS[config.cell].has_cell_state:  # the LSTM carries its cell c too
        stages.append(Stage("state_c", (config.num_layers, N, H)))
    return stages


# ------------------------------------------------------------------ the chapter's four input/output patterns
@dataclass(frozen=True)
class Pattern:
    """One of the chapter's four ways a recurrent network maps inputs to outputs, as the app uses it."""

    key: str  # "one_to_one", "one_to_many", "many_to_one", "many_to_many"
    inputs: tuple[int, ...]  # the codes going in
    outputs: tuple[int, ...]  # the scores coming out
    steps: int  # how many times the cell runs


RECALL_DEFAULTS = RecallSettings()


def io_patterns(
    config: TrainConfig,
    vocab_size: int,
    generate_length: int = 500,
    recall_gap: int = 40,
    recall: RecallSettings = RECALL_DEFAULTS,
) -> list[Pattern]:
    """Where the app does each of the four, with the shapes the current settings give:

    * one to one: one character in, one set of scores out (the toy's first step, h → e; the Generate tab's
      distribution after a one-character prime);
    * one to many: a one-character prime in, ``generate_length`` characters out, each fed back in;
    * many to one: the recall experiment reads a key, ``recall_gap`` letters and "=", and answers once;
    * many to many: training, every character of an N×M batch predicting the next one.
    """
    N, M, C = config.batch_size, config.num_steps, vocab_size
    return [
        Pattern("one_to_one", (1, 1), (1, C), 1),
        Pattern("one_to_many", (1, 1), (generate_length, C), generate_length),
        Pattern("many_to_one", (recall.batch_size, recall_gap + 2), (recall.batch_size, len(ALPHABET)), recall_gap + 2),
        Pattern("many_to_many", (N, M), (N * M, C), M),
    ]
