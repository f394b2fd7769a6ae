"""Uploads and a full disk: a clear message in the visitor's language, never a bare HTTP 500.

Gradio writes every upload to its temporary folder before any handler of ours runs, so a disk
that fills up fails inside Gradio's own route. This small ASGI layer stands in front of that
route: it refuses an upload the disk has no room for before a byte is written, and turns a
"no space left" failure during one into the same message. Gradio's page shows the text of a
failed upload as its error.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .i18n import from_accept_language, t

log = logging.getLogger(__name__)
RESERVE_BYTES = 128 << 20  # left free for checkpoints being saved and the server's own files


def gradio_upload_folder() -> Path:
    """Where Gradio writes uploads (its ``GRADIO_TEMP_DIR``, else the system's temporary folder)."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


class DiskGuard:
    """ASGI middleware around ``POST …/upload``. ``folder`` is where Gradio writes uploads."""

    def __init__(self, app: Callable, folder: Path, reserve_bytes: int = RESERVE_BYTES):
        self.app, self.folder, self.reserve = app, folder, reserve_bytes

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
        if free_bytes(self.folder) < 2 * size + self.reserve:
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
