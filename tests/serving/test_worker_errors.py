"""What crosses ZeroGPU's worker reaches the visitor as what it is: charlm's own errors (a diverged training)
as themselves, and each of ZeroGPU's refusals, built here with the real ``spaces`` package's ``gr.Error`` and
its own sentences, as a message that names the cause and the next step, in English and in Chinese.

The worker here is a stand-in with the transport ``spaces`` has (read in its source, 0.51): what the function
yields crosses pickled, and any exception but a ``gr.Error`` arrives as a generic one carrying only its class
name. The real worker needs ZeroGPU's device service, which no test machine has."""

import pickle

import pytest
from helpers import diverge_at

from charlm import CharLMError, Corpus, preset
from charlm.serving.chunks import train_chunk, train_chunk_reported
from charlm.serving.jobs import TrainingJob
from demo.i18n import error_text
from demo.runners import chunk_with_messages, zerogpu_refusal
from demo.views import failure_text

spaces_gradio = pytest.importorskip("spaces.zero.gradio")
spaces_client = pytest.importorskip("spaces.zero.client")

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


def across_the_worker(chunk):
    """``chunk`` as ZeroGPU's forked worker runs it: items pickled on their way back, and an exception that is
    not a gr.Error replaced by a generic one (its message lost)."""

    def run(*args):
        try:
            for item in chunk(*args):
                yield pickle.loads(pickle.dumps(item))
        except spaces_gradio.gr.Error:
            raise
        except Exception as err:
            raise RuntimeError(f"ZeroGPU worker error: {type(err).__name__}") from None

    return run


@pytest.fixture()
def diverging(monkeypatch):
    """The loss turns NaN at the 12th training step, as a learning rate far too high makes it."""
    diverge_at(monkeypatch, 12)


def run_job(tmp_path, chunk):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny", epochs=20, max_steps=40, save_every=5), tmp_path / "run")
    job.begin_chunks()
    for _ in job.run_in_chunks(chunk_with_messages(chunk), 60):
        pass
    return job.snapshot()


def test_a_training_that_diverges_in_the_gpu_worker_says_diverged_in_both_languages(tmp_path, diverging):
    snap = run_job(tmp_path, across_the_worker(train_chunk_reported))
    assert snap.state == "failed" and isinstance(snap.failure, CharLMError) and snap.failure.key == "diverged"
    assert "diverged" in failure_text(snap, "en") and "step 12" in failure_text(snap, "en")
    assert "发散" in failure_text(snap, "zh-CN") and "Resume" not in failure_text(snap, "en")
    assert snap.checkpoints  # the last good checkpoint is kept


def test_without_reporting_the_same_failure_would_arrive_as_a_generic_gpu_error(tmp_path, diverging):
    """Why the chunk reports its errors: raised inside the worker, "diverged" loses its meaning."""
    snap = run_job(tmp_path, across_the_worker(train_chunk))
    assert snap.state == "failed" and snap.failure.key != "diverged"
    assert "GPU call failed" in failure_text(snap, "en")


def spaces_error(title: str, message: str):
    return spaces_gradio.error(title, message)  # the gr.Error that spaces raises, with its title


REFUSALS = {
    "the visitor's quota, with numbers": (
        spaces_error(
            "ZeroGPU quota exceeded",
            "You have exceeded your free ZeroGPU quota (98s requested vs. 30s left). Try again in 3:12:00. ",
        ),
        "err.gpu_quota_left",
        ("98 s", "30 s", "3:12:00", "“5 · Generate”"),
    ),
    "the Space's own limit": (
        spaces_error(
            "ZeroGPU quota exceeded", f"Space app has reached its GPU limit. {spaces_client.EXAMPLES_RETRY_MESSAGE}"
        ),
        "err.gpu_space_limit",
        ("Sign in to Hugging Face", "“1 · Ideas”"),
    ),
    "no GPU within the wait": (
        spaces_error("ZeroGPU quota exceeded", f"{spaces_client.NO_GPU_MESSAGE_INQUEUE}. Retry later"),
        "err.gpu_busy",
        ("No GPU was free in time", "Resume"),
    ),
    "an illegal duration": (
        spaces_error(
            "ZeroGPU illegal duration", "The requested GPU duration (300s) is larger than the maximum allowed"
        ),
        "err.gpu_duration",
        ("300 s", "CHARLM_CHUNK_SECONDS"),
    ),
    "the runs limit": (
        spaces_error("ZeroGPU quota exceeded", "You have exceeded your ZeroGPU runs limit. "),
        "err.gpu_runs",
        ("as many GPU calls",),
    ),
    "a worker that died": (RuntimeError("ZeroGPU worker error: GPU task aborted"), "err.gpu_failed", ("Resume",)),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_zerogpu_refusal_names_its_cause_and_the_next_step(case):
    raised, key, english = REFUSALS[case]
    said = zerogpu_refusal(raised)
    assert said.key == key
    assert all(part in error_text(said, "en") for part in english), error_text(said, "en")
    chinese = error_text(said, "zh-CN")
    assert chinese != error_text(said, "en") and "检查点" in chinese
    assert not any(f"tab {n}" in error_text(said, "en") for n in range(1, 7))  # tabs by their titles


def test_a_refusal_in_the_middle_of_a_run_keeps_the_checkpoint(tmp_path):
    answers = iter([None, spaces_error("ZeroGPU quota exceeded", "Space app has reached its GPU limit. ")])

    def flaky(*args):  # the first chunk trains; the next call is refused
        refusal = next(answers)
        if refusal is not None:
            raise refusal
        yield from train_chunk_reported(*args)

    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    job = TrainingJob(corpus, preset("tiny", epochs=1000, max_steps=100_000, save_every=5), tmp_path / "run")
    job.begin_chunks()
    for _ in job.run_in_chunks(chunk_with_messages(flaky), 0.5):
        pass
    snap = job.snapshot()
    assert snap.state == "failed" and snap.failure.key == "err.gpu_space_limit" and snap.checkpoints
