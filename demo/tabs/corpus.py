"""Tab 2, the corpus (chapter §5.1): a built-in text or an upload, its vocabulary, codes and split."""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from charlm import Corpus
from charlm.data.corpora import builtin_names, builtin_title, default_corpus_name
from charlm.data.vocab import load_text, reading_bytes

from .. import views
from ..context import Context, builtin_corpus, holder
from ..disk import uploaded_size
from ..fields import VAL_SHARE
from ..i18n import EN, I18N, AppError, t
from ..sessions import Visitor

ID, TITLE = "corpus", "tab.corpus"
MIN_CORPUS_CHARS = 100  # below this there is nothing to learn, whatever the batch shape


def builtin_choices(lang: str) -> list[tuple[str, str]]:
    """The built-in texts as (title in ``lang``, name)."""
    return [(corpus_title(name, lang), name) for name in builtin_names()]


def corpus_title(name: str, lang: str) -> str:
    """A built-in corpus by its title in ``lang`` (its English title from charlm if untranslated);
    an upload by its file name."""
    if name not in builtin_names():
        return name
    return t(f"corpus.title.{name}", lang, default=builtin_title(name))


def corpus_views(corpus: Corpus, lang: str):
    """Everything the tab shows of a corpus, in ``lang``."""
    title = corpus_title(corpus.name, lang)
    return (
        t("msg.loaded", lang, name=title),
        views.corpus_summary(corpus, title, lang),
        views.vocab_text(corpus.vocab, lang),
        views.codes_html(corpus),
        views.frequency_frame(corpus),
    )


def load_corpus(ctx: Context, name: str | None, uploaded, val_share: float, request: gr.Request):
    """Load a built-in corpus or an uploaded file; on failure the old corpus stays."""
    visitor = ctx.visitor(request)
    val_share = VAL_SHARE.parse(val_share)
    if uploaded:
        path = Path(uploaded if isinstance(uploaded, str) else uploaded["path"])
        max_bytes = ctx.config.max_upload_mb * 1_000_000
        with ctx.memory.hold(reading_bytes(min(uploaded_size(path), max_bytes)), owner=holder(visitor, "corpus")):
            corpus = read_upload(path, val_share, max_bytes)
        # kept in memory while there is room; else put away to the visitor's folder, memory-mapped
        ctx.memory.keep(holder(visitor, "corpus"), corpus.data.nbytes, functools.partial(put_away, visitor, corpus))
    else:
        name = name or default_corpus_name()
        if name not in builtin_names():
            raise AppError("err.unknown_builtin", name=name)
        corpus = builtin_corpus(name, round(val_share, 4))  # shared by everyone: nothing of the visitor's to keep
        ctx.memory.forget(holder(visitor, "corpus"))
    visitor.corpus = corpus
    visitor.texts_loaded += 1
    return corpus_views(corpus, ctx.lang(request))


def read_upload(path: Path, val_share: float, max_bytes: int) -> Corpus:
    file_name = Path(path.name).name
    text = load_text(path, max_bytes=max_bytes)
    if len(text) < MIN_CORPUS_CHARS:
        raise AppError("err.corpus_too_short", name=file_name, n=len(text), min=MIN_CORPUS_CHARS)
    return Corpus.from_text(text, val_share, name=file_name)


def put_away(visitor: Visitor, corpus: Corpus) -> None:
    """The visitor's uploaded text out of memory, into their folder (memory-mapped): others need the room."""
    if visitor.corpus is corpus:
        visitor.corpus = corpus.mapped(visitor.folder / "corpus.npy")


def show_corpus(ctx: Context, request: gr.Request):
    return corpus_views(ctx.corpus(ctx.visitor(request)), ctx.lang(request))


def titles(ctx: Context, request: gr.Request):
    return gr.update(choices=builtin_choices(ctx.lang(request)))


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.corpus"))
    with gr.Row():
        builtin = gr.Dropdown(
            builtin_choices(EN), value=default_corpus_name(), label=I18N("corpus.builtin"), info=I18N("hint.builtin")
        )
        upload = gr.File(label=I18N("corpus.upload"), file_types=[".txt"], type="filepath")
        val_fraction = VAL_SHARE.component(0.1)
    load_btn = gr.Button(I18N("corpus.load"), variant="primary", elem_id="load-text")
    status = gr.Markdown(elem_id="corpus-status")
    summary = gr.Markdown(elem_id="corpus-summary")
    vocab_box = gr.Textbox(label=I18N("corpus.vocab"), lines=3, interactive=False)
    codes = gr.HTML(label=I18N("corpus.codes"))
    freq = gr.BarPlot(
        x="character",
        y="count",
        title=I18N("corpus.freq_title"),
        sort="-y",
        height=300,
        x_title=I18N("axis.character"),
        y_title=I18N("axis.count"),
        buttons=["fullscreen", "export"],
    )
    shown = [status, summary, vocab_box, codes, freq]
    ctx.link(VAL_SHARE, val_fraction)

    loaded = ctx.on(
        load_btn.click, load_corpus, [builtin, upload, val_fraction], shown, heavy=True, api_name="load_corpus"
    )
    ctx.offered.corpus_loaded = loaded
    ctx.refresh("show_corpus", show_corpus, [], shown, on=("open", "language"))
    ctx.refresh("corpus_titles", titles, [], [builtin], on=("open", "language"))
