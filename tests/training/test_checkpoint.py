import json
import struct
import threading

import pytest
import torch
from helpers import write_pickle_payload
from safetensors.torch import save_file

from charlm import CharLMError, Corpus, StepEvent, latest_checkpoint, load_checkpoint, preset, train
from charlm.training.checkpoint import list_checkpoints

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    result = train(corpus, preset("tiny", max_steps=20, save_every=10, dropout=0.2, num_layers=2, epochs=10), out)
    return corpus, result, out


def test_round_trip_is_exact(trained):
    corpus, result, out = trained
    ckpt = load_checkpoint(result.checkpoint)
    original = result.model.state_dict()
    loaded = ckpt.model.state_dict()
    assert original.keys() == loaded.keys()
    assert all(torch.equal(original[k], loaded[k]) for k in original)
    assert ckpt.vocab == corpus.vocab
    assert ckpt.train_config == preset("tiny", max_steps=20, save_every=10, dropout=0.2, num_layers=2, epochs=10)
    assert ckpt.progress.step == 20 and ckpt.progress.train_loss == result.progress.train_loss
    assert ckpt.can_resume and ckpt.carry_state is not None and ckpt.rng_state is not None
    meta = json.loads((out / "i20_l64.json").read_text())
    assert meta["vocab"] == list(corpus.vocab.chars) and meta["model_config"]["hidden_size"] == 64


def test_names_and_latest(trained):
    _, _, out = trained
    assert [p.name for p in list_checkpoints(out)] == ["i10_l64.safetensors", "i20_l64.safetensors"]
    assert latest_checkpoint(out).name == "i20_l64.safetensors"
    assert load_checkpoint(out).progress.step == 20  # a folder means its latest
    assert latest_checkpoint(out / "nothing-here") is None


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resume_gives_the_same_weights_as_training_straight_through(tmp_path, dropout):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset(
        "tiny",
        max_steps=30,
        num_layers=2,
        dropout=dropout,
        save_every=15,
        eval_every=10,
        epochs=10,
        lr_schedule="cosine",
        warmup_steps=4,
    )
    straight = train(corpus, cfg, tmp_path / "a")
    stop = threading.Event()  # interrupted at step 15, as a Stop button or Ctrl-C would
    train(
        corpus,
        cfg,
        tmp_path / "b",
        stop=stop,
        on_event=lambda e: stop.set() if isinstance(e, StepEvent) and e.step == 15 else None,
    )
    assert latest_checkpoint(tmp_path / "b").name == "i15_l64.safetensors"
    resumed = train(corpus, cfg, tmp_path / "b", resume=load_checkpoint(tmp_path / "b"))
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.progress.train_loss == straight.progress.train_loss
    assert resumed.progress.step == 30


def test_resume_after_max_steps_with_a_constant_rate(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=24, epochs=10, dropout=0.25, num_layers=2, save_every=0)
    straight = train(corpus, cfg, tmp_path / "a")
    train(corpus, cfg.replace(max_steps=12), tmp_path / "b")
    resumed = train(corpus, cfg, tmp_path / "b", resume=load_checkpoint(tmp_path / "b"))
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_different_text_or_shape(trained, tmp_path):
    corpus, result, _ = trained
    ckpt = load_checkpoint(result.checkpoint)
    with pytest.raises(CharLMError, match="different vocabulary"):
        train(Corpus.from_text("zzzz yyyy " * 300, val_fraction=0.1), ckpt.train_config, tmp_path, resume=ckpt)
    with pytest.raises(CharLMError, match="hidden_size"):
        train(corpus, ckpt.train_config.replace(hidden_size=32), tmp_path, resume=ckpt)


def _copy_pair(src, dst_dir, name="i5_l8"):
    dst_dir.mkdir(exist_ok=True)
    w = dst_dir / f"{name}.safetensors"
    w.write_bytes(src.read_bytes())
    j = dst_dir / f"{name}.json"
    j.write_bytes(src.with_suffix(".json").read_bytes())
    return w, j


def test_truncated_file_is_refused(trained, tmp_path):
    w, j = _copy_pair(trained[1].checkpoint, tmp_path)
    j.unlink()
    w.write_bytes(w.read_bytes()[:5000])
    with pytest.raises(CharLMError, match="not a valid checkpoint"):
        load_checkpoint(w)


def test_checksum_mismatch_is_refused(trained, tmp_path):
    w, _ = _copy_pair(trained[1].checkpoint, tmp_path)
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CharLMError, match="checksum"):
        load_checkpoint(w)


def test_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CharLMError, match="not a charlm checkpoint"):
        load_checkpoint(path)


def test_tensors_that_do_not_match_the_description_are_refused(trained, tmp_path):
    ckpt = load_checkpoint(trained[1].checkpoint)
    blob = trained[1].checkpoint.read_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    meta = json.loads(json.loads(blob[8 : 8 + n])["__metadata__"]["charlm"])
    meta["model_config"]["hidden_size"] = 32  # the JSON now lies about the tensors
    tensors = {f"model.{k}": v for k, v in ckpt.model.state_dict().items()}
    path = tmp_path / "liar.safetensors"
    save_file(tensors, str(path), metadata={"charlm": json.dumps(meta)})
    with pytest.raises(CharLMError, match="do not match"):
        load_checkpoint(path)


def test_pickle_payload_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    write_pickle_payload(path, marker)
    for target in (path, tmp_path / "evil.safetensors"):
        if target != path:
            target.write_bytes(path.read_bytes())
        with pytest.raises(CharLMError, match="never unpickles"):
            load_checkpoint(target)
    assert not marker.exists()


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CharLMError, match="No such checkpoint"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CharLMError, match="No checkpoint in folder"):
        load_checkpoint(tmp_path)
