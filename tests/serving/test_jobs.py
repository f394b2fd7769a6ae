import time
import types

import pytest

from charlm import CharLMError, Corpus, preset
from charlm.serving.jobs import TrainingJob
from charlm.serving.waiting_line import JobSlots

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
    import charlm.serving.jobs

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(charlm.serving.jobs, "train", broken)
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
    assert status_line(snap) == "■ stopped."


def wait_until(condition, seconds=60):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_full_server_puts_trainings_in_line_and_starts_them_in_turn(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    slots = JobSlots(limit=1)
    long = preset("tiny", epochs=1000, max_steps=0, max_seconds=30, save_every=0)
    first = TrainingJob(corpus, long, tmp_path / "1", slots=slots).start(wait=True)
    second = TrainingJob(corpus, long, tmp_path / "2", slots=slots).start(wait=True)
    third = TrainingJob(corpus, long, tmp_path / "3", slots=slots).start(wait=True)
    leaver = TrainingJob(corpus, long, tmp_path / "4", slots=slots).start(wait=True)
    assert [j.snapshot().state for j in (first, second, third, leaver)] == ["running", "waiting", "waiting", "waiting"]
    assert wait_until(lambda: first.snapshot().step > 3)
    places = [(j.snapshot().place, j.snapshot().starts_in) for j in (second, third, leaver)]
    assert [p for p, _ in places] == [1, 2, 3]
    assert all(s is not None for _, s in places) and places[0][1] < places[1][1] < places[2][1] <= 90
    leaver.stop()  # its visitor left: out of the line, nothing started
    assert leaver.snapshot().state == "stopped" and slots.waiting == 2 and not (tmp_path / "4").exists()
    first.stop()
    assert wait_until(lambda: second.snapshot().state == "running")  # its turn, by itself
    assert third.snapshot().place == 1 and slots.running == 1
    second.stop()
    assert wait_until(lambda: third.snapshot().state == "running")
    third.stop()
    assert third.wait(30) and wait_until(lambda: slots.running == 0)


def test_trainings_reuse_their_threads(tmp_path):
    """One job after another runs in the same kept thread (a new thread per job leaves memory behind:
    charlm/serving/training_threads.py); a job of another priority gets a thread of its own priority."""
    import threading

    from charlm.serving.training_threads import training_threads

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    names = []

    def one(i: int, niceness: int) -> None:
        job = TrainingJob(
            corpus, preset("tiny", max_steps=3, save_every=0, eval_every=0), tmp_path / f"r{i}", niceness=niceness
        )
        job._on_event = lambda event, seen=names: seen.append(threading.current_thread().name)
        assert job.start().wait(60) and job.snapshot().state == "done"

    one(0, 7)
    before = training_threads()
    for i in range(1, 5):
        one(i, 7)
    assert training_threads() == before  # no new thread for jobs that follow one another
    assert set(names) == {"charlm-training-7"}
    one(5, 0)
    assert names[-1] == "charlm-training-0"


def test_the_next_in_line_runs_in_the_thread_the_last_job_leaves(tmp_path):
    """A job started the moment another ends (here the next in line, started by the slot's release inside the
    ending job) found no idle thread yet and got a new one: a class left three training threads behind two
    slots, each with its math libraries' buffers. It waits for the thread that is finishing instead."""
    from charlm.serving.training_threads import training_threads

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    slots = JobSlots(1)
    jobs = [
        TrainingJob(
            corpus, preset("tiny", max_steps=3, save_every=0, eval_every=0), tmp_path / f"r{i}", slots=slots, niceness=5
        )
        for i in range(4)
    ]  # a priority of its own: a pool of its own
    before = training_threads()
    for job in jobs:
        job.start(wait=True)  # the first runs, the others wait in line and follow one another
    for job in jobs:
        assert job.wait(60) and job.snapshot().state == "done"
    assert training_threads() - before == 1


def test_a_kept_thread_does_not_keep_its_last_job_alive(tmp_path):
    """A kept thread waiting for work held its last job (model, optimiser, data) until the next one came, and
    the first one for its whole life (a thread keeps its arguments): after a class, two trainings' worth stayed."""
    import gc
    import weakref

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    jobs = [
        TrainingJob(corpus, preset("tiny", max_steps=3, save_every=0, eval_every=0), tmp_path / f"r{i}", niceness=6)
        for i in range(2)
    ]
    for job in jobs:
        assert job.start().wait(60) and job.snapshot().state == "done"
    gone = [weakref.ref(job) for job in jobs]
    del jobs, job
    gc.collect()
    assert [ref() for ref in gone] == [None, None]


def test_a_finished_job_reports_its_figure_over_every_held_out_character(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny", max_steps=10, epochs=5, save_every=0), tmp_path).start()
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.held_out is not None and snap.held_out[0] == 10 and snap.held_out[2] == len(corpus.val_data) - 1
    assert [s for s, _ in snap.val_loss] == [10]  # the curve keeps only the periodic subset


class _Job:
    """A job as the line sees it (``Waiting``): started when its turn comes."""

    def __init__(self, name: str, priority: bool = False):
        self.name, self.priority, self.started = name, priority, False
        self.config = types.SimpleNamespace(max_seconds=0.0)

    def seconds_left(self):
        return None

    def start_from_line(self):
        self.started = True


def test_a_teachers_job_takes_the_kept_place_and_waits_at_the_front():
    """Two places for the class and one kept: the class fills theirs and queues; the teacher starts at once; a
    second teacher job waits ahead of the class, and the kept place never goes to a student."""
    slots = JobSlots(limit=2, kept=1)
    a, b, c, d = (_Job(n) for n in "abcd")
    assert slots.acquire(a, wait=True) and slots.acquire(b, wait=True)
    assert not slots.acquire(c, wait=True) and not slots.acquire(d, wait=True)  # the class waits
    teacher = _Job("teacher", priority=True)
    assert slots.acquire(teacher, wait=True) and slots.running == 3  # at once, in the kept place
    second = _Job("teacher again", priority=True)
    assert not slots.acquire(second, wait=True) and slots.place(second)[0] == 1  # ahead of c and d
    slots.release(a)
    assert second.started and not c.started  # the freed place goes to the first in line: the teacher
    slots.release(teacher)
    assert not c.started and slots.running == 2  # the kept place is not a student's
    slots.release(b)
    assert c.started and not d.started
    full = JobSlots(limit=1, kept=1)
    assert full.acquire(_Job("x"))
    with pytest.raises(CharLMError):
        full.acquire(_Job("y"))  # not waiting, and the kept place is not theirs: refused


def test_the_waiting_estimate_counts_down_steadily_and_starts_again_at_a_new_place():
    from charlm.serving.waiting_line import SmoothedEstimate

    now = [0.0]
    estimate = SmoothedEstimate(settle=20.0, clock=lambda: now[0])
    assert estimate.update(600.0, place=3) == 600
    now[0] = 3.0
    assert estimate.update(900.0, place=3) == 639  # 597 pulled 14 % of the way toward 900: no jump of minutes
    now[0] = 6.0
    assert estimate.update(None, place=3) == 636  # nothing new: it counts down
    now[0] = 7.0
    assert estimate.update(120.0, place=1) == 120  # the line moved: the new figure at once
