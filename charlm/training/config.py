"""Training configuration: one dataclass shared by the CLI, the web app and checkpoints,
plus named presets.

``textbook`` is the chapter's own setting (section 5.9). The CPU presets trade size for speed
so that a class sees the loss fall and words appear within a minute on a laptop.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from charlm.errors import CharLMError
from charlm.network.cells import CELLS, cell_names
from charlm.network.model import ModelConfig
from charlm.training.device import DEVICES

COLD_START_SHARE = 0.02  # chosen by measurement: bench/bench_cold_start.py (README, "Cold starts")


@dataclass(frozen=True)
class TrainConfig:
    # data
    val_fraction: float = field(default=0.1, metadata={"help": "share of the text (its end) held out for validation"})
    batch_size: int = field(default=100, metadata={"help": "N: sequences per batch"})
    num_steps: int = field(default=100, metadata={"help": "M: characters per sequence (steps unrolled)"})
    # model
    cell: str = field(default="lstm", metadata={"help": ", ".join(cell_names()) + " (rnn: a plain tanh RNN)"})
    num_layers: int = field(default=2, metadata={"help": "stacked recurrent layers"})
    hidden_size: int = field(default=512, metadata={"help": "units per layer (the chapter's lstm_size)"})
    dropout: float = field(
        default=0.5, metadata={"help": "dropout between layers and before the output (1 - keep_prob)"}
    )
    # optimisation
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    lr_schedule: str = field(default="constant", metadata={"help": "constant, or cosine (decays to min_lr_ratio x lr)"})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "final lr / lr for the cosine schedule"})
    warmup_steps: int = field(default=0, metadata={"help": "steps of linear lr warm-up"})
    grad_clip: float = field(default=5.0, metadata={"help": "clip gradients to this global norm (0: off)"})
    cold_start_share: float = field(
        default=COLD_START_SHARE,
        metadata={
            "help": "share of rows whose carried memory is cleared at each batch, so that the model also learns to "
            "start from a blank one, as sampling and scoring do (0: only at the start of each epoch)"
        },
    )
    epochs: int = field(default=5, metadata={"help": "passes over the training text"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0: no limit)"})
    max_seconds: float = field(default=0.0, metadata={"help": "stop after this much training time (0: no limit)"})
    patience: int = field(
        default=0,
        metadata={"help": "stop early once this many validations in a row have not beaten the best (0: never)"},
    )
    bf16: bool = field(
        default=False,
        metadata={"help": "bfloat16 mixed precision on the CPU or a GPU that has it (faster, slightly less precise)"},
    )
    device: str = field(
        default="auto", metadata={"help": "auto (a CUDA GPU, else an Apple GPU, else the CPU), cpu, cuda or mps"}
    )
    seed: int = field(default=0, metadata={"help": "random seed (weights, dropout, samples)"})
    num_threads: int = field(default=0, metadata={"help": "torch CPU threads, set by the CLI (0: the free cores)"})
    # reporting
    eval_every: int = field(default=100, metadata={"help": "validation loss every N steps (0: only at the end)"})
    eval_batches: int = field(
        default=20,
        metadata={"help": "windows of num_steps per held-out row at each validation, spread along the rows (0: all)"},
    )
    final_score_gflop: float = field(
        default=0.0,
        metadata={
            "help": "the most the run's final held-out figure may cost, in billions of operations: past it, windows "
            "spread along the part instead of every character (0: every character, whatever it costs)"
        },
    )
    save_every: int = field(default=100, metadata={"help": "checkpoint every N steps (0: only at the end)"})
    keep_checkpoints: int = field(
        default=0,
        metadata={
            "help": "keep the latest N checkpoints and the best by validation loss, delete older ones (0: keep all)"
        },
    )
    sample_every: int = field(default=0, metadata={"help": "generate a short sample every N steps (0: never)"})
    sample_length: int = field(default=200, metadata={"help": "characters in those samples"})

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The shape of the model these settings train, for a text of ``vocab_size`` characters."""
        return ModelConfig.for_vocab(
            vocab_size, cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers, dropout=self.dropout
        )

    def __post_init__(self) -> None:
        problems = settings_problems(self)
        if problems:
            raise CharLMError(
                "Invalid training settings: " + "; ".join(problems) + ".",
                key="invalid_settings",
                problems="; ".join(problems),
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Rebuild from a checkpoint's JSON; unknown keys (from a newer version) are ignored."""
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in data.items():
            if key in known:
                kind = type(getattr(cls(), key))
                if kind is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    raise CharLMError(
                        f"Training setting {key!r} has the wrong type ({type(value).__name__}).",
                        key="setting_type",
                        name=key,
                    )
                kwargs[key] = value
        return cls(**kwargs)

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes)


# What each setting may be, written once: ``settings_problems`` reads these tables.
AT_LEAST_ONE = ("batch_size", "num_steps", "num_layers", "hidden_size", "epochs")
NOT_NEGATIVE = (
    "max_steps",
    "patience",
    "eval_every",
    "eval_batches",
    "save_every",
    "sample_every",
    "keep_checkpoints",
    "sample_length",
    "warmup_steps",
    "num_threads",
    "max_seconds",
    "grad_clip",
    "final_score_gflop",
)
# name: (check, how the message says it)
BETWEEN = {
    "dropout": (lambda x: 0 <= x < 1, "at least 0 and below 1"),
    "cold_start_share": (lambda x: 0 <= x < 1, "at least 0 and below 1"),
    "val_fraction": (lambda x: 0 <= x < 1, "at least 0 and below 1"),
    "learning_rate": (lambda x: 0 < x <= 1, "above 0 and at most 1"),
    "min_lr_ratio": (lambda x: 0 <= x <= 1, "between 0 and 1"),
}
LR_SCHEDULES = ("constant", "cosine")


def settings_problems(config: TrainConfig) -> list[str]:
    """Every way these settings are out of range, in words (empty: they are fine)."""
    problems = [
        f"{f.name} must be a finite number"
        for f in fields(config)
        if isinstance(getattr(config, f.name), float) and not math.isfinite(getattr(config, f.name))
    ]
    choices = {"cell": tuple(CELLS), "device": DEVICES, "lr_schedule": LR_SCHEDULES}
    problems += [
        f"{name} must be one of {', '.join(allowed)}"
        for name, allowed in choices.items()
        if getattr(config, name) not in allowed
    ]
    problems += [f"{name} must be at least 1" for name in AT_LEAST_ONE if getattr(config, name) < 1]
    problems += [f"{name} must not be negative" for name in NOT_NEGATIVE if getattr(config, name) < 0]
    problems += [f"{name} must be {says}" for name, (ok, says) in BETWEEN.items() if not ok(getattr(config, name))]
    if config.hidden_size > 4096 or config.num_layers > 8 or config.batch_size * config.num_steps > 1_000_000:
        problems.append(
            "the model or batch is too large (hidden_size ≤ 4096, num_layers ≤ 8, batch_size × num_steps ≤ 1,000,000)"
        )
    return problems


PRESETS: dict[str, TrainConfig] = {
    # The chapter's hyper-parameters, unchanged (section 5.9).
    "textbook": TrainConfig(),
    # Visible learning within a minute on two CPU cores: a short, wide-batch single-layer LSTM
    # with a higher learning rate.
    "quick": TrainConfig(
        batch_size=32,
        num_steps=64,
        num_layers=1,
        hidden_size=256,
        dropout=0.0,
        learning_rate=4e-3,
        lr_schedule="cosine",
        epochs=50,
        max_steps=1900,
        eval_every=200,
        eval_batches=10,
        save_every=400,
        sample_every=200,
    ),
    # A few minutes: two layers, enough to write names and dialogue.
    "small": TrainConfig(
        batch_size=64,
        num_steps=100,
        num_layers=2,
        hidden_size=256,
        dropout=0.2,
        learning_rate=3e-3,
        lr_schedule="cosine",
        epochs=3,
        eval_every=100,
        save_every=200,
        sample_every=200,
    ),
    # The shipped Anna Karenina model (assets/MODEL_CARD.md).
    "anna": TrainConfig(
        batch_size=64,
        num_steps=128,
        num_layers=2,
        hidden_size=512,
        dropout=0.4,
        learning_rate=2e-3,
        lr_schedule="cosine",
        warmup_steps=100,
        epochs=20,
        bf16=True,
        eval_every=200,
        eval_batches=0,
        save_every=100,
        sample_every=500,
    ),
}

# A tiny setting for tests and a class's first seconds.
PRESETS["tiny"] = TrainConfig(
    batch_size=16,
    num_steps=32,
    num_layers=1,
    hidden_size=64,
    dropout=0.0,
    learning_rate=1e-2,
    epochs=1,
    max_steps=150,
    eval_every=50,
    eval_batches=5,
    save_every=0,
)


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise CharLMError(
            f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}.",
            key="unknown_preset",
            name=name,
            choices=", ".join(PRESETS),
        )
    return PRESETS[name].replace(**overrides)


# A run that is resumed must keep what shapes the model and the order of the data ...
ARCHITECTURE_FIELDS = ("cell", "num_layers", "hidden_size", "batch_size", "num_steps", "val_fraction")
# ... and may change how long and how hard it trains, and where (a run started on a GPU can go on on a CPU).
RESUMABLE_FIELDS = ("epochs", "max_steps", "max_seconds", "learning_rate", "grad_clip", "dropout", "device")


def resume_config(saved: TrainConfig, requested: TrainConfig) -> TrainConfig:
    """The settings to resume ``saved`` with: its own, except the ``RESUMABLE_FIELDS`` of
    ``requested`` (a form that also shows the architecture can be sent as it is)."""
    return saved.replace(**{name: getattr(requested, name) for name in RESUMABLE_FIELDS})


def live_cadence(config: TrainConfig, max_seconds: float = 0.0) -> TrainConfig:
    """``config`` reporting often enough for a page that plots it live: a validation loss, a sample
    and a checkpoint every 100 steps (so that the best validation loss always has its checkpoint, the one the
    coach sends an over-fitted run to), the latest three checkpoints and the best one kept, ``max_seconds`` of
    training at most (0: no limit), torch's thread count left to the server that runs several trainings, and
    a final held-out figure that costs at most ``LIVE_FINAL_GFLOP`` (a subset, said as such, past that)."""
    return config.replace(
        eval_every=LIVE_EVERY,
        eval_batches=10,
        final_score_gflop=LIVE_FINAL_GFLOP,
        sample_every=LIVE_EVERY,
        sample_length=200,
        save_every=LIVE_EVERY,
        keep_checkpoints=3,
        max_seconds=max_seconds,
        num_threads=0,
    )


LIVE_EVERY = 100  # steps between a live page's validations, samples and checkpoints
# A live run's final figure, at most: every character of the novel's held-out part for the shipped 2x512
# (1,337 billion operations, 20 s on two CPU cores), a spread subset for anything larger (a 2x1024 trained
# with N = M = 1: 19,072 characters in 20 s instead of all of them in 72 s; bench/bench_final_score.py).
LIVE_FINAL_GFLOP = 1500.0
