"""Checkpoints: safetensors weights plus a JSON description (chapter section 5.11).

A checkpoint named ``i{step}_l{hidden}`` is two files:

* ``i{step}_l{hidden}.safetensors``: the weights and, for resuming, the optimizer moments, the
  recurrent state carried into the next batch and the random-number state. The JSON description
  is embedded in its header too, so the one file is enough to upload or share.
* ``i{step}_l{hidden}.json``: the same description, readable by people: vocabulary, model and
  training settings, step, epoch, the loss curve (thinned: the whole history is stored once per
  run, in ``losses.csv``; see ``history.py``), and the weights' sha256.

Nothing is ever unpickled: safetensors holds only raw tensors, so a hostile file cannot run
code. Both files are written to a temporary name, flushed to disk and renamed; the JSON goes
last and marks the checkpoint complete, so a crash mid-save leaves the previous one intact.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from charlm.data.vocab import Vocab
from charlm.errors import CharLMError
from charlm.files import atomic_write
from charlm.network.model import CharRNN, ModelConfig, State, parameter_shapes
from charlm.training.config import TrainConfig
from charlm.training.history import best_validation_step, thin
from charlm.training.memory import host_memory_bytes
from charlm.training.optimizer_state import optimizer_tensors

FORMAT = "charlm-checkpoint"
FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
MAX_JSON_BYTES = 64 * 1024 * 1024
_NAME = re.compile(r"^i(\d+)_l(\d+)$")


def _step_value_count(value: object) -> tuple[int, float, int] | None:
    """A (step, number, count) record (the final held-out figure, the schedule's anchor), or None (absent, as
    in older checkpoints)."""
    if value is None:
        return None
    step, loss, chars = value  # a malformed record raises TypeError or ValueError: reported as such
    return int(step), float(loss), int(chars)


@dataclass
class Progress:
    """Where training stands: enough to resume exactly where it stopped."""

    step: int = 0
    epoch: int = 0  # the epoch in progress (0-based)
    batch: int = 0  # the next batch of that epoch
    elapsed: float = 0.0  # seconds of training so far
    train_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    val_loss: list[tuple[int, float]] = field(default_factory=list)  # the periodic subset: the curve
    held_out: tuple[int, float, int] | None = None  # (step, loss, characters): every held-out character, at the end
    total_steps: int = 0  # the length the learning-rate schedule was set for (0: not recorded)
    lr_anchor: tuple[int, float, int] | None = None  # where a changed length re-anchored it (training/schedule.py)
    ranks: int = 1  # processes that trained it, each with its own dropout masks (training/distributed.py)

    @classmethod
    def from_dict(cls, data: dict) -> Progress:
        try:
            return cls(
                step=int(data["step"]),
                epoch=int(data["epoch"]),
                batch=int(data["batch"]),
                elapsed=float(data.get("elapsed", 0.0)),
                train_loss=[(int(s), float(v)) for s, v in data.get("train_loss", [])],
                val_loss=[(int(s), float(v)) for s, v in data.get("val_loss", [])],
                held_out=_step_value_count(data.get("held_out")),
                total_steps=int(data.get("total_steps", 0)),
                lr_anchor=_step_value_count(data.get("lr_anchor")),
                ranks=max(1, int(data.get("ranks", 1))),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CharLMError(
                f"The checkpoint's progress record is malformed ({err}).",
                key="ckpt_malformed",
                name="progress",
                detail=str(err),
            ) from None


@dataclass
class Checkpoint:
    path: Path
    model: CharRNN
    vocab: Vocab
    train_config: TrainConfig
    progress: Progress
    corpus_name: str = ""
    optimizer_state: dict[str, torch.Tensor] = field(default_factory=dict)
    carry_state: State | None = None  # the memory carried into the next batch, every row's
    rng_state: torch.Tensor | None = None  # the dropout masks' generator; one row per process when several trained

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @property
    def can_resume(self) -> bool:
        return bool(self.optimizer_state)


def checkpoint_name(step: int, hidden_size: int) -> str:
    return f"i{step}_l{hidden_size}"


def save_checkpoint(
    directory: str | Path,
    model: CharRNN,
    vocab: Vocab,
    train_config: TrainConfig,
    progress: Progress,
    optimizer: torch.optim.Optimizer | None = None,
    carry_state: State | None = None,
    rng_state: torch.Tensor | None = None,
    corpus_name: str = "",
    name: str | None = None,
) -> Path:
    """Write a checkpoint atomically and return the path of its ``.safetensors`` file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = name or checkpoint_name(progress.step, model.config.hidden_size)
    # always from the CPU: a checkpoint trained on a GPU loads anywhere
    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    if optimizer is not None:
        tensors.update(optimizer_tensors(model, optimizer))
    if carry_state is not None:
        parts = carry_state if isinstance(carry_state, tuple) else (carry_state,)
        for key, t in zip(("h", "c"), parts):
            tensors[f"carry.{key}"] = t.detach().float().cpu().contiguous()
    if rng_state is not None:
        tensors["rng.torch"] = rng_state.cpu().clone()
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "vocab": list(vocab.chars),
        "model_config": model.config.to_dict(),
        "train_config": train_config.to_dict(),
        "progress": dict(asdict(progress), train_loss=thin(progress.train_loss), val_loss=thin(progress.val_loss)),
        "corpus_name": corpus_name,
    }
    blob = save_safetensors_bytes(tensors, metadata={"charlm": json.dumps(meta, ensure_ascii=False)})
    weights_path = directory / f"{name}.safetensors"
    atomic_write(weights_path, blob)
    sidecar = dict(meta, weights_file=weights_path.name, weights_sha256=hashlib.sha256(blob).hexdigest())
    atomic_write(directory / f"{name}.json", json.dumps(sidecar, ensure_ascii=False, indent=1).encode("utf-8"))
    return weights_path


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise CharLMError(
            f"Cannot read {what} {path.name}: {err.strerror}.", key="cannot_read", name=path.name, detail=err.strerror
        ) from None
    if size > limit:
        raise CharLMError(
            f"{path.name} is {size / 1e6:.0f} MB, larger than any charlm {what} ({limit / 1e6:.0f} MB).",
            key="ckpt_too_large",
            name=path.name,
            mb=size / 1e6,
            limit_mb=limit / 1e6,
        )
    return path.read_bytes()


def _refuse_foreign(blob: bytes, filename: str) -> None:
    if blob[:1] == b"\x80" or blob[:2] == b"PK":
        raise CharLMError(
            f"{filename} is a pickled PyTorch file (.pt/.pth). charlm never unpickles files, because "
            "unpickling can run arbitrary code; use a charlm checkpoint (.safetensors).",
            key="ckpt_pickle",
            name=filename,
        )


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, its JSON, its name without suffix, or a folder (its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise CharLMError(f"No checkpoint in folder {path}.", key="no_checkpoint", name=str(path))
        return found
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    elif path.suffix != ".safetensors" and not path.is_file():
        path = path.with_name(path.name + ".safetensors")
    if not path.is_file():
        raise CharLMError(f"No such checkpoint: {path}", key="no_checkpoint", name=str(path))
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint onto the CPU, checking everything an untrusted file could get wrong: its size, its
    checksum, that it is a safetensors file with charlm's description (nothing is ever unpickled), that the
    description is whole, and that the weights have the shapes it promises and finite values."""
    path = resolve_checkpoint(path)
    check_loading_memory(path)
    blob = _read_limited(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    _check_sidecar(path, blob)
    tensors, meta = _read_safetensors(path, blob)
    vocab, model_config, train_config, progress = _parse_description(path, meta)
    weights = _checked_weights(path, tensors, model_config, vocab)
    model = CharRNN(model_config)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.eval()
    carry = None
    if "carry.h" in tensors:
        carry = (tensors["carry.h"], tensors["carry.c"]) if "carry.c" in tensors else tensors["carry.h"]
    return Checkpoint(
        path=path,
        model=model,
        vocab=vocab,
        train_config=train_config,
        progress=progress,
        corpus_name=str(meta.get("corpus_name", "")),
        optimizer_state={k: v for k, v in tensors.items() if k.startswith("optimizer.")},
        carry_state=carry,
        rng_state=tensors.get("rng.torch"),
    )


LOADING_COPIES = 3  # a file is held as its bytes, their tensors and the model's own float32 weights at once


def check_loading_memory(path: Path) -> None:
    """Refuse, before reading it, a checkpoint whose loading would need more than the memory this process may
    use (its cgroup's limit or the machine's): better a sentence than the kernel killing the process and
    everything it serves."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # said by the read that follows, with its reason
    limit = host_memory_bytes()
    need = LOADING_COPIES * size
    if need > limit:
        raise CharLMError(
            f"Loading {path.name} would need about {need / 2**30:.1f} GB of memory; this process may use "
            f"{limit / 2**30:.1f} GB. Load it on a larger machine.",
            key="ckpt_memory",
            name=path.name,
            need_gb=need / 2**30,
            limit_gb=limit / 2**30,
        )


def _check_sidecar(path: Path, blob: bytes) -> None:
    """The weights' checksum against the description beside them, when there is one to read."""
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            side = json.loads(_read_limited(sidecar, MAX_JSON_BYTES, "checkpoint description"))
            expected = side.get("weights_sha256") if isinstance(side, dict) else None
        except (ValueError, UnicodeDecodeError):
            expected = None
        if expected and hashlib.sha256(blob).hexdigest() != expected:
            raise CharLMError(
                f"{path.name} does not match {sidecar.name} (checksum differs): the file is damaged or "
                "was replaced. Use an earlier checkpoint.",
                key="ckpt_checksum",
                name=path.name,
            )


def _read_safetensors(path: Path, blob: bytes) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and charlm's description of a safetensors file, refused with a reason when either is not
    what charlm writes."""
    try:
        tensors = load_safetensors_bytes(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + header_len])
        meta = json.loads(header.get("__metadata__", {}).get("charlm", "null"))
    except (
        SafetensorError,
        ValueError,
        UnicodeDecodeError,
        OverflowError,
        AttributeError,
        TypeError,
        RecursionError,
    ) as err:
        _refuse_foreign(blob, path.name)
        raise CharLMError(
            f"{path.name} is not a valid checkpoint (it is damaged or not a safetensors file: {err}).",
            key="ckpt_invalid",
            name=path.name,
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CharLMError(
            f"{path.name} is a safetensors file but not a charlm checkpoint (no charlm description).",
            key="ckpt_foreign",
            name=path.name,
        )
    if meta.get("version") != FORMAT_VERSION:
        version = meta.get("version")
        raise CharLMError(
            f"{path.name} uses checkpoint format version {version}; this charlm reads {FORMAT_VERSION}.",
            key="ckpt_version",
            name=path.name,
            version=str(version),
            supported=FORMAT_VERSION,
        )
    return tensors, meta


def _parse_description(path: Path, meta: dict) -> tuple[Vocab, ModelConfig, TrainConfig, Progress]:
    """The vocabulary, the model's shape, the run's settings and where it stood, from the description."""
    try:
        vocab = Vocab(tuple(meta["vocab"]))
        model_config = ModelConfig(**meta["model_config"])
        train_config = TrainConfig.from_dict(meta["train_config"])
        progress = Progress.from_dict(meta["progress"])
    except (KeyError, TypeError, AttributeError, RecursionError) as err:
        raise CharLMError(
            f"{path.name} has a malformed description ({err}).", key="ckpt_malformed", name=path.name, detail=str(err)
        ) from None
    return vocab, model_config, train_config, progress


def _checked_weights(path: Path, tensors: dict[str, torch.Tensor], model_config: ModelConfig, vocab: Vocab) -> dict:
    """The model's weights, checked against the shapes the description promises (before the model is
    allocated) and for non-finite or non-float values."""
    if model_config.vocab_size != len(vocab):
        raise CharLMError(
            f"{path.name}: the model expects {model_config.vocab_size} characters but the vocabulary has {len(vocab)}.",
            key="ckpt_mismatch",
            name=path.name,
            detail=f"{model_config.vocab_size} ≠ {len(vocab)}",
        )
    expected = parameter_shapes(model_config)  # checked before the model is allocated
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if tuple(weights[k].shape) != expected[k])
    if missing or extra or wrong:
        detail = "; ".join(
            x
            for x in (
                f"missing {', '.join(missing[:4])}" if missing else "",
                f"unexpected {', '.join(extra[:4])}" if extra else "",
                f"wrong shape for {', '.join(wrong[:4])}" if wrong else "",
            )
            if x
        )
        raise CharLMError(
            f"{path.name}: its weights do not match its description ({detail}).",
            key="ckpt_mismatch",
            name=path.name,
            detail=detail,
        )
    for k, v in weights.items():
        if not v.is_floating_point() or not torch.isfinite(v).all():
            raise CharLMError(
                f"{path.name}: tensor {k} holds non-finite or non-float values.",
                key="ckpt_nonfinite",
                name=path.name,
                tensor=k,
            )
    return weights


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints in a folder (both files present), oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for sidecar in directory.glob("*.json"):
        match = _NAME.match(sidecar.stem)
        weights = sidecar.with_suffix(".safetensors")
        if match and weights.is_file():
            found.append((int(match.group(1)), weights.stat().st_mtime, weights))
    return [p for _, _, p in sorted(found)]


def prune_checkpoints(directory: str | Path, keep_last: int, keep: Path | None = None) -> list[Path]:
    """Delete all but the latest ``keep_last`` checkpoints (and ``keep``, the best one); return what went.
    The JSON goes first: without it a checkpoint no longer counts as complete, even if the rest stays."""
    found = list_checkpoints(directory)
    doomed = [p for p in found[:-keep_last] if keep is None or p != keep] if keep_last else []
    for weights in doomed:
        weights.with_suffix(".json").unlink(missing_ok=True)
        weights.unlink(missing_ok=True)
    return doomed


def latest_checkpoint(directory: str | Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def best_checkpoint(directory: Path) -> Path | None:
    """The run's checkpoint at its lowest held-out loss (training saves one whenever that improves),
    or None when it has none: then its latest is the one to use."""
    step = best_validation_step(directory)
    found = [p for p in list_checkpoints(directory) if step is not None and p.stem.startswith(f"i{step}_")]
    return found[-1] if found else None
