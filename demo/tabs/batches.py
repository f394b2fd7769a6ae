"""Tab 3, mini-batches (chapter §5.2-5.3): N rows × M steps, inputs and their shifted targets, one-hot."""

from __future__ import annotations

import gradio as gr

from charlm import Batches

from .. import views
from ..context import Context
from ..fields import BATCH_INDEX, BATCH_M, BATCH_N, BATCH_ROW
from ..i18n import I18N, t

ID, TITLE = "batches", "tab.batches"


def preview_batch(ctx: Context, batch_size, num_steps, index, row, integers, request: gr.Request):
    corpus = ctx.corpus(ctx.visitor(request))
    lang = ctx.lang(request)
    N, M = BATCH_N.parse(batch_size), BATCH_M.parse(num_steps)
    data = corpus.train_data
    batches = Batches(data, N, M, what="The training part of the text")
    index = min(BATCH_INDEX.parse(index), len(batches) - 1)
    row = min(BATCH_ROW.parse(row), N - 1)
    x, y = batches[index]
    integers = integers is True or integers == "true"  # unprocessed: the checkbox's raw value
    line = t(
        "batch.info",
        lang,
        index=index,
        count=f"{len(batches):,}",
        n=N,
        m=M,
        row=row,
        x=views.show_char(corpus.vocab.chars[x[row, 0]]),
        y=views.show_char(corpus.vocab.chars[y[row, 0]]),
    )
    return (
        line,
        views.reshape_html(batches, index, len(data), lang),
        views.grid_html(x, corpus.vocab, bool(integers), 0, t("grid.inputs", lang), lang),
        views.grid_html(y, corpus.vocab, bool(integers), 1, t("grid.targets", lang), lang),
        views.one_hot_html(x[row], corpus.vocab, lang),
        # a slider needs maximum > minimum, even for a text of one batch or a batch of one row
        gr.update(maximum=max(1, len(batches) - 1), value=index),
        gr.update(maximum=max(1, N - 1), value=row),
    )


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.batches"))
    with gr.Row():
        n_slider = BATCH_N.component(15, elem_id="batch-n")
        m_slider = BATCH_M.component(50, elem_id="batch-m")
    with gr.Row():
        index_slider = BATCH_INDEX.component(0, maximum=100)  # its maximum follows the text and the shape
        row_slider = BATCH_ROW.component(0, maximum=14)
        show_ints = gr.Checkbox(False, label=I18N("batch.show_ints"), info=I18N("hint.show_ints"))
    info = gr.Markdown(elem_id="batch-info")
    reshape = gr.HTML()
    with gr.Row(elem_classes=["cl-pair", "cl-grids"]):  # side by side where they fit (a projector too), else stacked
        grid_x = gr.HTML(elem_id="grid-x")
        grid_y = gr.HTML(elem_id="grid-y")
    onehot = gr.HTML(elem_id="one-hot")
    settings = [n_slider, m_slider, index_slider, row_slider, show_ints]
    ctx.link(BATCH_N, n_slider)
    ctx.link(BATCH_M, m_slider)
    shown = [info, reshape, grid_x, grid_y, onehot, index_slider, row_slider]

    # preprocess=False: the values are checked here (``Field.parse``, in the visitor's language), not against
    # the sliders' maxima that the previous shape set, which refused an API call's valid index for a new shape
    for i, slider in enumerate(settings):
        ctx.on(
            slider.input,
            preview_batch,
            settings,
            shown,
            trigger_mode="always_last",
            preprocess=False,
            api_name="preview_batch" if i == 0 else f"preview_batch_{i}",
            api_visibility="public" if i == 0 else "private",
        )
    ctx.refresh("preview", preview_batch, settings, shown, on=("open", "language", "corpus"))
