"""A GPU call asks for the work it will do: the work left at the job's own pace, never more than a chunk's
length or its time limit, plus the measured cost of a call; a call refused for more than the visitor has left
today is made once more, smaller, when a call worth making fits."""

import pytest

from charlm import Corpus, preset
from charlm.serving.chunks import train_chunk_reported
from charlm.serving.jobs import JobSnapshot, TrainingJob
from demo.runners import ChunkPlan, chunk_with_messages, fitted_seconds

spaces_gradio = pytest.importorskip("spaces.zero.gradio")

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


def test_a_call_asks_for_the_work_left_at_the_jobs_pace():
    plan = ChunkPlan(cap=45.0)
    assert plan.seconds(JobSnapshot(state="running")) == 45.0  # nothing measured yet: a whole chunk
    near_the_end = JobSnapshot(state="running", step=850, total_steps=890, sec_per_batch=0.0144)
    assert 1.0 < plan.seconds(near_the_end) < 3.0  # 40 steps of 14 ms, with slack: not 45 s
    long_way = JobSnapshot(state="running", step=10, total_steps=100_000, sec_per_batch=0.1)
    assert plan.seconds(long_way) == 45.0
    assert plan.seconds(long_way, time_limit=600.0) == 45.0
    assert plan.seconds(JobSnapshot(state="running", step=10, elapsed=590.0), time_limit=600.0) == 11.0


def test_a_calls_cost_beyond_its_training_is_measured():
    plan = ChunkPlan(cap=45.0)
    plan.measured(startup=1.2, wind_down=0.4)
    assert plan.overhead == 3.0  # half as much again, and never below a floor
    plan.measured(startup=6.0, wind_down=2.0)
    assert plan.overhead == pytest.approx(12.0)


def refusal(requested: int, left: int):
    return spaces_gradio.error(
        "ZeroGPU quota exceeded",
        f"You have exceeded your free ZeroGPU quota ({requested}s requested vs. {left}s left). Try again in 3:00:00. ",
    )


def test_what_fits_the_quota_counts_zerogpus_factor():
    plan = ChunkPlan(cap=45.0, overhead=20.0)
    # 65 s asked cost 98 on a GPU with a factor of 1.5; 90 s left buy 60 s of GPU: 40 s of training
    assert fitted_seconds(refusal(98, 90), asked=65, plan=plan) == pytest.approx(90 / (98 / 65) - 21, abs=0.01)
    assert fitted_seconds(refusal(98, 30), asked=65, plan=plan) is None  # nothing worth a call fits
    assert fitted_seconds(RuntimeError("GPU task aborted"), asked=65, plan=plan) is None


def test_a_call_refused_for_the_quota_is_made_once_more_smaller(tmp_path):
    plan = ChunkPlan(cap=40.0, overhead=5.0)
    asked = []

    def zerogpu(*args):  # charges 1.5 s a second asked, and 40 s are left today
        asked.append(args[-1])
        cost = round((args[-1] + plan.overhead) * 1.5)
        if cost > 40:
            raise refusal(cost, 40)
        yield from train_chunk_reported(*args)

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny", epochs=20, max_steps=60, save_every=0), tmp_path / "run")
    job.begin_chunks()
    for _ in job.run_in_chunks(chunk_with_messages(zerogpu, plan), 40.0):
        pass
    snap = job.snapshot()
    assert asked[0] == 40.0 and 5.0 <= asked[1] <= 40 / 1.5 - 5.0  # the second fits what is left
    assert snap.state == "done" and snap.step == 60
