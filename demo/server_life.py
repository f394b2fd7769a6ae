"""A server's life, and what an open page does when it ends: a restart leaves nothing of what visitors began.

The server draws a token when it starts (``SessionStore.life``). The page (``static/server_life.js``) asks for it
every few seconds at ``LIFE_PATH`` and reloads itself when it changes: Gradio's page, left to itself, sometimes
goes on with a session the new server never saw and waits for answers that never come ("Error" on every output).
The browser also keeps the life in which it last began work here (a training, a text loaded, a file uploaded);
the page's opening sends it (``WORK_FROM_JS``), and a page opened in a later life is told that this work is gone.
"""

from __future__ import annotations

from collections.abc import Callable

# Where the page asks for the server's life (relative to the page's own address).
LIFE_PATH = "charlm/life"
# What the page keeps in the browser: the life in which it last began work here.
WORK_KEY = "charlm-work"
# On opening, the life in which this browser last began work here; a mark of an earlier life is read once, then
# dropped (the page is told once).
WORK_FROM_JS = (
    f"() => {{ let from = ''; try {{ from = localStorage.getItem('{WORK_KEY}') || ''; "
    f"if (from && from !== '__SERVER_LIFE__') localStorage.removeItem('{WORK_KEY}'); }} catch (e) {{}} return from; }}"
)


def with_life(js: str, life: str) -> str:
    """The page's script with this server's life (and the names above) written in."""
    return js.replace("__SERVER_LIFE__", life).replace("__LIFE_PATH__", LIFE_PATH).replace("__WORK_KEY__", WORK_KEY)


class ServerLife:
    """ASGI middleware answering ``GET …/charlm/life`` with the server's life, before Gradio's routes: a few
    bytes, asked by every open page every few seconds."""

    def __init__(self, app: Callable, life: str):
        self.app, self.body = app, life.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/" + LIFE_PATH):
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
