"""Built-in corpora: the chapter's texts, shipped with the code (compressed), found in a data
folder or downloaded on request, and one text that needs nothing (Python's own standard library,
read from this interpreter).

The chapter's novel and Tiny Shakespeare (both public domain) ship in ``assets/corpora`` as xz
files, 0.9 MB together, so a fresh clone opens on *Anna Karenina* with no network; their decoded
text is checked against the registry's sha256 before use. ``CHARLM_DATA_DIR`` (default
``~/.cache/charlm``) is looked in first, for those and any other registered text; ``download``
fetches one only when a person asks for it, shows progress, and keeps it only if its sha256 is right.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import sysconfig
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from charlm.data.vocab import Corpus, load_text
from charlm.errors import CharLMError


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    filename: str
    title: str
    source: str
    licence: str
    url: str
    size: int  # bytes of the stored file
    sha256: str  # of the stored file (line ends folded to \n)
    download_sha256: str  # of the file as served at ``url``


REGISTRY: dict[str, CorpusInfo] = {
    "anna-karenina": CorpusInfo(
        name="anna-karenina",
        filename="anna.txt",
        title="Anna Karenina (Leo Tolstoy, tr. Constance Garnett)",
        source="Project Gutenberg eBook #1399, as prepared for Udacity's 'Anna KaRNNa' notebook",
        licence="Public domain in the USA (Project Gutenberg licence text included at its end)",
        url="https://raw.githubusercontent.com/udacity/deep-learning-v2-pytorch/master/"
        "recurrent-neural-networks/char-rnn/data/anna.txt",
        size=1_985_223,
        sha256="a21483849a464568c05997147edb994e40023b9d87c299974169abb68230da48",
        download_sha256="568bb39fc78aca98e9db91c4329dcd1aa5ec4c3df3aca2064ce5d6f023ae16c9",
    ),
    "tiny-shakespeare": CorpusInfo(
        name="tiny-shakespeare",
        filename="tinyshakespeare.txt",
        title="Tiny Shakespeare (a subset of Shakespeare's works, from char-rnn)",
        source="karpathy/char-rnn, data/tinyshakespeare/input.txt",
        licence="Public domain",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        size=1_115_394,
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        download_sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}
PYTHON_SOURCE = "python-stdlib"
SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "corpora"  # <filename>.xz for the texts that ship
PYTHON_SOURCE_BYTES = 1_500_000


def data_dir() -> Path:
    return Path(os.environ.get("CHARLM_DATA_DIR") or Path.home() / ".cache" / "charlm")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(name: str) -> Path | None:
    """Where a registered corpus is on disk, or None when it has not been downloaded."""
    info = REGISTRY[name]
    path = data_dir() / info.filename
    return path if path.is_file() and path.stat().st_size == info.size else None


def shipped_path(name: str) -> Path | None:
    """The compressed copy that ships with the code, or None."""
    path = SHIPPED / f"{REGISTRY[name].filename}.xz"
    return path if path.is_file() else None


def is_available(name: str) -> bool:
    """Whether a built-in corpus can be read now, without a download."""
    return name == PYTHON_SOURCE or (name in REGISTRY and (local_path(name) or shipped_path(name)) is not None)


def available() -> list[str]:
    """Names that can be loaded right now, without a download."""
    return [name for name in builtin_names() if is_available(name)]


def corpus_text(name: str) -> str:
    """A built-in corpus's text: this interpreter's library source; the data folder's copy; or the shipped,
    compressed one (decoded no further than its known size, and checked against its sha256)."""
    if name == PYTHON_SOURCE:
        return python_source_text()
    path = local_path(name) or shipped_path(name)
    if path is None:
        resolve_corpus_path(name)  # raises the message that says how to get it
    if path.suffix != ".xz":
        return load_text(path)
    info = REGISTRY[name]
    data = lzma.LZMADecompressor().decompress(path.read_bytes(), max_length=info.size + 1)
    if len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256:
        raise CharLMError(
            f"The shipped copy of {name} ({path.name}) is damaged; reinstall, or download it with "
            f"'python -m charlm download {name}'.",
            key="corpus_damaged",
            name=name,
        )
    return load_text(data)


def resolve_corpus_path(source: str) -> Path | str:
    """A file path, or a built-in name resolved to its file (python-stdlib is returned as is)."""
    if source == PYTHON_SOURCE:
        return source
    if source in REGISTRY:
        path = local_path(source) or shipped_path(source)
        if path is None:
            info = REGISTRY[source]
            raise CharLMError(
                f"The built-in corpus {source!r} is not on this computer. Download it with "
                f"'python -m charlm download {source}', or put {info.filename} in {data_dir()} "
                "(or point CHARLM_DATA_DIR at the folder that holds it).",
                key="corpus_missing",
                name=source,
            )
        return path
    if not Path(source).is_file():
        names = ", ".join([PYTHON_SOURCE, *REGISTRY])
        raise CharLMError(f"No such file: {source} (built-in corpora: {names}).", key="no_file", name=str(source))
    return Path(source)


def python_source_text(limit: int = PYTHON_SOURCE_BYTES) -> str:
    """Source code of this interpreter's standard library: a text that is always there.

    char-rnn famously learned to write C from the Linux kernel; this is the same idea with the
    Python files already on the machine (the top-level modules, in name order, to ``limit`` bytes).
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        chunk = f"# ===== {path.name} =====\n{text}\n"
        parts.append(chunk)
        total += len(chunk)
        if total >= limit:
            break
    if not parts:
        raise CharLMError("Could not read Python's standard library source on this machine.", key="no_python_source")
    return "".join(parts)[:limit]


def builtin_names() -> tuple[str, ...]:
    """Every built-in corpus, the one that is always there first."""
    return (PYTHON_SOURCE, *REGISTRY)


def default_corpus_name() -> str:
    """The chapter's novel (it ships with the code), else the text that is always there."""
    return "anna-karenina" if is_available("anna-karenina") else PYTHON_SOURCE


def builtin_title(name: str) -> str:
    """A built-in corpus's English title (interfaces may translate it)."""
    return REGISTRY[name].title if name in REGISTRY else "Python standard library source"


def load_builtin(name: str, val_fraction: float = 0.1) -> Corpus:
    """A built-in corpus, read from this computer (never downloaded here)."""
    if name not in builtin_names():
        raise CharLMError(
            f"Unknown corpus {name!r}; choose one of: {', '.join(builtin_names())}.", key="unknown_corpus", name=name
        )
    return Corpus.from_text(corpus_text(name), val_fraction, name=name)


def download(name: str, progress: bool = True, timeout: float = 30.0) -> Path:
    """Fetch a registered corpus into ``data_dir()``; keep it only if its checksum matches."""
    if name not in REGISTRY:
        raise CharLMError(
            f"Unknown corpus {name!r}; choose one of: {', '.join(REGISTRY)}.", key="unknown_corpus", name=name
        )
    info = REGISTRY[name]
    existing = local_path(name)
    if existing is not None and _sha256(existing) == info.sha256:
        return existing
    folder = data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CharLMError(
            f"Cannot create {folder} ({err.strerror}); set CHARLM_DATA_DIR to a writable folder.",
            key="data_dir",
            name=str(folder),
            detail=err.strerror,
        ) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{info.filename}.", suffix=".part", dir=folder)
    tmp_path = Path(tmp)
    try:
        try:
            with urllib.request.urlopen(info.url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                bar = None
                if progress:
                    from tqdm import tqdm

                    bar = tqdm(total=total, unit="B", unit_scale=True, desc=info.filename)
                digest = hashlib.sha256()
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    if bar:
                        bar.update(len(chunk))
                if bar:
                    bar.close()
        except OSError as err:
            raise CharLMError(
                f"Could not download {name} ({getattr(err, 'reason', err)}). Check the network, or put "
                f"{info.filename} in {folder} yourself.",
                key="download_failed",
                name=name,
                detail=str(getattr(err, "reason", err)),
            ) from None
        if digest.hexdigest() != info.download_sha256:
            raise CharLMError(
                f"The download of {name} is damaged or changed upstream (checksum differs); it was deleted.",
                key="download_checksum",
                name=name,
            )
        data = tmp_path.read_bytes().replace(b"\r\n", b"\n")
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise CharLMError(
                f"The download of {name} does not match the expected text; it was deleted.",
                key="download_checksum",
                name=name,
            )
        tmp_path.write_bytes(data)
        final = folder / info.filename
        os.replace(tmp_path, final)
        return final
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
