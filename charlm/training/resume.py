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
from charlm.training.checkpoint import Checkpoint
from charlm.training.config import ARCHITECTURE_FIELDS, TrainConfig


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


def with_dropout(model: CharRNN, dropout: float) -> CharRNN:
    """The same weights in a model with another dropout (a resumed run may change it)."""
    new = CharRNN(ModelConfig(**{**model.config.to_dict(), "dropout": dropout}))
    new.load_state_dict(model.state_dict())
    return new
