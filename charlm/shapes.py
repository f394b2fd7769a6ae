"""The tensor shapes of the chapter's network for given settings (§5.3-5.6): from the inputs (N, M) to the
logits (N·M, C) and the one number the loss is.

A student who changes N, M or the hidden size should see what each one changes. These are the shapes the
model really has: ``tests/test_shapes.py`` runs the model and compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cells import CELLS
from .config import TrainConfig


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
    stages.append(Stage("embedded", (N, M, model.embedding_dim)) if model.embedding_dim
                  else Stage("one_hot", (N, M, C)))
    stages += [Stage("layer", (N, M, H), layer) for layer in range(config.num_layers)]
    stages += [Stage("reshaped", (N * M, H)), Stage("logits", (N * M, C)), Stage("targets", (N * M,)),
               Stage("loss", ())]
    stages.append(Stage("state_h", (config.num_layers, N, H)))
    if CELLS[config.cell].has_cell_state:  # the LSTM carries its cell c too
        stages.append(Stage("state_c", (config.num_layers, N, H)))
    return stages
