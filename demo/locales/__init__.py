"""The page's languages: one module per language in this folder, found by looking, not by name.

A language module defines ``CODE`` (a BCP 47 tag: ``"en"``, ``"zh-CN"``), ``NAME`` (how the
language switch shows it) and ``TEXTS`` (the page's short texts by key, grouped by tab, as in ``en.py``); it
may define ``ERRORS``, ``HINTS``, ``TERMS`` (charlm's errors in this language) and ``FIGURE_FONTS`` (fonts
that can draw it in figures). The lesson prose (each tab's explanations, its question and answer) is not
code: it is Markdown in ``demo/lessons/<CODE>/<tab>.md``, one section per key, so that a teacher or a
translator edits a sentence without touching Python. To add a language, copy ``en.py`` to ``<code>.py`` and
``demo/lessons/en`` to ``demo/lessons/<CODE>``, and translate both.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

DEFAULT = "en"  # the app's own language; every other falls back to it, key by key
LESSONS = Path(__file__).resolve().parents[1] / "lessons"  # <code>/<tab>.md: the lesson prose of each language
SECTION = re.compile(r"^<!-- ([\w.]+) -->[ \t]*$", re.MULTILINE)  # a section's key, on a line of its own


def lesson_texts(folder: Path) -> dict[str, str]:
    """The lesson prose of one language: every ``*.md`` in its folder, cut at the ``<!-- key -->`` lines (what
    comes before the first, such as the file's title, is for the person editing it). A key twice is an error."""
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.md")):
        parts = SECTION.split(path.read_text(encoding="utf-8"))
        for key, body in zip(parts[1::2], parts[2::2]):
            if key in texts:
                raise ValueError(f"{path}: the section {key} is written twice in {folder.name}")
            texts[key] = body.strip()
    return texts


@dataclass(frozen=True)
class Locale:
    code: str
    name: str
    texts: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    hints: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)
    figure_fonts: tuple[str, ...] = ()  # empty: the default fonts draw it

    @classmethod
    def from_module(cls, module: ModuleType, lessons: Path = LESSONS) -> Locale:
        """A language from its module and its lesson folder (``lessons/<CODE>``; none: the short texts only)."""
        prose = lesson_texts(lessons / module.CODE)
        both = sorted(set(prose) & set(module.TEXTS))
        if both:
            raise ValueError(f"{module.CODE}: {', '.join(both)} written both in the module and in its lessons")
        return cls(
            code=module.CODE,
            name=module.NAME,
            texts={**module.TEXTS, **prose},
            errors=getattr(module, "ERRORS", {}),
            hints=getattr(module, "HINTS", {}),
            terms=getattr(module, "TERMS", {}),
            figure_fonts=tuple(getattr(module, "FIGURE_FONTS", ())),
        )

    @property
    def primary(self) -> str:
        """The language without its region: ``zh`` for ``zh-CN``."""
        return self.code.split("-")[0].lower()


def _discover() -> dict[str, Locale]:
    found = [
        Locale.from_module(importlib.import_module(f"{__name__}.{info.name}"))
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    found.sort(key=lambda loc: (loc.code != DEFAULT, loc.code))  # the default first, then by code
    return {loc.code: loc for loc in found}


# code -> Locale. Tests may add a throw-away language here (the page reads it when it is built).
LOCALES: dict[str, Locale] = _discover()
