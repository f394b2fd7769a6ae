"""Training in time-boxed chunks (a ZeroGPU Space's way): from files to files, equal to an unbroken run,
stoppable, and driven by the page's own event through the app's chunk runner."""

import pickle
import threading
import time

import pytest
import torch
from app_server import running_app
from gradio_client import Client, handle_file

from charlm import Corpus, StepEvent, preset, train
from charlm.serving.chunks import STOP_FILE, ChunkEnd, train_chunk
from charlm.serving.jobs import TrainingJob

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


def test_chunks_from_files_add_up_to_the_unbroken_run(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=60, num_layers=2, dropout=0.2, eval_every=10, epochs=50, keep_checkpoints=2)
    straight = train(corpus, cfg, tmp_path / "straight")
    out, resume, steps, chunks = tmp_path / "chunks", None, [], 0
    while True:  # each chunk starts from the checkpoint file alone, like a GPU worker process would
        chunks += 1
        items = list(train_chunk(corpus, cfg, str(out), resume, seconds=0.4))
        steps += [e.step for e in items if isinstance(e, StepEvent)]
        end = items[-1]
        assert isinstance(end, ChunkEnd) and end.checkpoint.endswith(f"i{end.step}_l64.safetensors")
        if end.reason != "chunk":
            break
        resume = end.checkpoint
    assert chunks > 1 and steps == list(range(1, 61))  # every step once, reported as it happened
    from charlm import load_checkpoint

    last = load_checkpoint(end.checkpoint).model.state_dict()
    assert all(torch.equal(v, last[k]) for k, v in straight.model.state_dict().items())


def test_a_stop_file_ends_the_chunk_with_a_checkpoint(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    chunk = train_chunk(corpus, preset("tiny", max_steps=0, epochs=10_000), str(tmp_path), None, seconds=600)
    for item in chunk:
        if isinstance(item, StepEvent) and item.step == 5:
            (tmp_path / STOP_FILE).touch()  # what the app does when the visitor presses Stop
        if isinstance(item, ChunkEnd):
            break
    assert item.reason == "stopped" and item.checkpoint


def test_a_job_in_chunks_reports_progress_stops_and_survives_its_page_leaving(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=0, epochs=10_000)
    job = TrainingJob(corpus, cfg, tmp_path / "a").begin_chunks()
    driving = job.run_in_chunks(train_chunk, seconds=0.3)
    while job.snapshot().step < 20:
        next(driving)
    assert job.snapshot().state == "running" and job.snapshot().train_loss
    job.stop()
    for _ in driving:  # the chunk under way sees the stop file, saves, and the job ends
        pass
    assert job.snapshot().state == "stopped" and job.snapshot().checkpoints

    other = TrainingJob(corpus, cfg, tmp_path / "b").begin_chunks()
    driving = other.run_in_chunks(train_chunk, seconds=30)
    while other.snapshot().step < 5:
        next(driving)
    driving.close()  # the page went away: Gradio closes the event's generator
    assert other.snapshot().state == "stopped"
    assert not [t for t in threading.enumerate() if t.name == "charlm-chunk"]  # the training thread ended


@pytest.mark.app
@pytest.mark.slow
def test_the_app_trains_in_chunks_driven_by_the_start_event(tmp_path):
    corpus = tmp_path / "family.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    with running_app(tmp_path, runner="chunks", chunk_seconds=0.1) as (app, url):
        calls = []
        real = app.ctx.runner.chunk

        def counted(*args):  # as ZeroGPU runs it: arguments and events cross a process boundary by pickle
            calls.append(args[3])  # the checkpoint each chunk starts from
            for item in real(*pickle.loads(pickle.dumps(args))):
                yield pickle.loads(pickle.dumps(item))

        app.ctx.runner.chunk = counted
        c = Client(url, verbose=False)
        c.predict(None, handle_file(str(corpus)), 0.1, api_name="/load_corpus")
        form = ["quick", "lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 100, 2000]  # 2,000 steps: never one 0.1 s chunk
        job = c.submit(*form, api_name="/start_training")
        seen = []
        while not job.done():
            seen.append(c.predict(api_name="/training_status")[0])
            time.sleep(0.3)
        assert "Training started" in job.outputs()[0][0]
        assert any("Step:" in line for line in seen), seen  # progress reached the page while it ran
        assert len(calls) > 1 and calls[0] is None and all(p and p.endswith(".safetensors") for p in calls[1:])
        final = c.predict(api_name="/training_status")[0]
        assert "Step: 2000/2000" in final, final


@pytest.mark.slow
def test_a_gpu_call_that_fails_keeps_the_checkpoint_and_says_what_to_do(tmp_path):
    from demo.runners import chunk_with_messages

    corpus = tmp_path / "family.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    with running_app(tmp_path, runner="chunks", chunk_seconds=0.2) as (app, url):
        answers = iter(
            [
                None,
                RuntimeError("ZeroGPU worker error: GPU task aborted"),
                None,
                RuntimeError(
                    "You have exceeded your free ZeroGPU quota (98s requested vs. 30s left). Try again in 3:12:00."
                ),
            ]
        )

        def flaky(*args):  # a chunk that trains, then the GPU's answers in turn
            failure = next(answers)
            if failure is not None:
                raise failure
            yield from train_chunk(*args)

        app.ctx.runner.chunk = chunk_with_messages(flaky)
        c = Client(url, verbose=False)
        c.predict(None, handle_file(str(corpus)), 0.1, api_name="/load_corpus")
        form = ["quick", "lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 100, 100_000]  # more than a few chunks of work
        c.predict(*form, api_name="/start_training")  # the event ends when the job does
        status, _plot, _sample, files, *_ = c.predict(api_name="/training_status")
        assert "The GPU call failed or ran out of time" in status and "Resume" in status
        assert files  # the first chunk's checkpoint is kept
        c.predict(*form, api_name="/resume_training")
        status = c.predict(api_name="/training_status")[0]
        assert "98 s of GPU time and your account has 30 s left today (renewed in 3:12:00)" in status
        assert "“5 · Generate”" in status and "Traceback" not in status


def _finished(job, timeout=90):
    deadline = time.time() + timeout
    while not job.finished:
        assert time.time() < deadline, job.snapshot()
        time.sleep(0.1)
    return job.snapshot()


@pytest.mark.slow
def test_a_training_in_a_child_process_reports_every_step_stops_and_says_what_failed(tmp_path):
    """``CHARLM_RUNNER=process``: the training runs in a process of its own; the job here sees its events as a
    thread's, stops it through the disk, and gets its errors with their keys (in the visitor's language)."""
    from demo.runners import ProcessRunner

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    runner = ProcessRunner(threads=1)
    done = TrainingJob(corpus, preset("tiny", max_steps=40, eval_every=20, epochs=100), tmp_path / "done")
    runner.start(done)
    snap = _finished(done)
    assert snap.state == "done" and [s for s, _ in snap.train_loss] == list(range(1, 41))
    assert [s for s, _ in snap.val_loss] == [20, 40] and snap.checkpoints[-1].name == "i40_l64.safetensors"
    from charlm import load_checkpoint

    assert load_checkpoint(snap.checkpoints[-1]).progress.step == 40
    stopped = TrainingJob(corpus, preset("tiny", max_steps=0, epochs=10_000), tmp_path / "stopped")
    runner.start(stopped)
    deadline = time.time() + 60
    while stopped.snapshot().step < 5:
        assert time.time() < deadline
        time.sleep(0.05)
    stopped.stop()
    snap = _finished(stopped)
    assert snap.state == "stopped" and snap.checkpoints and not (tmp_path / "stopped" / STOP_FILE).exists()
    tiny = Corpus.from_text("Too short to cut into batches. " * 3, val_fraction=0.1)
    failed = TrainingJob(tiny, preset("tiny", batch_size=64, num_steps=64), tmp_path / "failed")
    runner.start(failed)
    snap = _finished(failed)
    assert snap.state == "failed" and snap.failure is not None and snap.failure.key


KILLED_SERVER = """
import multiprocessing, os, signal, sys
sys.path.insert(0, {root!r})
from charlm import Corpus, StepEvent, preset
from charlm.serving.chunks import train_chunk_in_child
if __name__ == "__main__":  # the fork server imports this module too
    corpus = Corpus.from_text({text!r}, val_fraction=0.1)
    for item in train_chunk_in_child(corpus, preset("tiny", max_steps=0, epochs=10_000), {out!r}, None, 600.0):
        if isinstance(item, StepEvent) and item.step >= 3:
            print(*[p.pid for p in multiprocessing.active_children() if p.name == "charlm-training"], flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # the server killed, its clean-up skipped
"""


@pytest.mark.slow
def test_a_training_in_a_child_process_stops_with_a_checkpoint_when_its_server_is_killed(tmp_path):
    """The training's process is the fork server's child, not the server's: killed, the server cannot stop it.
    It watches the server and stops as Stop stops it, saving first, instead of training on for nobody."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from charlm import list_checkpoints

    root = str(Path(__file__).resolve().parents[2])
    script = KILLED_SERVER.format(root=root, text=TEXT, out=str(tmp_path / "run"))
    (tmp_path / "server.py").write_text(script, encoding="utf-8")
    out, err = tmp_path / "server.out", tmp_path / "server.err"
    with out.open("w") as stdout, err.open("w") as stderr:  # not pipes: the training would hold them open
        server = subprocess.run(
            [sys.executable, str(tmp_path / "server.py")], stdout=stdout, stderr=stderr, timeout=120
        )
    assert server.returncode == -9, err.read_text()[-2000:]
    child = int(out.read_text().split()[0])

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    deadline = time.time() + 60
    while running(child):
        assert time.time() < deadline, "the training ran on after its server was killed"
        time.sleep(0.2)
    saved = list_checkpoints(tmp_path / "run")
    assert saved and os.path.getsize(saved[-1]) > 0
