import threading

import numpy as np
import pytest
import torch
from helpers import diverge_at

from charlm import (
    CharLMError,
    CheckpointEvent,
    Corpus,
    EvalEvent,
    SampleEvent,
    StepEvent,
    load_checkpoint,
    preset,
    train,
)
from charlm.network.model import CharRNN, ModelConfig
from charlm.training.schedule import learning_rate_at


def hello_corpus() -> Corpus:
    return Corpus.from_text("hello " * 400, val_fraction=0.0, name="hello")


def test_tiny_model_learns_hello_to_near_zero_loss():
    cfg = preset(
        "tiny",
        epochs=100,
        batch_size=4,
        num_steps=12,
        hidden_size=32,
        max_steps=300,
        val_fraction=0.0,
        eval_every=0,
        learning_rate=2e-2,
    )
    events = []
    train(hello_corpus(), cfg, on_event=events.append)
    losses = [e.loss for e in events if isinstance(e, StepEvent)]
    assert len(losses) == 300
    assert losses[0] > 1.5  # about ln(4): it starts knowing nothing
    assert np.mean(losses[-10:]) < 0.05
    step = events[-1]
    assert step.chars_per_sec > 0 and step.sec_per_batch > 0 and "sec/batch" in step.log_line()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_loss_on_anna_falls_well_below_its_start(anna_text, cell):
    corpus = Corpus.from_text(anna_text[:20_000], val_fraction=0.1)
    cfg = preset("tiny", cell=cell, epochs=20, max_steps=200, hidden_size=96, eval_every=100)
    events = []
    result = train(corpus, cfg, on_event=events.append)
    losses = [e.loss for e in events if isinstance(e, StepEvent)]
    assert losses[0] > 4.0  # ln(vocab) ≈ 4.3 at the start
    assert np.mean(losses[-20:]) < 2.6
    vals = [e.val_loss for e in events if isinstance(e, EvalEvent) and not e.whole]
    assert len(vals) == 2 and vals[-1] < 2.8
    assert result.reason == "max_steps" and result.progress.step == 200
    whole = [e for e in events if isinstance(e, EvalEvent) and e.whole]  # the final figure: every held-out character
    assert len(whole) == 1 and whole[0].chars == len(corpus.val_data) - 1 and whole[0].val_loss < 2.8
    assert result.progress.held_out == (200, whole[0].val_loss, whole[0].chars)


def test_training_is_deterministic_under_a_seed():
    corpus = Corpus.from_text("the quick brown fox jumps over the lazy dog. " * 60, val_fraction=0.1)
    cfg = preset("tiny", epochs=10, max_steps=30, dropout=0.3, num_layers=2, eval_every=0)
    a = train(corpus, cfg).model.state_dict()
    b = train(corpus, cfg).model.state_dict()
    c = train(corpus, cfg.replace(seed=1)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_state_is_carried_between_batches_and_reset_each_epoch(monkeypatch):
    corpus = Corpus.from_text("abcdefgh" * 50, val_fraction=0.0)
    cfg = preset("tiny", batch_size=2, num_steps=10, epochs=2, max_steps=0, eval_every=0, val_fraction=0.0)
    seen = []
    original = CharRNN.forward

    def spy(self, x, state=None, **kwargs):
        if self.training:
            seen.append(state is None)
        return original(self, x, state, **kwargs)

    monkeypatch.setattr(CharRNN, "forward", spy)
    train(corpus, cfg)
    per_epoch = (400 - 1) // 20
    assert len(seen) == 2 * per_epoch
    assert seen[0] and seen[per_epoch]  # fresh state at each epoch start
    assert not any(seen[1:per_epoch]) and not any(seen[per_epoch + 1 :])


def test_stop_request_ends_at_a_step_boundary_and_saves(tmp_path):
    corpus = Corpus.from_text("some words and more words " * 200, val_fraction=0.1)
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, StepEvent) and event.step == 7:
            stop.set()

    result = train(corpus, preset("tiny", max_steps=1000, epochs=10), tmp_path, on_event=on_event, stop=stop)
    assert result.reason == "stopped" and result.progress.step == 7
    assert result.checkpoint.name == "i7_l64.safetensors"
    assert load_checkpoint(result.checkpoint).progress.step == 7


def test_events_report_eval_samples_and_checkpoints(tmp_path):
    corpus = Corpus.from_text("The cat sat on the mat. " * 300, val_fraction=0.1)
    events = []
    config = preset("tiny", epochs=10, max_steps=40, eval_every=20, save_every=20, sample_every=20, sample_length=30)
    train(corpus, config, tmp_path, on_event=events.append)
    kinds = {type(e) for e in events}
    assert {StepEvent, EvalEvent, SampleEvent, CheckpointEvent} <= kinds
    samples = [e.text for e in events if isinstance(e, SampleEvent)]
    assert len(samples) == 2 and all(s.startswith("The ") and len(s) == 34 for s in samples)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["i20_l64.json", "i40_l64.json"]


def test_a_run_shorter_than_its_sample_interval_ends_with_a_sample(tmp_path):
    """The final weights write a sample when the last step was not a sampling one: a class's 30-step run shows
    what it learnt, and a longer run's list ends on its last step."""
    corpus = Corpus.from_text("The cat sat on the mat. " * 300)
    events = []
    train(corpus, preset("tiny", epochs=10, max_steps=30, sample_every=100, sample_length=20), on_event=events.append)
    assert [(e.step, len(e.text)) for e in events if isinstance(e, SampleEvent)] == [(30, 24)]
    events.clear()
    train(corpus, preset("tiny", epochs=10, max_steps=45, sample_every=20, sample_length=20), on_event=events.append)
    assert [e.step for e in events if isinstance(e, SampleEvent)] == [20, 40, 45]


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    corpus = Corpus.from_text("abc abd abe " * 200, val_fraction=0.0)
    diverge_at(monkeypatch, 13)
    with pytest.raises(CharLMError, match=r"diverged.*step 13.*i10_l64"):
        train(corpus, preset("tiny", epochs=10, max_steps=50, save_every=5), tmp_path)
    good = load_checkpoint(tmp_path / "i10_l64.safetensors")
    assert all(torch.isfinite(p).all() for p in good.model.parameters())
    assert not (tmp_path / "i13_l64.json").exists()


def test_bf16_loss_curve_follows_fp32():
    text = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 80
    corpus = Corpus.from_text(text, val_fraction=0.1)
    cfg = preset("tiny", epochs=20, max_steps=120, eval_every=0, hidden_size=64)
    fp32 = train(corpus, cfg).progress.train_loss
    bf16 = train(corpus, cfg.replace(bf16=True)).progress.train_loss
    a = np.array([v for _, v in fp32])
    b = np.array([v for _, v in bf16])
    assert b[-20:].mean() < 0.6 * b[:5].mean()  # it learns
    assert abs(a[-20:].mean() - b[-20:].mean()) < 0.15  # and ends where fp32 ends


def test_corpus_too_short_for_the_batch_shape():
    corpus = Corpus.from_text("tiny text", val_fraction=0.0)
    with pytest.raises(CharLMError, match="needs 10,001"):
        train(corpus, preset("textbook"))
    corpus = Corpus.from_text("x" * 3000 + "y" * 30, val_fraction=0.01)
    with pytest.raises(CharLMError, match="validation part"):
        train(corpus, preset("tiny", batch_size=2, num_steps=64, val_fraction=0.01))


@pytest.mark.parametrize(
    "changes",
    [
        {"batch_size": 0},
        {"learning_rate": -1.0},
        {"learning_rate": float("nan")},
        {"dropout": 1.0},
        {"cell": "transformer"},
        {"hidden_size": 10**6},
        {"max_steps": -5},
        {"epochs": 0},
    ],
)
def test_out_of_range_settings_are_refused(changes):
    with pytest.raises(CharLMError, match="Invalid training settings"):
        preset("tiny", **changes)


def test_unknown_preset():
    with pytest.raises(CharLMError, match="Unknown preset"):
        preset("huge")


def test_learning_rate_schedule():
    cfg = preset("tiny", learning_rate=1e-2, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate_at(cfg, 0, 110) == pytest.approx(1e-3)
    assert learning_rate_at(cfg, 10, 110) == pytest.approx(1e-2)
    assert learning_rate_at(cfg, 110, 110) == pytest.approx(1e-3)
    assert learning_rate_at(cfg.replace(lr_schedule="constant"), 50, 110) == 1e-2


def test_large_vocabulary_uses_an_embedding():
    text = "".join(chr(0x4E00 + (i * 7919) % 900) for i in range(6000))
    corpus = Corpus.from_text(text, val_fraction=0.1)
    assert len(corpus.vocab) == 900
    result = train(corpus, preset("tiny", max_steps=5, batch_size=8, num_steps=16))
    assert result.model.embedding is not None and result.model.config.embedding_dim > 0
    assert ModelConfig.for_vocab(83).embedding_dim == 0


def test_only_the_latest_checkpoints_and_the_best_are_kept(tmp_path):
    corpus = Corpus.from_text("The cat sat on the mat. " * 300, val_fraction=0.1)
    config = preset("tiny", epochs=20, max_steps=60, eval_every=5, save_every=5, keep_checkpoints=2, learning_rate=0.05)
    result = train(corpus, config, tmp_path)
    kept = sorted(int(p.stem.split("_")[0][1:]) for p in tmp_path.glob("*.json"))
    assert len(list(tmp_path.glob("*.safetensors"))) == len(kept) <= 3
    assert kept[-2:] == [55, 60]
    best_step = min(result.progress.val_loss, key=lambda sv: sv[1])[0]
    assert best_step in kept  # the best by validation loss stays, however old
    assert load_checkpoint(tmp_path / f"i{best_step}_l64.safetensors").progress.step == best_step


def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    import importlib

    loop = importlib.import_module("charlm.training.loop")  # the module (charlm.training.loop is also the function)
    corpus = Corpus.from_text("The cat sat on the mat. " * 300, val_fraction=0.1)
    real_save = loop.save_checkpoint

    def save(directory, model, *args, **kwargs):
        if args[2].step > 10:  # progress
            raise OSError(28, "No space left on device", str(directory / "i15_l64.safetensors"))
        return real_save(directory, model, *args, **kwargs)

    monkeypatch.setattr(loop, "save_checkpoint", save)
    with pytest.raises(CharLMError, match="step 15 could not be written") as info:
        train(corpus, preset("tiny", epochs=20, max_steps=40, save_every=5), tmp_path)
    assert "No space left on device" in str(info.value) and str(tmp_path) not in str(info.value)
    assert "i10_l64.safetensors" in str(info.value)
    assert load_checkpoint(tmp_path / "i10_l64.safetensors").progress.step == 10


def test_the_log_counts_the_epochs_the_run_will_reach():
    """max_steps ends this run inside its second pass over the text: "Epoch 2/2", not "Epoch 2/50"."""
    from charlm.data.batches import Batches

    corpus = Corpus.from_text("Happy families are all alike; every unhappy family is unhappy. " * 60, val_fraction=0.1)
    cfg = preset("tiny", epochs=50, max_steps=0)
    per_epoch = len(Batches(corpus.train_data, cfg.batch_size, cfg.num_steps))
    events = []
    train(corpus, cfg.replace(max_steps=per_epoch + 1), on_event=events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert {e.epochs for e in steps} == {2} and steps[-1].epoch == 2


def test_small_codes_train_exactly_as_int64_codes():
    """The corpus stores its codes in the smallest type (``code_dtype``); the network reads int64. The run is
    the same, weight for weight, as on int64 codes."""
    corpus = Corpus.from_text("the quick brown fox jumps over the lazy dog. " * 60, val_fraction=0.1)
    wide = Corpus(corpus.vocab, corpus.data.astype(np.int64), corpus.val_fraction, corpus.name)
    assert corpus.data.dtype == np.uint8
    cfg = preset("tiny", max_steps=12, dropout=0.2, num_layers=2, eval_every=6)
    small, large = train(corpus, cfg), train(wide, cfg)
    assert small.progress.val_loss == large.progress.val_loss and small.progress.train_loss == large.progress.train_loss
    a, b = small.model.state_dict(), large.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
