"""Adam's state in a checkpoint (section 5.9): its per-parameter moments and step counts saved as named
tensors (no pickle), and put back onto each weight's device, so that a resumed run continues exactly.

It sits below both ``checkpoint.py`` (which saves it) and the training loop (which restores it)."""

from __future__ import annotations

import torch

from charlm.errors import CharLMError
from charlm.network.model import CharRNN


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
        name, _, slot = key[len("optimizer.") :].rpartition(".")
        if name not in params:
            raise CharLMError(
                f"The checkpoint's optimizer state names an unknown parameter {name!r}.",
                key="ckpt_optimizer",
                name=name,
            )
        param = params[name]
        if slot != "step" and value.shape != param.shape:
            raise CharLMError(
                f"The checkpoint's optimizer state for {name} has the wrong shape.", key="ckpt_optimizer", name=name
            )
        # Adam keeps its step count on the CPU unless told otherwise; its moments live with their weights
        optimizer.state[param][slot] = (
            value.clone().to(torch.float32)
            if slot == "step"
            else value.to(device=param.device, dtype=param.dtype, copy=True)
        )
