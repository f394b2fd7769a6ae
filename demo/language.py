"""The page's language switch: which language a visitor gets on opening, and re-labelling the page.

On opening, the language stored in this browser wins, else the browser's own (its page language,
else its Accept-Language header). The switch changes every static text at once (each component
whose text was given as ``I18N(key)``) and Python's own texts are then redrawn by the tabs'
refreshes.
"""

from __future__ import annotations

import gradio as gr

from . import i18n
from .context import Context
from .i18n import EN, I18N, t

TRANSLATABLE_PROPS = ("label", "info", "placeholder", "value", "title", "x_title", "y_title", "color_title")
NOT_IN_BROWSER = ("x_title", "y_title", "color_title")  # ...except a plot's axis titles: Gradio shows their key


def translated_props(block) -> dict[str, str]:
    """Which of a component's texts were given as ``I18N(key)``: {prop: key}."""
    found = {}
    for prop in TRANSLATABLE_PROPS:
        key = i18n.key_of(getattr(block, prop, None))
        if key:
            found[prop] = key
    return found


class LanguageSwitch:
    """The header's switch, the browser's stored choice, and the page's texts to re-label."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.radio = gr.Radio(
            i18n.language_choices(), value=EN, label=I18N("lang.label"), info=I18N("lang.info"), elem_id="language"
        )
        self.store = gr.BrowserState(None, storage_key="charlm-language")
        self.browser = gr.Textbox(visible=False)
        self.translated: list[tuple[gr.components.Component, dict[str, str]]] = []
        # what the page sends on opening: the stored choice and the browser's language
        self.opening_inputs = [self.store, self.browser]
        self.opening_js = "(stored, _) => [stored, document.documentElement.lang || navigator.language || '']"

    def collect(self, demo: gr.Blocks) -> list:
        """Every component of the finished page whose texts are translated (call after building)."""
        self.translated = [
            (block, props)
            for block in demo.blocks.values()
            if block is not self.radio and (props := translated_props(block))
        ]
        return [block for block, _ in self.translated]

    def relabel(self, lang: str, only: tuple[str, ...] = TRANSLATABLE_PROPS) -> list:
        """Every static text of the page in ``lang`` (or those of the ``only`` kinds)."""
        updates = []
        for _, props in self.translated:
            texts = {prop: t(key, lang) for prop, key in props.items() if prop in only}
            updates.append(gr.update(**texts) if texts else gr.skip())
        return updates

    def initial(self, stored: str | None, browser: str | None, request: gr.Request) -> str:
        """The visitor's language on opening, remembered for what Python writes."""
        asked = (getattr(request, "query_params", None) or {}).get("lang")  # a teacher's link: ?lang=zh-CN
        if asked in i18n.LOCALES:
            lang = asked
        elif stored in i18n.LOCALES:
            lang = stored
        else:
            lang = i18n.normalise(browser) if browser else self.ctx.lang(request)
        visitor = self.ctx.visitor(request)
        visitor.lang, visitor.browser = lang, True  # only a page in a browser sends this
        visitor.page_from_before = False  # its first event, this one, was its opening: it opened here
        return lang

    def open(self, stored: str | None, browser: str | None, request: gr.Request):
        lang = self.initial(stored, browser, request)
        same = i18n.normalise(browser or "") == lang  # Gradio already shows the labels in this language...
        return lang, lang, *(self.relabel(lang, only=NOT_IN_BROWSER) if same else self.relabel(lang))

    def switch(self, lang: str | None, request: gr.Request):
        lang = i18n.normalise(lang)
        self.ctx.visitor(request).lang = lang
        return lang, *self.relabel(lang)
