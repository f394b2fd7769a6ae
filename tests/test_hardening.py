"""Bad input through every path of the app, isolation between visitors, and cleanup."""

import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from app_server import running_app
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from demo.sessions import SessionStore

TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "Winston Smith slipped quickly through the glass doors of Victory Mansions. "
) * 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("hard"), max_jobs=2, max_upload_mb=1, job_memory_mb=2048) as (app, url):
        yield app, url


@pytest.fixture()
def visitor(server, tmp_path):
    """A client with a corpus and a small trained model (label in .model)."""
    _app, url = server
    c = Client(url, verbose=False)
    path = tmp_path / "orwell.txt"
    path.write_text(TEXT, encoding="utf-8")
    c.predict(None, handle_file(str(path)), 0.1, api_name="/load_corpus")
    return c


def still_works(c):
    info = c.predict(4, 10, 0, 0, False, api_name="/preview_batch")[0]
    assert "both 4×10" in info


def answer(call):
    """The message a visitor sees: the app's own, or Gradio's validation error."""
    try:
        out = call()
    except AppError as err:
        return str(err)
    return out[0] if isinstance(out, (tuple, list)) else out


UPLOADS = {
    "empty": (b"", "empty"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "nul-laden": (b"hello\x00world" * 20, "binary"),
    "latin-1": ("Café crème brûlée, s'il vous plaît. ".encode("latin-1") * 10, "not valid UTF-8"),
    "utf-16": ("Hello, world. ".encode("utf-16") * 10, "UTF-16"),
    "one character": (b"x", "too short"),
}


@pytest.mark.parametrize("name", list(UPLOADS))
def test_bad_uploads(visitor, tmp_path, name):
    content, message = UPLOADS[name]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    status = answer(lambda: visitor.predict(None, handle_file(str(bad)), 0.1, api_name="/load_corpus"))
    assert message in status
    still_works(visitor)


def test_upload_beyond_the_size_limit(visitor, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"All work and no play makes Jack a dull boy.\n" * 30_000)  # 1.3 MB > 1 MB limit
    with pytest.raises(Exception, match=r"(?i)file size|too large|exceed|limit"):
        visitor.predict(None, handle_file(str(big)), 0.1, api_name="/load_corpus")
    still_works(visitor)


@pytest.mark.parametrize(
    "args",
    [
        (-1, 10, 0, 0, False),
        (0, 10, 0, 0, False),
        (4, "nan", 0, 0, False),
        (4, "inf", 0, 0, False),
        (4, 10**12, 0, 0, False),
        (4, 10, -5, 0, False),
        (10**6, 10**6, 0, 0, False),
    ],
)
def test_out_of_range_batch_settings(visitor, args):
    message = answer(lambda: visitor.predict(*args, api_name="/preview_batch"))
    assert message and "Traceback" not in message
    assert any(w in message for w in ("must", "minimum", "maximum", "needs", "less than", "greater than", "Expected"))
    still_works(visitor)


FORM = ["quick", "lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 30]


@pytest.mark.parametrize(
    "index, value",
    [(7, "nan"), (4, "inf"), (7, -1.0), (7, 5.0), (3, 0), (9, 10**9), (10, -2), (1, "transformer"), (0, "huge")],
)
def test_out_of_range_training_settings(visitor, index, value):
    form = list(FORM)
    form[index] = value
    message = answer(lambda: visitor.predict(*form, api_name="/start_training"))
    assert "Training started" not in message and "Traceback" not in message
    assert message.strip() not in ("", "Error")
    assert trained_model(visitor)  # and a good request still trains


def test_the_train_tabs_maxima_are_refused_before_they_take_the_memory(server, visitor):
    app, _ = server
    running = app.slots.running
    form = ["quick", "lstm", 4, 1024, 0.0, 512, 512, 0.01, 5.0, 50, 30]  # ~43 GB: it killed the server once
    message = answer(lambda: visitor.predict(*form, api_name="/start_training"))
    assert "GB of memory" in message and "2.0 GB" in message and "With N=" in message
    assert app.slots.running == running  # nothing started
    found = re.search(r"With N=(\d+)", message)
    assert 1 <= int(found.group(1)) < 512


def trained_model(c):
    assert "Training started" in c.predict(*FORM, api_name="/start_training")[0]
    deadline = time.time() + 60
    while "done" not in c.predict(api_name="/training_status")[0]:
        assert time.time() < deadline
        time.sleep(0.3)
    return next(v for _, v in c.predict(api_name="/model_choices")["choices"] if v.startswith("this session"))


@pytest.mark.parametrize(
    "prime, top_n, temperature, length, ok, message",
    [
        ("Winston ☃", 4, 1.0, 20, False, "never saw"),
        ("", 4, 1.0, 20, False, "empty"),
        ("It was " * 1500, 4, 1.0, 20, True, ""),  # a 10,500-character prime is fine
        ("It", 10_000, 1.0, 20, False, "greater than maximum value"),  # the sliders' own checks, in Gradio's words
        ("It", 4, 0.0, 20, False, "less than minimum value 0.1"),
        ("It", 4, 1.0, 0, False, "less than minimum value 1"),
        ("It", 4, 1.0, 100_000, False, "greater than maximum value 5000"),
    ],
)
def test_generation_inputs(visitor, prime, top_n, temperature, length, ok, message):
    label = trained_model(visitor)
    result = None
    try:
        result = visitor.predict(label, prime, length, top_n, temperature, 1, api_name="/generate")
        text = result[1]
    except AppError as err:
        text = str(err)
    if ok:
        assert result is not None and result[0].startswith(prime) and "Done" in result[1]
    else:
        assert message and message in text and "Done" not in text
    assert visitor.predict(label, "It", 5, 4, 1.0, 1, api_name="/generate")[0].startswith("It")


def test_a_visitor_cannot_fetch_another_visitors_files(server, visitor):
    app, url = server
    trained_model(visitor)
    folders = [v.folder for v in app.store.visitors()]
    files = [p for f in folders for p in f.rglob("*.safetensors")]
    assert files
    for path in files:
        response = httpx.get(f"{url}gradio_api/file={path}", timeout=10)
        assert response.status_code in (403, 404), path
    traversal = httpx.get(f"{url}gradio_api/file=../../../../etc/passwd", timeout=10)
    assert traversal.status_code in (400, 403, 404)


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


def _visitor_holding_a_cycle(store: SessionStore, session: str):
    """A browser visitor of ``store`` holding an object in a reference cycle (which reference counting alone never
    frees); a weak reference to that object."""
    import weakref

    held = _Held()
    held.itself = held
    store.get(session).browser = True
    store.get(session).corpus = held
    return weakref.ref(held)


def test_what_an_expired_visitor_held_in_reference_cycles_is_freed_by_the_sweep(tmp_path):
    """A job and its callbacks, a model's modules: cycles that only a full collection frees, which Python runs
    rarely. The sweep collects before handing memory back, or a class's leftovers stay resident."""
    import gc

    store = SessionStore(tmp_path / "s", ttl_seconds=0.1)
    alive = _visitor_holding_a_cycle(store, "gone")
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
    alive = _visitor_holding_a_cycle(store, "closed")
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


def test_four_starts_at_once_from_one_visitor_start_one_training(server, visitor, monkeypatch):
    """Check-then-start was a race: widen its window, and only one of four simultaneous Starts may win."""
    import demo.tabs.train as train_tab

    class SlowStart(train_tab.TrainingJob):
        def start(self, wait=False):
            time.sleep(0.3)
            return super().start(wait)

    app, _ = server
    monkeypatch.setattr(train_tab, "TrainingJob", SlowStart)
    form = [*FORM[:-1], 100_000]
    jobs = [visitor.submit(*form, api_name="/start_training") for _ in range(4)]
    messages = [job.result()[0] for job in jobs]
    assert sum("Training started" in m for m in messages) == 1, messages
    # the others: told a training is running, or that two of their long requests already are
    assert all("already running" in m or "two long requests" in m for m in messages if "started" not in m), messages
    visitor.predict(api_name="/stop_training")
    deadline = time.time() + 60
    while app.slots.running and time.time() < deadline:
        time.sleep(0.2)
    assert app.slots.running == 0  # the one training, stopped


def test_start_right_after_stop_waits_for_the_stopped_run_to_save(server, visitor, monkeypatch):
    """Stop, then Start at once: the stopped run is still saving its checkpoint (made slow here); Start waits
    for it and starts, rather than telling the visitor to stop the training they have just stopped."""
    import demo.tabs.train as train_tab

    class SlowToSave(train_tab.TrainingJob):
        def _on_event(self, event):
            if self._stop.is_set():
                time.sleep(1.0)  # the last checkpoint takes its time
            super()._on_event(event)

    app, _ = server
    monkeypatch.setattr(train_tab, "TrainingJob", SlowToSave)
    form = [*FORM[:-1], 100_000]
    assert "Training started" in visitor.predict(*form, api_name="/start_training")[0]
    deadline = time.time() + 60
    while "step" not in visitor.predict(api_name="/training_status")[0].lower():
        assert time.time() < deadline
        time.sleep(0.2)
    visitor.predict(api_name="/stop_training")
    monkeypatch.setattr(train_tab, "STOP_WAIT", 0.05)  # a run slower to stop than Start waits: told so
    assert "press Start again in a moment" in answer(lambda: visitor.predict(*form, api_name="/start_training"))
    monkeypatch.setattr(train_tab, "STOP_WAIT", 30.0)
    assert "Training started" in visitor.predict(*form, api_name="/start_training")[0]
    visitor.predict(api_name="/stop_training")
    while app.slots.running and time.time() < deadline:
        time.sleep(0.2)
    assert app.slots.running == 0


def test_resume_on_another_text_says_why_instead_of_resumed(visitor, tmp_path):
    trained_model(visitor)
    other = tmp_path / "digits.txt"
    other.write_text("0123456789 " * 300, encoding="utf-8")
    visitor.predict(None, handle_file(str(other)), 0.1, api_name="/load_corpus")
    message = answer(lambda: visitor.predict(*FORM, api_name="/resume_training"))
    assert "different vocabulary" in message and "Resumed" not in message


def test_uploading_the_same_file_twice_then_a_broken_one_keeps_both_models(visitor, tmp_path):
    from charlm import Corpus, preset, train

    result = train(Corpus.from_text(TEXT, val_fraction=0.1), preset("tiny", max_steps=5), tmp_path / "ck")
    upload = tmp_path / "m.safetensors"
    upload.write_bytes(result.checkpoint.read_bytes())
    first = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[1]["value"]
    second = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[1]["value"]
    assert first != second and first.startswith("uploaded: m (") and second.startswith("uploaded: m (2)")
    upload.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    status = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[0]
    assert "m.safetensors is not a valid checkpoint" in status and "upload" not in status.split("is not")[0]
    for label in (first, second):  # both still there, and both still work
        assert visitor.predict(label, "It", 5, 4, 1.0, 1, api_name="/generate")[0].startswith("It")


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


def test_a_page_training_has_a_time_limit():
    from demo.fields import config_from_form, preset_values

    assert config_from_form("quick", *preset_values("quick"), max_seconds=1800).max_seconds == 1800
    assert config_from_form("quick", *preset_values("quick")).keep_checkpoints == 3


def test_a_prime_longer_than_the_server_allows_is_refused(visitor):
    label = trained_model(visitor)
    _, status = visitor.predict(label, "It was " * 4000, 5, 4, 1.0, 1, api_name="/generate")
    assert "28,000 characters" in status and "20,000" in status


def test_one_visitor_cannot_take_the_whole_heavy_pool(server, visitor):
    """Heavy calls of one visitor beyond two at once are refused; the server's other workers stay free."""
    label = trained_model(visitor)
    jobs = [visitor.submit(label, "It", 5000, 4, 1.0, 1, api_name="/generate") for _ in range(4)]
    statuses = [job.result()[1] for job in jobs]
    assert sum("two long requests" in s for s in statuses) >= 1, statuses
    assert sum(s.startswith("Done") or "Stopped" in s for s in statuses) >= 1, statuses


def test_a_visitor_keeps_its_last_trainings_not_all_of_them(tmp_path):
    store = SessionStore(tmp_path / "s")
    v = store.get("x")
    for run in range(1, 8):
        v.run_dir_for(run).mkdir(parents=True)
        v.run = run
        v.prune_runs(keep=4)
    assert sorted(p.name for p in v.checkpoints_dir.iterdir()) == ["run4", "run5", "run6", "run7"]


def test_a_batch_index_is_checked_against_the_shape_asked_for_not_the_previous_one(visitor):
    visitor.predict(100, 50, 0, 0, False, api_name="/preview_batch")  # one batch: the index slider's maximum is 1
    info = visitor.predict(1, 10, 500, 0, False, api_name="/preview_batch")[0]
    assert "Batch 500 of" in info or "batch 500 of" in info, info


def test_a_checkpoints_size_is_estimated_before_the_run(tmp_path):
    from charlm import Corpus, preset, train
    from charlm.training.memory import checkpoint_bytes

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    for cell, layers, hidden in (("lstm", 2, 64), ("gru", 1, 128), ("rnn", 3, 32)):
        config = preset("tiny", max_steps=3, cell=cell, num_layers=layers, hidden_size=hidden)
        size = train(corpus, config, tmp_path / cell).checkpoint.stat().st_size
        assert size <= checkpoint_bytes(config, len(corpus.vocab)) <= size + (300 << 10), cell


def test_a_visitors_disk_budget_makes_room_from_the_oldest_training_or_refuses(tmp_path):
    from demo.i18n import AppError as PageError

    store = SessionStore(tmp_path)
    v = store.get("s")
    for run in (1, 2, 3):
        v.run_dir_for(run).mkdir(parents=True)
        (v.run_dir_for(run) / "i1_l8.safetensors").write_bytes(b"x" * 1000)
        v.run = run
    v.uploads_dir.mkdir()
    (v.uploads_dir / "a.safetensors").write_bytes(b"x" * 1500)
    v.make_room(1200, budget=5000)  # 4500 used: the oldest training makes way, the others stay
    assert sorted(p.name for p in v.checkpoints_dir.iterdir()) == ["run2", "run3"]
    with pytest.raises(PageError) as refused:  # more than the trainings could free: refused, nothing removed
        v.make_room(4000, budget=5000)
    assert refused.value.key == "err.disk_budget"
    assert sorted(p.name for p in v.checkpoints_dir.iterdir()) == ["run2", "run3"]


def test_a_training_whose_checkpoints_would_not_fit_the_visitors_disk_is_refused(server, visitor, monkeypatch):
    app, _ = server
    monkeypatch.setattr(app.config, "session_disk_mb", 12)
    form = list(FORM)
    form[2], form[3] = 2, 512  # two layers of 512: about 40 MB a checkpoint
    message = answer(lambda: visitor.predict(*form, api_name="/start_training"))
    assert "one visitor's files may take 12 MB" in message and "Choose a smaller model" in message
    assert "Training started" in answer(lambda: visitor.predict(*FORM, api_name="/start_training"))  # 1×32 fits
    visitor.predict(api_name="/stop_training")


def test_a_comparison_stops_when_its_client_goes_away(server):
    """The cell comparison trains in the background; a client that disconnects must not leave it running."""
    app, url = server
    event = httpx.post(url + "gradio_api/call/compare_cells", json={"data": [1000]}).json()["event_id"]
    with httpx.stream("GET", url + f"gradio_api/call/compare_cells/{event}", timeout=60) as stream:
        lines = stream.iter_lines()
        while "step" not in next(lines):  # the first progress line: the training is under way
            pass
    deadline = time.time() + 20  # well short of the nine runs of 1,000 steps it would otherwise train
    while time.time() < deadline:
        jobs = [v.job for v in app.store.visitors() if v.job is not None and "compare" in str(v.job.out_dir)]
        if jobs and all(j.finished for j in jobs):
            break
        time.sleep(0.2)
    assert jobs and all(j.snapshot().state == "stopped" for j in jobs), [j.snapshot().state for j in jobs]


def test_an_upload_on_a_full_disk_gets_a_message_in_the_visitors_language(server, monkeypatch):
    import errno

    import gradio.routes

    import demo.disk

    _, url = server
    files = {"files": ("m.safetensors", b"x" * 1000)}
    assert httpx.post(url + "gradio_api/upload", files=files).status_code == 200
    monkeypatch.setattr(demo.disk, "free_bytes", lambda folder: 10 << 20)  # less than the reserve: refused at once
    refused = httpx.post(url + "gradio_api/upload", files=files, headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert refused.status_code == 507 and "服务器磁盘太满" in refused.text
    monkeypatch.setattr(demo.disk, "free_bytes", lambda folder: 1 << 40)

    async def disk_fills_up(*args, **kwargs):  # room at first, none by the time the file is written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gradio.routes, "upload_fn", disk_fills_up)
    failed = httpx.post(url + "gradio_api/upload", files=files)
    assert failed.status_code == 507 and failed.text.startswith("The server's disk is too full")
    assert "/" not in failed.text  # no server path


def test_a_forgotten_client_leaves_nothing_in_gradios_page_state(server, monkeypatch):
    """Gradio keeps a copy of the page's settings per session (about 220 KB) until 10,000 sessions have come;
    an API client never closes its session, so the app drops that copy when it forgets the visitor."""
    app, url = server
    c = Client(url, verbose=False)
    still_works(c)
    holder = app.blocks.state_holder
    assert c.session_hash in holder.session_data
    monkeypatch.setattr(app.store, "anonymous_ttl", 0.0)
    for v in app.store.visitors():
        v.browser = False
    app.store.sweep()
    assert c.session_hash not in holder.session_data


def test_gradio_keeps_the_state_of_at_most_the_configured_number_of_sessions(server):
    """Set as an attribute before launch, the bound was overwritten by launch's own default (10,000 sessions of
    about 220 KB each, 2 GB)."""
    app, _ = server
    assert app.blocks.state_holder.capacity == app.config.page_states < 10_000


def test_gradios_state_for_a_session_made_after_we_forgot_it_goes_at_the_next_sweep(server, monkeypatch):
    """A client we have forgotten still sends something (a closing tab's unload event, an API client's heartbeat
    ending): Gradio makes a new state for its session, about 220 KB, that nothing removed: a soak left 56 of
    them after the class had gone. The sweep drops those unused for a minute; a live visitor's stays."""
    import datetime

    import demo.app

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
    old = datetime.datetime.now() - datetime.timedelta(seconds=demo.app.STRAY_PAGE_STATE_SECONDS + 1)
    holder.time_last_used[gone.session_hash] = holder.time_last_used[staying.session_hash] = old
    app.store.sweep()
    assert gone.session_hash not in holder.session_data and staying.session_hash in holder.session_data
    still_works(staying)


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
        assert image.size == (1080, 432) and len(image.convert("L").getcolors(2**16)) > 20


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
