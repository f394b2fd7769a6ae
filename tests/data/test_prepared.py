"""Corpora larger than memory: ``prepare`` reads a text as a stream and writes its codes; training reads them
memory-mapped, batch for batch what it reads from the same text in memory."""

import json

import numpy as np
import pytest
import torch

from charlm import CharLMError, Corpus, preset, train
from charlm.cli import main
from charlm.data import prepared as prepared_module
from charlm.data.batches import Batches
from charlm.data.prepared import CODES, DESCRIPTION, load_prepared, prepare

TEXT = "Happy families are all alike;\r\nevery unhappy family is unhappy in its own way. «Всё смешалось»\r\n" * 300


@pytest.fixture()
def small_pieces(monkeypatch):
    """Pieces of 7 bytes: every piece boundary cuts somewhere (a Cyrillic letter, a CR+LF, the BOM)."""
    monkeypatch.setattr(prepared_module, "READ_PIECE", 7)


def test_a_prepared_text_is_the_same_corpus_as_the_text_read_whole_batch_for_batch(tmp_path, small_pieces):
    source = tmp_path / "novel.txt"
    source.write_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))
    done = prepare(source, tmp_path / "novel", val_fraction=0.1)
    mapped = load_prepared(tmp_path / "novel")
    whole = Corpus.from_source(source, val_fraction=0.1)
    assert isinstance(mapped.data, np.memmap) and mapped.data.dtype == np.uint8
    assert mapped.vocab == whole.vocab and np.array_equal(mapped.data, whole.data) and done.chars == len(whole.data)
    assert mapped.split_index == whole.split_index
    description = json.loads((tmp_path / "novel" / DESCRIPTION).read_text(encoding="utf-8"))
    assert description["split_index"] == whole.split_index and sum(description["counts"]) == len(whole.data)
    for a, b in zip(Batches(mapped.train_data, 8, 32), Batches(whole.train_data, 8, 32)):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_training_on_a_prepared_corpus_is_the_run_on_the_text_in_memory(tmp_path):
    source = tmp_path / "novel.txt"
    source.write_text(TEXT, encoding="utf-8")
    prepare(source, tmp_path / "novel", val_fraction=0.1)
    config = preset("tiny", max_steps=12, eval_every=6, dropout=0.2)
    on_disk = train(load_prepared(tmp_path / "novel"), config)
    in_memory = train(Corpus.from_source(source, val_fraction=0.1), config)
    assert on_disk.progress.train_loss == in_memory.progress.train_loss
    assert on_disk.progress.val_loss == in_memory.progress.val_loss
    a, b = on_disk.model.state_dict(), in_memory.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_command_line_prepares_trains_and_evaluates_from_a_folder(tmp_path, capsys):
    source = tmp_path / "novel.txt"
    source.write_text(TEXT, encoding="utf-8")
    assert main(["prepare", "--corpus", str(source), "--out", str(tmp_path / "novel")]) == 0
    assert "distinct, codes as uint8" in capsys.readouterr().out
    args = ["train", "--corpus", str(tmp_path / "novel"), "--preset", "tiny", "--max-steps", "20"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    for corpus in (tmp_path / "novel", source):  # the folder and the text give the same figure
        assert main(["evaluate", "--checkpoint", str(tmp_path / "run"), "--corpus", str(corpus)]) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.split("(")[0] == second.split("(")[0] and "held-out loss" in first


@pytest.mark.parametrize(
    "data, key, offset",
    [
        ("Café ok".encode() + b"\xff more", "text_not_utf8", 8),
        (b"plain text\x00 and a NUL", "text_binary", 10),
        (b"", "text_empty", None),
    ],
)
def test_bad_bytes_are_refused_with_their_offset_in_the_file(tmp_path, small_pieces, data, key, offset):
    source = tmp_path / "bad.txt"
    source.write_bytes(data)
    with pytest.raises(CharLMError) as err:
        prepare(source, tmp_path / "bad")
    assert err.value.key == key
    if offset is not None:
        assert err.value.params["offset"] == offset and f"offset {offset}" in str(err.value)
    assert not (tmp_path / "bad" / CODES).exists()


def test_a_folder_whose_codes_do_not_match_its_description_is_refused(tmp_path):
    source = tmp_path / "novel.txt"
    source.write_text(TEXT, encoding="utf-8")
    folder = tmp_path / "novel"
    prepare(source, folder)
    codes = bytearray((folder / CODES).read_bytes())
    codes[100] = (codes[100] + 1) % 10
    (folder / CODES).write_bytes(bytes(codes))
    with pytest.raises(CharLMError) as err:
        load_prepared(folder)
    assert err.value.key == "prepared_checksum"
    (folder / CODES).write_bytes(bytes(codes[:-5]))
    with pytest.raises(CharLMError) as err:
        load_prepared(folder)
    assert err.value.key == "prepared_mismatch"
    (folder / DESCRIPTION).write_text("{not json", encoding="utf-8")
    with pytest.raises(CharLMError) as err:
        load_prepared(folder)
    assert err.value.key == "prepared_invalid"
    assert main(["train", "--corpus", str(folder), "--max-steps", "1", "--out", str(tmp_path / "run")]) == 2
