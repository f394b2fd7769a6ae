"""Continuing a run from a checkpoint: what must match, and what may change.

A checkpoint continues only on the same text, with the same architecture and batch shape (its
weights, Adam's moments and the carried state fit nothing else); how long and how hard it trains,
its dropout and its device may change (``config.RESUMABLE_FIELDS``). Adam's own state is saved and put
back by ``optimizer_state.py``.
"""

from __future__ import annotations

from charlm.data.vocab import Corpus
from charlm.errors import CharLMError
from charlm.network.model import CharRNN, ModelConfig
from charlm.training.checkpoint import Checkpoint, Progress
from charlm.training.config import ARCHITECTURE_FIELDS, TrainConfig
from charlm.training.history import read_history


def take_up(resume: Checkpoint, corpus: Corpus, config: TrainConfig, world: int = 1) -> tuple[CharRNN, Progress]:
    """The model and the progress to continue from, once the checkpoint is known to fit ``corpus`` and
    ``config`` on ``world`` processes: with the run's dropout, and with the whole loss history from the run's
    folder (the checkpoint carries a thinned curve)."""
    check_resumable(resume, corpus, config)
    check_same_ranks(resume, config, world)
    model, progress = resume.model, resume.progress
    if model.config.dropout != config.dropout:
        model = with_dropout(model, config.dropout)
    full = read_history(resume.path.parent, progress.step)
    if full is not None:
        progress.train_loss, progress.val_loss = full
    return model, progress


def check_resumable(resume: Checkpoint, corpus: Corpus, config: TrainConfig) -> None:
    """A checkpoint continues only on the same text, with the same architecture and batch shape."""
    if resume.vocab != corpus.vocab:
        raise CharLMError(
            "This checkpoint was trained on a text with a different vocabulary; resume it on the same text.",
            key="resume_vocab",
        )
    changed = [f for f in ARCHITECTURE_FIELDS if getattr(resume.train_config, f) != getattr(config, f)]
    if changed:
        raise CharLMError(
            f"Cannot resume with different {', '.join(changed)}; keep the checkpoint's settings.",
            key="resume_changed",
            fields=", ".join(changed),
        )
    if not resume.can_resume:
        raise CharLMError(
            "This checkpoint holds weights only (no optimizer state), so training cannot resume from it.",
            key="resume_weights_only",
        )


def check_same_ranks(resume: Checkpoint, config: TrainConfig, world: int) -> None:
    """A run on K processes draws K streams of dropout masks (``training/distributed.py``); it goes on exactly
    only on K processes again. Without dropout nothing is drawn, and any number of processes goes on exactly:
    the checkpoint holds every row's carried memory."""
    saved = resume.progress.ranks
    if saved != world and config.dropout > 0:
        raise CharLMError(
            f"This checkpoint was trained by {saved} process{'es' if saved > 1 else ''}, each drawing its own "
            f"dropout masks, and this run has {world}: with dropout={config.dropout:g} it would not go on as the "
            f"run would have. Resume it on {saved} process{'es' if saved > 1 else ''} "
            f"(torchrun --nproc_per_node={saved}), or with dropout 0.",
            key="resume_ranks",
            saved=saved,
            world=world,
            dropout=config.dropout,
        )


def with_dropout(model: CharRNN, dropout: float) -> CharRNN:
    """The same weights in a model with another dropout (a resumed run may change it)."""
    new = CharRNN(ModelConfig(**{**model.config.to_dict(), "dropout": dropout}))
    new.load_state_dict(model.state_dict())
    return new
