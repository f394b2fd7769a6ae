"""How much memory a training needs, and how much this host can give one: checked before it starts.

A run that does not fit is refused with the shape that would, instead of being killed by the
operating system half-way (with everyone else's work on the same server). The disk its
checkpoints take is estimated here too, for the same reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from charlm.errors import CharLMError
from charlm.network.cells import CELLS
from charlm.network.model import parameter_count
from charlm.training.config import TrainConfig
from charlm.training.evaluate import WARM_UP, WHOLE_WINDOW

# Measured on a CPU (peak RSS of two training steps, torch 2.13; bench/bench_memory.py): saved activations
# come to about (2·blocks + 4) floats per unit, layer, step and sequence (LSTM 11.7, GRU 10, plain RNN 4.4
# measured), plus one layer's gates once (a single 1024-unit layer needed that much more); then a margin.
MARGIN = 1.3
FLOAT = 4


def estimate_training_bytes(config: TrainConfig, vocab_size: int) -> int:
    """Peak memory of one training step: weights, gradients and Adam's two moments, the activations
    kept for back-propagation, and the inputs and scores of one batch."""
    fixed, per_sequence = _terms(config, vocab_size)
    return fixed + config.batch_size * per_sequence


# Scoring held-out text keeps no gradients: per position of a window, a layer's outputs and gates and the
# scores (measured 3.3 floats per unit for the LSTM, 4.7 for the GRU, 4 for the plain RNN: bench/bench_memory.py).
SCORING_FLOATS_PER_UNIT = 5


def estimate_scoring_bytes(config: TrainConfig, vocab_size: int, rows: int) -> int:
    """Peak memory of scoring a held-out text in ``rows`` rows (``evaluate.score_held_out``): the weights, and
    the windows it reads at once (at least ``WARM_UP`` characters long: each row's warm-up), with a margin and
    what torch allocates whatever the size."""
    params = parameter_count(config.model_config(vocab_size))
    window = max(config.num_steps, WHOLE_WINDOW, WARM_UP)
    per_position = SCORING_FLOATS_PER_UNIT * config.hidden_size + 3 * vocab_size
    return int(MARGIN * FLOAT * (params + rows * window * per_position)) + (64 << 20)


def scoring_rows_that_fit(config: TrainConfig, vocab_size: int, budget_bytes: int) -> int:
    """The most rows, up to the run's N, that scoring can use within ``budget_bytes``; refused (``eval_memory``)
    when not even one fits. Fewer rows give the same figure (each row is warmed up as one stream would be)."""
    rows = config.batch_size
    while rows > 1 and estimate_scoring_bytes(config, vocab_size, rows) > budget_bytes:
        rows //= 2
    need = estimate_scoring_bytes(config, vocab_size, rows)
    if need > budget_bytes:
        raise CharLMError(
            f"Scoring this model needs about {need / 2**30:.1f} GB of memory even in one row; this process may "
            f"use {budget_bytes / 2**30:.1f} GB. Score it on a machine with more memory.",
            key="eval_memory",
            need_gb=need / 2**30,
            budget_gb=budget_bytes / 2**30,
        )
    return rows


def checkpoint_bytes(config: TrainConfig, vocab_size: int) -> int:
    """The size of one checkpoint file: the weights and Adam's two moments in float32, the memory carried
    to the next batch, and a description (vocabulary, settings, a thinned loss curve) under 256 KB."""
    params = parameter_count(config.model_config(vocab_size))
    carry = (2 if CELLS[config.cell].has_cell_state else 1) * config.num_layers * config.batch_size * config.hidden_size
    return FLOAT * (3 * params + carry) + (256 << 10)


def run_disk_bytes(config: TrainConfig, vocab_size: int) -> int:
    """The most disk a run keeps at once: its ``keep_checkpoints`` latest, the best one, one being written,
    and its loss log (about 25 bytes a step: 4 MB is over two hours at 20 steps a second). Unbounded
    (0) when it keeps every checkpoint."""
    if not config.keep_checkpoints:
        return 0
    return (config.keep_checkpoints + 2) * checkpoint_bytes(config, vocab_size) + (4 << 20)


def _terms(config: TrainConfig, vocab_size: int) -> tuple[int, int]:
    """(bytes whatever the batch, bytes per sequence in the batch)."""
    params = parameter_count(config.model_config(vocab_size))
    blocks, H = CELLS[config.cell].blocks, config.hidden_size
    per_position = config.num_layers * H * (2 * blocks + 4) + blocks * H + 4 * vocab_size
    return int(MARGIN * FLOAT * 4 * params), int(MARGIN * FLOAT * config.num_steps * per_position)


def host_memory_bytes(cgroup_root: Path = Path("/sys/fs/cgroup"), own: Path = Path("/proc/self/cgroup")) -> int:
    """The memory this process may use: the tightest limit of its cgroup and the cgroups above it (a
    container, a Space, a teacher's ``systemd-run -p MemoryMax=``), else the machine's."""
    limits = [limit for limit in _cgroup_limits(cgroup_root, own) if limit < 1 << 60]  # "max": no limit
    if limits:
        return min(limits)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) if hasattr(os, "sysconf") else 8 << 30


def _cgroup_limits(root: Path, own: Path) -> list[int]:
    """The memory limits on the way from this process's cgroup up to the root (cgroup v2 and v1)."""
    try:
        lines = own.read_text().splitlines()
    except OSError:
        lines = []
    places = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            places.append((root, path, "memory.max"))
        elif "memory" in controllers.split(","):
            places.append((root / "memory", path, "memory.limit_in_bytes"))
    places = places or [(root, "/", "memory.max"), (root / "memory", "/", "memory.limit_in_bytes")]
    limits = []
    for base, path, name in places:
        folder = base / path.lstrip("/")
        for level in (folder, *folder.parents):
            try:
                text = (level / name).read_text().strip()
            except OSError:
                text = ""
            if text.isdigit():
                limits.append(int(text))
            if level == base:
                break
    return limits


def device_memory_bytes(device: str) -> int:
    """The memory a training on ``device`` ("auto", "cpu", "cuda", "mps") may use: a CUDA GPU's own, else
    this process's (``host_memory_bytes``; an Apple GPU shares it)."""
    import torch

    from charlm.training.device import resolve_device

    where = resolve_device(device)
    if where.type == "cuda":
        return torch.cuda.get_device_properties(where.index or 0).total_memory
    return host_memory_bytes()


def check_training_memory(config: TrainConfig, vocab_size: int, budget_bytes: int, hint: str = "") -> None:
    """Refuse, with a shape that fits, a training that would need more than ``budget_bytes`` (``hint``: what
    else the caller offers, said after it)."""
    fixed, per_sequence = _terms(config, vocab_size)
    need = fixed + config.batch_size * per_sequence
    if need <= budget_bytes:
        return
    fits = max(0, (budget_bytes - fixed) // per_sequence)  # the largest N that fits, the rest unchanged
    fits_hint = (
        f" With N={fits} sequences per batch it fits."
        if fits
        else " Even one sequence per batch does not fit: use fewer layers, fewer hidden units or a smaller M."
    )
    raise CharLMError(
        f"This training would need about {need / 2**30:.1f} GB of memory; a training on this server may use "
        f"{budget_bytes / 2**30:.1f} GB.{fits_hint}{hint}",
        key="memory_budget",
        need_gb=need / 2**30,
        budget_gb=budget_bytes / 2**30,
        fits=fits or 0,
    )
