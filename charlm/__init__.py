"""charlm: a character-level recurrent language model, small enough to read and to teach with.

The package follows the chapter, one wing per part:

* ``data/``: the text, its vocabulary, the N×M mini-batches (§5.1-5.3);
* ``network/``: the cell types and the model (§5.4-5.5);
* ``sampling/``: writing text with a trained model (§5.12), its fast path in ``sampling/fast/``;
* ``training/``: the loop, its settings, evaluation and checkpoints (§5.6-5.11);
* ``lessons/``: the chapter's experiments and views (§1-4, and one step at a time);
* ``serving/``: jobs, the waiting line, threads and chunks for a class on one server.

A wing imports only from the wings listed above it (training samples as it goes, so sampling sits below it);
``errors.py`` and ``files.py`` are used by all, and ``cli.py`` sits on top. docs/ARCHITECTURE.md gives the files
to read first, in order.
"""

from charlm.data.batches import Batches, one_hot
from charlm.data.vocab import Corpus, Vocab, load_text
from charlm.errors import CharLMError
from charlm.network.model import CharRNN, ModelConfig
from charlm.sampling.reference import reference_generate
from charlm.sampling.sampler import Sampler
from charlm.training.checkpoint import (
    Checkpoint,
    Progress,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from charlm.training.config import PRESETS, TrainConfig, preset
from charlm.training.evaluate import score_held_out
from charlm.training.loop import CheckpointEvent, EvalEvent, SampleEvent, StepEvent, TrainResult, train

__all__ = [
    "PRESETS",
    "Batches",
    "CharLMError",
    "CharRNN",
    "Checkpoint",
    "CheckpointEvent",
    "Corpus",
    "EvalEvent",
    "ModelConfig",
    "Progress",
    "SampleEvent",
    "Sampler",
    "StepEvent",
    "TrainConfig",
    "TrainResult",
    "Vocab",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_text",
    "one_hot",
    "preset",
    "reference_generate",
    "save_checkpoint",
    "score_held_out",
    "train",
]
