"""English and Simplified Chinese: looking up the app's text, and translating charlm's errors.

Two mechanisms, because Gradio has two kinds of text:
- static text (labels, hints, the explanations) is given to components as ``I18N(key)``; the
  browser translates it (``gr.I18n``): the browser's language picks the default and the footer's
  settings switch it;
- text made in Python (status lines, messages, figures) is made with ``t(key, lang)``, ``lang``
  being the visitor's choice in the page (kept in the browser with ``gr.BrowserState``).
"""

from __future__ import annotations

import re
import string

import gradio as gr

from charlm import CharLMError

from .texts import ERRORS_ZH, HINTS_ZH, TERMS_ZH, UI

EN, ZH = "en", "zh-CN"
LANGUAGES = (EN, ZH)
LANGUAGE_CHOICES = [("English", EN), ("中文", ZH)]

# Gradio translates these: keys into the tables below, looked up in the browser.
I18N = gr.I18n(**{EN: {k: v[0] for k, v in UI.items()}, ZH: {k: v[1] for k, v in UI.items()}})

_I18N_KEY = re.compile(r'^__i18n__\{"__type__": "translation_metadata", "key": "([^"]+)"\}$')


def normalise(lang: str | None) -> str:
    """Any spelling of a language (``zh``, ``zh-CN``, ``zh_TW``, ``en-GB``, a header) → one we have."""
    return ZH if isinstance(lang, str) and lang.strip().lower().startswith("zh") else EN


def from_accept_language(header: str | None) -> str:
    """The first language of an Accept-Language header that we have (English when none)."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return ZH
        if tag.startswith("en"):
            return EN
    return EN


def t(key: str, lang: str, **params) -> str:
    """The text for ``key`` in ``lang``, with ``params`` filled in (English if ``lang`` is unknown)."""
    en, zh = UI[key]
    template = zh if lang == ZH else en
    return template.format(**params) if params else template


def key_of(value) -> str | None:
    """The key of a static text given as ``I18N(key)`` (a component keeps it as a marker string)."""
    match = _I18N_KEY.match(str(value)) if value is not None else None
    return match.group(1) if match else None


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _zh_params(err: CharLMError) -> dict:
    """The error's parameters, with English phrases translated and the few composed hints built."""
    p = {k: TERMS_ZH.get(v, v) if isinstance(v, str) else v for k, v in err.params.items()}
    if err.key == "too_short_for_batch":
        fit = p.get("fit")
        p["fit_hint"] = HINTS_ZH["fit"].format(n=fit[0], m=fit[1]) if fit else HINTS_ZH["no_fit"]
    elif err.key == "text_binary":
        p["utf16_hint"] = HINTS_ZH["utf16"] if p.get("utf16") else ""
    elif err.key == "diverged":
        p["checkpoint_hint"] = HINTS_ZH["checkpoint"].format(path=p["checkpoint"]) if p.get("checkpoint") else ""
    return p


def _named(params: dict, lang: str) -> dict:
    """Parameters that name a setting (``"name.lr"``) become that setting's name in ``lang``."""
    return {k: t(v, lang) if isinstance(v, str) and v.startswith("name.") and v in UI else v
            for k, v in params.items()}


class AppError(CharLMError):
    """An error the app itself raises: its English is ``str(err)``, ``text(lang)`` any language."""

    def __init__(self, key: str, **params):
        super().__init__(t(key, EN, **_named(params, EN)), key=key, **params)

    def text(self, lang: str) -> str:
        return t(self.key, lang, **_named(self.params, lang))


def error_text(err: Exception, lang: str) -> str:
    """What to show for an error: the app's or charlm's message in ``lang`` (charlm's English
    sentence when it has no translation), never a stack trace."""
    if isinstance(err, AppError):
        return err.text(lang)
    if not isinstance(err, CharLMError):
        return t("err.generic", lang, kind=type(err).__name__)
    if lang == ZH and err.key in ERRORS_ZH:
        try:
            return ERRORS_ZH[err.key].format(**_zh_params(err))
        except (KeyError, IndexError, ValueError):  # a template out of step with its raise: say it in English
            pass
    return str(err)


def message(err: Exception, lang: str) -> str:
    """The one line a handler shows for ``err``."""
    return "⚠️ " + error_text(err, lang)
