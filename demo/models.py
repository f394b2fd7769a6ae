"""The models a visitor can generate with, and the loaded samplers they share.

Three kinds, each shown by its name in the visitor's language but chosen by a stable English
label (what the API sends):
- shipped: ``assets/*.safetensors`` with their ``.json`` (the same for everyone);
- this session's: the checkpoints of the visitor's own trainings (``run<k>/i<step>_l<hidden>``);
- uploaded: checkpoints the visitor uploaded (checked on arrival; never unpickled).
A visitor can only ever load files inside their own folder or the shipped ones.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from charlm import CharLMError, Sampler, list_checkpoints, load_checkpoint
from charlm.serving.generations import MAX_STREAMS, Generations
from charlm.training.history import best_validation_step

from .i18n import EN, AppError, t
from .locales import LOCALES
from .sessions import Visitor

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_UPLOADS = 8  # checkpoints one visitor may keep (a visitor's disk stays bounded)


def _names(key: str, **params) -> dict[str, str]:
    """A model's shown name in every language."""
    return {code: t(key, code, **params) for code in LOCALES}


@dataclass
class Writer:
    """One generation's way to its text: the model's sampler, ``stream(prime, length, top_n, temperature,
    seed)`` yielding its characters, and how many generations share the model now (``sharing``)."""

    sampler: Sampler
    stream: Callable[..., Iterator[str]]
    batch: Generations

    @property
    def sharing(self) -> int:
        return self.batch.streaming


class ModelCatalogue:
    def __init__(
        self, assets_dir: Path, cache_bytes: int = 1 << 30, streams: int = MAX_STREAMS, precision: str = "fp32"
    ):
        # streams: generations stepped together per model, at most; 0: each generation served alone
        self.assets_dir, self.streams = assets_dir, streams
        self.precision = precision  # the samplers' weights: "fp32" (as trained) or "int8" (charlm/sampling/sampler.py)
        self.cache_bytes = cache_bytes  # loaded samplers are kept up to this many bytes, least recently used out
        # per loaded model: its sampler and the batch its generations are stepped in together
        self._loaded: OrderedDict[tuple[str, float], Generations] = OrderedDict()
        self._lock = threading.Lock()
        self.overflowing: set[Path] = set()  # models whose scores overflow: marked in the list, refused when chosen

    def shipped(self) -> dict[str, Path]:
        """Models shipped in assets/: label -> file."""
        return {
            t("model.pretrained", EN, name=path.stem): path
            for path in sorted(self.assets_dir.glob("*.safetensors"))
            if path.with_suffix(".json").is_file()
        }

    def first_shipped(self) -> str | None:
        """The model the Generate tab's list opens on (None if none ships)."""
        return next(iter(self.shipped()), None)

    def sampler(self, path: Path) -> Sampler:
        """A loaded model, shared by every generation that uses it (samplers hold no state)."""
        return self.generations(path).sampler

    def generations(self, path: Path) -> Generations:
        """A loaded model's generations in flight: every visitor generating with it is stepped in one batch."""
        key = (str(path), path.stat().st_mtime)
        with self._lock:  # one load at a time: a class opening the tab at once loads it once
            loaded = self._loaded.get(key)
            if loaded is None:
                ckpt = load_checkpoint(path)
                sampler = Sampler(ckpt.model, ckpt.vocab, self.precision)
                try:
                    sampler.check_outputs()  # finite weights can still compute infinite scores
                except CharLMError:
                    self.overflowing.add(path)
                    raise
                loaded = Generations(sampler, max(1, self.streams))
                self._loaded[key] = loaded
                while len(self._loaded) > 1 and self.cached_bytes() > self.cache_bytes:
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(key)
        return loaded

    def shipped_counterpart(self, cell: str) -> tuple[str, Sampler] | None:
        """A shipped model to draw beside a model of ``cell``, as the chapter sets the two modules side by
        side: the plain RNN beside a gated cell, the smallest LSTM beside a plain RNN (None if none ships)."""
        wanted = "lstm" if cell == "rnn" else "rnn"
        for path in sorted(self.shipped().values(), key=lambda p: p.stat().st_size):
            sampler = self.sampler(path)
            if sampler.spec.name == wanted:
                return path.stem, sampler
        return None

    def cached_bytes(self) -> int:
        return sum(g.sampler.nbytes for g in self._loaded.values())

    def forget(self, folder: Path) -> None:
        """Drop the samplers of a visitor's own files (their session ended)."""
        with self._lock:
            for key in [k for k in self._loaded if Path(k[0]).is_relative_to(folder)]:
                del self._loaded[key]

    def sampler_for(self, label: str | None, visitor: Visitor) -> Sampler:
        return self.sampler(self.resolve(label, visitor))

    def generations_for(self, label: str | None, visitor: Visitor) -> Generations:
        return self.generations(self.resolve(label, visitor))

    def writer_for(self, label: str | None, visitor: Visitor) -> Writer:
        """How one generation with this model is served: in the batch every visitor generating with it joins,
        or (``streams`` 0) alone. The text is the same either way; only the server's load differs."""
        together = self.generations_for(label, visitor)
        return Writer(together.sampler, together.stream if self.streams else together.sampler.stream, together)

    def resolve(self, label: str | None, visitor: Visitor) -> Path:
        if not label:
            raise AppError("err.no_model")
        shipped = self.shipped()
        if label in shipped:
            return shipped[label]
        path = visitor.models.get(label)
        if path is None and visitor.page_from_before:  # the page lists a model of the server's life before
            raise AppError("err.model_lost", label=label)
        if path is None or not visitor.owns(path) or not path.is_file():
            raise AppError("err.unknown_model", label=label)
        return path

    def choices(self, visitor: Visitor, lang: str, select: str | None = None):
        """The dropdown's update: (name in ``lang``, label) for every model, newest of the visitor's first
        after the shipped ones; ``select`` (if offered) or the first is chosen."""
        for run in sorted(visitor.checkpoints_dir.glob("run*"), key=lambda d: int(d.name[3:])):
            best = best_validation_step(run)  # marked in the list: the coach sends an over-fitted run's class there
            for path in list_checkpoints(run):
                name = f"{run.name}/{path.stem}"
                label = t("model.session", EN, name=name)
                visitor.models[label] = path
                marked = best is not None and path.stem.startswith(f"i{best}_")
                visitor.model_names[label] = _names("model.session_best" if marked else "model.session", name=name)
        visitor.models = {k: v for k, v in visitor.models.items() if v.is_file()}
        shown = {label: t("model.pretrained", lang, name=path.stem) for label, path in self.shipped().items()}
        for label in reversed(visitor.models):
            shown[label] = visitor.model_names[label].get(lang) or label
            if visitor.models[label] in self.overflowing:
                shown[label] += t("model.overflows", lang)
        choices = [(name, label) for label, name in shown.items()]
        value = select if select in shown else (choices[0][1] if choices else None)
        return gr.update(choices=choices, value=value)

    def add_upload(self, visitor: Visitor, upload, disk_budget: int) -> str:
        """Keep a checkpoint the visitor uploaded, once it loads; return its label. Their oldest trainings
        make way if their files would take more than ``disk_budget`` bytes."""
        if not upload:
            raise AppError("err.choose_checkpoint")
        source = Path(upload if isinstance(upload, str) else upload["path"])
        if source.stat().st_size > MAX_UPLOAD_BYTES:
            raise AppError("err.checkpoint_too_large")
        if len(list(visitor.uploads_dir.glob("*.safetensors"))) >= MAX_UPLOADS:
            raise AppError("err.too_many_uploads", n=MAX_UPLOADS)
        ckpt = load_checkpoint(source)  # checked where it landed: errors name the visitor's file
        Sampler(ckpt.model, ckpt.vocab).check_outputs()  # a model whose scores overflow is refused at once
        cfg = ckpt.model_config
        visitor.make_room(source.stat().st_size, disk_budget)
        visitor.uploads_dir.mkdir(parents=True, exist_ok=True)
        target = visitor.uploads_dir / f"{secrets.token_hex(8)}.safetensors"  # never an earlier upload's name
        try:
            shutil.copyfile(source, target)
        except OSError:
            target.unlink(missing_ok=True)
            raise AppError("err.disk_full") from None
        stem = Path(source.name).stem[:40]
        params = {"name": stem, "layers": cfg.num_layers, "hidden": cfg.hidden_size, "cell": cfg.cell}
        label, copy = t("model.uploaded", EN, **params), 1
        while label in visitor.models:  # the same file uploaded again: a second entry, the first one kept
            copy += 1
            params["name"] = f"{stem} ({copy})"
            label = t("model.uploaded", EN, **params)
        visitor.models[label] = target
        visitor.model_names[label] = _names("model.uploaded", **params)
        return label
