"""Corpora larger than memory: read once as a stream, kept on disk as codes, memory-mapped for training.

``prepare`` reads a UTF-8 text of any size a piece at a time, twice: first for its vocabulary, then to write
each character's code (``code_dtype``: one byte for an alphabet of up to 256 characters) to one flat file. A
small JSON beside it says what the codes mean: the vocabulary and each character's count, the length, the
train/validation split and a checksum of the codes. ``load_prepared`` checks that description and returns a
``Corpus`` whose codes are a memory map of that file: the batches are cut from it exactly as from a text read
into memory (the same codes, the same split), and only the pages a batch reads are ever in memory.

The text is treated as ``decode_text`` treats an upload: a BOM dropped, Windows and old-Mac line ends folded to
``\\n``, and bad bytes or a NUL refused with their offset in the file.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlm.data.vocab import Corpus, Vocab, check_val_fraction, code_dtype
from charlm.errors import CharLMError

CODES, DESCRIPTION = "codes.bin", "corpus.json"
FORMAT = "charlm-prepared-corpus"
READ_PIECE = 16 << 20  # bytes read at a time: the memory a preparation takes, whatever the text's size


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` wrote (the description's fields)."""

    folder: Path
    name: str
    chars: int  # characters in the text, after line ends are folded
    vocab_size: int
    dtype: str
    val_fraction: float
    sha256: str


def prepare(source: str | Path, out: str | Path, val_fraction: float = 0.1, name: str | None = None) -> Prepared:
    """Read ``source`` (UTF-8 text, any size) and write ``out``/codes.bin and ``out``/corpus.json."""
    source, out = Path(source), Path(out)
    check_val_fraction(val_fraction)
    if not source.is_file():
        raise CharLMError(f"No such file: {source}", key="no_file", name=str(source))
    # Pass 1: which characters occur, and how often (a piece at a time: np.unique over its code points).
    counts: dict[str, int] = {}
    for text in _pieces(source):
        points, seen = np.unique(_codepoints(text), return_counts=True)
        for point, n in zip(points.tolist(), seen.tolist()):
            counts[chr(point)] = counts.get(chr(point), 0) + n
    if not counts:
        raise CharLMError("The text is empty: choose a file that contains some text.", key="text_empty")
    vocab = Vocab(tuple(sorted(counts)))
    dtype = code_dtype(len(vocab))
    # Pass 2: the codes, written to a temporary name and renamed when whole (a preparation killed half-way
    # leaves no codes file that looks finished), hashed as they are written.
    out.mkdir(parents=True, exist_ok=True)
    part, digest, length = out / (CODES + ".part"), hashlib.sha256(), 0
    with part.open("wb") as f:
        for text in _pieces(source):
            codes = vocab.encode_text(text).astype(dtype, copy=False)
            f.write(codes.tobytes())
            digest.update(codes.tobytes())
            length += len(codes)
    os.replace(part, out / CODES)
    prepared = Prepared(out, name or source.name, length, len(vocab), dtype.name, val_fraction, digest.hexdigest())
    description = {
        "format": FORMAT,
        "version": 1,
        "name": prepared.name,
        "chars": prepared.chars,
        "dtype": prepared.dtype,
        "vocab": list(vocab.chars),
        "counts": [counts[c] for c in vocab.chars],
        "val_fraction": val_fraction,
        "split_index": prepared.chars - round(prepared.chars * val_fraction),  # as ``Corpus.split_index``
        "sha256": prepared.sha256,
    }
    (out / DESCRIPTION).write_text(json.dumps(description, ensure_ascii=False, indent=1), encoding="utf-8")
    return prepared


def is_prepared(path: str | Path) -> bool:
    """Whether ``path`` is a folder ``prepare`` wrote."""
    return (Path(path) / DESCRIPTION).is_file()


def load_prepared(folder: str | Path, val_fraction: float | None = None, verify: bool = True) -> Corpus:
    """A prepared folder as a ``Corpus`` whose codes are memory-mapped (copy-on-write: torch reads them without
    copying, and nothing is ever written back). ``verify`` reads the codes once to check their checksum (about
    a second a gigabyte): a folder whose files do not match is refused. ``val_fraction`` None: the one prepared."""
    folder = Path(folder)
    try:
        description = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
        vocab = Vocab(tuple(description["vocab"]))
        length, dtype = int(description["chars"]), np.dtype(description["dtype"])
        expected, name = str(description["sha256"]), str(description["name"])
        prepared_fraction = float(description["val_fraction"])
        ok = description.get("format") == FORMAT and dtype == code_dtype(len(vocab))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CharLMError(
            f"{folder} is not a prepared corpus ({type(err).__name__}); prepare it with `python -m charlm prepare`.",
            key="prepared_invalid",
            name=str(folder),
        ) from None
    codes = folder / CODES
    if not ok or not codes.is_file() or codes.stat().st_size != length * dtype.itemsize:
        raise CharLMError(
            f"{folder}: its codes do not match its description (a missing, cut or foreign file). Prepare it again.",
            key="prepared_mismatch",
            name=str(folder),
        )
    if verify and _sha256(codes) != expected:
        raise CharLMError(
            f"{folder}: the codes' checksum does not match its description: the file was changed or damaged. "
            "Prepare it again.",
            key="prepared_checksum",
            name=str(folder),
        )
    data = np.memmap(codes, dtype=dtype, mode="c", shape=(length,))
    fraction = prepared_fraction if val_fraction is None else val_fraction
    check_val_fraction(fraction)
    return Corpus(vocab, data, fraction, name)


def _pieces(source: Path) -> Iterator[str]:
    """The text of ``source``, ``READ_PIECE`` bytes at a time, decoded and folded as ``decode_text`` does; a
    character or a CR+LF cut by a piece's end is completed from the next piece."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, first, held_cr = 0, True, False
    with source.open("rb") as f:
        while True:
            data = f.read(READ_PIECE)
            nul = data.find(b"\x00")
            if nul >= 0:
                raise CharLMError(
                    f"This looks like a binary file, not text (a NUL byte at offset {offset + nul}). "
                    "Choose a plain-text file saved as UTF-8.",
                    key="text_binary",
                    offset=offset + nul,
                    utf16=False,
                )
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as err:
                # the decoder's buffer (at most 3 bytes of a character the last piece cut) comes first
                at = offset + err.start - len(err.object) + len(data)
                byte = f"0x{err.object[err.start]:02x}"
                raise CharLMError(
                    f"The file is not valid UTF-8 (byte {byte} at offset {at}). Save it as UTF-8.",
                    key="text_not_utf8",
                    byte=byte,
                    offset=at,
                ) from None
            offset += len(data)
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if held_cr:
                text = "\r" + text
            held_cr = text.endswith("\r") and bool(data)  # its "\n" may open the next piece
            if held_cr:
                text = text[:-1]
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if not data:
                return


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(READ_PIECE):
            digest.update(chunk)
    return digest.hexdigest()
