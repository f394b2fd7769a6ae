"""Small files that describe huge or malformed models: refused with a specific message, before
anything large is allocated (issue 12's 8.8 KB upload that took 8 GB)."""

import json
import resource

import pytest
from safetensors.torch import load_file, save_file

from charlm import CharLMError, Corpus, load_checkpoint, preset, train

TEXT = "a small model for hostile descriptions. " * 60


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    result = train(Corpus.from_text(TEXT, val_fraction=0.1), preset("tiny", max_steps=3, hidden_size=16), folder)
    return result.checkpoint


def rewrite(valid, tmp_path, name="hostile", **changes):
    """The valid checkpoint's weights with its description changed (no .json beside it: one file, as uploaded)."""
    from safetensors import safe_open

    with safe_open(str(valid), "pt") as f:
        meta = json.loads(f.metadata()["charlm"])
    for path, value in changes.items():
        target = meta
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    out = tmp_path / f"{name}.safetensors"
    save_file(load_file(str(valid)), str(out), metadata={"charlm": json.dumps(meta)})
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model_config__embedding_dim": 30_000_000}, "larger than charlm builds"),
        ({"model_config__hidden_size": 16_384}, "larger than charlm builds"),
        ({"model_config__num_layers": 1_000}, "larger than charlm builds"),
        ({"model_config__hidden_size": 16.5}, "must be whole numbers"),
        ({"model_config__hidden_size": "16"}, "must be whole numbers"),
        ({"model_config__cell": ["lstm"]}, "must be whole numbers"),
        ({"model_config__hidden_size": 32}, "weights do not match"),
        ({"vocab": ["\ud800"] + [chr(c) for c in range(40, 60)]}, "distinct single characters"),
        ({"vocab": [1, 2, 3]}, "distinct single characters"),
        ({"model_config": [1, 2]}, "malformed description"),
        ({"train_config": "x"}, "malformed description"),
    ],
)
def test_a_hostile_description_gets_its_own_message(valid, tmp_path, changes, message):
    before = peak_rss_mb()
    with pytest.raises(CharLMError, match=message):
        load_checkpoint(rewrite(valid, tmp_path, **changes))
    assert peak_rss_mb() - before < 200  # nothing large was allocated


def test_a_million_character_vocabulary_is_refused_before_it_is_used(valid, tmp_path):
    big = [chr(c) for c in range(0x4E00, 0x4E00 + 20_000)] + [chr(c) for c in range(0x10000, 0x10000 + 980_000)]
    path = rewrite(valid, tmp_path, vocab=big, model_config__vocab_size=len(big))
    with pytest.raises(CharLMError, match="the limit is 20,000"):
        load_checkpoint(path)


def test_deeply_nested_json_is_a_damaged_file_not_a_crash(valid, tmp_path):
    path = rewrite(valid, tmp_path, corpus_name="x")
    blob = path.read_bytes()
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + header_len])
    header["__metadata__"]["charlm"] = "[" * 100_000 + "]" * 100_000
    new = json.dumps(header).encode()
    path.write_bytes(len(new).to_bytes(8, "little") + new + blob[8 + header_len :])
    with pytest.raises(CharLMError, match=r"not a valid checkpoint|malformed"):
        load_checkpoint(path)
