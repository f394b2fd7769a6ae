"""Every number or choice a visitor sets, written once: its range, step, widget and texts.

A ``Field`` builds its own component (slider, number box or radio) and checks what comes back
(from the page, or from an API client that sends anything), with a message in the visitor's
language that names the setting. ``TRAIN_FORM`` is the Train tab's form: its components are
built from it and its values become a ``TrainConfig`` through it, so the ranges the sliders
offer are the ranges the server accepts.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from charlm import PRESETS, TrainConfig, preset
from charlm.lessons.strategies import LAB_LENGTH
from charlm.network.cells import cell_names
from charlm.training.config import live_cadence

from .i18n import I18N, AppError

UI_PRESETS = ("quick", "small", "textbook")  # the presets the Train tab offers (all of them are in charlm)


@dataclass(frozen=True)
class Field:
    name: str  # the argument it fills (a TrainConfig field for the Train form)
    label: str  # text keys: its label, its hint, and its name in messages
    hint: str | None
    low: float = 0
    high: float = 0
    step: float | None = 1
    whole: bool = True
    widget: str = "slider"  # "slider", "number" (typed in; checked here, in the visitor's language), "text" or "radio"
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()  # a function: read when the page is built
    says: str | None = None  # the text key of its name in messages (default ``name.<name>``)

    @property
    def options(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices

    @property
    def message_name(self) -> str:
        return self.says or f"name.{self.name}"

    def component(self, value, **kwargs) -> gr.components.Component:
        """The widget, with its label and hint in the page's language."""
        texts = {"label": I18N(self.label), **({"info": I18N(self.hint)} if self.hint else {})}
        if self.widget == "radio":
            return gr.Radio(list(self.options), value=value, **texts, **kwargs)
        if self.widget == "number":
            return gr.Number(value, precision=0 if self.whole else None, **texts, **kwargs)
        if self.widget == "text":  # a number that may be left empty (a page's number box sends 0 for empty)
            return gr.Textbox("" if value is None else str(value), **texts, **kwargs)
        return gr.Slider(self.low, kwargs.pop("maximum", self.high), value=value, step=self.step, **texts, **kwargs)

    def parse(self, value, high: float | None = None):
        """``value`` checked against this field's range (``high`` narrows it: a model's vocabulary)."""
        if self.widget == "radio":
            if value not in self.options:
                raise AppError("err.choice", name=self.message_name, choices=", ".join(self.options), value=value)
            return value
        high = self.high if high is None else high
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise AppError(
                "err.whole_number" if self.whole else "err.number", name=self.message_name, value=value
            ) from None
        in_range = math.isfinite(number) and self.low <= number <= high
        if self.whole and not (in_range and number == int(number)):
            raise AppError("err.whole_range", name=self.message_name, low=self.low, high=high, value=value)
        if not in_range:
            raise AppError("err.number_range", name=self.message_name, low=self.low, high=high, value=value)
        return int(number) if self.whole else number


# The Train tab's form, in the order its values are sent (after the preset's name).
TRAIN_FORM: tuple[Field, ...] = (
    Field("cell", "train.cell", "hint.cell", widget="radio", choices=cell_names, says="name.cell"),
    Field("num_layers", "train.layers", "hint.num_layers", 1, 4),
    Field("hidden_size", "train.hidden", "hint.hidden_size", 16, 1024, step=16),
    Field("dropout", "train.dropout", "hint.dropout", 0.0, 0.9, step=0.05, whole=False),
    Field("batch_size", "train.n", "hint.batch_size", 1, 512, says="name.n"),
    Field("num_steps", "train.m", "hint.num_steps", 1, 512, says="name.m"),
    Field("learning_rate", "train.lr", "hint.learning_rate", 1e-5, 0.1, step=None, whole=False, widget="number"),
    Field("grad_clip", "train.clip", "hint.grad_clip", 0.0, 100.0, step=None, whole=False, widget="number"),
    Field("epochs", "train.epochs", "hint.epochs", 1, 100, widget="number"),
    Field("max_steps", "train.max_steps", "hint.max_steps", 0, 1_000_000, widget="number"),
)


def preset_values(name: str) -> tuple:
    """The form's values for a preset (an unknown name: the first one)."""
    config = preset(name if name in UI_PRESETS else UI_PRESETS[0])
    return tuple(getattr(config, f.name) for f in TRAIN_FORM)


def checked_preset(name: str) -> str:
    """A preset the page offers, or a message naming them."""
    if name not in UI_PRESETS:
        raise AppError("err.unknown_preset", name=name, choices=", ".join(UI_PRESETS))
    return name


def config_from_form(preset_name: str, *values, max_seconds: float = 0.0, device: str = "auto") -> TrainConfig:
    """The preset with the form's values, checked, reporting as often as a live page needs, for at most
    ``max_seconds`` (0: no limit), on ``device`` (the server's runner decides it, not the visitor)."""
    checked_preset(preset_name)
    checked = {f.name: f.parse(v) for f, v in zip(TRAIN_FORM, values, strict=True)}
    return live_cadence(PRESETS[preset_name].replace(**checked, device=device), max_seconds=max_seconds)


# The other tabs' settings.
BATCH_N = Field("n", "batch.n", "hint.batch_size", 1, 200)
BATCH_M = Field("m", "batch.m", "hint.num_steps", 1, 200)
BATCH_INDEX = Field("batch_index", "batch.index", "hint.batch_index", 0, 10**9)
BATCH_ROW = Field("row", "batch.row", "hint.row", 0, 10**6)
VAL_SHARE = Field("val_share", "corpus.val_share", "hint.val_fraction", 0.0, 0.5, step=0.01, whole=False)
LENGTH = Field("length", "gen.length", "hint.length", 1, 5000)
TOP_N = Field("top_n", "gen.top_n", "hint.top_n", 1, 100_000)
TEMPERATURE = Field("temperature", "gen.temperature", "hint.temperature", 0.1, 3.0, step=0.05, whole=False)
SEED = Field("seed", "gen.seed", "hint.seed", 0, 2**32 - 1, widget="text")  # empty: a new seed each time
TOY_STEPS = Field("steps", "toy.steps", None, 1, 1000)
TOY_CELL = Field("toy_cell", "toy.cell", None, widget="radio", choices=cell_names, says="name.cell")
COMPARE_STEPS = Field("race_steps", "cmp.steps", "cmp.steps_info", 50, 1000, step=50)
LAB_LENGTH_FIELD = Field("lab_length", "lab.length", None, *LAB_LENGTH, step=10)
LAB_AT = Field("lab_at", "lab.at", "lab.at_info", 0, LAB_LENGTH[1] - 1)
RECALL_GAP = Field("gap", "recall.gap", "recall.gap_info", 4, 60, step=4)


PRIME_LIMIT = 20_000  # characters: a second of the server's time at most, however many visitors send one


def given_seed(value) -> int | None:
    """The seed box's value: None when left empty (a new seed each time), else a checked seed."""
    return None if value is None or str(value).strip() == "" else SEED.parse(str(value).strip())


def seed_to_use(given: int | None) -> int:
    """The seed given, or a new one: every text has a seed that can write it again."""
    return secrets.randbelow(2**31) if given is None else given


def checked_prime(text: str) -> str:
    if isinstance(text, str) and len(text) > PRIME_LIMIT:
        raise AppError("err.prime_long", n=len(text), limit=PRIME_LIMIT)
    return text
