"""The page's languages: one module per language in this folder, found by looking, not by name.

A language module defines ``CODE`` (a BCP 47 tag: ``"en"``, ``"zh-CN"``), ``NAME`` (how the
language switch shows it) and ``TEXTS`` (the page's texts by key, as in ``en.py``); it may define
``ERRORS``, ``HINTS``, ``TERMS`` (charlm's errors in this language) and ``FIGURE_FONTS`` (fonts
that can draw it in figures). To add a language, copy ``en.py`` to ``<code>.py`` and translate it.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType

DEFAULT = "en"  # the app's own language; every other falls back to it, key by key


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
    def from_module(cls, module: ModuleType) -> Locale:
        return cls(
            code=module.CODE,
            name=module.NAME,
            texts=module.TEXTS,
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
