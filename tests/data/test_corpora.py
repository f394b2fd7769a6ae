import hashlib
import io
import typing

import pytest
from helpers import CORPORA

from charlm import CharLMError, Corpus
from charlm.data import corpora


@pytest.mark.data
def test_registered_corpora_are_found_in_the_data_dir_with_their_checksums():
    for name, info in corpora.REGISTRY.items():
        path = corpora.local_path(name)
        if path is None:
            pytest.skip(f"{info.filename} is not in {CORPORA}")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256
        assert corpora.resolve_corpus_path(name) == path  # the data folder's copy comes first
    assert "anna-karenina" in corpora.available() and corpora.PYTHON_SOURCE in corpora.available()


def test_missing_corpus_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(corpora, "SHIPPED", tmp_path / "no-assets")
    with pytest.raises(CharLMError, match="python -m charlm download anna-karenina"):
        corpora.resolve_corpus_path("anna-karenina")
    assert corpora.available() == [corpora.PYTHON_SOURCE]


class FakeResponse(io.BytesIO):
    headers: typing.ClassVar[dict] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.data
def test_download_keeps_a_verified_file_and_folds_line_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path))
    if not (CORPORA / "anna.txt").is_file():
        pytest.skip("../shared/corpora/anna.txt is not present")
    original = (CORPORA / "anna.txt").read_bytes()
    served = original.replace(b"\n", b"\r\n")  # the public copy has CRLF line ends
    if hashlib.sha256(served).hexdigest() != corpora.REGISTRY["anna-karenina"].download_sha256:
        pytest.skip("anna.txt here is not the registered text")
    monkeypatch.setattr(corpora.urllib.request, "urlopen", lambda url, timeout: FakeResponse(served))
    path = corpora.download("anna-karenina", progress=False)
    assert path.read_bytes() == original
    assert list(tmp_path.iterdir()) == [path]


def test_a_bad_download_is_deleted_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(corpora.urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"<html>oops</html>"))
    with pytest.raises(CharLMError, match="checksum differs"):
        corpora.download("tiny-shakespeare", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_download_fails_fast_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path))

    def offline(url, timeout):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(corpora.urllib.request, "urlopen", offline)
    with pytest.raises(CharLMError, match=r"put tinyshakespeare\.txt in"):
        corpora.download("tiny-shakespeare", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_python_source_corpus_needs_nothing_from_elsewhere():
    text = corpora.python_source_text()
    assert len(text) == corpora.PYTHON_SOURCE_BYTES
    assert text == corpora.python_source_text()  # the same text every time
    assert "def " in text and "import " in text
    corpus = Corpus.from_text(text)
    assert 60 < len(corpus.vocab) < 300


def test_the_chapters_novel_ships_and_opens_without_the_data_folder(tmp_path, monkeypatch):
    """A fresh clone, no ../shared, no network: the compressed copies in assets/ are the texts, checked."""
    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path / "empty"))
    assert corpora.available() == [corpora.PYTHON_SOURCE, "anna-karenina", "tiny-shakespeare"]
    assert corpora.default_corpus_name() == "anna-karenina"
    for name, info in corpora.REGISTRY.items():
        text = corpora.corpus_text(name)
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == info.sha256
    anna = corpora.load_builtin("anna-karenina", 0.1)
    assert anna.text.startswith("Chapter 1\n\n\nHappy families are all alike")
    shipped = sum(p.stat().st_size for p in corpora.SHIPPED.iterdir())
    assert shipped < 1_000_000  # both novels, compressed


def test_a_damaged_shipped_copy_is_refused_with_a_way_out(tmp_path, monkeypatch):
    import lzma

    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(corpora, "SHIPPED", tmp_path)
    (tmp_path / "anna.txt.xz").write_bytes(lzma.compress(b"Chapter 1\n" * 100))
    with pytest.raises(CharLMError, match=r"damaged.*python -m charlm download anna-karenina"):
        corpora.corpus_text("anna-karenina")
    (tmp_path / "anna.txt.xz").write_bytes(lzma.compress(b"x" * 50_000_000))  # a bomb: decoded no further than the size
    with pytest.raises(CharLMError, match="damaged"):
        corpora.corpus_text("anna-karenina")


def test_the_command_line_trains_on_the_novel_by_default(tmp_path, monkeypatch):
    from charlm.cli import main

    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path / "empty"))
    args = ["train", "--preset", "tiny", "--max-steps", "2", "--out", str(tmp_path / "run"), "--log-every", "0"]
    assert main(args) == 0
    from charlm import load_checkpoint

    assert load_checkpoint(tmp_path / "run").corpus_name == "anna-karenina"
