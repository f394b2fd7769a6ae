"""The Gradio app: five tabs over ``charlm``, one ``Visitor`` per browser session.

Every handler catches errors and answers with a message in the page, in the visitor's language;
nothing here does model maths (that is ``charlm``), and nothing belonging to a visitor lives in
a module global.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import torch

from charlm import (Batches, CharLMError, Corpus, PRESETS, Sampler, TrainConfig, list_checkpoints, load_checkpoint,
                    preset)
from charlm.corpora import PYTHON_SOURCE, REGISTRY, local_path, python_source_text
from charlm.jobs import JobSlots, TrainingJob
from charlm.vocab import load_text

from . import i18n, inside, views
from .i18n import EN, I18N, AppError, t
from .state import SessionStore, Visitor

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
UI_PRESETS = ("quick", "small", "textbook")
MIN_CORPUS_CHARS = 100  # below this there is nothing to learn, whatever the batch shape
TRAIN_FIELDS = ("cell", "num_layers", "hidden_size", "dropout", "batch_size", "num_steps", "learning_rate",
                "grad_clip", "epochs", "max_steps")
CSS = """
.cl-codes{display:flex;flex-wrap:wrap;gap:2px;font-family:monospace}
.cl-cell{display:inline-flex;flex-direction:column;align-items:center;min-width:1.9em;border:1px solid #ddd;border-radius:3px;padding:1px}
.cl-cell b{font-weight:600}.cl-cell i{font-size:.75em;color:#666;font-style:normal}
.cl-grid table{border-collapse:collapse;font-family:monospace}.cl-grid td,.cl-grid th{border:1px solid #ccc;padding:2px 5px;text-align:center;color:#111}
.cl-title{font-weight:600;margin:4px 0}.cl-note{font-size:.8em;color:#666}
.cl-row{display:flex;align-items:center;gap:2px;margin:2px 0;font-size:.85em}.cl-lab{min-width:16em;font-family:monospace}
.cl-text{font-family:monospace;white-space:pre-wrap;line-height:1.6;font-size:15px;color:#111}
.cl-onehot table{border-collapse:collapse;font-family:monospace;font-size:11px;line-height:1}
.cl-onehot td{width:13px;height:9px;border:1px solid #e5e7eb;padding:0}.cl-onehot td.on{background:#111}
.cl-onehot th{padding:0 3px;font-weight:400;color:#111}
.cl-win{display:inline-block;width:10px;height:14px;background:#e5e7eb;border:1px solid #cbd5e1}.cl-win.cl-on{background:#f59e0b}
"""


# The footer's ⚙ Settings change the page's language (Gradio sets <html lang>); follow them with the
# page's own switch, so that messages and figures change language too.
FOLLOW_SETTINGS_JS = """
() => {
  let last = document.documentElement.lang;
  new MutationObserver(() => {
    const now = document.documentElement.lang;
    if (now === last) return;
    last = now;
    const lang = (now || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
    const choice = document.querySelector(`#language input[value="${lang}"]`);
    if (choice && !choice.checked) choice.click();
  }).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
}
"""


@dataclass
class AppConfig:
    max_jobs: int = 2  # trainings running at once, for everyone together
    torch_threads: int = 0  # 0: the CPU count divided among the training slots
    max_upload_mb: int = 20
    session_ttl_hours: float = 6.0
    heavy_concurrency: int = 4  # generations / uploads / training starts handled at once
    assets_dir: Path = ROOT / "assets"
    sessions_root: Path | None = None

    @classmethod
    def from_env(cls) -> "AppConfig":
        return cls(max_jobs=int(os.environ.get("CHARLM_MAX_JOBS", 2)),
                   torch_threads=int(os.environ.get("CHARLM_TORCH_THREADS", 0)),
                   max_upload_mb=int(os.environ.get("CHARLM_MAX_UPLOAD_MB", 20)))


def as_int(value, name: str, low: int, high: int) -> int:
    """``value`` as a whole number in [low, high]; ``name`` is a text key ("name.n") for the message."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AppError("err.whole_number", name=name, value=value) from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise AppError("err.whole_range", name=name, low=low, high=high, value=value)
    return int(number)


def as_float(value, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AppError("err.number", name=name, value=value) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise AppError("err.number_range", name=name, low=low, high=high, value=value)
    return number


def request_of(args, kwargs) -> gr.Request | None:
    return next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)


class CharLMApp:
    def __init__(self, config: AppConfig | None = None):
        self.config = config or AppConfig()
        root = self.config.sessions_root or Path(tempfile.mkdtemp(prefix="charlm-sessions-"))
        self.store = SessionStore(Path(root), ttl_seconds=self.config.session_ttl_hours * 3600)
        self.slots = JobSlots(self.config.max_jobs)
        threads = self.config.torch_threads or max(1, (os.cpu_count() or 2) // max(1, self.config.max_jobs))
        torch.set_num_threads(threads)
        self._samplers: dict[tuple[str, float], Sampler] = {}
        self._samplers_lock = threading.Lock()
        self._translated: list[tuple[gr.components.Component | gr.blocks.BlockContext, dict[str, str]]] = []

    # shared, read-only resources -------------------------------------------------------------
    @functools.lru_cache(maxsize=4)
    def builtin_corpus(self, name: str, val_fraction: float) -> Corpus:
        if name == PYTHON_SOURCE:
            return Corpus.from_text(python_source_text(), val_fraction, name=name)
        path = local_path(name)
        if path is None:
            raise AppError("err.corpus_missing", name=name)
        return Corpus.from_text(load_text(path), val_fraction, name=name)

    def default_corpus_name(self) -> str:
        return "anna-karenina" if local_path("anna-karenina") else PYTHON_SOURCE

    @staticmethod
    def builtin_choices(lang: str) -> list[tuple[str, str]]:
        """The built-in texts as (title in ``lang``, name)."""
        return [(t(f"corpus.title.{name}", lang), name) for name in (PYTHON_SOURCE, *REGISTRY)]

    @staticmethod
    def corpus_title(corpus: Corpus, lang: str) -> str:
        """A built-in corpus by its title in ``lang``; an upload by its file name."""
        key = f"corpus.title.{corpus.name}"
        return t(key, lang) if key in i18n.UI else corpus.name

    def pretrained(self) -> dict[str, Path]:
        """Models shipped in assets/: label -> file."""
        found = {}
        for path in sorted(self.config.assets_dir.glob("*.safetensors")):
            if path.with_suffix(".json").is_file():
                found[t("model.pretrained", EN, name=path.stem)] = path
        return found

    def sampler_for(self, path: Path) -> Sampler:
        """A loaded model, shared by every generation that uses it (samplers hold no state)."""
        key = (str(path), path.stat().st_mtime)
        with self._samplers_lock:  # one load at a time: a class opening the tab at once loads it once
            sampler = self._samplers.get(key)
            if sampler is None:
                ckpt = load_checkpoint(path)
                sampler = Sampler(ckpt.model, ckpt.vocab)
                if len(self._samplers) >= 24:
                    self._samplers.pop(next(iter(self._samplers)))
                self._samplers[key] = sampler
        return sampler

    def visitor(self, request: gr.Request | None) -> Visitor:
        return self.store.get(getattr(request, "session_hash", None))

    def lang_of(self, request: gr.Request | None) -> str:
        """The visitor's language: their choice in the page, else their browser's (API clients: English)."""
        visitor = self.visitor(request)
        if visitor.lang is None:
            headers = getattr(request, "headers", None) or {}
            return i18n.from_accept_language(headers.get("accept-language"))
        return visitor.lang

    def corpus_for(self, visitor: Visitor) -> Corpus:
        """The visitor's corpus; the default one until they load another (API clients never see the page)."""
        if visitor.corpus is None:
            visitor.corpus = self.builtin_corpus(self.default_corpus_name(), 0.1)
        return visitor.corpus

    def guarded(self, n_outputs: int):
        """Turn any error into a message (in the visitor's language) in the handler's first output;
        leave the other outputs as they were."""

        def wrap(fn):
            @functools.wraps(fn)
            def inner(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except Exception as err:  # never a stack trace in the page
                    if not isinstance(err, CharLMError):
                        log.exception("handler %s failed", fn.__name__)
                    message = i18n.message(err, self.lang_of(request_of(args, kwargs)))
                return (message, *[gr.skip()] * (n_outputs - 1)) if n_outputs > 1 else message

            return inner

        return wrap

    # language ------------------------------------------------------------------------------------
    def _relabel(self, lang: str) -> list:
        """Every static text of the page in ``lang`` (the page's own switch changes them all at once)."""
        return [gr.update(**{prop: t(key, lang) for prop, key in props.items()}) for _, props in self._translated]

    def initial_language(self, stored: str | None, browser: str | None, request: gr.Request) -> str:
        """On opening: the language stored in this browser, else the browser's own (its page's
        language, else its Accept-Language header)."""
        if stored in i18n.LANGUAGES:
            lang = stored
        else:
            lang = i18n.normalise(browser) if browser else self.lang_of(request)
        self.visitor(request).lang = lang
        return lang

    def open_language(self, stored: str | None, browser: str | None, request: gr.Request):
        lang = self.initial_language(stored, browser, request)
        same = i18n.normalise(browser or "") == lang  # Gradio already shows the labels in this language
        relabel = [gr.skip()] * len(self._translated) if same else self._relabel(lang)
        return lang, lang, gr.update(choices=self.builtin_choices(lang)), *relabel

    def set_language(self, lang: str | None, request: gr.Request):
        lang = i18n.normalise(lang)
        self.visitor(request).lang = lang
        return lang, gr.update(choices=self.builtin_choices(lang)), *self._relabel(lang)

    # corpus --------------------------------------------------------------------------------------
    def _corpus_outputs(self, corpus: Corpus, lang: str):
        title = self.corpus_title(corpus, lang)
        return (t("msg.loaded", lang, name=title), views.corpus_summary(corpus, title, lang),
                views.vocab_text(corpus.vocab, lang), views.codes_html(corpus), views.frequency_frame(corpus))

    def load_corpus(self, builtin: str | None, upload, val_fraction: float, request: gr.Request):
        """Load a built-in corpus or an uploaded file; on failure the old corpus stays."""
        visitor = self.visitor(request)
        val_fraction = as_float(val_fraction, "name.val_share", 0.0, 0.5)
        if upload:
            path = Path(upload if isinstance(upload, str) else upload["path"])
            limit = self.config.max_upload_mb * 1_000_000
            name = Path(path.name).name
            text = load_text(path, max_bytes=limit)
            if len(text) < MIN_CORPUS_CHARS:
                raise AppError("err.corpus_too_short", name=name, n=len(text), min=MIN_CORPUS_CHARS)
            corpus = Corpus.from_text(text, val_fraction, name=name)
        else:
            name = builtin or self.default_corpus_name()
            if name not in (PYTHON_SOURCE, *REGISTRY):
                raise AppError("err.unknown_builtin", name=name)
            corpus = self.builtin_corpus(name, round(val_fraction, 4))
        visitor.corpus = corpus
        return self._corpus_outputs(corpus, self.lang_of(request))

    def show_corpus(self, request: gr.Request):
        return self._corpus_outputs(self.corpus_for(self.visitor(request)), self.lang_of(request))

    def show_corpus_on_open(self, stored: str | None, browser: str | None, request: gr.Request):
        """The corpus tab on opening, in the same language ``open_language`` picks (they run side by side)."""
        self.initial_language(stored, browser, request)
        return self.show_corpus(request)

    # batches -------------------------------------------------------------------------------------
    def preview_batch(self, batch_size, num_steps, index, row, show_ints, request: gr.Request):
        corpus = self.corpus_for(self.visitor(request))
        lang = self.lang_of(request)
        N = as_int(batch_size, "name.n", 1, 1000)
        M = as_int(num_steps, "name.m", 1, 1000)
        data = corpus.train_data
        batches = Batches(data, N, M, what="The training part of the text")
        index = min(as_int(index, "name.batch_index", 0, 10 ** 9), len(batches) - 1)
        row = min(as_int(row, "name.row", 0, 10 ** 6), N - 1)
        x, y = batches[index]
        info = t("batch.info", lang, index=index, count=f"{len(batches):,}", n=N, m=M, row=row,
                 x=views.show_char(corpus.vocab.chars[x[row, 0]]), y=views.show_char(corpus.vocab.chars[y[row, 0]]))
        return (info, views.reshape_html(batches, index, len(data), lang),
                views.grid_html(x, corpus.vocab, bool(show_ints), 0, t("grid.inputs", lang), lang),
                views.grid_html(y, corpus.vocab, bool(show_ints), 1, t("grid.targets", lang), lang),
                views.one_hot_html(x[row], corpus.vocab, lang),
                # a slider needs maximum > minimum, even for a text of one batch or a batch of one row
                gr.update(maximum=max(1, len(batches) - 1), value=index), gr.update(maximum=max(1, N - 1), value=row))

    # training ------------------------------------------------------------------------------------
    @staticmethod
    def preset_values(name: str):
        cfg = preset(name if name in UI_PRESETS else "quick")
        return tuple(getattr(cfg, f) for f in TRAIN_FIELDS)

    def _config_from_form(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs,
                          max_steps) -> TrainConfig:
        if preset_name not in UI_PRESETS:
            raise AppError("err.unknown_preset", name=preset_name, choices=", ".join(UI_PRESETS))
        if cell not in ("lstm", "gru", "rnn"):
            raise AppError("err.cell", value=cell)
        return preset(
            preset_name, cell=cell, num_layers=as_int(layers, "name.layers", 1, 4),
            hidden_size=as_int(hidden, "name.hidden", 8, 1024), dropout=as_float(dropout, "name.dropout", 0.0, 0.9),
            batch_size=as_int(N, "name.n", 1, 512), num_steps=as_int(M, "name.m", 1, 512),
            learning_rate=as_float(lr, "name.lr", 1e-5, 0.1), grad_clip=as_float(clip, "name.clip", 0.0, 100.0),
            epochs=as_int(epochs, "name.epochs", 1, 100), max_steps=as_int(max_steps, "name.max_steps", 0, 1_000_000),
            max_seconds=0.0, save_every=max(50, PRESETS[preset_name].save_every), sample_every=100, sample_length=200,
            eval_every=100, eval_batches=10, num_threads=0,
        )

    def start_training(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps,
                       request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is not None and not visitor.job.finished:
            raise AppError("err.already_training")
        corpus = self.corpus_for(visitor)
        config = self._config_from_form(preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps)
        visitor.run += 1  # earlier runs' checkpoints stay available in the Generate tab
        visitor.job = TrainingJob(corpus, config, visitor.run_dir, slots=self.slots, niceness=10).start()
        lang = self.lang_of(request)
        return (t("train.started", lang, corpus=self.corpus_title(corpus, lang), layers=config.num_layers,
                  hidden=config.hidden_size, cell=config.cell), gr.Timer(active=True))

    def resume_training(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps,
                        request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is not None and not visitor.job.finished:
            raise AppError("err.still_training")
        latest = list_checkpoints(visitor.run_dir)
        if not latest or visitor.corpus is None:
            raise AppError("err.nothing_to_resume")
        ckpt = load_checkpoint(latest[-1])
        form = self._config_from_form(preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps)
        config = ckpt.train_config.replace(epochs=form.epochs, max_steps=form.max_steps, learning_rate=form.learning_rate,
                                           grad_clip=form.grad_clip, dropout=form.dropout)
        visitor.job = TrainingJob(visitor.corpus, config, visitor.run_dir, resume=ckpt, slots=self.slots,
                                  niceness=10).start()
        return t("train.resumed", self.lang_of(request), step=ckpt.progress.step), gr.Timer(active=True)

    def stop_training(self, request: gr.Request):
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        if visitor.job is None or visitor.job.finished:
            return t("train.not_running", lang)
        visitor.job.stop()
        return t("train.stopping", lang)

    def training_status(self, request: gr.Request):
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        if visitor.job is None:
            return (t("train.none_yet", lang), views.loss_figure(views.JobSnapshot("pending"), lang), "", [],
                    gr.Timer(active=False))
        snap = visitor.job.snapshot()
        sample = ""
        if snap.samples:
            sample = t("train.sample_header", lang, step=snap.samples[-1][0]) + "\n" + snap.samples[-1][1]
        files = [str(p) for p in snap.checkpoints[-3:]]
        # redraw the figure only when there is something new to show (or in another language)
        key = (id(visitor.job), snap.step, len(snap.val_loss), lang)
        figure = gr.skip() if key == visitor.plotted else views.loss_figure(snap, lang)
        visitor.plotted = key
        return views.status_line(snap, lang), figure, sample, files, gr.Timer(active=not visitor.job.finished)

    # generation ----------------------------------------------------------------------------------
    def model_choices(self, request: gr.Request, select: str | None = None):
        """The models to pick from, each as (its name in the visitor's language, its English name)."""
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        for run in sorted(visitor.checkpoints_dir.glob("run*"), key=lambda d: int(d.name[3:])):
            for path in list_checkpoints(run):
                name = f"{run.name}/{path.stem}"
                label = t("model.session", EN, name=name)
                visitor.models[label] = path
                visitor.model_names[label] = {code: t("model.session", code, name=name) for code in i18n.LANGUAGES}
        visitor.models = {k: v for k, v in visitor.models.items() if v.is_file()}
        shown = {label: t("model.pretrained", lang, name=path.stem) for label, path in self.pretrained().items()}
        for label in reversed(visitor.models):
            shown[label] = visitor.model_names[label][lang]
        choices = [(name, label) for label, name in shown.items()]
        value = select if select in shown else (choices[0][1] if choices else None)
        return gr.update(choices=choices, value=value)

    def resolve_model(self, label: str | None, visitor: Visitor) -> Path:
        if not label:
            raise AppError("err.no_model")
        shipped = self.pretrained()
        if label in shipped:
            return shipped[label]
        path = visitor.models.get(label)
        if path is None or not visitor.owns(path) or not path.is_file():
            raise AppError("err.unknown_model", label=label)
        return path

    def upload_checkpoint(self, upload, request: gr.Request):
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        if not upload:
            raise AppError("err.choose_checkpoint")
        source = Path(upload if isinstance(upload, str) else upload["path"])
        if source.stat().st_size > 512 * 1024 * 1024:
            raise AppError("err.checkpoint_too_large")
        visitor.uploads_dir.mkdir(parents=True, exist_ok=True)
        stem = f"upload{len(visitor.models) + 1}"
        target = visitor.uploads_dir / f"{stem}.safetensors"
        shutil.copyfile(source, target)
        try:
            ckpt = load_checkpoint(target)
        except CharLMError:
            target.unlink(missing_ok=True)
            raise
        cfg = ckpt.model_config
        params = {"name": Path(source.name).stem[:40], "layers": cfg.num_layers, "hidden": cfg.hidden_size,
                  "cell": cfg.cell}
        label = t("model.uploaded", EN, **params)
        visitor.models[label] = target
        visitor.model_names[label] = {code: t("model.uploaded", code, **params) for code in i18n.LANGUAGES}
        return t("gen.loaded", lang, label=visitor.model_names[label][lang]), self.model_choices(request, select=label)

    def next_char(self, label, prime, temperature, top_n, request: gr.Request):
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        sampler = self.sampler_for(self.resolve_model(label, visitor))
        temperature = as_float(temperature, "name.temperature", 0.05, 10.0)
        top_n = as_int(top_n, "name.top_n", 1, 100_000)
        top_n = min(top_n, len(sampler.vocab))
        probs = sampler.next_char_distribution(prime, temperature)
        shown = views.show_char(prime[-12:]) if len(prime) > 1 else (views.show_char(prime[-1]) if prime else "")
        return (t("gen.next_note", lang, prime=shown, temperature=temperature, top_n=top_n),
                views.probability_frame(probs, sampler.vocab, top_n, lang), gr.update(maximum=len(sampler.vocab)))

    def generate(self, label, prime, length, top_n, temperature, seed, request: gr.Request):
        visitor = self.visitor(request)
        lang = self.lang_of(request)
        try:
            sampler = self.sampler_for(self.resolve_model(label, visitor))
            length = as_int(length, "name.length", 1, 5000)
            top_n = as_int(top_n, "name.top_n", 1, 100_000)
            if top_n > len(sampler.vocab):
                raise AppError("err.top_n_vocab", size=len(sampler.vocab), value=top_n)
            temperature = as_float(temperature, "name.temperature", 0.05, 10.0)
            seed = None if seed is None or seed == "" else as_int(seed, "name.seed", 0, 2 ** 32 - 1)
            visitor.generation += 1
            ticket = visitor.generation
            text, last = prime, 0.0  # the first character is shown at once
            chars = sampler.stream(prime, length, top_n, temperature, seed)
            for i, ch in enumerate(chars):
                text += ch
                if visitor.generation != ticket:
                    yield text, t("gen.stopped_after", lang, n=i + 1)
                    return
                if time.monotonic() - last > 0.05:
                    last = time.monotonic()
                    yield text, t("gen.progress", lang, i=i + 1, n=length)
            yield text, t("gen.done", lang, n=length, seed=seed if seed is not None else t("gen.random", lang))
        except Exception as err:
            if not isinstance(err, CharLMError):
                log.exception("generation failed")
            yield gr.skip(), i18n.message(err, lang)

    def stop_generation(self, request: gr.Request):
        self.visitor(request).generation += 1
        return t("gen.stopped", self.lang_of(request))

    def end_session(self, request: gr.Request):
        self.store.end(getattr(request, "session_hash", None))

    # layout --------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        heavy = {"concurrency_id": "heavy", "concurrency_limit": self.config.heavy_concurrency}
        cheap = {"concurrency_limit": None}
        guarded = self.guarded
        # Gradio keeps copies of served files (checkpoint downloads) in its cache: clear them hourly.
        with gr.Blocks(title="charlm — character-level language model · 字符级语言模型",
                       delete_cache=(3600, 6 * 3600)) as demo:
            with gr.Row(equal_height=True):
                with gr.Column(scale=4):
                    gr.Markdown(I18N("intro"))
                with gr.Column(scale=1, min_width=220):
                    language = gr.Radio(i18n.LANGUAGE_CHOICES, value=EN, label=I18N("lang.label"),
                                        info=I18N("lang.info"), elem_id="language")
            language_store = gr.BrowserState(None, storage_key="charlm-language")
            browser_language = gr.Textbox(visible=False)
            with gr.Tabs():
                # ---------------------------------------------------------------- corpus
                with gr.Tab(I18N("tab.corpus"), id="corpus"):
                    gr.Markdown(I18N("explain.corpus"))
                    with gr.Row():
                        builtin = gr.Dropdown(self.builtin_choices(EN), value=self.default_corpus_name(),
                                              label=I18N("corpus.builtin"), info=I18N("hint.builtin"))
                        upload = gr.File(label=I18N("corpus.upload"), file_types=[".txt"], type="filepath")
                        val_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.01, label=I18N("corpus.val_share"),
                                                 info=I18N("hint.val_fraction"))
                    load_btn = gr.Button(I18N("corpus.load"), variant="primary", elem_id="load-text")
                    corpus_status = gr.Markdown(elem_id="corpus-status")
                    corpus_summary = gr.Markdown(elem_id="corpus-summary")
                    vocab_box = gr.Textbox(label=I18N("corpus.vocab"), lines=3, interactive=False)
                    codes = gr.HTML(label=I18N("corpus.codes"))
                    freq = gr.BarPlot(x="character", y="count", title=I18N("corpus.freq_title"), sort="-y", height=300,
                                      x_title=I18N("axis.character"), y_title=I18N("axis.count"))
                # ---------------------------------------------------------------- batches
                with gr.Tab(I18N("tab.batches"), id="batches"):
                    gr.Markdown(I18N("explain.batches"))
                    with gr.Row():
                        n_slider = gr.Slider(1, 200, value=15, step=1, label=I18N("batch.n"),
                                             info=I18N("hint.batch_size"), elem_id="batch-n")
                        m_slider = gr.Slider(1, 200, value=50, step=1, label=I18N("batch.m"),
                                             info=I18N("hint.num_steps"), elem_id="batch-m")
                    with gr.Row():
                        index_slider = gr.Slider(0, 100, value=0, step=1, label=I18N("batch.index"),
                                                 info=I18N("hint.batch_index"))
                        row_slider = gr.Slider(0, 14, value=0, step=1, label=I18N("batch.row"), info=I18N("hint.row"))
                        show_ints = gr.Checkbox(False, label=I18N("batch.show_ints"), info=I18N("hint.show_ints"))
                    batch_info = gr.Markdown(elem_id="batch-info")
                    reshape = gr.HTML()
                    with gr.Row():
                        grid_x = gr.HTML(elem_id="grid-x")
                        grid_y = gr.HTML(elem_id="grid-y")
                    onehot_view = gr.HTML(elem_id="one-hot")
                # ---------------------------------------------------------------- train
                with gr.Tab(I18N("tab.train"), id="train"):
                    gr.Markdown(I18N("explain.train"))
                    q = preset("quick")
                    with gr.Row():
                        preset_box = gr.Dropdown(list(UI_PRESETS), value="quick", label=I18N("train.preset"),
                                                 info=I18N("hint.preset"))
                        cell = gr.Radio(["lstm", "gru", "rnn"], value=q.cell, label=I18N("train.cell"),
                                        info=I18N("hint.cell"))
                        layers = gr.Slider(1, 4, value=q.num_layers, step=1, label=I18N("train.layers"),
                                           info=I18N("hint.num_layers"))
                        hidden = gr.Slider(16, 1024, value=q.hidden_size, step=16, label=I18N("train.hidden"),
                                           info=I18N("hint.hidden_size"))
                        dropout = gr.Slider(0.0, 0.9, value=q.dropout, step=0.05, label=I18N("train.dropout"),
                                            info=I18N("hint.dropout"))
                    with gr.Row():
                        tn = gr.Slider(1, 512, value=q.batch_size, step=1, label=I18N("train.n"),
                                       info=I18N("hint.batch_size"))
                        tm = gr.Slider(1, 512, value=q.num_steps, step=1, label=I18N("train.m"),
                                       info=I18N("hint.num_steps"))
                        lr = gr.Number(q.learning_rate, label=I18N("train.lr"), info=I18N("hint.learning_rate"))
                        clip = gr.Number(q.grad_clip, label=I18N("train.clip"), info=I18N("hint.grad_clip"))
                        epochs = gr.Number(q.epochs, precision=0, label=I18N("train.epochs"), info=I18N("hint.epochs"))
                        max_steps = gr.Number(q.max_steps, precision=0, label=I18N("train.max_steps"),
                                              info=I18N("hint.max_steps"))
                    form = [cell, layers, hidden, dropout, tn, tm, lr, clip, epochs, max_steps]
                    with gr.Row():
                        start_btn = gr.Button(I18N("train.start"), variant="primary", elem_id="start-training")
                        stop_btn = gr.Button(I18N("train.stop"), variant="stop", elem_id="stop-training")
                        resume_btn = gr.Button(I18N("train.resume"), elem_id="resume-training")
                    train_msg = gr.Markdown(elem_id="train-message")
                    train_status = gr.Markdown(I18N("train.no_training"), elem_id="train-status")
                    loss_plot = gr.Plot(label=I18N("train.loss_plot"), elem_id="loss-plot")
                    sample_box = gr.Textbox(label=I18N("train.sample"), lines=6, interactive=False,
                                            elem_id="train-sample")
                    ckpt_files = gr.File(label=I18N("train.checkpoints"), file_count="multiple", interactive=False)
                    timer = gr.Timer(1.0, active=False)
                # ---------------------------------------------------------------- generate
                with gr.Tab(I18N("tab.generate"), id="generate") as gen_tab:
                    gr.Markdown(I18N("explain.generate"))
                    with gr.Row():
                        model_box = gr.Dropdown([], label=I18N("gen.model"), info=I18N("hint.model"),
                                                elem_id="model-choice")
                        ckpt_upload = gr.File(label=I18N("gen.upload"), file_types=[".safetensors"], type="filepath")
                    with gr.Row():
                        prime = gr.Textbox("Far", label=I18N("gen.prime"), info=I18N("hint.prime"), elem_id="prime")
                        length = gr.Slider(1, 5000, value=500, step=1, label=I18N("gen.length"),
                                           info=I18N("hint.length"))
                        top_n = gr.Slider(1, 83, value=4, step=1, label=I18N("gen.top_n"), info=I18N("hint.top_n"))
                        temperature = gr.Slider(0.1, 3.0, value=1.0, step=0.05, label=I18N("gen.temperature"),
                                                info=I18N("hint.temperature"))
                        seed = gr.Number(1, precision=0, label=I18N("gen.seed"), info=I18N("hint.seed"))
                    with gr.Row():
                        gen_btn = gr.Button(I18N("gen.generate"), variant="primary", elem_id="generate-btn")
                        gen_stop = gr.Button(I18N("gen.stop"), variant="stop")
                    gen_status = gr.Markdown(elem_id="gen-status")
                    with gr.Row():
                        gen_text = gr.Textbox(label=I18N("gen.text"), lines=14, interactive=False, elem_id="gen-text")
                        with gr.Column():
                            dist_note = gr.Markdown()
                            colours = {}
                            for code in i18n.LANGUAGES:
                                colours[t("gen.in_top", code)] = "#f59e0b"
                                colours[t("gen.out_top", code)] = "#94a3b8"
                            dist_plot = gr.BarPlot(x="character", y="probability", color="kind", sort="-y", height=320,
                                                   title=I18N("gen.dist_title"), color_map=colours,
                                                   color_title=I18N("gen.kind"),
                                                   x_title=I18N("axis.character"), y_title=I18N("axis.probability"))

                inside.build(self, model_box)

            # ---------------------------------------------------------------- language
            # Every component whose text is given as I18N(key), so the page's switch can re-label it.
            self._translated = [(block, props) for block in demo.blocks.values()
                                if block is not language and (props := translated_props(block))]
            relabelled = [block for block, _ in self._translated]
            corpus_out = [corpus_status, corpus_summary, vocab_box, codes, freq]
            batch_in = [n_slider, m_slider, index_slider, row_slider, show_ints]
            batch_out = [batch_info, reshape, grid_x, grid_y, onehot_view, index_slider, row_slider]
            status_out = [train_status, loss_plot, sample_box, ckpt_files, timer]

            def rest_of_page(event, when: str):
                """What Python writes after the corpus: the batch view and the models, in the language."""
                return event.then(guarded(7)(self.preview_batch), batch_in, batch_out, api_name=f"preview_{when}",
                                  api_visibility="private", **cheap).then(
                    self.model_choices, None, model_box, api_name=f"models_{when}", api_visibility="private", **cheap)

            # On opening, two events side by side pick the same language (stored in this browser, else the
            # browser's own): one sets the switch and the labels, one writes the page; the page's switch
            # re-labels the page and writes it again.
            language_in = {"inputs": [language_store, browser_language],
                           "js": "(stored, _) => [stored, document.documentElement.lang || navigator.language || '']"}
            demo.load(self.open_language, outputs=[language, language_store, builtin, *relabelled],
                      api_name="open_language", api_visibility="private", **language_in, **cheap)
            rest_of_page(demo.load(guarded(5)(self.show_corpus_on_open), outputs=corpus_out,
                                   api_name="show_corpus_on_open", api_visibility="private", **language_in, **cheap),
                         "on_open")
            switched = language.input(self.set_language, language, [language_store, builtin, *relabelled],
                                      api_name="set_language", **cheap)
            rest_of_page(switched.then(guarded(5)(self.show_corpus), None, corpus_out, api_name="show_corpus",
                                       api_visibility="private", **cheap), "on_language").then(
                guarded(5)(self.training_status), None, status_out, api_name="status_on_language",
                api_visibility="private", **cheap)

            # ---------------------------------------------------------------- events
            load_evt = load_btn.click(guarded(5)(self.load_corpus), [builtin, upload, val_fraction], corpus_out,
                                      api_name="load_corpus", **heavy)
            load_evt.then(guarded(7)(self.preview_batch), batch_in, batch_out, api_name="preview_after_load",
                          api_visibility="private", **cheap)
            for i, slider in enumerate(batch_in):
                slider.input(guarded(7)(self.preview_batch), batch_in, batch_out, trigger_mode="always_last",
                             api_name="preview_batch" if i == 0 else f"preview_batch_{i}",
                             api_visibility="public" if i == 0 else "private", **cheap)

            preset_box.change(self.preset_values, preset_box, form, api_name="preset_values", **cheap)
            start_btn.click(guarded(2)(self.start_training), [preset_box, *form], [train_msg, timer],
                            api_name="start_training", **heavy)
            resume_btn.click(guarded(2)(self.resume_training), [preset_box, *form], [train_msg, timer],
                             api_name="resume_training", **heavy)
            stop_btn.click(guarded(1)(self.stop_training), None, train_msg, api_name="stop_training", **cheap)
            timer.tick(guarded(5)(self.training_status), None, status_out, api_name="training_status", **cheap)

            gen_tab.select(self.model_choices, None, model_box, api_name="model_choices", **cheap)
            ckpt_upload.upload(guarded(2)(self.upload_checkpoint), ckpt_upload, [gen_status, model_box],
                               api_name="upload_checkpoint", **heavy)
            dist_in = [model_box, prime, temperature, top_n]
            dist_out = [dist_note, dist_plot, top_n]
            prime.submit(guarded(3)(self.next_char), dist_in, dist_out, api_name="next_char", **cheap)
            for name, comp in (("model", model_box), ("temperature", temperature), ("top", top_n)):
                comp.change(guarded(3)(self.next_char), dist_in, dist_out, api_name=f"next_char_on_{name}",
                            api_visibility="private", trigger_mode="always_last", **cheap)
            gen_btn.click(self.generate, [model_box, prime, length, top_n, temperature, seed],
                          [gen_text, gen_status], api_name="generate", **heavy)
            gen_btn.click(guarded(3)(self.next_char), dist_in, dist_out, api_name="next_char_on_generate",
                          api_visibility="private", **cheap)
            gen_stop.click(self.stop_generation, None, gen_status, api_name="stop_generation", **cheap)
            demo.unload(self.end_session)
        return demo

    def launch(self, demo: gr.Blocks, **kwargs):
        return demo.queue(default_concurrency_limit=self.config.heavy_concurrency).launch(
            css=CSS, js=FOLLOW_SETTINGS_JS, max_file_size=f"{self.config.max_upload_mb}mb", i18n=I18N,
            show_error=True,  # Gradio's own input checks (a number sent where a slider expects one) explain themselves
            footer_links=["api", "settings"], **kwargs)


TRANSLATABLE_PROPS = ("label", "info", "placeholder", "value", "title", "x_title", "y_title", "color_title")


def translated_props(block) -> dict[str, str]:
    """Which of a component's texts were given as ``I18N(key)``: {prop: key}."""
    found = {}
    for prop in TRANSLATABLE_PROPS:
        key = i18n.key_of(getattr(block, prop, None))
        if key:
            found[prop] = key
    return found
