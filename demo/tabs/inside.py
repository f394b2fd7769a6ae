"""Tab 6, inside the trained network (chapter §1 and §4): the network unrolled over a passage, one step
inside its cells beside a plain RNN's, what single cells and gates track, and where the model is sure or
surprised (maths in charlm.lessons.traces, drawings in demo.diagrams)."""

from __future__ import annotations

import html
import time

import gradio as gr

from charlm.errors import CharLMError
from charlm.lessons.traces import (
    PASSAGE_CHARS,
    feature_correlations,
    gate_saturation,
    next_char_guesses,
    readable_passage,
    text_features,
    trace,
    trace_bytes,
)
from charlm.lessons.unrolled import unroll

from .. import diagrams, figures, views
from ..context import Context
from ..i18n import EN, I18N, AppError, error_text, t

ID, TITLE = "inside", "tab.inside"
DEFAULT_PASSAGE = (
    '"I\'m not going to argue," said Levin, smiling. "But tell me, what did you do there?"\n'
    "Stepan Arkadyevitch was silent for a while. Then he turned to his friend and said, "
    '"You know, I could never have imagined it."\n'
)

START_POSITION = 12  # the unrolled view opens just inside the quotation: the memory has something to carry
QUANTITIES = ("cell", "hidden")  # what a passage is coloured by: the LSTM's memory c, or its output h


def quantity_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"cells.show_{q}", lang), q) for q in QUANTITIES]


def reader(ctx: Context, label, request: gr.Request):
    """The model chosen in the Generate tab; before the page has filled that list (a press in the first
    second), the one it will show."""
    return ctx.models.sampler_for(label or ctx.models.first_shipped(), ctx.visitor(request))


def passage_for_model(ctx: Context, label, passage, request: gr.Request):
    """The passage stays when the chosen model can read it; else one it can: the start of the held-out part
    of the visitor's text when the model was trained on it, else a passage the model writes itself."""
    if not label:
        return gr.skip(), gr.skip()
    visitor = ctx.visitor(request)
    sampler = ctx.models.sampler_for(label, visitor)
    corpus = visitor.corpus
    known = corpus is not None and corpus.vocab.chars == sampler.vocab.chars
    held_out = corpus.vocab.decode(corpus.val_data[: 2 * PASSAGE_CHARS]) if known else ""
    readable = readable_passage(sampler, passage, held_out)
    if readable == passage:
        return gr.skip(), gr.skip()
    return readable, gr.update(value=min(START_POSITION, len(readable) - 1), maximum=len(readable) - 1)


def run_look(ctx: Context, label, text, layer_index, unit_index, what, request: gr.Request):
    sampler = reader(ctx, label, request)
    with ctx.memory.hold(trace_bytes(sampler, len(text))):  # a long passage's trace takes hundreds of MB
        return look(sampler, text, layer_index, unit_index, what, ctx.lang(request))


def look(sampler, text, layer_index, unit_index, what, lang: str):
    start = time.perf_counter()
    tr = trace(sampler, text)
    layer_index = int(layer_index or 0)
    if not 0 <= layer_index < len(tr.layers):
        raise AppError("err.layer_range", n=len(tr.layers), last=len(tr.layers) - 1)
    values = tr.layers[layer_index]
    key = what if what in values else "hidden"
    acts = values[key]
    unit_index = int(unit_index or 0)
    if not 0 <= unit_index < acts.shape[1]:
        raise AppError("err.unit_range", n=acts.shape[1], last=acts.shape[1] - 1)
    found = feature_correlations(acts, text_features(text))
    colon, comma = t("punct.colon", lang), t("punct.comma", lang)
    lines = [
        f"- **{t('feature.' + name, lang, default=name)}**{colon}"
        + comma.join(t("cells.unit_r", lang, unit=i, r=r) for i, r in cells)
        for name, cells in found.items()
    ]
    sat = gate_saturation(tr)
    gates = figures.picture(figures.saturation_figure, sat, lang) if any(sat) else None
    note = t(
        "cells.note",
        lang,
        layer=layer_index,
        unit=unit_index,
        what=t(f"cells.show_{key}", lang),
        seconds=time.perf_counter() - start,
    ) + ("" if key == what else t("cells.no_cell_state", lang))
    features = t("cells.features", lang, layer=layer_index) + "\n" + "\n".join(lines)
    return note, views.coloured_text(text, acts[:, unit_index]), features, gates


QUOTES = "inside quotes"  # the feature the tab's question asks about (``text_features``)


def find_quote_cell(ctx: Context, label, text, what, request: gr.Request):
    """The tab's question in one click: the cell, in any layer, whose value follows "inside quotation marks"
    most closely on this passage, chosen and shown as "Look inside" shows a cell."""
    sampler = reader(ctx, label, request)
    with ctx.memory.hold(trace_bytes(sampler, len(text))):
        layer, unit = quote_cell(sampler, text, what)
    return (layer, unit, *run_look(ctx, label, text, layer, unit, what, request))


def quote_cell(sampler, text, what) -> tuple[int, int]:
    """(layer, unit) of the cell following "inside quotes" most closely on ``text``."""
    tr = trace(sampler, text)
    feature = text_features(text)[QUOTES]
    found = []
    for layer, values in enumerate(tr.layers):
        key = what if what in values else "hidden"
        cells = feature_correlations(values[key], {QUOTES: feature}, top=1).get(QUOTES)
        if cells:
            found.append((abs(cells[0][1]), layer, cells[0][0]))
    if not found:
        raise AppError("err.no_quotes")
    _, layer, unit = max(found)
    return layer, unit


def run_unroll(ctx: Context, label, text, at, request: gr.Request):
    sampler = reader(ctx, label, request)
    with ctx.memory.hold(trace_bytes(sampler, len(text))):
        return unrolled(ctx, sampler, text, at, ctx.lang(request))


def unrolled(ctx: Context, sampler, text, at, lang: str):
    start = time.perf_counter()
    tr = trace(sampler, text)
    at = min(max(int(at or 0), 0), len(text) - 1)  # a shorter passage: its last character
    view = unroll(tr, sampler, at)
    note = t(
        "unroll.note",
        lang,
        position=at,
        last=len(text) - 1,
        char=f"`{views.show_char(text[at])}`",
        seconds=time.perf_counter() - start,
    )
    return (
        note,
        gr.update(value=at, maximum=len(text) - 1),
        diagrams.unrolled_html(view, lang),
        diagrams.folded_html(view, lang),
        diagrams.cell_html(view, lang),
        compare(ctx, sampler.spec.name, text, at, lang),
    )


def compare(ctx: Context, cell, text, at, lang) -> str:
    """The same character read by a shipped model of the other kind (the chapter's RNN module beside its
    LSTM module); a passage that model cannot read says why, in place of the drawing."""
    counterpart = ctx.models.shipped_counterpart(cell)
    if counterpart is None:
        return ""
    name, other = counterpart
    try:
        with ctx.memory.hold(trace_bytes(other, len(text))):
            view = unroll(trace(other, text), other, at)
    except CharLMError as err:
        return f'<div class="cl-note">{html.escape(error_text(err, lang))}</div>'
    head = t("unroll.compare_same" if cell == "rnn" else "unroll.compare_note", lang, name=name)
    return f'<div class="cl-note">{head}</div>' + diagrams.cell_html(view, lang)


def step_back(ctx: Context, label, text, at, request: gr.Request):
    return run_unroll(ctx, label, text, int(at or 0) - 1, request)


def step_on(ctx: Context, label, text, at, request: gr.Request):
    return run_unroll(ctx, label, text, int(at or 0) + 1, request)


def run_guesses(ctx: Context, label, text, request: gr.Request):
    sampler = reader(ctx, label, request)
    if len(text) < 2:
        raise AppError("err.passage_short")
    with ctx.memory.hold(trace_bytes(sampler, len(text))):
        return "", views.guesses_html(text, next_char_guesses(sampler, text), ctx.lang(request))


def relabel(ctx: Context, request: gr.Request):
    return gr.update(choices=quantity_choices(ctx.lang(request)))


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.inside"))
    passage = gr.Textbox(DEFAULT_PASSAGE, lines=4, label=I18N("cells.passage"), elem_id="passage")
    with gr.Accordion(I18N("unroll.title"), open=True, elem_id="unroll"):
        gr.Markdown(I18N("unroll.explain"))
        position = gr.Slider(
            0,
            len(DEFAULT_PASSAGE) - 1,
            value=START_POSITION,
            step=1,
            label=I18N("unroll.position"),
            elem_id="unroll-position",
        )
        with gr.Row():
            back_btn = gr.Button(I18N("unroll.back"), scale=1, min_width=100, elem_id="unroll-back")
            unroll_btn = gr.Button(
                I18N("unroll.button"), variant="primary", scale=2, min_width=100, elem_id="unroll-button"
            )
            on_btn = gr.Button(I18N("unroll.on"), scale=1, min_width=100, elem_id="unroll-on")
        unroll_msg = gr.Markdown()
        with gr.Row(elem_classes="cl-pair cl-folded-first"):  # the chapter's figure: folded = unrolled
            folded_box = gr.HTML(elem_id="folded")
            unrolled_box = gr.HTML(elem_id="unrolled")
        with gr.Row(elem_classes="cl-pair"):
            with gr.Column():
                gr.Markdown(I18N("unroll.inside"))
                cell_box = gr.HTML(elem_id="cell-view")
            with gr.Column():
                gr.Markdown(I18N("unroll.compare"))
                compare_box = gr.HTML(elem_id="cell-compare")
    with gr.Accordion(I18N("cells.title"), open=True, elem_id="cells"):  # the tab's question is answered here
        gr.Markdown(I18N("cells.explain"))
        with gr.Row():
            layer = gr.Number(0, precision=0, label=I18N("cells.layer"), minimum=0)
            unit = gr.Number(0, precision=0, label=I18N("cells.unit"), minimum=0)
            quantity = gr.Radio(
                quantity_choices(EN), value="cell", label=I18N("cells.show"), info=I18N("cells.show_info")
            )
        with gr.Row():
            look_btn = gr.Button(I18N("cells.button"), elem_id="look-inside")
            quote_btn = gr.Button(I18N("cells.find_quotes"), variant="primary", elem_id="find-quote-cell")
        look_msg, look_text, look_features = gr.Markdown(), gr.HTML(elem_id="inside-text"), gr.Markdown()
        look_gates = figures.figure_box(elem_id="gates-plot")
    with gr.Accordion(I18N("guess.title"), open=False):
        gr.Markdown(I18N("guess.explain"))
        guess_btn = gr.Button(I18N("guess.button"))
        guess_msg, guess_out = gr.Markdown(), gr.HTML()

    model_box = ctx.offered.model_box
    assert model_box is not None, "the Generate tab is built before this one (TABS' order): it offers the model"
    unrolled_outputs = [unroll_msg, position, unrolled_box, folded_box, cell_box, compare_box]
    ctx.on(
        unroll_btn.click, run_unroll, [model_box, passage, position], unrolled_outputs, heavy=True, api_name="unroll"
    )
    for trigger, fn in ((position.release, run_unroll), (back_btn.click, step_back), (on_btn.click, step_on)):
        ctx.on(
            trigger,
            fn,
            [model_box, passage, position],
            unrolled_outputs,
            heavy=True,
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="minimal",
        )  # stepping: the drawing stays, no grey veil
    ctx.on(
        look_btn.click,
        run_look,
        [model_box, passage, layer, unit, quantity],
        [look_msg, look_text, look_features, look_gates],
        heavy=True,
        api_name="look_inside",
    )
    ctx.on(
        quote_btn.click,
        find_quote_cell,
        [model_box, passage, quantity],
        [layer, unit, look_msg, look_text, look_features, look_gates],
        heavy=True,
        api_name="find_quote_cell",
    )
    ctx.on(
        model_box.change,
        passage_for_model,
        [model_box, passage],
        [passage, position],
        api_name="passage_for_model",
        trigger_mode="always_last",
    )
    ctx.on(  # heavy: a long passage's trace takes hundreds of MB, so these share the bounded pool, one per visitor
        guess_btn.click,
        run_guesses,
        [model_box, passage],
        [guess_msg, guess_out],
        heavy=True,
        api_name="next_char_guesses",
    )
    ctx.refresh("quantities", relabel, [], [quantity], on=("open", "language"))
