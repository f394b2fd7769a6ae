import time

import pytest

from charlm import CharLMError, Corpus, preset
from charlm.jobs import JobSlots, TrainingJob

TEXT = "A job runs in the background while the page stays responsive. " * 80


def test_job_lifecycle_runs_and_stops(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    slots = JobSlots(limit=1)
    job = TrainingJob(corpus, preset("tiny", epochs=1000, max_steps=100_000, save_every=0), tmp_path, slots=slots)
    assert job.snapshot().state == "pending"
    job.start()
    deadline = time.time() + 60
    while job.snapshot().step < 20 and time.time() < deadline:
        time.sleep(0.05)
    snap = job.snapshot()
    assert snap.state == "running" and snap.step >= 20 and snap.eta is not None
    assert slots.running == 1
    with pytest.raises(CharLMError, match="busy"):
        TrainingJob(corpus, preset("tiny"), tmp_path / "other", slots=slots).start()
    job.stop()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.checkpoints and snap.train_loss[-1][1] < snap.train_loss[0][1]
    assert slots.running == 0


def test_failed_job_reports_and_frees_its_slot(tmp_path):
    slots = JobSlots(limit=1)
    corpus = Corpus.from_text("short", val_fraction=0.0)
    job = TrainingJob(corpus, preset("tiny"), tmp_path, slots=slots).start()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.state == "failed" and "needs" in snap.error
    assert slots.running == 0


def test_an_unexpected_exception_is_reported_and_frees_the_slot(tmp_path, monkeypatch):
    import charlm.jobs

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(charlm.jobs, "train", broken)
    slots = JobSlots(limit=1)
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny"), tmp_path, slots=slots).start()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.state == "failed" and "RuntimeError" in snap.error
    assert "simulated" not in snap.error and "server's log" in snap.error  # details (paths) stay on the server
    assert slots.running == 0


def test_a_job_stopped_before_its_first_step_says_so_and_saves_nothing(tmp_path):
    from demo.views import status_line

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny", max_steps=100_000, epochs=1000), tmp_path)
    job.stop()  # before it even started
    job.start()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.step == 0 and snap.checkpoints == []
    assert list(tmp_path.glob("*.safetensors")) == []  # no checkpoint of an untrained model
    assert status_line(snap) == "⏹ stopped."
