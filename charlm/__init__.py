"""charlm: a character-level recurrent language model, small enough to read and to teach with."""

from .batches import Batches, one_hot
from .checkpoint import Checkpoint, Progress, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from .config import PRESETS, TrainConfig, preset
from .errors import CharLMError
from .model import CharRNN, ModelConfig
from .sample import Sampler, reference_generate
from .train import CheckpointEvent, EvalEvent, SampleEvent, StepEvent, TrainResult, evaluate, train
from .vocab import Corpus, Vocab, load_text

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
    "evaluate",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_text",
    "one_hot",
    "preset",
    "reference_generate",
    "save_checkpoint",
    "train",
]
