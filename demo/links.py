"""Links that reproduce a setup: a teacher sends one link, and thirty students start from the same place.

A tab offers a setting to links with ``ctx.link(name, component, parse)`` (a ``Field`` parses itself); the
shell reads the page's query parameters when it opens and sets those components, the tab to show
(``tab``), the corpus (``corpus``), presentation mode (``present``) and the controls to hide for an exercise
(``hide``, names separated by commas). A bad value is left out with a note, never an error page. The header's
button writes the reverse: a link with every setting that differs from the page's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import gradio as gr

from charlm import CharLMError

from . import i18n
from .i18n import AppError, t
from .locales import LOCALES

# Parameters the shell handles itself, and those Gradio and Hugging Face add (left alone, no note).
SHELL = ("tab", "corpus", "present", "hide", "lang", "teacher")
FOREIGN = ("view", "logs", "embed", "deep_link")  # and every name starting with "__" (Gradio's __theme, ...)
TRUE = ("1", "true", "yes", "on")


@dataclass
class Linked:
    name: str
    component: gr.components.Component
    parse: Callable[[str], object]  # the link's text → the component's value; raises AppError when bad
    default: object  # the page's own value: a link leaves it out


class Links:
    def __init__(self) -> None:
        self.linked: dict[str, Linked] = {}

    def add(self, name: str, component, parse: Callable[[str], object]) -> None:
        assert name not in self.linked and name not in SHELL, f"two settings named {name!r} in links"
        self.linked[name] = Linked(name, component, parse, component.value)

    @property
    def components(self) -> list:
        return [item.component for item in self.linked.values()]

    def read(
        self, query: Mapping[str, str], tab_ids: tuple[str, ...], lang: str, corpus_names: tuple[str, ...]
    ) -> tuple[dict[str, object], list[str]]:
        """What a link asks for, checked: ({name: value}, notes on what was left out, in ``lang``)."""
        values: dict[str, object] = {}
        notes: list[str] = []
        for name, text in query.items():
            if name in FOREIGN or name.startswith("__"):
                continue
            try:
                self._read_one(name, text, tab_ids, corpus_names, lang, values, notes)
            except (CharLMError, ValueError, TypeError) as err:
                notes.append(t("link.bad", lang, name=name, why=i18n.error_text(err, lang)))
        return values, notes

    def _read_one(
        self,
        name: str,
        text: str,
        tab_ids: tuple[str, ...],
        corpus_names: tuple[str, ...],
        lang: str,
        values: dict[str, object],
        notes: list[str],
    ) -> None:
        """One parameter of the link into ``values`` (or a note); raises what a bad value deserves."""
        if name == "tab":
            if text not in tab_ids:
                raise AppError("err.choice", name="tab", choices=", ".join(tab_ids), value=text)
            values[name] = text
        elif name == "corpus":
            if text not in corpus_names:
                raise AppError("err.unknown_builtin", name=text)
            values[name] = text
        elif name == "present":
            values[name] = text.lower() in TRUE
        elif name == "hide":
            hidden = [h for h in text.split(",") if h]
            unknown = [h for h in hidden if h not in self.linked]
            if unknown:
                notes.append(t("link.unknown", lang, name=", ".join(unknown)))
            values[name] = [h for h in hidden if h in self.linked]
        elif name == "teacher":  # checked against the server's key by the shell; never written into a link
            values[name] = text
        elif name == "lang":  # taken by the language switch when the page opens
            if text not in LOCALES:
                raise AppError("err.choice", name="lang", choices=", ".join(LOCALES), value=text)
        elif name in self.linked:
            values[name] = self.linked[name].parse(text)
        else:
            notes.append(t("link.unknown", lang, name=name))

    def updates(self, values: Mapping[str, object]) -> list:
        """One update per linked component: its value from the link (or as it is), hidden if asked."""
        hidden = set(values.get("hide", ()))
        out = []
        for name in self.linked:
            change = {"value": values[name]} if name in values else {}
            if name in hidden:
                change["visible"] = False
            out.append(gr.update(**change) if change else gr.skip())
        return out

    def write(self, current: list, extra: Mapping[str, object]) -> str:
        """The query string for the page as it is: ``extra`` (tab, corpus, present) and every linked setting
        that differs from the page's default."""
        params = {k: v for k, v in extra.items() if v not in (None, "", False)}
        for item, value in zip(self.linked.values(), current, strict=True):
            if value is not None and value != item.default:
                params[item.name] = value
        params = {k: ("1" if v is True else v) for k, v in params.items()}
        return "?" + urlencode(params) if params else "?"
