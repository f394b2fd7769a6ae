"""Launch the app in this process on a free loopback port, for the client and browser tests."""

from __future__ import annotations

import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

from demo.app import AppConfig, CharLMApp

# The browser the page tests drive: Debian's Chromium (installed by .ci/run), headless, with nothing to fetch.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(tmp: Path, port: int | None = None, **config):
    """The app on ``port`` (a free one if None), in this process, until the block ends."""
    app = CharLMApp(AppConfig(sessions_root=tmp / "sessions", **config))
    demo = app.build()
    port = port or free_port()
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield app, f"http://127.0.0.1:{port}/"
    finally:
        try:
            demo.close()
        except RuntimeError:
            # Gradio's close() sets an asyncio.Event from this thread, which can race the server's
            # event loop ("deque mutated during iteration"); finish the shutdown it left undone.
            if demo.server:
                demo.server.close()
        # the server's trainings would otherwise run on in this process, under the next tests
        for visitor in app.store.visitors():
            if visitor.job is not None and not visitor.job.finished:
                visitor.job.stop()
