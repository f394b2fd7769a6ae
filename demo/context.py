"""What every tab is built with: the server's settings, the visitors, the shared caches, and a
helper that wires an event so that any error becomes a message in the page.

A tab receives one ``Context`` and uses only what it declares here, so a tab can be read (and
added) on its own.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch

from charlm import CharLMError, Corpus
from charlm.data.corpora import REGISTRY, default_corpus_name, is_available, load_builtin
from charlm.sampling.fast import products
from charlm.sampling.sampler import PRECISIONS
from charlm.serving import generations
from charlm.serving.waiting_line import JobSlots
from charlm.training.memory import host_memory_bytes

from . import figures, i18n
from .fields import Field
from .i18n import AppError
from .links import Links
from .models import ModelCatalogue
from .runners import ChunkRunner, ProcessRunner, ThreadRunner, on_zerogpu, runner_for
from .state import SessionStore, Visitor, tune_allocator

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class AppConfig:
    max_jobs: int = 2  # trainings running at once, for everyone together
    torch_threads: int = 0  # 0: the CPU count divided among the training slots
    max_upload_mb: int = 20
    session_ttl_hours: float = 6.0
    anonymous_ttl_minutes: float = 10.0  # API clients (no browser) are forgotten after this idle time
    max_job_minutes: float = 30.0  # a training on the page stops after this long (a class setting; 0: no limit)
    heavy_concurrency: int = 4  # uploads / training starts / single-character steps handled at once
    generation_streams: int = (
        generations.MAX_STREAMS
    )  # generations per model stepped together; 0: each alone, heavy pool
    sampler_precision: str = "fp32"  # "int8": generate from int8 weights (faster; texts differ from fp32's a little)
    queue_size: int = 256  # requests waiting at once, for everyone (Gradio on ZeroGPU would default to 1)
    page_states: int = 1000  # pages whose state Gradio keeps at most (about 220 KB each here: its 10,000 are 2 GB)
    sampler_cache_mb: int = 1024  # loaded models kept for everyone, least recently used out first
    job_memory_mb: int = 0  # memory one training may use (0: this host's or container's, shared by max_jobs)
    session_disk_mb: int = 1024  # disk one visitor's checkpoints and uploads may take
    runner: str = "auto"  # how trainings run: "thread", "process", "chunks" (time-boxed GPU calls); "auto": chunks
    # on ZeroGPU, else a thread
    chunk_seconds: float = 45.0  # one chunk's training time (ZeroGPU asks this much more for start-up and saving)
    assets_dir: Path = ROOT / "assets"
    sessions_root: Path | None = None
    space_id: str = ""  # the Hugging Face Space this runs as ("": not on a Space)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AppConfig:
        """Defaults chosen for the host (``host_defaults``), then whatever ``CHARLM_*`` variables say."""
        values: dict[str, object] = {**host_defaults(env), "space_id": env.get("SPACE_ID", "")}
        for variable, name in ENVIRONMENT.items():
            if env.get(variable):
                kind = type(getattr(cls(), name))
                try:
                    values[name] = kind(env[variable])
                except ValueError:
                    raise ValueError(
                        f"{variable} must be a {'whole ' if kind is int else ''}number; it is {env[variable]!r}."
                    ) from None
                if kind in (int, float) and not values[name] >= 0:  # sizes, counts and times: none below zero
                    raise ValueError(f"{variable} must be 0 or more; it is {env[variable]!r}.")
                if name == "sampler_precision" and values[name] not in PRECISIONS:
                    raise ValueError(f"{variable} must be one of {', '.join(PRECISIONS)}; it is {env[variable]!r}.")
        return cls(**values)

    @property
    def job_memory_bytes(self) -> int:
        """A training's share: 80 % of the host's memory less 1 GB for the server and its models, per slot."""
        if self.job_memory_mb:
            return self.job_memory_mb << 20
        return max(256 << 20, int(host_memory_bytes() * 0.8 - (1 << 30)) // max(1, self.max_jobs))


# The settings a host may set by environment variable (on a Space: its "Variables"), each once.
ENVIRONMENT = {
    "CHARLM_MAX_JOBS": "max_jobs",
    "CHARLM_TORCH_THREADS": "torch_threads",
    "CHARLM_MAX_UPLOAD_MB": "max_upload_mb",
    "CHARLM_JOB_MEMORY_MB": "job_memory_mb",
    "CHARLM_SESSION_DISK_MB": "session_disk_mb",
    "CHARLM_MAX_JOB_MINUTES": "max_job_minutes",
    "CHARLM_API_IDLE_MINUTES": "anonymous_ttl_minutes",
    "CHARLM_RUNNER": "runner",
    "CHARLM_CHUNK_SECONDS": "chunk_seconds",
    "CHARLM_QUEUE_SIZE": "queue_size",
    "CHARLM_GENERATION_STREAMS": "generation_streams",
    "CHARLM_SAMPLER_PRECISION": "sampler_precision",
}


def host_defaults(env: Mapping[str, str]) -> dict[str, object]:
    """Trainings at once and each one's time limit, for the host the app finds itself on.

    * ZeroGPU (``SPACES_ZERO_GPU``): trainings run on the shared GPU in chunks, each visitor's own daily quota
      bounds them, and the server only relays progress: eight at once, ten minutes each.
    * Another Space (``SPACE_ID``; ``CPU_CORES`` says how many cores it has): half the cores, at least two
      trainings, fifteen minutes each, so that a class takes turns.
    * A laptop or a teacher's machine: half the cores, at least two, thirty minutes.
    """
    if on_zerogpu(env):
        return {"max_jobs": 8, "max_job_minutes": 10.0}
    cores = int(env.get("CPU_CORES") or os.cpu_count() or 2)
    return {"max_jobs": max(2, cores // 2), "max_job_minutes": 15.0 if env.get("SPACE_ID") else 30.0}


@dataclass
class Refresh:
    """Something a tab redraws when the page opens, the language changes or the corpus changes."""

    name: str  # its events are named "<name>_on_<when>" in the API
    fn: Callable
    inputs: list
    outputs: list
    on: tuple[str, ...]  # of "open", "language", "corpus"


@dataclass
class Context:
    config: AppConfig
    store: SessionStore
    slots: JobSlots
    models: ModelCatalogue
    runner: ThreadRunner | ChunkRunner | ProcessRunner
    refreshes: list[Refresh] = field(default_factory=list)
    shared: dict[str, object] = field(default_factory=dict)  # what one tab offers the others (components, events)
    links: Links = field(default_factory=Links)  # the settings a link can set (``?learning_rate=0.01``)

    @classmethod
    def create(cls, config: AppConfig) -> Context:
        """The server's shared state; call it in the main thread (it sets torch's thread count)."""
        root = config.sessions_root or _process_folder()
        threads = config.torch_threads or max(1, (os.cpu_count() or 2) // max(1, config.max_jobs))
        torch.set_num_threads(threads)  # process-wide: here, once, never from a worker thread
        tune_allocator()  # process-wide too
        log.info("the sampler's loops: %s", products.warm_up(config.sampler_precision))  # now, not at a first click
        models = ModelCatalogue(
            config.assets_dir,
            cache_bytes=config.sampler_cache_mb << 20,
            streams=max(1, config.generation_streams),
            precision=config.sampler_precision,
        )
        store = SessionStore(
            Path(root),
            ttl_seconds=config.session_ttl_hours * 3600,
            anonymous_ttl_seconds=config.anonymous_ttl_minutes * 60,
            on_dispose=lambda visitor: models.forget(visitor.folder),
        )
        figures.keep_pictures_in(Path(root) / "pictures")
        store.on_sweep.append(figures.sweep_pictures)
        store.start_sweeper()
        return cls(
            config, store, JobSlots(config.max_jobs), models, runner_for(config.runner, config.chunk_seconds, threads)
        )

    # the visitor ----------------------------------------------------------------------------
    def visitor(self, request: gr.Request | None) -> Visitor:
        return self.store.get(getattr(request, "session_hash", None))

    def lang(self, request: gr.Request | None) -> str:
        """The visitor's language: their choice in the page, else their browser's (API clients: English)."""
        visitor = self.visitor(request)
        if visitor.lang is None:
            headers = getattr(request, "headers", None) or {}
            return i18n.from_accept_language(headers.get("accept-language"))
        return visitor.lang

    def corpus(self, visitor: Visitor) -> Corpus:
        """The visitor's corpus; the default one until they load another (API clients never see the page)."""
        if visitor.corpus is None:
            visitor.corpus = builtin_corpus(default_corpus_name(), 0.1)
        return visitor.corpus

    # wiring ---------------------------------------------------------------------------------
    def on(
        self,
        trigger: Callable,
        fn: Callable,
        inputs,
        outputs,
        *,
        heavy: bool = False,
        messages: bool = True,
        pool: tuple[str, int] | None = None,
        **kwargs,
    ):
        """``trigger(fn, inputs, outputs)`` (``button.click``, ``event.then``, ...), with ``fn`` guarded:
        an error shows as a message in the first Markdown among ``outputs`` (the other outputs keep
        what they show; with ``messages=False`` or no Markdown, it is only logged). Heavy work shares
        a bounded pool (or its own, ``pool=(name, size)``: trainings driven by their event); cheap work
        runs at once."""
        outputs = outputs if isinstance(outputs, list) else ([outputs] if outputs is not None else [])
        at = next((i for i, o in enumerate(outputs) if isinstance(o, gr.Markdown)), None) if messages else None
        name, size = pool or ("heavy", self.config.heavy_concurrency)
        limits = {"concurrency_id": name, "concurrency_limit": size} if heavy else {"concurrency_limit": None}
        fn = self._one_visitors_share(fn) if heavy else fn
        return trigger(guard(fn, len(outputs), at, self.lang), inputs, outputs or None, **limits, **kwargs)

    def _one_visitors_share(self, fn: Callable) -> Callable:
        """``fn`` refused while its visitor already has ``HEAVY_PER_VISITOR`` heavy calls running: one
        visitor (or script) cannot take every worker of the shared pool."""

        def take(args, kwargs):
            visitor = self.visitor(request_of(args, kwargs))
            if not visitor.heavy_calls.acquire(blocking=False):
                raise AppError("err.too_many_calls")
            return visitor

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def stream(*args, **kwargs):
                visitor = take(args, kwargs)
                try:
                    yield from fn(*args, **kwargs)
                finally:
                    visitor.heavy_calls.release()

            return stream

        @functools.wraps(fn)
        def call(*args, **kwargs):
            visitor = take(args, kwargs)
            try:
                return fn(*args, **kwargs)
            finally:
                visitor.heavy_calls.release()

        return call

    def refresh(self, name: str, fn: Callable, inputs: list, outputs: list, on: tuple[str, ...]) -> None:
        self.refreshes.append(Refresh(name, fn, inputs, outputs, on))

    def link(self, setting: Field | str, component, parse: Callable[[str], object] | None = None) -> None:
        """Let a link set ``component``: ``?<name>=<value>``, checked by the ``Field`` (or ``parse``)."""
        if isinstance(setting, Field):
            self.links.add(setting.name, component, parse or setting.parse)
        else:
            self.links.add(setting, component, parse or str)


SESSIONS = Path(tempfile.gettempdir()) / "charlm-sessions"


def _process_folder() -> Path:
    """This process's folder for visitors' files, after removing those of processes that are gone
    (a server killed mid-class leaves them; nothing else would)."""
    SESSIONS.mkdir(parents=True, exist_ok=True)
    for folder in SESSIONS.iterdir():
        if folder.is_dir() and folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    own = SESSIONS / str(os.getpid())
    atexit.register(shutil.rmtree, own, ignore_errors=True)
    return own


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.lru_cache(maxsize=4)
def builtin_corpus(name: str, val_fraction: float) -> Corpus:
    """A built-in corpus, read once for everyone (a class opening the page at once reads it once)."""
    if name in REGISTRY and not is_available(name):
        raise AppError("err.corpus_missing", name=name)
    return load_builtin(name, val_fraction)


def request_of(args, kwargs) -> gr.Request | None:
    return next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)


def guard(fn: Callable, n_outputs: int, message_at: int | None, lang_of: Callable) -> Callable:
    """``fn`` that never fails: an error becomes a message (in the visitor's language) in output
    ``message_at``, every other output is left as it was; generators too."""

    def failure(err: Exception, args, kwargs):
        if not isinstance(err, CharLMError):
            log.exception("handler %s failed", fn.__name__)
        if message_at is None:
            return gr.skip() if n_outputs <= 1 else tuple(gr.skip() for _ in range(n_outputs))
        message = i18n.message(err, lang_of(request_of(args, kwargs)))
        if n_outputs == 1:
            return message
        return tuple(message if i == message_at else gr.skip() for i in range(n_outputs))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:  # never a stack trace in the page
                yield failure(err, args, kwargs)

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # never a stack trace in the page
            return failure(err, args, kwargs)

    return call
