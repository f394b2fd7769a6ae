import numpy as np
import pytest

from charlm import CharLMError, Corpus, Vocab, load_text
from charlm.data.vocab import MAX_VOCAB_SIZE, decode_text, reading_bytes


def test_anna_vocabulary_is_83_sorted_characters(anna_text):
    corpus = Corpus.from_text(anna_text)
    assert len(corpus.vocab) == 83
    assert list(corpus.vocab.chars) == sorted(set(anna_text))
    assert corpus.vocab.decode(corpus.data[:200]) == anna_text[:200]
    assert corpus.vocab.decode(corpus.data) == anna_text


def test_vocabulary_order_is_stable_across_builds():
    text = "hello, wörld 你好"
    assert Vocab.from_text(text) == Vocab.from_text(text[::-1])
    v = Vocab.from_text(text)
    assert v.chars == tuple(sorted(set(text)))
    assert v.stoi["h"] == v.chars.index("h")


def test_encode_decode_round_trip_with_unicode():
    text = "Ünïcode → 中文字符 and emoji 🙂\nnext line"
    v = Vocab.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == np.int64
    assert v.decode(ids) == text


def test_encode_names_unknown_characters():
    v = Vocab.from_text("abc")
    with pytest.raises(CharLMError, match="'z'"):
        v.encode("abz")


def test_bom_dropped_and_line_ends_folded():
    assert decode_text("\ufeffa\r\nb\rc\n".encode("utf-8")) == "a\nb\nc\n"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"abc\x00def", "binary"),
        ("hello".encode("utf-16"), "UTF-16"),
        ("café".encode("latin-1"), "not valid UTF-8"),
        (bytes(range(128, 256)), "not valid UTF-8"),
    ],
)
def test_bad_bytes_get_a_clear_error(data, message):
    with pytest.raises(CharLMError, match=message):
        decode_text(data)


def test_size_limit_and_missing_file(tmp_path):
    with pytest.raises(CharLMError, match="limit"):
        load_text(b"x" * 2000, max_bytes=1000)
    big = tmp_path / "big.txt"
    big.write_bytes(b"y" * 2000)
    with pytest.raises(CharLMError, match="limit"):
        load_text(big, max_bytes=1000)
    with pytest.raises(CharLMError, match="No such file"):
        load_text(tmp_path / "missing.txt")


def test_too_many_distinct_characters():
    text = "".join(chr(0x4E00 + i) for i in range(MAX_VOCAB_SIZE + 1))
    with pytest.raises(CharLMError, match="distinct characters"):
        Vocab.from_text(text)


def test_validation_part_is_the_end_and_does_not_overlap():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    c = Corpus.from_text(text, val_fraction=0.1)
    assert len(c.train_data) == 900 and len(c.val_data) == 100
    assert np.array_equal(np.concatenate([c.train_data, c.val_data]), c.data)
    c0 = Corpus.from_text(text, val_fraction=0.0)
    assert len(c0.val_data) == 0 and len(c0.train_data) == 1000
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(CharLMError):
            Corpus.from_text(text, val_fraction=bad)


@pytest.mark.parametrize(
    "alphabet, dtype",
    [("abcdefgh .\n", np.uint8), ("".join(chr(0x4E00 + i) for i in range(900)), np.int16)],
)
def test_a_corpus_keeps_one_small_code_a_character(monkeypatch, alphabet, dtype):
    """A 20 MB novel kept as int64 codes takes 160 MB a visitor; in its alphabet's smallest type, 20 MB. Encoded
    a piece at a time (a small piece here, so that the pieces' joins are crossed), the codes are those of
    ``encode``."""
    monkeypatch.setattr("charlm.data.vocab.ENCODE_PIECE", 7)
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list(alphabet), size=1000)) + alphabet
    corpus = Corpus.from_text(text)
    assert corpus.data.dtype == dtype and corpus.data.nbytes == len(text) * np.dtype(dtype).itemsize
    assert np.array_equal(corpus.data, corpus.vocab.encode(text))
    assert corpus.vocab.decode(corpus.data) == text


@pytest.mark.parametrize("extra", ["", "é", "中", "🙂"])
def test_reading_a_text_never_takes_more_than_its_estimate(tmp_path, extra):
    """The app admits an upload against the server's memory budget by ``reading_bytes``: one character
    outside ASCII makes Python store the whole string in 2 or 4 bytes a character, and Windows line ends are
    folded into a second string. The peak (tracemalloc, NumPy included) stays within the estimate."""
    import tracemalloc

    path = tmp_path / "text.txt"
    path.write_bytes(("It was the best of times.\r\n" * 40_000 + extra).encode("utf-8"))
    tracemalloc.start()
    try:
        Corpus.from_source(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= reading_bytes(path.stat().st_size) <= 12 * path.stat().st_size + (24 << 20)
