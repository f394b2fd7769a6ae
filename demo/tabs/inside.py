"""Tab 5, inside the network (chapter §2-4): the h-e-l-o toy, vanishing gradients, RNN vs GRU vs
LSTM, what single cells and gates do while reading, and the model's guesses (maths in charlm.inspect)."""

from __future__ import annotations

import time

import gradio as gr

from charlm.cells import simplest_first
from charlm.inspect import (
    comparison_config,
    feature_correlations,
    gate_saturation,
    gradient_curves,
    next_char_guesses,
    text_features,
    toy_model,
    trace,
)
from charlm.jobs import TrainingJob

from .. import figures, views
from ..context import Context
from ..fields import COMPARE_SECONDS, TOY_CELL, TOY_STEPS
from ..i18n import I18N, WARNING, AppError, t

ID, TITLE = "inside", "tab.inside"
DEFAULT_PASSAGE = ('"I\'m not going to argue," said Levin, smiling. "But tell me, what did you do there?"\n'
                   'Stepan Arkadyevitch was silent for a while. Then he turned to his friend and said, '
                   '"You know, I could never have imagined it."\n')


def build(ctx: Context) -> None:
    with gr.Accordion(I18N("toy.title"), open=True):
        gr.Markdown(I18N("toy.explain"))
        with gr.Row():
            word = gr.Textbox("hello", label=I18N("toy.word"), info=I18N("toy.word_info"))
            toy_cell = TOY_CELL.component("rnn")
            toy_steps = TOY_STEPS.component(300)
        toy_btn = gr.Button(I18N("toy.button"))
        toy_msg, toy_out = gr.Markdown(), gr.HTML()
    with gr.Accordion(I18N("grad.title"), open=False):
        gr.Markdown(I18N("grad.explain"))
        grad_btn = gr.Button(I18N("grad.button"))
        grad_msg, grad_plot = gr.Markdown(), gr.Plot()
    with gr.Accordion(I18N("cmp.title"), open=False):
        gr.Markdown(I18N("cmp.explain"))
        cmp_seconds = COMPARE_SECONDS.component(20)
        cmp_btn = gr.Button(I18N("cmp.button"))
        cmp_msg, cmp_plot = gr.Markdown(), gr.Plot()
    with gr.Accordion(I18N("cells.title"), open=False):
        gr.Markdown(I18N("cells.explain"))
        passage = gr.Textbox(DEFAULT_PASSAGE, lines=4, label=I18N("cells.passage"))
        with gr.Row():
            layer = gr.Number(0, precision=0, label=I18N("cells.layer"), minimum=0)
            unit = gr.Number(0, precision=0, label=I18N("cells.unit"), minimum=0)
            quantity = gr.Radio(["cell", "hidden"], value="cell", label=I18N("cells.show"),
                                info=I18N("cells.show_info"))
        look_btn = gr.Button(I18N("cells.button"))
        look_msg, look_text, look_features, look_gates = gr.Markdown(), gr.HTML(), gr.Markdown(), gr.Plot()
    with gr.Accordion(I18N("guess.title"), open=False):
        gr.Markdown(I18N("guess.explain"))
        guess_btn = gr.Button(I18N("guess.button"))
        guess_msg, guess_out = gr.Markdown(), gr.HTML()

    def run_toy(text, cell, steps, request: gr.Request):
        result = toy_model(text, cell=TOY_CELL.parse(cell), steps=TOY_STEPS.parse(steps))
        return "", views.toy_table(result, ctx.lang(request))

    def run_gradients(request: gr.Request):
        corpus = ctx.corpus(ctx.visitor(request))
        lang = ctx.lang(request)
        return t("grad.note", lang), figures.gradient_figure(gradient_curves(len(corpus.vocab), corpus.data), lang)

    def run_compare(seconds, request: gr.Request):
        visitor, lang = ctx.visitor(request), ctx.lang(request)
        seconds = COMPARE_SECONDS.parse(seconds)
        curves = {}
        for cell in simplest_first():
            with visitor.starting:  # one training per visitor, the race's included
                busy = visitor.job is not None and not visitor.job.finished
                if not busy:
                    job = TrainingJob(ctx.corpus(visitor), comparison_config(cell, seconds),
                                      visitor.folder / f"compare-{cell}", slots=ctx.slots, niceness=10).start()
                    visitor.job = job
            if busy:
                yield WARNING + t("cmp.busy", lang), gr.skip()
                return
            try:
                while not job.wait(1.0):
                    snap = job.snapshot()
                    loss = snap.loss or float("nan")
                    yield t("cmp.progress", lang, cell=cell.upper(), step=snap.step, loss=loss), gr.skip()
            finally:  # the page went away (Gradio stops asking for updates and closes this generator): so does the work
                if not job.finished:
                    job.stop()
            snap = job.snapshot()
            if snap.state == "failed":
                yield WARNING + views.failure_text(snap, lang), gr.skip()
                return
            curves[cell] = snap.val_loss
        summary = ", ".join(f"{c.upper()} {p[-1][1]:.3f}" for c, p in curves.items() if p)
        yield t("cmp.final", lang, seconds=seconds, summary=summary), figures.compare_figure(curves, lang)

    def run_look(label, text, layer_index, unit_index, what, request: gr.Request):
        sampler = ctx.models.sampler_for(label, ctx.visitor(request))
        lang = ctx.lang(request)
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
        lines = [f"- **{t('feature.' + name, lang, default=name)}**{colon}"
                 + comma.join(t("cells.unit_r", lang, unit=i, r=r) for i, r in cells) for name, cells in found.items()]
        sat = gate_saturation(tr)
        gates = figures.saturation_figure(sat, lang) if any(sat) else None
        note = (t("cells.note", lang, layer=layer_index, unit=unit_index, what=key, seconds=time.perf_counter() - start)
                + ("" if key == what else t("cells.no_cell_state", lang)))
        features = t("cells.features", lang, layer=layer_index) + "\n" + "\n".join(lines)
        return note, views.coloured_text(text, acts[:, unit_index]), features, gates

    def run_guesses(label, text, request: gr.Request):
        sampler = ctx.models.sampler_for(label, ctx.visitor(request))
        if len(text) < 2:
            raise AppError("err.passage_short")
        return "", views.guesses_html(text, next_char_guesses(sampler, text), ctx.lang(request))

    model_box = ctx.shared["model_box"]
    ctx.on(toy_btn.click, run_toy, [word, toy_cell, toy_steps], [toy_msg, toy_out], heavy=True, api_name="toy")
    ctx.on(grad_btn.click, run_gradients, None, [grad_msg, grad_plot], heavy=True, api_name="gradient_decay")
    ctx.on(cmp_btn.click, run_compare, cmp_seconds, [cmp_msg, cmp_plot], heavy=True, api_name="compare_cells")
    ctx.on(look_btn.click, run_look, [model_box, passage, layer, unit, quantity],
           [look_msg, look_text, look_features, look_gates], heavy=True, api_name="look_inside")
    ctx.on(guess_btn.click, run_guesses, [model_box, passage], [guess_msg, guess_out], api_name="next_char_guesses")
