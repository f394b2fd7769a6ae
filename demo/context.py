"""What every tab is built with: the server's settings, the visitors, the shared caches, and a
helper that wires an event so that any error becomes a message in the page.

A tab receives one ``Context`` and uses only what it declares here, so a tab can be read (and
added) on its own.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch

from charlm import Corpus
from charlm.data.corpora import REGISTRY, default_corpus_name, is_available, load_builtin
from charlm.sampling.fast import products
from charlm.serving.memory_budget import MemoryBudget
from charlm.serving.waiting_line import JobSlots

from . import figures, i18n
from .disk import DiskCap, gradio_upload_folder
from .fields import Field
from .guard import guard, request_of
from .i18n import AppError
from .links import Links
from .models import ModelCatalogue
from .process import tune_allocator
from .runners import ChunkRunner, ProcessRunner, ThreadRunner, runner_for
from .sessions import PICTURES, SessionStore, Visitor, process_folder
from .settings import AppConfig

log = logging.getLogger(__name__)


@dataclass
class Refresh:
    """Something a tab redraws when the page opens, the language changes or the corpus changes."""

    name: str  # its events are named "<name>_on_<when>" in the API
    fn: Callable
    inputs: list
    outputs: list
    on: tuple[str, ...]  # of "open", "language", "corpus"


@dataclass
class Offered:
    """What one tab offers the others, each named here with who makes it and who reads it (no string-keyed bag:
    a reader sees every dependency between tabs in this one place)."""

    # the Corpus tab's load event: the shell runs every tab's "corpus" redraw after it
    corpus_loaded: object | None = None
    # the Generate tab's model choice: the Inside tab looks inside the same model (built after it, in TABS)
    model_box: gr.Dropdown | None = None


def client_address(request: gr.Request | None, behind_proxy: bool) -> str:
    """Where a call came from: on a Space, the first address the Space's proxy reports (``X-Forwarded-For``);
    elsewhere the connection's own (a header there could be written by anyone)."""
    if request is None:
        return ""
    if behind_proxy:
        forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
        if forwarded.strip():
            return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", "") or ""


@dataclass
class Context:
    config: AppConfig
    store: SessionStore
    slots: JobSlots
    models: ModelCatalogue
    runner: ThreadRunner | ChunkRunner | ProcessRunner
    memory: MemoryBudget  # what big requests take at once, for everyone (trainings have their own share)
    disk: DiskCap  # what all the app's files take, Gradio's copies included
    refreshes: list[Refresh] = field(default_factory=list)
    offered: Offered = field(default_factory=Offered)  # what one tab offers the others
    links: Links = field(default_factory=Links)  # the settings a link can set (``?learning_rate=0.01``)

    @classmethod
    def create(cls, config: AppConfig) -> Context:
        """The server's shared state; call it in the main thread (it sets torch's thread count)."""
        root = config.sessions_root or process_folder()
        threads = config.torch_threads or max(1, (os.cpu_count() or 2) // max(1, config.max_jobs))
        torch.set_num_threads(threads)  # process-wide: here, once, never from a worker thread
        tune_allocator()  # process-wide too
        log.info("the sampler's loops: %s", products.warm_up(config.sampler_precision))  # now, not at a first click
        memory = MemoryBudget(config.heavy_memory_bytes)
        models = ModelCatalogue(
            config.assets_dir,
            cache_bytes=config.sampler_cache_mb << 20,
            streams=config.generation_streams,
            precision=config.sampler_precision,
        )
        store = SessionStore(
            Path(root),
            ttl_seconds=config.session_ttl_hours * 3600,
            anonymous_ttl_seconds=config.anonymous_ttl_minutes * 60,
            on_dispose=lambda visitor: (models.forget(visitor.folder), forget_holdings(memory, visitor)),
        )
        disk = DiskCap([Path(root), gradio_upload_folder()], config.disk_cap_bytes(Path(root)))
        store.on_sweep.append(lambda: disk.tidy(gradio_upload_folder()))
        figures.keep_pictures_in(Path(root) / PICTURES)
        store.on_sweep.append(figures.sweep_pictures)
        store.start_sweeper()
        return cls(
            config,
            store,
            JobSlots(config.max_jobs, kept=1 if config.teacher_key else 0),  # the teacher's place, if there is one
            models,
            runner_for(config.runner, config.chunk_seconds, threads),
            memory,
            disk,
        )

    # the visitor ----------------------------------------------------------------------------
    def visitor(self, request: gr.Request | None) -> Visitor:
        visitor = self.store.get(getattr(request, "session_hash", None))
        if not visitor.address:
            visitor.address = client_address(request, behind_proxy=bool(self.config.space_id))
            # Gradio's page marks its events as the app's own (an API client's as "api"). A page's first events
            # open it (``LanguageSwitch.initial`` clears the mark); any other first event comes from a page that
            # opened before the server forgot it (hours of silence) or restarted (until it reloads itself).
            headers = getattr(request, "headers", None) or {}
            visitor.page_from_before = not visitor.browser and headers.get(PAGE_HEADER) == "app"
        return visitor

    def places_taken_from(self, address: str) -> int:
        """Trainings running or waiting now whose visitors came from ``address``."""
        return sum(
            1 for v in self.store.visitors() if v.address == address and v.job is not None and not v.job.finished
        )

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
        fn = self.bind(fn)
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
        self.refreshes.append(Refresh(name, self.bind(fn), inputs, outputs, on))

    def bind(self, fn: Callable) -> Callable:
        """A handler written as a plain function of the context and its inputs, ``fn(ctx, ...)``, with this
        context given: what Gradio calls. Its signature is ``fn``'s without ``ctx``, so that Gradio still finds
        the ``gr.Request`` it passes by annotation. Any other function is returned as it is."""
        parameters = list(inspect.signature(fn).parameters.values())
        if not parameters or parameters[0].name != "ctx":
            return fn
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def handler(*args, **kwargs):
                yield from fn(self, *args, **kwargs)
        else:

            @functools.wraps(fn)
            def handler(*args, **kwargs):
                return fn(self, *args, **kwargs)

        handler.__signature__ = inspect.signature(fn).replace(parameters=parameters[1:])
        handler.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "ctx"}
        return handler

    def link(self, setting: Field | str, component, parse: Callable[[str], object] | None = None) -> None:
        """Let a link set ``component``: ``?<name>=<value>``, checked by the ``Field`` (or ``parse``)."""
        if isinstance(setting, Field):
            self.links.add(setting.name, component, parse or setting.parse)
        else:
            self.links.add(setting, component, parse or str)


# The header Gradio's page sends with each of its events ("app"; Gradio's clients send "api").
PAGE_HEADER = "x-gradio-user"
# What a visitor may keep between requests in the memory budget, each under its own name (``holder``).
HOLDINGS = ("corpus", "one-batch")


def holder(visitor: Visitor, what: str) -> str:
    """The name of one of a visitor's holdings in the memory budget (``what`` is one of ``HOLDINGS``)."""
    assert what in HOLDINGS, what
    return f"{visitor.folder.name}/{what}"


def forget_holdings(memory: MemoryBudget, visitor: Visitor) -> None:
    for what in HOLDINGS:
        memory.forget(holder(visitor, what))


@functools.lru_cache(maxsize=4)
def builtin_corpus(name: str, val_fraction: float) -> Corpus:
    """A built-in corpus, read once for everyone (a class opening the page at once reads it once)."""
    if name in REGISTRY and not is_available(name):
        raise AppError("err.corpus_missing", name=name)
    return load_builtin(name, val_fraction)
