"""Visitors kept apart and sharing fairly: nobody reads another's files, one visitor cannot take every
worker or start two trainings, disk and time are bounded per visitor."""

import time

import httpx
import pytest
from visitors import FORM, TEXT, answer, trained_model

from demo.sessions import SessionStore

pytestmark = [pytest.mark.app, pytest.mark.slow]


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
    # the others: told a training is running, or that their previous long request still is
    assert all("already running" in m or "still running" in m for m in messages if "started" not in m), messages
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


def test_a_page_training_has_a_time_limit():
    from demo.fields import config_from_form, preset_values

    assert config_from_form("quick", *preset_values("quick"), max_seconds=1800).max_seconds == 1800
    assert config_from_form("quick", *preset_values("quick")).keep_checkpoints == 3


def test_one_visitor_cannot_take_the_whole_heavy_pool(server, visitor):
    """A visitor's heavy call while another of theirs runs is refused; the server's other workers stay free."""
    label = trained_model(visitor)
    jobs = [visitor.submit(label, "It", 5000, 4, 1.0, 1, api_name="/generate") for _ in range(4)]
    statuses = [job.result()[1] for job in jobs]
    assert sum("previous request is still running" in s for s in statuses) >= 1, statuses
    assert sum(s.startswith("Done") or "Stopped" in s for s in statuses) >= 1, statuses


def test_a_visitor_keeps_its_last_trainings_not_all_of_them(tmp_path):
    store = SessionStore(tmp_path / "s")
    v = store.get("x")
    for run in range(1, 8):
        v.run_dir_for(run).mkdir(parents=True)
        v.run = run
        v.prune_runs(keep=4)
    assert sorted(p.name for p in v.checkpoints_dir.iterdir()) == ["run4", "run5", "run6", "run7"]


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
