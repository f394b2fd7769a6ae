"""What belongs to one visitor, kept apart from every other visitor.

Each browser tab (a Gradio session, ``request.session_hash``) gets a ``Visitor``: its corpus,
its training job, its folder of checkpoints and uploads, and the models it can generate with.
The folder's name is a random token, not the session id, so it cannot be guessed; it is
removed when the tab closes or, for tabs that vanish without saying so, after a time-to-live.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from charlm import Corpus
from charlm.files import folder_bytes
from charlm.serving.jobs import TrainingJob

from .i18n import AppError, t
from .process import return_freed_memory

log = logging.getLogger(__name__)
T = TypeVar("T")
HEAVY_PER_VISITOR = 1  # heavy calls (generations, uploads, experiments) one visitor may have running at once
RUNS_KEPT = 4  # a visitor's trainings whose checkpoints stay available; older ones are removed at the next Start


@dataclass
class Visitor:
    folder: Path
    corpus: Corpus | None = None
    job: TrainingJob | None = None
    models: dict[str, Path] = field(default_factory=dict)  # label -> checkpoint file (own folder only)
    hidden: tuple[str, ...] = ()  # the settings their link hid (an exercise's): the link they copy hides them too
    said: dict[str, tuple[str, dict]] = field(default_factory=dict)  # where -> the text key and values shown there
    # each tab's own per-visitor state, one small object per tab, made at first use (``state_of``)
    tab_states: dict[type, object] = field(default_factory=dict, repr=False)
    last_seen: float = field(default_factory=time.monotonic)
    ended: float | None = None  # when the tab was reported closed (None: open)

    texts_loaded: int = 0  # texts loaded in this tab: One batch's run belongs to one of them
    run: int = 0  # trainings started in this tab; each keeps its checkpoints in its own folder
    lang: str | None = None  # chosen in the page ("en" / "zh-CN"); None: not yet known
    model_names: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> {language: shown name}
    # held while a training is checked and started: two Starts at once (a double click, a script) start one
    starting: threading.Lock = field(default_factory=threading.Lock, repr=False)
    browser: bool = False  # the page opened in a browser (API clients never open it, nor say goodbye)
    # A page that calls without having opened in this server's life: it opened before the server restarted (or
    # was forgotten after a long silence), and what it shows (a training, a model) is gone (``Context.visitor``).
    page_from_before: bool = False
    teacher: bool = False  # opened with the server's teacher key: their trainings take the kept place
    address: str = ""  # the network address its first call came from (``client_address``)
    heavy_calls: threading.Semaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(HEAVY_PER_VISITOR), repr=False
    )  # one visitor's share of the server's heavy work

    def state_of(self, kind: type[T]) -> T:
        """This visitor's state of one tab: the tab declares it as a small dataclass (``TrainView``,
        ``GenerateView``), and the visitor keeps one of each, made when first asked for."""
        found = self.tab_states.get(kind)
        if found is None:
            found = self.tab_states.setdefault(kind, kind())
        return found

    def say(self, where: str, key: str, lang: str, /, **params) -> str:
        """A message for one place in the page (``where``), remembered so that a language switch can say it again."""
        self.said[where] = (key, params)
        return t(key, lang, **params)

    def said_again(self, where: str, lang: str) -> str:
        """What ``where`` shows, in ``lang`` ("" if nothing was said there)."""
        key, params = self.said.get(where, ("", {}))
        return t(key, lang, **params) if key else ""

    @property
    def checkpoints_dir(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def run_dir(self) -> Path:
        """The folder of the latest training (Resume continues it; Start opens the next one)."""
        return self.run_dir_for(self.run)

    def run_dir_for(self, run: int) -> Path:
        return self.checkpoints_dir / f"run{run}"

    def prune_runs(self, keep: int = RUNS_KEPT) -> None:
        """Remove all but the newest ``keep`` trainings' folders: a visitor's disk stays bounded."""
        for run in range(1, self.run - keep + 1):
            shutil.rmtree(self.run_dir_for(run), ignore_errors=True)

    def disk_bytes(self, folder: Path | None = None) -> int:
        """What this visitor's files (or those in ``folder``) take on the server's disk."""
        return folder_bytes(folder or self.folder)

    def make_room(self, need: int, budget: int) -> None:
        """Remove the oldest trainings' folders until ``need`` more bytes fit in the visitor's ``budget``;
        refuse (nothing removed) when even removing them all would not be enough."""
        shutil.rmtree(self.folder / "offered", ignore_errors=True)  # download links: the next status poll remakes them
        training = self.job is not None and not self.job.finished  # its folder is in use
        runs = [r for r in range(1, self.run + 1) if self.run_dir_for(r).is_dir() and not (training and r == self.run)]
        used = self.disk_bytes()
        freeable = sum(self.disk_bytes(self.run_dir_for(r)) for r in runs)
        if used - freeable + need > budget:
            raise AppError(
                "err.disk_budget", need_mb=need / 2**20, used_mb=(used - freeable) / 2**20, budget_mb=budget / 2**20
            )
        for run in runs:
            if self.disk_bytes() + need <= budget:
                return
            shutil.rmtree(self.run_dir_for(run), ignore_errors=True)

    def offer(self, checkpoints: list[Path]) -> list[str]:
        """Hard links to ``checkpoints`` (weights and description) for the page's download list. A running
        training prunes its old checkpoints at any moment, even while Gradio copies one; a link keeps the file
        until the next offer replaces it. Costs no disk while the original exists."""
        folder = self.folder / "offered"
        folder.mkdir(parents=True, exist_ok=True)
        links = []
        for path in checkpoints:
            link = folder / f"{path.parent.name}-{path.name}"
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.link(path, link)
            if link.exists():
                links.append(link)
        for old in folder.iterdir():
            if old not in links:
                old.unlink(missing_ok=True)
        return [str(link) for link in links]

    @property
    def uploads_dir(self) -> Path:
        return self.folder / "uploads"

    def owns(self, path: Path) -> bool:
        """Only files inside this visitor's own folder may be loaded or offered for download."""
        try:
            path.resolve().relative_to(self.folder.resolve())
            return True
        except ValueError:
            return False


# Seconds without a call after which a place in the waiting line is given up. A page's: more than a minute, since a
# browser tab hidden for five minutes (a student reading elsewhere while waiting) polls only once a minute
# (Chrome). An API client's (no page ever opened): it must ask for its status within 20 s, so that a flood of
# scripts that press Start and go quiet is out of the line within a minute, the sweep's 30 s included.
LINE_SILENCE = 75.0
PICTURES = "pictures"  # the server's own folder among the visitors' (``figures.keep_pictures_in``)
API_LINE_SILENCE = 20.0


class SessionStore:
    def __init__(
        self,
        root: Path,
        ttl_seconds: float = 6 * 3600,
        grace_seconds: float = 15.0,
        on_dispose: Callable[[Visitor], None] | None = None,
        anonymous_ttl_seconds: float = 600.0,
    ):
        self.root = root
        self.on_dispose = on_dispose  # what else to free with a visitor (their loaded models)
        self.on_forget: Callable[[str], None] | None = None  # and with their session id (Gradio's copy of the page)
        # What else to tidy at each sweep (the figures served, Gradio's page states of sessions we do not know):
        # each returns how many things it removed.
        self.on_sweep: list[Callable[[], int]] = []
        self.ttl = ttl_seconds  # a browser tab unheard of this long is gone (an open page polls while it trains)
        # A client without a browser (the REST API) never reports that it left: it is gone after this idle time,
        # its training stopped and its files removed.
        self.anonymous_ttl = anonymous_ttl_seconds
        # A closed tab's files are kept this long: a flaky connection (a laptop's Wi-Fi in class)
        # can report a tab as closed and then come back.
        self.grace = grace_seconds
        self._lock = threading.Lock()
        self._visitors: dict[str, Visitor] = {}
        # This server's life: a token an open page follows, reloading when it changes (``server_life.py``)
        self.life = secrets.token_urlsafe(9)
        # A closed tab's visitor is forgotten by a timer, not by the sweep: the next sweep returns its memory,
        # once for all the tabs a class closes (a collection costs the whole server's time while it runs).
        self._forgotten_since_sweep = False
        root.mkdir(parents=True, exist_ok=True)

    def get(self, session_hash: str | None) -> Visitor:
        """The visitor of a Gradio session, made at its first call. A call without a session (a bare HTTP call to
        ``/gradio_api/run/...``) gets a visitor of its own, never one it would share with every other such call
        (which read each other's corpus and downloaded each other's checkpoints); it is forgotten as an idle API
        client is."""
        key = session_hash or f"no-session-{secrets.token_urlsafe(12)}"
        with self._lock:
            visitor = self._visitors.get(key)
            if visitor is None:
                folder = self.root / secrets.token_urlsafe(18)
                folder.mkdir(parents=True)
                visitor = Visitor(folder=folder)
                self._visitors[key] = visitor
            visitor.last_seen = time.monotonic()
            visitor.ended = None  # it came back
            return visitor

    def end(self, session_hash: str | None) -> None:
        """The tab closed: stop its training now (a checkpoint is saved), delete its files soon."""
        if not session_hash:
            return
        key = session_hash
        with self._lock:
            visitor = self._visitors.get(key)
            if visitor is None:
                return
            visitor.ended = time.monotonic()
        if visitor.job is not None and not visitor.job.finished:
            visitor.job.stop()
        timer = threading.Timer(self.grace, self._expire, args=(key, visitor))
        timer.daemon = True
        timer.start()

    def _expire(self, key: str, visitor: Visitor) -> None:
        with self._lock:
            if self._visitors.get(key) is not visitor or visitor.ended is None:
                return  # the tab came back
            del self._visitors[key]
            self._forgotten_since_sweep = True
        self._dispose(visitor, key)

    def sweep(self) -> None:
        """Forget visitors unheard of for longer than their time-to-live, stopping their trainings; and take out
        of the waiting line every visitor silent for ``LINE_SILENCE`` seconds."""
        now = time.monotonic()
        self._drop_silent_places(now)
        with self._lock:
            stale = [
                k
                for k, v in self._visitors.items()
                if now - v.last_seen > (self.ttl if v.browser else self.anonymous_ttl)
            ]
            gone = [(k, self._visitors.pop(k)) for k in stale]
            forgot, self._forgotten_since_sweep = bool(gone) or self._forgotten_since_sweep, False
        for key, visitor in gone:
            self._dispose(visitor, key)
        gone = visitor = None  # nothing here holds them now, so the collection below frees what they held
        tidied = self._remove_orphan_folders() + sum(tidy() for tidy in self.on_sweep)
        if forgot or tidied:
            return_freed_memory()

    def _remove_orphan_folders(self, settle: float = 60.0) -> int:
        """Folders of no visitor: a training that outlived its visitor (its final checkpoint written after the
        folder was removed) makes its folder again. Left alone for ``settle`` seconds first: a visitor's folder
        is made a moment before the visitor is known."""
        with self._lock:
            known = {v.folder.name for v in self._visitors.values()}
        removed = 0
        for folder in self.root.iterdir():
            try:
                quiet = time.time() - folder.stat().st_mtime > settle
            except OSError:
                continue
            if folder.is_dir() and folder.name not in known and folder.name != PICTURES and quiet:
                shutil.rmtree(folder, ignore_errors=True)
                log.info("a folder of no visitor removed (%s)", folder.name)
                removed += 1
        return removed

    def _drop_silent_places(self, now: float) -> None:
        """A place in line is kept only while its holder shows signs of life: an open page asks for its status
        every second (a hidden one every minute), and an API client must ask within ``API_LINE_SILENCE``. A
        silent one (a closed laptop, a script that pressed Start and went quiet) would otherwise hold the class
        back until its session expires. So does a silent visitor's running training while others wait: it
        stops with a checkpoint, as Stop does, and its place goes to the first in line."""
        with self._lock:
            silent = [
                (k, v)
                for k, v in self._visitors.items()
                if v.job is not None
                and (v.job.waiting_in_line or v.job.holds_a_place_for_nobody_waiting)
                and now - v.last_seen > (LINE_SILENCE if v.browser else API_LINE_SILENCE)
            ]
            # a client that never opened the page and went quiet holding a place is not coming back for it:
            # forgotten now (its folder and memory back), not after the idle time of an API client; this sweep
            # then collects what it held, as for any forgotten visitor
            scripts = [(k, self._visitors.pop(k)) for k, v in silent if not v.browser]
            self._forgotten_since_sweep = self._forgotten_since_sweep or bool(scripts)
        for _, visitor in silent:
            log.info("a silent visitor's place in line is given up")
            visitor.job.stop()
        for key, visitor in scripts:
            self._dispose(visitor, key)

    def start_sweeper(self, every: float = 30.0) -> threading.Event:
        """Sweep in the background every ``every`` seconds (until the returned event is set)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.sweep()
                except Exception:  # keep sweeping whatever one visitor's files did
                    log.exception("sweep failed")

        threading.Thread(target=loop, name="charlm-sweeper", daemon=True).start()
        return stop

    def sessions(self) -> set[str]:
        """The session ids of the visitors this store knows now."""
        with self._lock:
            return set(self._visitors)

    def visitors(self) -> list[Visitor]:
        """A snapshot of the current visitors (for monitoring and tests)."""
        with self._lock:
            return list(self._visitors.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._visitors)

    def _dispose(self, visitor: Visitor, key: str) -> None:
        if visitor.job is not None and not visitor.job.finished:
            visitor.job.stop()
            visitor.job.wait(30)
        shutil.rmtree(visitor.folder, ignore_errors=True)
        if self.on_dispose is not None:
            self.on_dispose(visitor)
        if self.on_forget is not None:
            self.on_forget(key)
        log.info("session folder %s removed", visitor.folder.name)


SESSIONS = Path(tempfile.gettempdir()) / "charlm-sessions"


def process_folder() -> Path:
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
