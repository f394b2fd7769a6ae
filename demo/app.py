"""The Gradio app: a header with the language switch, the tabs of ``demo/tabs`` in order, launch.

Each tab lays itself out and wires its own events (``demo/tabs/<tab>.py``); this shell only adds
what spans tabs: opening the page in the visitor's language, the switch that re-labels it, and
the redraws that follow a new corpus. Nothing here does model maths (that is ``charlm``), and
nothing belonging to a visitor lives in a module global (``demo/sessions.py``).
"""

from __future__ import annotations

import hmac
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from charlm.data.corpora import builtin_names, default_corpus_name

from . import views
from .context import Context, Refresh, builtin_corpus
from .disk import DiskGuard, gradio_upload_folder
from .i18n import EN, I18N, WARNING, has_text, i18n_table, t
from .language import LanguageSwitch
from .locales import LOCALES
from .page_states import LeanPageStates, forget_page_state, forget_stray_page_states
from .server_life import WORK_FROM_JS, ServerLife, with_life
from .sessions import SessionStore
from .settings import AppConfig
from .tabs import TABS

STATIC = Path(__file__).resolve().parent / "static"
# Presentation mode is the page's own look (a class on <body>): switched in the browser, nothing to ask the server.
PRESENT_JS = "(on) => { document.body.classList.toggle('cl-present', !!on); return []; }"
# The link button sends the tab the page shows (the server does not follow tab clicks).
CURRENT_TAB_JS = (
    "(present, _tab, ...rest) => [present, "
    "document.querySelector('#tabs [role=tab][aria-selected=true]')?.dataset.tabId || '', ...rest]"
)
# ... and the page puts its own address in front, and copies the link where the browser allows it.
# A plain-http classroom address (not localhost) has no clipboard for a page: there the link is selected instead,
# for Ctrl+C, and the box's label says both.
COPY_JS = (
    "(query) => { if (!query || !query.startsWith('?')) return query; "
    "const url = location.origin + location.pathname + (query === '?' ? '' : query); "
    "const select = () => setTimeout(() => { const box = document.querySelector('#link-box textarea'); "
    "box?.focus(); box?.select(); }, 300); "
    "if (window.isSecureContext && navigator.clipboard) navigator.clipboard.writeText(url).catch(select); "
    "else select(); return url; }"
)
__all__ = ["AppConfig", "CharLMApp"]


def is_teacher_key(given: str, key: str) -> bool:
    """Whether a link's ``teacher=`` is the server's key (compared in constant time; no key set: nobody's)."""
    return bool(key) and hmac.compare_digest(given.encode(), key.encode())


class CharLMApp:
    def __init__(self, config: AppConfig | None = None):
        self.config = config or AppConfig()
        self.ctx = Context.create(self.config)
        self.language: LanguageSwitch | None = None
        self.blocks: gr.Blocks | None = None

    @property
    def store(self) -> SessionStore:
        return self.ctx.store

    @property
    def slots(self):
        return self.ctx.slots

    def build(self) -> gr.Blocks:
        # Gradio keeps copies of served files (checkpoint downloads) in its cache: every 15 minutes, drop
        # those older than an hour.
        title = " · ".join(dict.fromkeys(t("page.title", code) for code in LOCALES))  # the browser tab's, in all
        with gr.Blocks(title=title, delete_cache=(900, 3600)) as demo:
            with gr.Row(equal_height=True):
                with gr.Column(scale=4):
                    gr.Markdown(I18N("intro"), elem_id="intro")
                with gr.Column(scale=1, min_width=220):
                    self.language = LanguageSwitch(self.ctx)
                    self.present = gr.Checkbox(
                        False, label=I18N("page.present"), info=I18N("page.present_info"), elem_id="present"
                    )
                    self.copy_link = gr.Button(I18N("link.copy"), size="sm", elem_id="copy-link")
                    self.link_box = gr.Textbox(
                        label=I18N("link.label"), visible=False, buttons=["copy"], elem_id="link-box"
                    )
                    self.tab_now = gr.Textbox(visible=False)  # filled by the page: the tab it shows
                    self.work_from = gr.Textbox(visible=False)  # filled by the page on opening (``server_life.py``)
                    if self.config.space_id:  # on a Space: a copy of one's own, with its own limits and quota
                        gr.DuplicateButton(I18N("space.duplicate"), size="sm")
                        gr.Markdown(I18N("space.own_copy"), elem_classes=["cl-note"])
            self.link_note = gr.Markdown(elem_id="link-note")
            # "wrap": on a phone every tab stays in sight, on two rows, not behind a "⋯" menu
            with gr.Tabs(overflow_behavior="wrap", elem_id="tabs") as tabs:
                for tab in TABS:
                    with gr.Tab(I18N(tab.TITLE), id=tab.ID, elem_id=f"tab-{tab.ID}") as block:
                        predict_then_check(tab.ID)
                        tab.build(self.ctx, block)
            self.tabs = tabs
            self._wire_page(demo)
        self.ctx.store.on_forget = lambda session_hash: forget_page_state(demo, session_hash)
        self.ctx.store.on_sweep.append(lambda: forget_stray_page_states(demo, self.ctx.store.sessions()))
        self.blocks = demo
        return demo

    def _wire_page(self, demo: gr.Blocks) -> None:
        ctx, language = self.ctx, self.language
        relabelled = language.collect(demo)
        # On opening, two events side by side pick the same language: one sets the switch and the
        # labels, the other writes the first tab (then the rest of the page) in that language.
        ctx.on(
            demo.load,
            language.open,
            language.opening_inputs,
            [language.radio, language.store, *relabelled],
            messages=False,
            api_name="open_language",
            api_visibility="private",
            js=language.opening_js,
        )
        first, *rest = [r for r in ctx.refreshes if "open" in r.on]
        assert not first.inputs, "the first tab's opening redraw reads no inputs (it runs beside the language)"

        def opened(stored: str | None, browser: str | None, request: gr.Request):
            lang = language.initial(stored, browser, request)
            values, _ = self.read_link(request, lang)
            if "corpus" in values:  # before anything draws the text
                ctx.visitor(request).corpus = builtin_corpus(values["corpus"], 0.1)
            return first.fn(request)

        shown = ctx.on(
            demo.load,
            opened,
            language.opening_inputs,
            first.outputs,
            api_name=f"{first.name}_on_open",
            api_visibility="private",
            js=language.opening_js,
        )
        # then what a link asks for (the tab, the settings), then the other tabs, which draw with those settings
        linked = ctx.on(
            shown.then,
            self.apply_link,
            self.work_from,
            [self.link_note, self.tabs, self.present, *ctx.links.components],
            api_name="apply_link",
            api_visibility="private",
            js=with_life(WORK_FROM_JS, ctx.store.life),
        )
        self._redraw(linked, rest, "open")
        self.present.change(None, self.present, None, js=PRESENT_JS)
        made = ctx.on(
            self.copy_link.click,
            self.write_link,
            [self.present, self.tab_now, *ctx.links.components],
            [self.link_note, self.link_box],
            api_name="write_link",
            js=CURRENT_TAB_JS,
        )
        made.then(None, self.link_box, self.link_box, js=COPY_JS)
        switched = ctx.on(
            language.radio.input,
            language.switch,
            language.radio,
            [language.store, *relabelled],
            messages=False,
            api_name="set_language",
        )
        self._redraw(switched, [r for r in ctx.refreshes if "language" in r.on], "language")
        self._redraw(ctx.offered.corpus_loaded, [r for r in ctx.refreshes if "corpus" in r.on], "corpus")
        demo.unload(self.end_session)

    def read_link(self, request: gr.Request, lang: str) -> tuple[dict, list[str]]:
        query = dict(getattr(request, "query_params", None) or {})
        return self.ctx.links.read(query, tuple(tab.ID for tab in TABS), lang, builtin_names())

    def apply_link(self, request: gr.Request, work_from: str | None = None):
        """The page as the link asks: its tab, presentation mode, its settings (bad values left out, with a note);
        and, when this browser began work here in an earlier life of the server, that it is gone."""
        lang = self.ctx.lang(request)
        values, notes = self.read_link(request, lang)
        visitor = self.ctx.visitor(request)
        visitor.hidden = tuple(values.get("hide", ()))  # the link the page writes keeps them hidden
        if "teacher" in values:
            visitor.teacher = is_teacher_key(values["teacher"], self.ctx.config.teacher_key)
            if not visitor.teacher:
                notes.append(t("link.not_teacher", lang))
        # the notes repeat the link's own text: shown as plain text, never as the link's HTML or Markdown
        said = [t("link.notes", lang) + " " + " ".join(views.plain_text(n) for n in notes)] if notes else []
        if work_from and work_from != self.ctx.store.life:
            said.insert(0, t("page.work_gone", lang))
        note = WARNING + "\n\n".join(said) if said else ""
        tab = gr.update(selected=values["tab"]) if "tab" in values else gr.skip()
        present = values["present"] if "present" in values else gr.skip()
        return note, tab, present, *self.ctx.links.updates(values)

    def write_link(self, request: gr.Request, present: bool, tab: str, *current):  # the request first: *current
        """The query string that opens the page as it is now (the page adds its own address)."""
        visitor = self.ctx.visitor(request)
        corpus = visitor.corpus.name if visitor.corpus is not None else None
        extra = {
            "tab": tab if tab in {t.ID for t in TABS} else None,
            "corpus": corpus if corpus in builtin_names() and corpus != default_corpus_name() else None,
            "lang": visitor.lang if visitor.lang and visitor.lang != EN else None,
            "present": bool(present),
            "hide": ",".join(visitor.hidden),
        }
        return "", gr.update(value=self.ctx.links.write(list(current), extra), visible=True)

    def _redraw(self, event, refreshes: list[Refresh], when: str) -> None:
        """After ``event``, each refresh in turn."""
        for r in refreshes:
            event = self.ctx.on(
                event.then, r.fn, r.inputs, r.outputs, api_name=f"{r.name}_on_{when}", api_visibility="private"
            )

    def end_session(self, request: gr.Request) -> None:
        self.ctx.store.end(getattr(request, "session_hash", None))

    def page_js(self) -> str:
        """What the page runs when it opens: each script of ``static/`` in turn (Gradio takes one function)."""
        scripts = [(STATIC / name).read_text(encoding="utf-8") for name in ("follow_settings.js", "server_life.js")]
        life = self.ctx.store.life
        return "() => {\n" + "".join(f"({with_life(js, life).strip()})();\n" for js in scripts) + "}"

    def launch(self, demo: gr.Blocks, **kwargs):
        return demo.queue(
            default_concurrency_limit=self.config.heavy_concurrency, max_size=self.config.queue_size
        ).launch(
            css=(STATIC / "app.css").read_text(encoding="utf-8"),
            js=self.page_js(),
            max_file_size=f"{self.config.max_upload_mb}mb",
            i18n=i18n_table(),
            # Gradio's own bound on the sessions whose state it keeps, least recently used out (launch's setting:
            # the attribute set before launch was overwritten with its default, 10,000)
            state_session_capacity=self.config.page_states,
            show_error=True,  # Gradio's own input checks (a number sent where a slider expects one) explain themselves
            footer_links=["api", "settings"],
            # a worker thread per call in flight: the heavy pool, every generation streaming, and the light calls
            max_threads=max(40, self.config.heavy_concurrency + self.config.generation_streams + 16),
            app_kwargs={
                "middleware": [
                    Middleware(LeanPageStates),
                    Middleware(ServerLife, life=self.ctx.store.life),
                    Middleware(DiskGuard, folder=gradio_upload_folder(), cap=self.ctx.disk),
                ]
            },
            **kwargs,
        )


def predict_then_check(tab_id: str) -> None:
    """The lesson's question for a tab (``ask.<id>`` in the locales), its answer folded away until asked for:
    students commit to a guess before the tab shows them. A tab without a question gets nothing."""
    if not has_text(f"ask.{tab_id}"):
        return
    with gr.Accordion(I18N("lesson.title"), open=True, elem_classes=["cl-ask"], elem_id=f"ask-{tab_id}"):
        gr.Markdown(I18N(f"ask.{tab_id}"))
        with gr.Accordion(I18N("lesson.answer"), open=False, elem_id=f"answer-{tab_id}"):
            gr.Markdown(I18N(f"answer.{tab_id}"))
