"""What a class leaves behind is cleaned up: closed tabs, expired and forgotten visitors, files of a killed
server, Gradio's page state, figures, and the memory they held."""

import os
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client
from PIL import Image
from visitors import TEXT, still_works, visitor_holding_a_cycle

from demo.sessions import SessionStore


def test_a_closed_tab_is_cleaned_after_a_grace_period_unless_it_comes_back(tmp_path):
    store = SessionStore(tmp_path / "s", grace_seconds=0.3)
    a, b = store.get("a"), store.get("b")
    store.end("a")
    store.end("b")
    assert store.get("b") is b  # b's connection came back in time
    deadline = time.monotonic() + 30
    while a.folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not a.folder.exists() and b.folder.exists()
    assert [v.folder for v in store.visitors()] == [b.folder]


def test_session_folders_are_random_and_expire(tmp_path):
    store = SessionStore(tmp_path / "s", ttl_seconds=0.2)
    a = store.get("session-a")
    b = store.get("session-b")
    assert a.folder != b.folder and "session" not in a.folder.name and len(a.folder.name) >= 24
    assert store.get("session-a") is a
    a.browser = b.browser = True  # pages in a browser: the ordinary time-to-live
    time.sleep(0.3)
    store.sweep()
    assert len(store) == 0 and not a.folder.exists() and not b.folder.exists()


class _Held:
    pass


def test_what_an_expired_visitor_held_in_reference_cycles_is_freed_by_the_sweep(tmp_path):
    """A job and its callbacks, a model's modules: cycles that only a full collection frees, which Python runs
    rarely. The sweep collects before handing memory back, or a class's leftovers stay resident."""
    import gc

    store = SessionStore(tmp_path / "s", ttl_seconds=0.1)
    alive = visitor_holding_a_cycle(store, "gone")
    gc.disable()  # only the sweep's own collection may free it
    try:
        time.sleep(0.2)
        store.sweep()
        assert len(store) == 0 and alive() is None
    finally:
        gc.enable()


def test_what_a_closed_tab_held_in_reference_cycles_is_freed_by_the_next_sweep(tmp_path):
    """A class ends by closing its tabs: those visitors are forgotten by a timer after the grace time, not by
    the sweep, and what they held in cycles (figures' renderers with their pixels, a job and its callbacks)
    stayed resident until a rare full collection (a soak: 31 loss plots, 55 MB, after the class had gone)."""
    import gc

    store = SessionStore(tmp_path / "s", grace_seconds=0.05)
    alive = visitor_holding_a_cycle(store, "closed")
    gc.disable()  # only the sweep's own collection may free it
    try:
        store.end("closed")
        deadline = time.time() + 10
        while len(store) and time.time() < deadline:  # the tab's grace time runs out
            time.sleep(0.02)
        assert len(store) == 0 and alive() is not None  # forgotten, its cycle not yet collected
        store.sweep()  # nothing expired now; it collects for the tab forgotten since the last sweep
        assert alive() is None
    finally:
        gc.enable()


def test_loaded_models_are_kept_up_to_a_byte_budget_and_freed_with_their_visitor(tmp_path):
    from charlm import Corpus, preset, train
    from demo.models import ModelCatalogue

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    paths = [
        train(corpus, preset("tiny", max_steps=2, hidden_size=h), tmp_path / f"h{h}").checkpoint for h in (32, 48, 64)
    ]
    catalogue = ModelCatalogue(tmp_path, cache_bytes=1)  # room for one at a time
    samplers = [catalogue.sampler(p) for p in paths]
    assert catalogue.sampler(paths[-1]) is samplers[-1]  # the latest stays
    assert catalogue.sampler(paths[0]) is not samplers[0]  # the older ones were let go
    catalogue.cache_bytes = 1 << 30
    for p in paths:
        catalogue.sampler(p)
    assert catalogue.cached_bytes() == sum(s.nbytes for s in samplers)
    catalogue.forget(tmp_path / "h32")
    assert catalogue.cached_bytes() == samplers[1].nbytes + samplers[2].nbytes


def test_a_client_without_a_browser_is_forgotten_when_idle_and_its_training_stopped(tmp_path):
    from charlm import Corpus, preset
    from charlm.serving.jobs import TrainingJob

    store = SessionStore(tmp_path / "s", ttl_seconds=3600, anonymous_ttl_seconds=0.2)
    api, page = store.get("rest-client"), store.get("browser-tab")
    page.browser = True
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    api.job = TrainingJob(corpus, preset("tiny", max_steps=10**6, epochs=10**4), api.run_dir).start()
    time.sleep(0.3)
    store.sweep()
    assert api.job.finished and api.job.snapshot().state == "stopped"
    assert not api.folder.exists() and page.folder.exists() and store.visitors() == [page]


def test_a_new_server_removes_the_files_of_one_that_was_killed(monkeypatch, tmp_path):
    from demo import sessions

    monkeypatch.setattr(sessions, "SESSIONS", tmp_path)
    dead = tmp_path / "999999999"  # no such process
    (dead / "visitor").mkdir(parents=True)
    alive = tmp_path / "1"  # init: alive
    alive.mkdir()
    own = sessions.process_folder()
    assert not dead.exists() and alive.exists() and own == tmp_path / str(__import__("os").getpid())


@pytest.mark.app
@pytest.mark.slow
def test_a_forgotten_client_leaves_nothing_in_gradios_page_state(server, monkeypatch):
    """Gradio keeps a session's state until 10,000 newer sessions have come (1,000 here, ``page_states``), and
    its queue of messages until 2,000 have; an API client never closes its session, so the app drops both
    when it forgets the visitor."""
    app, url = server
    c = Client(url, verbose=False)
    still_works(c)
    holder, messages = app.blocks.state_holder, app.blocks._queue.pending_messages_per_session
    assert c.session_hash in holder.session_data and c.session_hash in messages
    monkeypatch.setattr(app.store, "anonymous_ttl", 0.0)
    for v in app.store.visitors():
        v.browser = False
    app.store.sweep()
    assert c.session_hash not in holder.session_data
    assert c.session_hash not in messages  # its queue of messages too (Gradio keeps 2,000)


@pytest.mark.app
@pytest.mark.slow
def test_gradio_keeps_the_state_of_at_most_the_configured_number_of_sessions(server):
    """Set as an attribute before launch, the bound was overwritten by launch's own default (10,000 sessions: 3.6 GB
    with Gradio's own states, about 360 KB each for this page; 120 MB with the app's lean ones)."""
    app, _ = server
    assert app.blocks.state_holder.capacity == app.config.page_states < 10_000


@pytest.mark.app
@pytest.mark.slow
def test_gradios_state_for_a_session_made_after_we_forgot_it_goes_at_the_next_sweep(server, monkeypatch):
    """A client we have forgotten still sends something (a closing tab's unload event, an API client's heartbeat
    ending): Gradio makes a new state for its session that nothing removed: a soak left 56 of
    them after the class had gone. The sweep drops those unused for a minute; a live visitor's stays."""
    import datetime

    import demo.page_states

    app, url = server
    gone, staying = Client(url, verbose=False), Client(url, verbose=False)
    still_works(gone)
    still_works(staying)
    holder = app.blocks.state_holder
    monkeypatch.setattr(app.store, "anonymous_ttl", 0.0)
    kept = app.store.get(staying.session_hash)
    for v in app.store.visitors():
        v.browser = v is kept  # a page's long time-to-live for one; the others, API clients, expire now
    app.store.sweep()
    assert gone.session_hash not in holder.session_data and staying.session_hash in holder.session_data
    holder[gone.session_hash]  # what Gradio does for the late event: a new state for the forgotten session
    app.store.sweep()
    assert gone.session_hash in holder.session_data  # just used: its first request may still be under way
    old = datetime.datetime.now() - datetime.timedelta(seconds=demo.page_states.STRAY_PAGE_STATE_SECONDS + 1)
    holder.time_last_used[gone.session_hash] = holder.time_last_used[staying.session_hash] = old
    app.store.sweep()
    assert gone.session_hash not in holder.session_data and staying.session_hash in holder.session_data
    still_works(staying)


@pytest.mark.app
@pytest.mark.slow
def test_a_class_opening_the_same_figure_at_once_gets_it_whole(server):
    """Thirty students see the same figure at the same moment (the empty loss plot, or the loss plots of one
    preset and seed at one step). Gradio writes an image it is given as an array to a path named by its
    content, rewriting the file in place, so a copy being served to one student was cut short by the next
    student's write ("peer closed connection", a broken picture). Figures now reach Gradio as files written
    once, whole, under their content's name."""
    _app, url = server
    clients = [Client(url, verbose=False) for _ in range(12)]
    broken = []

    def status(c):
        for _ in range(15):
            try:
                path = c.predict(api_name="/training_status")[1]
                with Image.open(path) as im:
                    im.load()  # a cut-short PNG fails here
            except Exception as err:
                broken.append(f"{type(err).__name__}: {err}"[:200])

    threads = [threading.Thread(target=status, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert broken == []


def test_a_figure_is_written_once_under_its_contents_name_and_swept_when_unused(tmp_path, monkeypatch):
    from demo import figures

    monkeypatch.setattr(figures, "_pictures", [])
    figures.keep_pictures_in(tmp_path / "pictures")
    first = figures.empty_loss_picture("en")
    again = figures.empty_loss_picture("en")
    other = figures.empty_loss_picture("zh-CN")
    assert first == again != other and Image.open(first).format == "PNG"
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == sorted({Path(first).name, Path(other).name})
    old = time.time() - 3600
    os.utime(other, (old, old))
    assert figures.sweep_pictures(older_than_seconds=600) == 1
    assert Path(first).exists() and not Path(other).exists()
    assert figures.empty_loss_picture("zh-CN") == other and Path(other).exists()  # drawn again when asked again


def test_figures_asked_for_by_many_threads_are_drawn_in_one(tmp_path, monkeypatch):
    """matplotlib keeps a copy of each font per drawing thread (about 4 MB for the Chinese one): a server's
    worker threads each drawing figures left tens of MB behind. Every figure is drawn in one thread instead."""
    from matplotlib import font_manager

    from charlm.serving.jobs import JobSnapshot
    from demo import figures

    monkeypatch.setattr(figures, "_pictures", [])
    figures.keep_pictures_in(tmp_path / "pictures")
    snap = JobSnapshot("running", train_loss=[(i, 4.0 - i / 100) for i in range(200)])
    drawers, fonts_before = set(), font_manager._get_font.cache_info().currsize

    def loss_figure(*args, **kwargs):
        drawers.add(threading.get_ident())
        return figures.loss_figure(*args, **kwargs)

    results, ready = [], threading.Barrier(12)

    def visitor(i):
        ready.wait()  # all alive at once: twelve different threads asking
        results.append(figures.picture(loss_figure, snap, ("en", "zh-CN")[i % 2]))

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 12 and all(Image.open(r).format == "PNG" for r in results)
    assert len(drawers) == 1 and threading.get_ident() not in drawers
    assert font_manager._get_font.cache_info().currsize - fonts_before <= 3  # one thread's fonts, not twelve's


def test_a_drawn_figures_pixels_are_freed_without_waiting_for_the_collector(tmp_path, monkeypatch):
    """A figure is a web of reference cycles that only a full collection frees, and its renderer holds the
    pixels (1.8 MB for a loss plot, drawn at every status a page asks for). The pixels go as soon as the PNG is
    made, the picture unchanged."""
    import gc
    import weakref

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from charlm.serving.jobs import JobSnapshot
    from demo import figures

    monkeypatch.setattr(figures, "_pictures", [])
    figures.keep_pictures_in(tmp_path / "pictures")
    pixels = []
    draw = FigureCanvasAgg.draw

    def draw_and_watch(canvas):
        draw(canvas)
        pixels.append(weakref.ref(canvas.renderer._renderer))

    monkeypatch.setattr(FigureCanvasAgg, "draw", draw_and_watch)
    snap = JobSnapshot("running", train_loss=[(i, 4.0 - i / 100) for i in range(200)], val_loss=[(100, 3.2)])
    gc.disable()  # the collector must not be what frees them
    try:
        path = figures.picture(figures.loss_figure, snap, "zh-CN")
        assert len(pixels) == 1 and pixels[0]() is None
    finally:
        gc.enable()
    with Image.open(path) as image:  # the picture itself: the whole plot, drawn before its pixels went
        assert image.size == (1080, 372) and len(image.convert("L").getcolors(2**16)) > 20


def test_what_start_up_built_is_left_out_of_every_collection():
    """A full collection walked everything start-up built (about 300 ms holding the interpreter in the app);
    frozen, a collection walks only what was made since, and still frees it."""
    import gc
    import weakref

    from demo.process import freeze_what_start_up_built

    class Held:
        pass

    built = [Held() for _ in range(1000)]  # start-up's objects
    freeze_what_start_up_built()
    try:
        assert gc.get_freeze_count() >= len(built) and not any(
            gc.is_tracked(b) and b in gc.get_objects(2) for b in built[:3]
        )
        later = Held()
        later.itself = later
        alive = weakref.ref(later)
        del later
        gc.collect()
        assert alive() is None  # what visitors make is still collected
    finally:
        gc.unfreeze()


def test_calls_without_a_session_never_share_a_visitor(tmp_path):
    """A bare HTTP call (no Gradio session) gets a visitor of its own, forgotten as an idle API client is: two
    such callers never see each other's corpus or checkpoints."""
    store = SessionStore(tmp_path, anonymous_ttl_seconds=0.0)
    first, second = store.get(None), store.get(None)
    assert first is not second and first.folder != second.folder
    first.corpus = "mine"
    assert store.get(None).corpus is None
    store.end(None)  # nothing to end: no one to confuse with another
    time.sleep(0.01)
    store.sweep()
    assert not first.folder.exists() and not second.folder.exists()
