"""Gradio's per-session bookkeeping, kept small and dropped with the visitor.

Gradio keeps a ``SessionState`` for every session that sends it anything: the values of the page's ``gr.State``
components, and the components a handler replaced for that session. Two things about it matter to a class:

- **Its size.** Gradio's own ``SessionState`` also builds, for every session, the settings of every component on
  the page (``config_values``), read only to write Gradio's deep links, which this app does not offer: about
  360 KB of small dicts and strings and 12 ms for this page (``python bench/page_state.py``). A flood of 300
  scripts that each opened a session left the server 16 % larger once they were gone: Python could not give
  that memory back (the few objects that outlived them pinned its arenas). The app's holder makes
  ``LeanSessionState`` instead, the same state without that copy (12 KB), installed by the ``LeanPageStates``
  middleware before any request reaches Gradio.
- **Its lifetime.** Gradio drops a session's state only when 1,000 newer ones have come (``page_states``) and its
  message queue only when a page's stream is cancelled; an API client never closes. The app drops both when it
  forgets a visitor (``forget_page_state``), and at each sweep the states of sessions it does not know
  (``forget_stray_page_states``).

Everything here reaches into Gradio 6.31's internals (the version ``requirements.txt`` pins);
``tests/app/test_page_states.py`` checks each thing it relies on.
"""

from __future__ import annotations

import datetime
import os
from copy import copy

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

# Gradio's state of a session the app does not know is dropped once unused this long (``forget_stray_page_states``).
STRAY_PAGE_STATE_SECONDS = 60.0


class LeanSessionState(SessionState):
    """Gradio's state of one session without its copy of every component's settings: the values, the replaced
    components and the time-to-live of ``gr.State`` values work as in Gradio; ``config_values`` stays empty
    (Gradio reads it only to write a deep link)."""

    def __init__(self, blocks: gr.Blocks):  # Gradio's __init__, less config_values' contents
        self.blocks_config = copy(blocks.default_config)
        self.config_values: dict[int, dict] = {}
        self.state_data: dict[int, object] = {}
        self._state_ttl: dict[int, tuple] = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    def __setitem__(self, key: int, value: object) -> None:
        super().__setitem__(key, value)
        self.config_values.clear()  # the one block's settings Gradio has just written there

    def _update_config(self, key: int) -> None:
        pass

    def _update_value_in_config(self, key: int, value: object) -> None:
        pass


class LeanStateHolder(StateHolder):
    """Gradio's holder of sessions' states, making ``LeanSessionState`` for a new session."""

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LeanSessionState(self.blocks)
        return super().__getitem__(session_id)


class LeanPageStates:
    """ASGI middleware: before the first request goes on to Gradio, Gradio's holder of page states (made when
    the server was made, empty until a request comes) becomes a ``LeanStateHolder``."""

    def __init__(self, app):
        self.app = app
        self.done = False

    async def __call__(self, scope, receive, send) -> None:
        if not self.done:
            holder = getattr(scope.get("app"), "state_holder", None)
            if holder is not None:
                make_lean(holder)
                self.done = True
        await self.app(scope, receive, send)


def make_lean(holder: StateHolder) -> None:
    """From now on ``holder`` makes lean states (those it holds already stay as they are)."""
    if type(holder) is StateHolder:
        holder.__class__ = LeanStateHolder


def forget_stray_page_states(demo: gr.Blocks, known: set[str], idle_seconds: float = STRAY_PAGE_STATE_SECONDS) -> int:
    """Drop Gradio's state for sessions the app does not know, unused for ``idle_seconds``; how many were dropped.
    Gradio makes one for any request of any session. When a client we had already forgotten closed (the unload
    event a tab or an API client's heartbeat sends when it goes), Gradio made a new one that nothing removed: a
    soak left 56 of them after the class had gone. The idle time spares a session whose first request is being
    answered (the app learns of it inside that request)."""
    holder = getattr(demo, "state_holder", None)
    if holder is None:
        return 0
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=idle_seconds)
    with holder.lock:
        strays = [
            key for key in holder.session_data if key not in known and holder.time_last_used.get(key, cutoff) <= cutoff
        ]
        for key in strays:
            holder.session_data.pop(key, None)
            holder.time_last_used.pop(key, None)
    return len(strays)


def forget_page_state(demo: gr.Blocks, session_hash: str) -> None:
    """Drop Gradio's state for a session we forgot. Gradio deletes a closed tab's values but keeps the state
    until 1,000 newer sessions have come, and an API client never closes: a class's scripts and reloads pile up
    otherwise."""
    holder = getattr(demo, "state_holder", None)
    if holder is not None:
        with holder.lock:
            holder.session_data.pop(session_hash, None)
            holder.time_last_used.pop(session_hash, None)
    forget_message_queue(demo, session_hash)


def forget_message_queue(demo: gr.Blocks, session_hash: str) -> None:
    """Drop Gradio's queue of messages for a session we forgot, once it has no event pending (nothing will
    write to it or read from it again). Gradio drops it only when the session's stream is cancelled, and an API
    client that joined once and went quiet never has it cancelled: up to 2,000 of them stay (its cap), about
    1.5 KB each."""
    queue = getattr(demo, "_queue", None)
    if queue is None or queue.pending_event_ids_session.get(session_hash):
        return
    queue.pending_messages_per_session.pop(session_hash, None)
    queue.pending_event_ids_session.pop(session_hash, None)
