"""The Gradio app: four tabs over ``charlm``, one ``Visitor`` per browser session.

Every handler catches errors and answers with a message in the page; nothing here does model
maths (that is ``charlm``), and nothing belonging to a visitor lives in a module global.
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

from . import inside, texts, views
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


def guarded(n_outputs: int):
    """Turn any error into a message in the handler's first output; leave the others as they were."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except CharLMError as err:
                message = f"⚠️ {err}"
            except Exception as err:  # never a stack trace in the page
                log.exception("handler %s failed", fn.__name__)
                message = f"⚠️ Something went wrong ({type(err).__name__}). Please try again."
            return (message, *[gr.skip()] * (n_outputs - 1)) if n_outputs > 1 else message

        return inner

    return wrap


def as_int(value, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharLMError(f"{name} must be a whole number; got {value!r}.") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise CharLMError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
    return int(number)


def as_float(value, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharLMError(f"{name} must be a number; got {value!r}.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise CharLMError(f"{name} must be between {low:g} and {high:g}; got {value!r}.")
    return number


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

    # shared, read-only resources -------------------------------------------------------------
    @functools.lru_cache(maxsize=4)
    def builtin_corpus(self, name: str, val_fraction: float) -> Corpus:
        if name == PYTHON_SOURCE:
            return Corpus.from_text(python_source_text(), val_fraction, name="Python standard library source")
        path = local_path(name)
        if path is None:
            raise CharLMError(f"The corpus {name!r} is not on this computer (see the README: python -m charlm download {name}).")
        return Corpus.from_text(load_text(path), val_fraction, name=REGISTRY[name].title)

    def default_corpus_name(self) -> str:
        return "anna-karenina" if local_path("anna-karenina") else PYTHON_SOURCE

    def pretrained(self) -> dict[str, Path]:
        """Models shipped in assets/: label -> file."""
        found = {}
        for path in sorted(self.config.assets_dir.glob("*.safetensors")):
            if path.with_suffix(".json").is_file():
                found[f"pretrained: {path.stem}"] = path
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

    def corpus_for(self, visitor: Visitor) -> Corpus:
        """The visitor's corpus; the default one until they load another (API clients never see the page)."""
        if visitor.corpus is None:
            visitor.corpus = self.builtin_corpus(self.default_corpus_name(), 0.1)
        return visitor.corpus

    # corpus --------------------------------------------------------------------------------------
    def _corpus_outputs(self, corpus: Corpus, message: str):
        return (message, views.corpus_summary(corpus), views.vocab_text(corpus.vocab), views.codes_html(corpus),
                views.frequency_frame(corpus))

    def load_corpus(self, builtin: str | None, upload, val_fraction: float, request: gr.Request):
        """Load a built-in corpus or an uploaded file; on failure the old corpus stays."""
        visitor = self.visitor(request)
        val_fraction = as_float(val_fraction, "The validation share", 0.0, 0.5)
        if upload:
            path = Path(upload if isinstance(upload, str) else upload["path"])
            limit = self.config.max_upload_mb * 1_000_000
            name = Path(path.name).name
            text = load_text(path, max_bytes=limit)
            if len(text) < MIN_CORPUS_CHARS:
                raise CharLMError(f"{name} has only {len(text)} characters: too short to train on. Use a text of at "
                                  f"least {MIN_CORPUS_CHARS} characters (a few pages or more learns much better).")
            corpus = Corpus.from_text(text, val_fraction, name=name)
        else:
            name = builtin or self.default_corpus_name()
            if name not in (PYTHON_SOURCE, *REGISTRY):
                raise CharLMError(f"Unknown built-in corpus {name!r}.")
            corpus = self.builtin_corpus(name, round(val_fraction, 4))
        visitor.corpus = corpus
        return self._corpus_outputs(corpus, f"Loaded {corpus.name}.")

    def show_corpus(self, request: gr.Request):
        corpus = self.corpus_for(self.visitor(request))
        return self._corpus_outputs(corpus, f"Loaded {corpus.name}.")

    # batches -------------------------------------------------------------------------------------
    def preview_batch(self, batch_size, num_steps, index, row, show_ints, request: gr.Request):
        corpus = self.corpus_for(self.visitor(request))
        N = as_int(batch_size, "N (sequences)", 1, 1000)
        M = as_int(num_steps, "M (steps)", 1, 1000)
        data = corpus.train_data
        batches = Batches(data, N, M, what="The training part of the text")
        index = min(as_int(index, "The batch index", 0, 10 ** 9), len(batches) - 1)
        row = min(as_int(row, "The sequence", 0, 10 ** 6), N - 1)
        x, y = batches[index]
        info = (f"Batch {index} of {len(batches):,}: inputs and targets are both {N}×{M}. "
                f"Row {row}, first steps: input `{views.show_char(corpus.vocab.chars[x[row, 0]])}` → target "
                f"`{views.show_char(corpus.vocab.chars[y[row, 0]])}`; the last target of each row is the first "
                f"input of the next batch (the true next character).")
        return (info, views.reshape_html(batches, index, len(data)),
                views.grid_html(x, corpus.vocab, bool(show_ints), 0, "inputs x"),
                views.grid_html(y, corpus.vocab, bool(show_ints), 1, "targets y (x shifted left by one)"),
                views.one_hot_html(x[row], corpus.vocab),
                gr.update(maximum=len(batches) - 1, value=index), gr.update(maximum=N - 1, value=row))

    # training ------------------------------------------------------------------------------------
    @staticmethod
    def preset_values(name: str):
        cfg = preset(name if name in UI_PRESETS else "quick")
        return tuple(getattr(cfg, f) for f in TRAIN_FIELDS)

    def _config_from_form(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs,
                          max_steps) -> TrainConfig:
        if preset_name not in UI_PRESETS:
            raise CharLMError(f"Unknown preset {preset_name!r}; choose one of {', '.join(UI_PRESETS)}.")
        if cell not in ("lstm", "gru", "rnn"):
            raise CharLMError(f"The cell must be lstm, gru or rnn; got {cell!r}.")
        return preset(
            preset_name, cell=cell, num_layers=as_int(layers, "Layers", 1, 4),
            hidden_size=as_int(hidden, "Hidden size", 8, 1024), dropout=as_float(dropout, "Dropout", 0.0, 0.9),
            batch_size=as_int(N, "N (sequences)", 1, 512), num_steps=as_int(M, "M (steps)", 1, 512),
            learning_rate=as_float(lr, "The learning rate", 1e-5, 0.1), grad_clip=as_float(clip, "Gradient clip", 0.0, 100.0),
            epochs=as_int(epochs, "Epochs", 1, 100), max_steps=as_int(max_steps, "Max steps", 0, 1_000_000),
            max_seconds=0.0, save_every=max(50, PRESETS[preset_name].save_every), sample_every=100, sample_length=200,
            eval_every=100, eval_batches=10, num_threads=0,
        )

    def start_training(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps,
                       request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is not None and not visitor.job.finished:
            raise CharLMError("A training is already running in this tab: stop it first.")
        corpus = self.corpus_for(visitor)
        config = self._config_from_form(preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps)
        visitor.run += 1  # earlier runs' checkpoints stay available in the Generate tab
        visitor.job = TrainingJob(corpus, config, visitor.run_dir, slots=self.slots, niceness=10).start()
        return f"Training started on {corpus.name} ({config.num_layers}×{config.hidden_size} {config.cell}).", gr.Timer(active=True)

    def resume_training(self, preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps,
                        request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is not None and not visitor.job.finished:
            raise CharLMError("Training is still running.")
        latest = list_checkpoints(visitor.run_dir)
        if not latest or visitor.corpus is None:
            raise CharLMError("Nothing to resume yet: start a training first.")
        ckpt = load_checkpoint(latest[-1])
        form = self._config_from_form(preset_name, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps)
        config = ckpt.train_config.replace(epochs=form.epochs, max_steps=form.max_steps, learning_rate=form.learning_rate,
                                           grad_clip=form.grad_clip, dropout=form.dropout)
        visitor.job = TrainingJob(visitor.corpus, config, visitor.run_dir, resume=ckpt, slots=self.slots,
                                  niceness=10).start()
        return f"Resumed from step {ckpt.progress.step}.", gr.Timer(active=True)

    def stop_training(self, request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is None or visitor.job.finished:
            return "No training is running."
        visitor.job.stop()
        return "Stopping after the current step; a checkpoint will be saved."

    def training_status(self, request: gr.Request):
        visitor = self.visitor(request)
        if visitor.job is None:
            return ("No training yet: pick a preset and press Start.", views.loss_figure(views.JobSnapshot("pending")),
                    "", [], gr.Timer(active=False))
        snap = visitor.job.snapshot()
        sample = f"— sample at step {snap.samples[-1][0]} —\n{snap.samples[-1][1]}" if snap.samples else ""
        files = [str(p) for p in snap.checkpoints[-3:]]
        # redraw the figure only when there is something new to show
        key = (id(visitor.job), snap.step, len(snap.val_loss))
        figure = gr.skip() if key == visitor.plotted else views.loss_figure(snap)
        visitor.plotted = key
        return views.status_line(snap), figure, sample, files, gr.Timer(active=not visitor.job.finished)

    # generation ----------------------------------------------------------------------------------
    def model_choices(self, request: gr.Request, select: str | None = None):
        visitor = self.visitor(request)
        for run in sorted(visitor.checkpoints_dir.glob("run*"), key=lambda d: int(d.name[3:])):
            for path in list_checkpoints(run):
                visitor.models[f"this session: {run.name}/{path.stem}"] = path
        visitor.models = {k: v for k, v in visitor.models.items() if v.is_file()}
        choices = list(self.pretrained()) + list(reversed(visitor.models))
        value = select if select in choices else (choices[0] if choices else None)
        return gr.update(choices=choices, value=value)

    def resolve_model(self, label: str | None, visitor: Visitor) -> Path:
        if not label:
            raise CharLMError("No model yet: train one (Train tab) or upload a checkpoint.")
        shipped = self.pretrained()
        if label in shipped:
            return shipped[label]
        path = visitor.models.get(label)
        if path is None or not visitor.owns(path) or not path.is_file():
            raise CharLMError(f"Unknown model {label!r}: pick one from the list.")
        return path

    def upload_checkpoint(self, upload, request: gr.Request):
        visitor = self.visitor(request)
        if not upload:
            raise CharLMError("Choose a .safetensors checkpoint file to upload.")
        source = Path(upload if isinstance(upload, str) else upload["path"])
        if source.stat().st_size > 512 * 1024 * 1024:
            raise CharLMError("That file is too large to be a charlm checkpoint.")
        visitor.uploads_dir.mkdir(parents=True, exist_ok=True)
        stem = f"upload{len(visitor.models) + 1}"
        target = visitor.uploads_dir / f"{stem}.safetensors"
        shutil.copyfile(source, target)
        try:
            ckpt = load_checkpoint(target)
        except CharLMError:
            target.unlink(missing_ok=True)
            raise
        label = f"uploaded: {Path(source.name).stem[:40]} ({ckpt.model_config.num_layers}×{ckpt.model_config.hidden_size} {ckpt.model_config.cell})"
        visitor.models[label] = target
        return f"Loaded {label}.", self.model_choices(request, select=label)

    def next_char(self, label, prime, temperature, top_n, request: gr.Request):
        visitor = self.visitor(request)
        sampler = self.sampler_for(self.resolve_model(label, visitor))
        temperature = as_float(temperature, "The temperature", 0.05, 10.0)
        top_n = as_int(top_n, "Top-N", 1, 100_000)
        top_n = min(top_n, len(sampler.vocab))
        probs = sampler.next_char_distribution(prime, temperature)
        shown = views.show_char(prime[-1]) if prime else ""
        return (f"After “…{views.show_char(prime[-12:]) if len(prime) > 1 else shown}”, the model's most likely next characters "
                f"(temperature {temperature:g}); only the top {top_n} can be drawn.",
                views.probability_frame(probs, sampler.vocab, top_n), gr.update(maximum=len(sampler.vocab)))

    def generate(self, label, prime, length, top_n, temperature, seed, request: gr.Request):
        visitor = self.visitor(request)
        try:
            sampler = self.sampler_for(self.resolve_model(label, visitor))
            length = as_int(length, "Length", 1, 5000)
            top_n = as_int(top_n, "Top-N", 1, 100_000)
            if top_n > len(sampler.vocab):
                raise CharLMError(f"Top-N can be at most the vocabulary size ({len(sampler.vocab)}); got {top_n}.")
            temperature = as_float(temperature, "The temperature", 0.05, 10.0)
            seed = None if seed is None or seed == "" else as_int(seed, "The seed", 0, 2 ** 32 - 1)
            visitor.generation += 1
            ticket = visitor.generation
            text, last = prime, 0.0  # the first character is shown at once
            chars = sampler.stream(prime, length, top_n, temperature, seed)
            for i, ch in enumerate(chars):
                text += ch
                if visitor.generation != ticket:
                    yield text, f"Stopped after {i + 1} characters."
                    return
                if time.monotonic() - last > 0.05:
                    last = time.monotonic()
                    yield text, f"Generating… {i + 1}/{length}"
            yield text, f"Done: {length} characters (seed {seed if seed is not None else 'random'})."
        except CharLMError as err:
            yield gr.skip(), f"⚠️ {err}"
        except Exception as err:
            log.exception("generation failed")
            yield gr.skip(), f"⚠️ Something went wrong ({type(err).__name__}). Please try again."

    def stop_generation(self, request: gr.Request):
        self.visitor(request).generation += 1
        return "Stopped."

    def end_session(self, request: gr.Request):
        self.store.end(getattr(request, "session_hash", None))

    # layout --------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        heavy = {"concurrency_id": "heavy", "concurrency_limit": self.config.heavy_concurrency}
        cheap = {"concurrency_limit": None}
        builtin_choices = [PYTHON_SOURCE, *REGISTRY]
        # Gradio keeps copies of served files (checkpoint downloads) in its cache: clear them hourly.
        with gr.Blocks(title="charlm — character-level language model", delete_cache=(3600, 6 * 3600)) as demo:
            gr.Markdown(texts.INTRO)
            with gr.Tabs():
                # ---------------------------------------------------------------- corpus
                with gr.Tab("1 · Corpus", id="corpus"):
                    gr.Markdown(texts.CORPUS)
                    with gr.Row():
                        builtin = gr.Dropdown(builtin_choices, value=self.default_corpus_name(), label="Built-in text",
                                              info=texts.HINTS["builtin"])
                        upload = gr.File(label="…or upload a .txt file", file_types=[".txt"], type="filepath")
                        val_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.01, label="Validation share",
                                                 info=texts.HINTS["val_fraction"])
                    load_btn = gr.Button("Load text", variant="primary")
                    corpus_status = gr.Markdown(elem_id="corpus-status")
                    corpus_summary = gr.Markdown(elem_id="corpus-summary")
                    vocab_box = gr.Textbox(label="Vocabulary (code:character; ␣ is a space, ⏎ a newline)", lines=3,
                                           interactive=False)
                    codes = gr.HTML(label="The first 200 characters and their codes")
                    freq = gr.BarPlot(x="character", y="count", title="How often each character occurs (top 40)",
                                      sort="-y", height=300)
                # ---------------------------------------------------------------- batches
                with gr.Tab("2 · Batches", id="batches"):
                    gr.Markdown(texts.BATCHES)
                    with gr.Row():
                        n_slider = gr.Slider(1, 200, value=15, step=1, label="N (sequences per batch)",
                                             info=texts.HINTS["batch_size"], elem_id="batch-n")
                        m_slider = gr.Slider(1, 200, value=50, step=1, label="M (steps per sequence)",
                                             info=texts.HINTS["num_steps"], elem_id="batch-m")
                    with gr.Row():
                        index_slider = gr.Slider(0, 100, value=0, step=1, label="Batch index",
                                                 info=texts.HINTS["batch_index"])
                        row_slider = gr.Slider(0, 14, value=0, step=1, label="Sequence (row) for the one-hot view",
                                               info=texts.HINTS["row"])
                        show_ints = gr.Checkbox(False, label="Show integer codes", info=texts.HINTS["show_ints"])
                    batch_info = gr.Markdown(elem_id="batch-info")
                    reshape = gr.HTML()
                    with gr.Row():
                        grid_x = gr.HTML(elem_id="grid-x")
                        grid_y = gr.HTML(elem_id="grid-y")
                    onehot_view = gr.HTML(elem_id="one-hot")
                # ---------------------------------------------------------------- train
                with gr.Tab("3 · Train", id="train"):
                    gr.Markdown(texts.TRAIN)
                    q = preset("quick")
                    with gr.Row():
                        preset_box = gr.Dropdown(list(UI_PRESETS), value="quick", label="Preset", info=texts.HINTS["preset"])
                        cell = gr.Radio(["lstm", "gru", "rnn"], value=q.cell, label="Cell", info=texts.HINTS["cell"])
                        layers = gr.Slider(1, 4, value=q.num_layers, step=1, label="Layers", info=texts.HINTS["num_layers"])
                        hidden = gr.Slider(16, 1024, value=q.hidden_size, step=16, label="Hidden size",
                                           info=texts.HINTS["hidden_size"])
                        dropout = gr.Slider(0.0, 0.9, value=q.dropout, step=0.05, label="Dropout", info=texts.HINTS["dropout"])
                    with gr.Row():
                        tn = gr.Slider(1, 512, value=q.batch_size, step=1, label="N (batch size)", info=texts.HINTS["batch_size"])
                        tm = gr.Slider(1, 512, value=q.num_steps, step=1, label="M (steps)", info=texts.HINTS["num_steps"])
                        lr = gr.Number(q.learning_rate, label="Learning rate", info=texts.HINTS["learning_rate"])
                        clip = gr.Number(q.grad_clip, label="Gradient clip", info=texts.HINTS["grad_clip"])
                        epochs = gr.Number(q.epochs, precision=0, label="Epochs", info=texts.HINTS["epochs"])
                        max_steps = gr.Number(q.max_steps, precision=0, label="Max steps", info=texts.HINTS["max_steps"])
                    form = [cell, layers, hidden, dropout, tn, tm, lr, clip, epochs, max_steps]
                    with gr.Row():
                        start_btn = gr.Button("Start", variant="primary", elem_id="start-training")
                        stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-training")
                        resume_btn = gr.Button("Resume", elem_id="resume-training")
                    train_msg = gr.Markdown(elem_id="train-message")
                    train_status = gr.Markdown("No training yet.", elem_id="train-status")
                    loss_plot = gr.Plot(label="Loss (nats per character)", elem_id="loss-plot")
                    sample_box = gr.Textbox(label="Latest sample from the model being trained", lines=6, interactive=False,
                                            elem_id="train-sample")
                    ckpt_files = gr.File(label="Checkpoints (latest three)", file_count="multiple", interactive=False)
                    timer = gr.Timer(1.0, active=False)
                # ---------------------------------------------------------------- generate
                with gr.Tab("4 · Generate", id="generate") as gen_tab:
                    gr.Markdown(texts.GENERATE)
                    with gr.Row():
                        model_box = gr.Dropdown([], label="Model", info=texts.HINTS["model"], elem_id="model-choice")
                        ckpt_upload = gr.File(label="Upload a checkpoint", file_types=[".safetensors"], type="filepath")
                    with gr.Row():
                        prime = gr.Textbox("Far", label="Prime text", info=texts.HINTS["prime"], elem_id="prime")
                        length = gr.Slider(1, 5000, value=500, step=1, label="Length", info=texts.HINTS["length"])
                        top_n = gr.Slider(1, 83, value=4, step=1, label="Top-N", info=texts.HINTS["top_n"])
                        temperature = gr.Slider(0.1, 3.0, value=1.0, step=0.05, label="Temperature",
                                                info=texts.HINTS["temperature"])
                        seed = gr.Number(1, precision=0, label="Seed", info=texts.HINTS["seed"])
                    with gr.Row():
                        gen_btn = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                        gen_stop = gr.Button("Stop", variant="stop")
                    gen_status = gr.Markdown(elem_id="gen-status")
                    with gr.Row():
                        gen_text = gr.Textbox(label="Generated text", lines=14, interactive=False, elem_id="gen-text")
                        with gr.Column():
                            dist_note = gr.Markdown()
                            dist_plot = gr.BarPlot(x="character", y="probability", color="kind", sort="-y", height=320,
                                                   title="Next-character probabilities after the prime",
                                                   color_map={"in top-N (can be drawn)": "#f59e0b",
                                                              "outside top-N (never drawn)": "#94a3b8"})

                inside.build(self, model_box, guarded)

            # ---------------------------------------------------------------- events
            corpus_out = [corpus_status, corpus_summary, vocab_box, codes, freq]
            batch_in = [n_slider, m_slider, index_slider, row_slider, show_ints]
            batch_out = [batch_info, reshape, grid_x, grid_y, onehot_view, index_slider, row_slider]
            load_evt = load_btn.click(guarded(5)(self.load_corpus), [builtin, upload, val_fraction], corpus_out,
                                      api_name="load_corpus", **heavy)
            load_evt.then(guarded(7)(self.preview_batch), batch_in, batch_out, api_name="preview_after_load",
                          api_visibility="private", **cheap)
            demo.load(guarded(5)(self.show_corpus), None, corpus_out, api_name="show_corpus",
                      api_visibility="private", **cheap).then(
                guarded(7)(self.preview_batch), batch_in, batch_out, api_name="preview_on_open",
                api_visibility="private", **cheap).then(
                self.model_choices, None, model_box, api_name="models_on_open", api_visibility="private", **cheap)
            for i, slider in enumerate(batch_in):
                slider.input(guarded(7)(self.preview_batch), batch_in, batch_out, trigger_mode="always_last",
                             api_name="preview_batch" if i == 0 else f"preview_batch_{i}",
                             api_visibility="public" if i == 0 else "private", **cheap)

            preset_box.change(self.preset_values, preset_box, form, api_name="preset_values", **cheap)
            status_out = [train_status, loss_plot, sample_box, ckpt_files, timer]
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
            for comp in (model_box, temperature, top_n):
                comp.change(guarded(3)(self.next_char), dist_in, dist_out, api_name=f"next_char_on_{comp.label.split()[0].lower()}",
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
            css=CSS, max_file_size=f"{self.config.max_upload_mb}mb",
            show_error=True,  # Gradio's own input checks (a number sent where a slider expects one) explain themselves
            footer_links=["api", "settings"], **kwargs)
