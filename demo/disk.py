"""Uploads and a full disk: a clear message in the visitor's language, never a bare HTTP 500; and one cap
over everything the app writes.

Gradio writes every upload to its temporary folder before any handler of ours runs, so a disk
that fills up fails inside Gradio's own route. This small ASGI layer stands in front of that
route: it refuses an upload the disk has no room for before a byte is written, and turns a
"no space left" failure during one into the same message. Gradio's page shows the text of a
failed upload as its error.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from charlm.files import folder_bytes

from .i18n import AppError, from_accept_language, t

log = logging.getLogger(__name__)
RESERVE_BYTES = 128 << 20  # left free for checkpoints being saved and the server's own files


def gradio_upload_folder() -> Path:
    """Where Gradio writes uploads (its ``GRADIO_TEMP_DIR``, else the system's temporary folder)."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def uploaded_size(upload: str | dict | Path) -> int:
    """The size of a file Gradio received (its path, or its file data); 0 if it is gone (the handler that reads
    it then says so)."""
    path = Path(upload["path"] if isinstance(upload, dict) else upload)
    try:
        return path.stat().st_size
    except OSError:
        return 0


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


GRADIO_FILES_KEPT = 600.0  # seconds Gradio's copies (uploads, downloads) are kept at least when the cap is reached
MEASURED_FOR = 5.0  # seconds one measure of the folders stands for (a class's uploads at once measure once)


class DiskCap:
    """Everything the app writes, counted together against one cap: the visitors' folders (checkpoints,
    uploads, put-away texts and runs, files left by a training that outlived its visitor) and Gradio's own
    folder (every upload, and a copy of every file a page downloads). The per-visitor budget
    (``Visitor.make_room``) does not see Gradio's copies; this does. Past the cap, the sweep removes Gradio's
    copies older than ten minutes, oldest first, and what would write more is refused in the visitor's words."""

    def __init__(self, folders: list[Path], cap_bytes: int):
        self.folders, self.cap = folders, cap_bytes
        self._lock = threading.Lock()
        self._measured: tuple[float, int] = (-MEASURED_FOR, 0)

    def used(self) -> int:
        with self._lock:
            at, used = self._measured
            if time.monotonic() - at >= MEASURED_FOR:
                used = sum(folder_bytes(f) for f in self.folders)
                self._measured = (time.monotonic(), used)
            return used

    def room_for(self, need: int) -> bool:
        return self.used() + need <= self.cap

    def check(self, need: int) -> None:
        """Refuse (``err.server_disk_full``) what would take the app's files past the cap."""
        if not self.room_for(need):
            raise AppError("err.server_disk_full", need_mb=need / 2**20, cap_mb=self.cap / 2**20)

    def tidy(self, gradio_folder: Path, now: float | None = None) -> int:
        """Past the cap: Gradio's copies older than ``GRADIO_FILES_KEPT`` seconds, oldest first, until the files
        are under nine tenths of it. How many were removed (the sweep's count)."""
        with self._lock:
            self._measured = (-MEASURED_FOR, 0)
        used = self.used()
        if used <= self.cap:
            return 0
        now = time.time() if now is None else now
        old = []
        for path in gradio_folder.rglob("*"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                if path.is_file() and now - stat.st_mtime > GRADIO_FILES_KEPT:
                    old.append((stat.st_mtime, stat.st_size, path))
        removed = 0
        for _, size, path in sorted(old):
            if used <= 0.9 * self.cap:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                used -= size
                removed += 1
        with self._lock:
            self._measured = (-MEASURED_FOR, 0)
        log.info("the app's files past their cap: %d of Gradio's old copies removed", removed)
        return removed


class DiskGuard:
    """ASGI middleware around ``POST …/upload``. ``folder`` is where Gradio writes uploads; ``cap`` the app's
    cap over all its files."""

    def __init__(self, app: Callable, folder: Path, cap: DiskCap | None = None, reserve_bytes: int = RESERVE_BYTES):
        self.app, self.folder, self.cap, self.reserve = app, folder, cap, reserve_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        lang = from_accept_language(headers.get(b"accept-language", b"").decode("latin-1"))
        try:
            size = int(headers.get(b"content-length", b"0"))
        except ValueError:
            size = 0
        # the file is written once by the upload and once more into Gradio's cache
        if free_bytes(self.folder) < 2 * size + self.reserve or (self.cap and not self.cap.room_for(2 * size)):
            await _refuse(send, lang)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as err:
            if started:
                raise
            if isinstance(err, OSError) and err.errno == errno.ENOSPC:
                await _refuse(send, lang)
                return
            # Gradio's route fails on what it cannot read (a file part without a name: a bare HTTP 500)
            log.warning("an upload could not be read: %s", err)
            await _refuse(send, lang, 400, "err.upload_unreadable")


async def _refuse(send, lang: str, status: int = 507, key: str = "err.upload_disk_full") -> None:
    body = t(key, lang).encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
