"""Gradio's per-session state, kept lean (``demo/page_states.py``): what it relies on in Gradio, what it saves,
and that a session's values behave as with Gradio's own state."""

import re
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import pytest
from app_server import free_port
from gradio.components import DeepLinkButton
from gradio.state_holder import SessionState, StateHolder
from gradio_client import Client
from starlette.middleware import Middleware
from visitors import still_works

from demo.app import AppConfig, CharLMApp
from demo.page_states import LeanPageStates, LeanSessionState, LeanStateHolder, make_lean

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The app's page, built and not served."""
    return CharLMApp(AppConfig(sessions_root=tmp_path_factory.mktemp("lean") / "sessions")).build()


def test_a_lean_state_has_everything_gradios_has(page):
    """The lean state writes Gradio's attributes itself and leaves out two of its methods: a Gradio that adds an
    attribute or renames a method fails here, not in a class."""
    assert set(vars(LeanSessionState(page))) == set(vars(SessionState(page)))
    for name in ("_update_config", "_update_value_in_config", "__setitem__"):
        assert name in vars(SessionState), name
    assert "__getitem__" in vars(StateHolder)


@pytest.mark.slow
def test_a_lean_state_costs_a_small_part_of_gradios():
    """Gradio's state copies every component's settings for every session; the lean one does not. Measured
    with tracemalloc by ``bench/page_state.py`` in a process of its own: switching tracemalloc on and off while
    other threads run compiled code (a training's sampler, left by an earlier test) can crash the process."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "page_state.py"), "--sessions", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    kept = {
        m[1]: float(m[2])
        for m in re.finditer(r"^(Gradio's SessionState|LeanSessionState)\s+([\d.]+) KB kept", run.stdout, re.M)
    }
    full, lean = kept["Gradio's SessionState"], kept["LeanSessionState"]
    assert full > 100, run.stdout  # KB: the page's settings, hundreds of components
    assert lean * 20 < full, run.stdout


def test_the_page_offers_no_deep_links(page):
    """The copy the lean state leaves out is read only to write a deep link: a page that offered one would
    need Gradio's own state back."""
    assert not any(isinstance(block, DeepLinkButton) for block in page.blocks.values())


def test_only_gradios_own_holder_is_replaced():
    holder = StateHolder()
    make_lean(holder)
    assert type(holder) is LeanStateHolder
    make_lean(holder)  # a second time: nothing changes
    assert type(holder) is LeanStateHolder


@pytest.mark.app
@pytest.mark.slow
def test_sessions_keep_their_own_values_in_lean_states():
    """A page with a ``gr.State`` counter and a component a handler changes, served with the lean holder: each
    session counts on its own, the change stays with its session, and Gradio's copy of the settings stays
    empty."""

    def count(n, request: gr.Request):
        return n + 1, gr.update(label=f"pressed by {request.session_hash[:4]}"), n + 1

    with gr.Blocks() as demo:
        counter = gr.State(0)
        shown = gr.Number()
        box = gr.Textbox(label="not pressed")
        gr.Button().click(count, counter, [counter, box, shown], api_name="count")
    demo.queue().launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        app_kwargs={"middleware": [Middleware(LeanPageStates)]},
    )
    try:
        url = demo.local_url
        one, two = Client(url, verbose=False), Client(url, verbose=False)
        assert [one.predict(api_name="/count")[1] for _ in range(3)] == [1, 2, 3]  # (the update, the count)
        assert two.predict(api_name="/count")[1] == 1
        holder = demo.state_holder
        assert type(holder) is LeanStateHolder
        for client, pressed in ((one, 3), (two, 1)):
            state = holder[client.session_hash]
            assert type(state) is LeanSessionState and state.config_values == {}
            assert state[counter._id] == pressed
            assert state[box._id].label == f"pressed by {client.session_hash[:4]}"
        assert box.label == "not pressed"  # the page's own component is not changed for everyone
    finally:
        demo.close()
        time.sleep(0.2)


@pytest.mark.app
@pytest.mark.slow
def test_the_apps_sessions_get_lean_states(server):
    app, url = server
    c = Client(url, verbose=False)
    still_works(c)
    state = app.blocks.state_holder.session_data[c.session_hash]
    assert type(state) is LeanSessionState and state.config_values == {}
