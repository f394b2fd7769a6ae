"""The held-out loss (chapter section 5.10): the same cross-entropy as training, over the end of the
text the model never trains on, cut into the same windows with the state carried along.

Training reports it every ``eval_every`` steps; the CLI's ``evaluate`` command and the benchmarks
call it on a finished model. It runs on the model's device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .batches import Batches
from .config import TrainConfig
from .device import mixed_precision
from .model import CharRNN


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per character, in float32 whatever the scores' precision."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def validation_batches(data: np.ndarray, config: TrainConfig) -> Batches:
    """The held-out text cut like the training text; fewer rows if it is short."""
    rows = min(config.batch_size, max(1, (len(data) - 1) // config.num_steps))
    return Batches(data, rows, config.num_steps, what="The validation part")


@torch.inference_mode()
def evaluate(model: CharRNN, batches: Batches, max_batches: int = 0, bf16: bool = False) -> float:
    """Mean cross-entropy per character (nats) over the windows, state carried as in training, on the
    model's device. The losses stay there until the end: one transfer, not one per batch."""
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    losses, sizes, state = [], [], None
    n = len(batches) if not max_batches else min(max_batches, len(batches))
    try:
        for i in range(n):
            x, y = batches[i]
            x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            with mixed_precision(device, bf16):
                logits, state = model(x, state)
            losses.append(cross_entropy(logits, y))  # left on the device: one transfer at the end, not one per batch
            sizes.append(y.numel())
    finally:
        model.train(was_training)
    means = torch.stack(losses).cpu().tolist()
    return sum(mean * size for mean, size in zip(means, sizes)) / sum(sizes)
