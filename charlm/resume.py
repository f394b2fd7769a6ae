"""Continuing a run from a checkpoint: what must match, and what may change.

A checkpoint continues only on the same text, with the same architecture and batch shape (its
weights, Adam's moments and the carried state fit nothing else); how long and how hard it trains,
its dropout and its device may change (``config.RESUMABLE_FIELDS``). Adam's state travels as named
tensors (no pickle) and is put back onto its weights' device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .config import ARCHITECTURE_FIELDS, TrainConfig
from .errors import CharLMError
from .model import CharRNN, ModelConfig
from .vocab import Corpus

if TYPE_CHECKING:
    from .checkpoint import Checkpoint


def check_resumable(resume: Checkpoint, corpus: Corpus, config: TrainConfig) -> None:
    """A checkpoint continues only on the same text, with the same architecture and batch shape."""
    if resume.vocab != corpus.vocab:
        raise CharLMError("This checkpoint was trained on a text with a different vocabulary; resume it on the "
                          "same text.", key="resume_vocab")
    changed = [f for f in ARCHITECTURE_FIELDS if getattr(resume.train_config, f) != getattr(config, f)]
    if changed:
        raise CharLMError(f"Cannot resume with different {', '.join(changed)}; keep the checkpoint's settings.",
                          key="resume_changed", fields=", ".join(changed))
    if not resume.can_resume:
        raise CharLMError("This checkpoint holds weights only (no optimizer state), so training cannot resume "
                          "from it.", key="resume_weights_only")


def with_dropout(model: CharRNN, dropout: float) -> CharRNN:
    """The same weights in a model with another dropout (a resumed run may change it)."""
    new = CharRNN(ModelConfig(**{**model.config.to_dict(), "dropout": dropout}))
    new.load_state_dict(model.state_dict())
    return new


def optimizer_tensors(model: CharRNN, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Adam's per-parameter moments and step counts as named tensors (no pickle needed)."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for p, st in optimizer.state.items():
        for key, value in st.items():
            if torch.is_tensor(value):
                out[f"optimizer.{names[id(p)]}.{key}"] = value.detach().float().cpu().contiguous()
    return out


def restore_optimizer(model: CharRNN, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Put a checkpoint's Adam state back, checking each tensor against the parameter it belongs to."""
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        name, _, slot = key[len("optimizer."):].rpartition(".")
        if name not in params:
            raise CharLMError(f"The checkpoint's optimizer state names an unknown parameter {name!r}.",
                              key="ckpt_optimizer", name=name)
        param = params[name]
        if slot != "step" and value.shape != param.shape:
            raise CharLMError(f"The checkpoint's optimizer state for {name} has the wrong shape.",
                              key="ckpt_optimizer", name=name)
        # Adam keeps its step count on the CPU unless told otherwise; its moments live with their weights
        optimizer.state[param][slot] = (value.clone().to(torch.float32) if slot == "step"
                                        else value.to(device=param.device, dtype=param.dtype, copy=True))
