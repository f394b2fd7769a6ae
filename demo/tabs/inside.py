"""Tab 6, inside the trained network (chapter §4): what single cells and gates do while a model reads a
passage, and where it is sure or surprised (maths in charlm.inspect)."""

from __future__ import annotations

import time

import gradio as gr

from charlm.inspect import feature_correlations, gate_saturation, next_char_guesses, text_features, trace

from .. import figures, views
from ..context import Context
from ..i18n import EN, I18N, AppError, t

ID, TITLE = "inside", "tab.inside"
DEFAULT_PASSAGE = ('"I\'m not going to argue," said Levin, smiling. "But tell me, what did you do there?"\n'
                   'Stepan Arkadyevitch was silent for a while. Then he turned to his friend and said, '
                   '"You know, I could never have imagined it."\n')

QUANTITIES = ("cell", "hidden")  # what a passage is coloured by: the LSTM's memory c, or its output h


def quantity_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"cells.show_{q}", lang), q) for q in QUANTITIES]


def build(ctx: Context) -> None:
    gr.Markdown(I18N("explain.inside"))
    with gr.Accordion(I18N("cells.title"), open=True):
        gr.Markdown(I18N("cells.explain"))
        passage = gr.Textbox(DEFAULT_PASSAGE, lines=4, label=I18N("cells.passage"))
        with gr.Row():
            layer = gr.Number(0, precision=0, label=I18N("cells.layer"), minimum=0)
            unit = gr.Number(0, precision=0, label=I18N("cells.unit"), minimum=0)
            quantity = gr.Radio(quantity_choices(EN), value="cell", label=I18N("cells.show"),
                                info=I18N("cells.show_info"))
        look_btn = gr.Button(I18N("cells.button"), elem_id="look-inside")
        look_msg, look_text, look_features = gr.Markdown(), gr.HTML(elem_id="inside-text"), gr.Markdown()
        look_gates = figures.figure_box(elem_id="gates-plot")
    with gr.Accordion(I18N("guess.title"), open=False):
        gr.Markdown(I18N("guess.explain"))
        guess_btn = gr.Button(I18N("guess.button"))
        guess_msg, guess_out = gr.Markdown(), gr.HTML()

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
        gates = figures.picture(figures.saturation_figure(sat, lang)) if any(sat) else None
        note = (t("cells.note", lang, layer=layer_index, unit=unit_index, what=t(f"cells.show_{key}", lang),
                  seconds=time.perf_counter() - start)
                + ("" if key == what else t("cells.no_cell_state", lang)))
        features = t("cells.features", lang, layer=layer_index) + "\n" + "\n".join(lines)
        return note, views.coloured_text(text, acts[:, unit_index]), features, gates

    def run_guesses(label, text, request: gr.Request):
        sampler = ctx.models.sampler_for(label, ctx.visitor(request))
        if len(text) < 2:
            raise AppError("err.passage_short")
        return "", views.guesses_html(text, next_char_guesses(sampler, text), ctx.lang(request))

    def relabel(request: gr.Request):
        return gr.update(choices=quantity_choices(ctx.lang(request)))

    model_box = ctx.shared["model_box"]
    ctx.on(look_btn.click, run_look, [model_box, passage, layer, unit, quantity],
           [look_msg, look_text, look_features, look_gates], heavy=True, api_name="look_inside")
    ctx.on(guess_btn.click, run_guesses, [model_box, passage], [guess_msg, guess_out], api_name="next_char_guesses")
    ctx.refresh("quantities", relabel, [], [quantity], on=("open", "language"))
