"""Looking up the page's text in the visitor's language, and translating charlm's errors.

Two mechanisms, because Gradio has two kinds of text:
- static text (labels, hints, the explanations) is given to components as ``I18N(key)``; the
  browser translates it from ``i18n_table()`` (``gr.I18n``): the browser's language picks the
  default and the footer's settings switch it;
- text made in Python (status lines, messages, figures) is made with ``t(key, lang)``, ``lang``
  being the visitor's choice in the page (kept in the browser with ``gr.BrowserState``).

The languages themselves are data, in ``demo/locales/``: nothing here names one.
"""

from __future__ import annotations

import errno
import re
import string

import gradio as gr
from gradio.i18n import I18nData

from charlm import CharLMError

from .locales import DEFAULT, LOCALES, Locale

EN = DEFAULT
_I18N_KEY = re.compile(r'^__i18n__\{"__type__": "translation_metadata", "key": "([^"]+)"\}$')


def I18N(key: str) -> I18nData:  # noqa: N802 (it stands in for a gr.I18n object, which is called like this)
    """A static text, translated in the browser."""
    return I18nData(key)


def i18n_table() -> gr.I18n:
    """Every language's texts for Gradio's own translation, each completed with English."""
    english = LOCALES[DEFAULT].texts
    return gr.I18n(**{code: {**english, **loc.texts} for code, loc in LOCALES.items()})


def language_choices() -> list[tuple[str, str]]:
    """The page's switch: (the language's own name, its code)."""
    return [(loc.name, code) for code, loc in LOCALES.items()]


def _match(tag: str) -> str | None:
    """The language we have for one tag (exact, else the same language in any region)."""
    tag = tag.strip().replace("_", "-").lower()
    for code in LOCALES:
        if code.lower() == tag:
            return code
    primary = tag.split("-")[0]
    return next((code for code, loc in LOCALES.items() if loc.primary == primary), None)


def normalise(lang: str | None) -> str:
    """Any spelling of a language (``zh``, ``zh_TW``, ``en-GB``) → one we have (else English)."""
    return (_match(lang) if isinstance(lang, str) and lang.strip() else None) or DEFAULT


def from_accept_language(header: str | None) -> str:
    """The first language of an Accept-Language header that we have (English when none)."""
    for part in (header or "").split(","):
        found = _match(part.split(";")[0]) if part.strip() else None
        if found:
            return found
    return DEFAULT


def locale(lang: str) -> Locale:
    return LOCALES.get(lang) or LOCALES[DEFAULT]


def t(key: str, lang: str, default: str | None = None, **params) -> str:
    """The text for ``key`` in ``lang``, with ``params`` filled in; missing there: English, then
    ``default``, then the key itself (a page with an untranslated text still builds)."""
    template = locale(lang).texts.get(key) or LOCALES[DEFAULT].texts.get(key) or default or key
    if "{tab_" in template:  # a tab named by its title in this language ("{tab_generate}"), never by a number
        tabs = {name: t(f"tab.{name[4:]}", lang) for name in placeholders(template) if name.startswith("tab_")}
        params = {**tabs, **params}
    return template.format(**params) if params else template


def has_text(key: str) -> bool:
    return key in LOCALES[DEFAULT].texts


def key_of(value) -> str | None:
    """The key of a static text given as ``I18N(key)`` (a component keeps it as a marker string)."""
    match = _I18N_KEY.match(str(value)) if value is not None else None
    return match.group(1) if match else None


def placeholders(template: str) -> set[str]:
    return {name.split("[")[0].split(".")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def _error_params(err: CharLMError, loc: Locale) -> dict:
    """The error's parameters in ``loc``: English phrases translated, composed hints built."""
    params = {k: loc.terms.get(v, v) if isinstance(v, str) else v for k, v in err.params.items()}
    for name, (depends_on, when_set, when_not) in loc.hints.items():
        params[name] = (when_set if params.get(depends_on) else when_not).format(**params)
    return params


def _named(params: dict, lang: str) -> dict:
    """Parameters that name a setting (``"name.lr"``) become that setting's name in ``lang``."""
    return {
        k: t(v, lang) if isinstance(v, str) and v.startswith("name.") and has_text(v) else v for k, v in params.items()
    }


class AppError(CharLMError):
    """An error the app itself raises: its English is ``str(err)``, ``text(lang)`` any language."""

    def __init__(self, key: str, **params):
        super().__init__(t(key, EN, **_named(params, EN)), key=key, **params)

    def text(self, lang: str) -> str:
        return t(self.key, lang, **_named(self.params, lang))


def error_text(err: Exception, lang: str) -> str:
    """What to show for an error: the app's or charlm's message in ``lang`` (charlm's English
    sentence when there is no translation), never a stack trace."""
    if isinstance(err, AppError):
        return err.text(lang)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:  # said as such, never with the server's paths
        return t("err.disk_full", lang)
    if not isinstance(err, CharLMError):
        return t("err.generic", lang, kind=type(err).__name__)
    loc = locale(lang)
    if err.key in loc.errors:
        try:
            return loc.errors[err.key].format(**_error_params(err, loc))
        except (KeyError, IndexError, ValueError, TypeError):  # a template out of step with its raise: English
            pass
    return str(err)


# Signs drawn as text: the fonts of a projector's Debian or a school laptop have them. Their emoji forms
# (the warning sign with its emoji selector, the green tick, the stop square) are empty boxes in a browser
# without an emoji font (tests/test_i18n.py keeps them out of the page).
WARNING, FAILED = "⚠ ", "✗ "


def message(err: Exception, lang: str) -> str:
    """The one line a handler shows for ``err``."""
    return WARNING + error_text(err, lang)
