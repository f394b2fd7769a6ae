"""Devices and chunked training: where a run trains, and a run cut into pieces that equals one unbroken run."""

import pytest
import torch

from charlm import CharLMError, Corpus, latest_checkpoint, load_checkpoint, preset, train
from charlm.training.device import resolve_device, restore_generator

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


def weights_equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def test_auto_takes_the_fastest_device_here():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_a_gpu_that_is_not_there_says_so_before_training(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    with pytest.raises(CharLMError, match="no CUDA GPU"):
        train(corpus, preset("tiny", max_steps=2, device="cuda"), tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_unknown_device_is_refused():
    with pytest.raises(CharLMError, match="device must be one of auto, cpu, cuda, mps"):
        preset("tiny", device="tpu")


def test_a_checkpoint_without_a_device_loads_as_auto(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    result = train(corpus, preset("tiny", max_steps=2, device="cpu"), tmp_path)
    assert load_checkpoint(result.checkpoint).train_config.device == "cpu"
    from charlm.training.config import TrainConfig

    old = preset("tiny").to_dict()
    del old["device"]  # a checkpoint written before devices existed
    assert TrainConfig.from_dict(old).device == "auto"


def test_a_random_state_from_another_kind_of_device_reseeds_instead_of_failing():
    g = torch.Generator().manual_seed(1)
    restore_generator(g, torch.zeros(16, dtype=torch.uint8), seed=3, step=10)  # a CUDA generator's state
    h = torch.Generator().manual_seed(3 * 1_000_003 + 10)
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=h))


@pytest.mark.parametrize("layers, dropout", [(1, 0.0), (2, 0.3)])
def test_a_run_in_chunks_equals_one_unbroken_run(tmp_path, layers, dropout):
    """Each chunk starts from the files the last one left (a fresh model, nothing carried in memory)."""
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset(
        "tiny",
        max_steps=40,
        num_layers=layers,
        dropout=dropout,
        eval_every=10,
        save_every=0,
        epochs=20,
        lr_schedule="cosine",
        warmup_steps=3,
        keep_checkpoints=2,
    )
    straight = train(corpus, cfg, tmp_path / "straight")
    reasons, resume = [], None
    while True:
        result = train(corpus, cfg, tmp_path / "chunks", resume=resume, chunk_steps=7)
        reasons.append(result.reason)
        if result.reason != "chunk":
            break
        resume = load_checkpoint(latest_checkpoint(tmp_path / "chunks"))
    assert reasons == ["chunk"] * 5 + ["max_steps"]  # 7+7+7+7+7, then the last 5
    assert weights_equal(straight.model, result.model)
    assert result.progress.train_loss == straight.progress.train_loss
    assert result.progress.val_loss == straight.progress.val_loss  # no extra evaluation at the cuts


def test_a_chunk_stops_within_its_time_box(tmp_path):
    corpus = Corpus.from_text(TEXT * 5, val_fraction=0.1)
    cfg = preset("tiny", max_steps=0, epochs=1000, hidden_size=128)
    result = train(corpus, cfg, tmp_path, chunk_seconds=1.5)
    per_step = result.progress.elapsed / result.progress.step
    assert result.reason == "chunk" and result.progress.step > 1
    assert result.progress.elapsed < 1.5 + 2 * per_step  # past the box by at most the step under way
    assert latest_checkpoint(tmp_path).name == f"i{result.progress.step}_l128.safetensors"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_command_line_takes_a_device_and_says_when_it_is_missing(tmp_path, capsys):
    from charlm.cli import main

    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    common = ["train", "--corpus", str(text), "--preset", "tiny", "--max-steps", "2", "--log-every", "0"]
    assert main([*common, "--out", str(tmp_path / "gpu"), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "cpu"), "--device", "cpu"]) == 0
    assert load_checkpoint(tmp_path / "cpu").train_config.device == "cpu"
