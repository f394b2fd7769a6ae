"""Where a training runs: the CPU, an NVIDIA GPU (CUDA) or an Apple GPU (MPS), chosen in one place.

``auto`` takes the fastest there is. The model's first weights are always drawn on the CPU, so a
seed gives the same starting point on every device; checkpoints are always saved from the CPU,
so one trained on a GPU loads anywhere. Sampling one character at a time stays on the CPU (the
NumPy sampler in ``sampling/sampler.py``): a batch of one is too small for a GPU to win back its launch costs.
"""

from __future__ import annotations

import contextlib

import torch

from charlm.errors import CharLMError

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA if present, else Apple's MPS, else the CPU; an explicit device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CharLMError(
            "device=cuda, but this machine has no CUDA GPU that PyTorch can use (use auto or cpu).",
            key="no_device",
            device=name,
        )
    if name == "mps" and not _mps_available():
        raise CharLMError(
            "device=mps, but this machine has no Apple GPU that PyTorch can use (use auto or cpu).",
            key="no_device",
            device=name,
        )
    if name not in DEVICES:
        raise CharLMError(f"device must be one of {', '.join(DEVICES)}; got {name!r}.", key="no_device", device=name)
    return torch.device(name)


def mixed_precision(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast where asked for and supported (the CPU, and GPUs with bf16 kernels), else nothing."""
    if not bf16:
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return contextlib.nullcontext()  # an older GPU: fp32, still correct
    if device.type == "mps":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def generator_for(device: torch.device, seed: int) -> torch.Generator:
    """A run's own random numbers on its device (dropout masks are drawn where the activations are)."""
    return torch.Generator(device=device).manual_seed(seed)


def restore_generator(generator: torch.Generator, state: torch.Tensor | None, seed: int, step: int) -> None:
    """Continue a saved random state; one saved on another kind of device cannot be (the states differ in
    kind), so the run goes on from a state derived from its seed and step: reproducible, though not the
    numbers an unbroken run on one device would have drawn."""
    if state is None:
        return
    try:
        generator.set_state(state.clone())  # a copy of its own: torch 2.13 crashes on a view into a larger tensor
    except (RuntimeError, ValueError):
        generator.manual_seed(seed * 1_000_003 + step)


def to_device(state, device: torch.device):
    """A recurrent state (a tensor, or LSTM's pair) on ``device``; None stays None."""
    if state is None:
        return None
    return tuple(t.to(device) for t in state) if isinstance(state, tuple) else state.to(device)
