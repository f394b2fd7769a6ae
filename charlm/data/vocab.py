"""Corpus text and its character vocabulary (chapter section 5.1).

The chapter builds its vocabulary from a Python ``set``, whose order changes from run to
run; here the characters are sorted, so the same text always gives the same integer codes
and a checkpoint trained today still decodes correctly tomorrow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlm.errors import CharLMError

# Up to this many distinct characters the network reads one-hot vectors, as in the chapter.
# Beyond it (a Chinese novel has several thousand characters) a learned embedding is used.
ONE_HOT_LIMIT = 512
# A "text" with more distinct characters than this is almost certainly not text.
MAX_VOCAB_SIZE = 20_000
# Characters encoded at a time when a whole text is: the arrays of one piece (about 21 bytes a character) stay
# small however long the text is.
ENCODE_PIECE = 1 << 20


def code_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer type that holds every code of a vocabulary: a text is stored as one code a
    character, so a novel in a 100-character alphabet takes one byte a character, not eight (``int64``, what
    the network's lookups need, is made a batch at a time). Signed 16 bits, not unsigned, where one byte is too
    few: torch computes with ``int16`` everywhere it runs."""
    if vocab_size <= 256:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 15:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def decode_text(data: bytes) -> str:
    """Turn uploaded bytes into text, refusing what is not UTF-8 text.

    A BOM is dropped and Windows/old-Mac line ends are folded to ``\\n`` so that the same
    novel saved on two systems gives the same vocabulary.
    """
    if len(data) == 0:
        raise CharLMError("The text is empty: choose a file that contains some text.", key="text_empty")
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = " It looks like UTF-16; save it as UTF-8." if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise CharLMError(
            f"This looks like a binary file, not text (a NUL byte at offset {nul}).{hint} "
            "Choose a plain-text (.txt) file saved as UTF-8.",
            key="text_binary",
            offset=nul,
            utf16=bool(hint),
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bad = data[err.start]
        raise CharLMError(
            f"The file is not valid UTF-8 (byte 0x{bad:02x} at offset {err.start}). "
            "Save it as UTF-8 (for example: open it in a text editor and choose 'Save as… UTF-8').",
            key="text_not_utf8",
            byte=f"0x{bad:02x}",
            offset=err.start,
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise CharLMError("The text is empty: choose a file that contains some text.", key="text_empty")
    return text


def code_counts(codes: np.ndarray, vocab_size: int) -> np.ndarray:
    """How often each code occurs, a piece at a time: ``np.bincount`` widens its input to int64 first, eight
    bytes a character at once for a corpus kept in one (or memory-mapped from disk)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for start in range(0, len(codes), ENCODE_PIECE):
        counts += np.bincount(codes[start : start + ENCODE_PIECE], minlength=vocab_size)
    return counts


def reading_bytes(file_bytes: int) -> int:
    """The most memory reading a text file of ``file_bytes`` into a ``Corpus`` takes at once: the bytes, the
    decoded string (up to four bytes a character: one emoji makes Python store every character in four), a
    second string while Windows line ends are folded, the codes, and one piece of ``encode_text``'s work."""
    return 1 * file_bytes + 2 * 4 * file_bytes + 2 * file_bytes + 24 * min(ENCODE_PIECE, file_bytes)


def check_val_fraction(val_fraction: float) -> None:
    """The held-out share of a text: at least 0 and below 1 (NaN is refused too)."""
    if not (0.0 <= val_fraction < 1.0):
        raise CharLMError(
            f"val_fraction must be at least 0 and below 1, got {val_fraction}.",
            key="val_fraction",
            value=val_fraction,
        )


def load_text(source: str | Path | bytes, max_bytes: int | None = None) -> str:
    """Read a corpus from a path or from raw bytes (an upload)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise CharLMError(f"No such file: {path}", key="no_file", name=str(path))
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise CharLMError(
                f"{path.name} is {path.stat().st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
                "Use a shorter text.",
                key="text_too_large",
                mb=path.stat().st_size / 1e6,
                limit_mb=max_bytes / 1e6,
            )
        data = path.read_bytes()
    if max_bytes is not None and len(data) > max_bytes:
        raise CharLMError(
            f"The text is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. Use a shorter text.",
            key="text_too_large",
            mb=len(data) / 1e6,
            limit_mb=max_bytes / 1e6,
        )
    return decode_text(data)


@dataclass(frozen=True)
class Vocab:
    """The distinct characters of a text, in sorted order, and the maps char <-> int."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.chars) == 0:
            raise CharLMError("A vocabulary needs at least one character.", key="vocab_invalid")
        if len(self.chars) > MAX_VOCAB_SIZE:
            raise CharLMError(
                f"The vocabulary has {len(self.chars):,} characters; the limit is {MAX_VOCAB_SIZE:,}.",
                key="vocab_size_limit",
                n=len(self.chars),
                limit=MAX_VOCAB_SIZE,
            )
        if (
            any(not isinstance(c, str) or len(c) != 1 for c in self.chars)
            or len(set(self.chars)) != len(self.chars)
            or any("\ud800" <= c <= "\udfff" for c in self.chars)
        ):  # a lone surrogate is not text
            raise CharLMError("A vocabulary must be a list of distinct single characters.", key="vocab_invalid")
        codepoints = np.fromiter((ord(c) for c in self.chars), dtype=np.int64, count=len(self.chars))
        order = np.argsort(codepoints, kind="stable")
        object.__setattr__(self, "_codepoints", codepoints)
        object.__setattr__(self, "_sorted_codepoints", codepoints[order])
        object.__setattr__(self, "_sorted_ids", order.astype(np.int64))
        object.__setattr__(self, "stoi", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        chars = tuple(sorted(set(text)))
        if len(chars) > MAX_VOCAB_SIZE:
            raise CharLMError(
                f"The text has {len(chars):,} distinct characters; the limit is {MAX_VOCAB_SIZE:,}. "
                "This is probably not natural-language text (or it mixes many scripts); use a cleaner text.",
                key="vocab_too_large",
                n=len(chars),
                limit=MAX_VOCAB_SIZE,
            )
        return cls(chars)

    @property
    def itos(self) -> dict[int, str]:
        return dict(enumerate(self.chars))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def uses_one_hot(self) -> bool:
        return len(self.chars) <= ONE_HOT_LIMIT

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.stoi))

    def encode(self, text: str) -> np.ndarray:
        """Text -> int64 array of codes; vectorised because a novel has millions of characters."""
        if not text:
            return np.zeros(0, dtype=np.int64)
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._sorted_codepoints, cps)
        pos = np.minimum(pos, len(self.chars) - 1)
        found = self._sorted_codepoints[pos] == cps
        if not found.all():
            missing = self.unknown_chars(text)
            shown = ", ".join(repr(c) for c in missing[:10])
            raise CharLMError(
                f"Characters not in the model's vocabulary ({len(missing)}): {shown}"
                f"{' …' if len(missing) > 10 else ''}. Remove them or use a model trained on such text.",
                key="unknown_chars",
                n=len(missing),
                chars=shown + (" …" if len(missing) > 10 else ""),
            )
        return self._sorted_ids[pos]

    def encode_text(self, text: str) -> np.ndarray:
        """A whole text -> its codes as ``code_dtype`` (a corpus's storage), encoded a piece at a time so that
        a long text never needs the int64 arrays of ``encode`` all at once."""
        codes = np.empty(len(text), dtype=code_dtype(len(self.chars)))
        for start in range(0, len(text), ENCODE_PIECE):
            codes[start : start + ENCODE_PIECE] = self.encode(text[start : start + ENCODE_PIECE])
        return codes

    def decode(self, ids) -> str:
        """Codes -> text, at once for the whole array (a novel's millions of codes, one at a time, take seconds)."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.chars)):
            raise IndexError(f"a code outside the vocabulary's 0..{len(self.chars) - 1}")
        codepoints = self._codepoints[ids].astype("<u4")
        return codepoints.tobytes().decode("utf-32-le", "surrogatepass")


@dataclass
class Corpus:
    """A text as its vocabulary and its integer codes (one small integer a character: ``code_dtype``), and
    its train/validation split. The text itself is not kept: the codes say it all, in a quarter to an eighth
    of the memory Python's string and int64 codes would take, and a view decodes what it shows
    (``opening``).

    The validation part is the *end* of the text (default the last 10 %): a contiguous held-out
    stretch, never overlapping the training part, so its loss measures generalisation and not
    memory of neighbouring sentences.
    """

    vocab: Vocab
    data: np.ndarray
    val_fraction: float = 0.1
    name: str = "text"

    @classmethod
    def from_text(cls, text: str, val_fraction: float = 0.1, name: str = "text", vocab: Vocab | None = None) -> Corpus:
        if not text:
            raise CharLMError("The text is empty: choose a file that contains some text.", key="text_empty")
        check_val_fraction(val_fraction)
        vocab = vocab or Vocab.from_text(text)
        return cls(vocab=vocab, data=vocab.encode_text(text), val_fraction=val_fraction, name=name)

    @classmethod
    def from_source(
        cls,
        source: str | Path | bytes,
        val_fraction: float = 0.1,
        max_bytes: int | None = None,
        name: str | None = None,
    ) -> Corpus:
        text = load_text(source, max_bytes=max_bytes)
        if name is None:
            name = Path(source).name if isinstance(source, (str, Path)) else "upload"
        return cls.from_text(text, val_fraction=val_fraction, name=name)

    def with_val_fraction(self, val_fraction: float) -> Corpus:
        """The same codes, split at a different point."""
        if val_fraction == self.val_fraction:
            return self
        check_val_fraction(val_fraction)
        return Corpus(self.vocab, self.data, val_fraction, self.name)

    def mapped(self, path: Path) -> Corpus:
        """The same corpus with its codes written to ``path`` (an ``.npy`` file, replaced whole) and read back as
        a memory map: what stays in this process's memory is then only what the operating system chooses to
        cache. A server puts a visitor's text away this way when others need the room."""
        part = path.with_name(path.name + ".part.npy")
        np.save(part, np.asarray(self.data))
        os.replace(part, path)
        return Corpus(self.vocab, np.load(path, mmap_mode="c"), self.val_fraction, self.name)

    @property
    def text(self) -> str:
        """The whole text, decoded (about a second for 20 MB: views show an ``opening``)."""
        return self.vocab.decode(self.data)

    def opening(self, chars: int) -> str:
        """The text's first ``chars`` characters."""
        return self.vocab.decode(self.data[:chars])

    @property
    def split_index(self) -> int:
        return len(self.data) - round(len(self.data) * self.val_fraction)

    @property
    def train_data(self) -> np.ndarray:
        return self.data[: self.split_index]

    @property
    def val_data(self) -> np.ndarray:
        return self.data[self.split_index :]
