"""Tab 5, "Inside the network": the chapter's hardest ideas made visible (maths in charlm.inspect)."""

from __future__ import annotations

import html
import time

import gradio as gr
import numpy as np

from charlm import CharLMError, preset
from charlm.inspect import (feature_correlations, fresh_models, gate_saturation, gradient_decay, next_char_guesses,
                            text_features, toy_model, trace)
from charlm.jobs import TrainingJob

from . import i18n, views
from .i18n import EN, I18N, AppError, t
from .views import figure_lang, new_figure

DEFAULT_PASSAGE = ('"I\'m not going to argue," said Levin, smiling. "But tell me, what did you do there?"\n'
                   'Stepan Arkadyevitch was silent for a while. Then he turned to his friend and said, '
                   '"You know, I could never have imagined it."\n')


def toy_table(word: str, cell: str, steps, lang: str = EN) -> str:
    r = toy_model(word, cell=cell, steps=int(steps))
    head = "".join(f"<th>{html.escape(views.show_char(c))}</th>" for c in r.vocab)
    rows = []
    for i, (context, target) in enumerate(r.pairs):
        right = r.vocab.index(target)

        def cells(values, fmt, target=right):
            return "".join(
                f'<td style="{"background:#bbf7d0;font-weight:600" if j == target else ""}">{fmt.format(v)}</td>'
                for j, v in enumerate(values))

        rows.append(
            f"<tr><td><b>{html.escape(context)}</b> → <b>{html.escape(target)}</b></td>"
            f"<td>{' '.join(str(int(v)) for v in r.one_hot[i])}</td>{cells(r.scores_before[i], '{:+.2f}')}"
            f"{cells(r.probs_before[i], '{:.2f}')}{cells(r.scores_after[i], '{:+.2f}')}"
            f"{cells(r.probs_after[i], '{:.2f}')}</tr>")
    span = f'<th colspan="{len(r.vocab)}">'
    heads = "".join(f"{span}{t(key, lang)}</th>" for key in ("toy.scores_before", "toy.softmax_before",
                                                            "toy.scores_after", "toy.softmax_after"))
    note = t("toy.note", lang, before=r.losses[0], after=r.losses[-1], steps=len(r.losses))
    return (f'<div class="cl-grid"><table><tr><th>{t("toy.pair", lang)}</th><th>{t("toy.input", lang)}</th>{heads}</tr>'
            f'<tr><th></th><th>{" ".join(map(html.escape, r.vocab))}</th>{head * 4}</tr>{"".join(rows)}</table>'
            f'<div class="cl-note">{note}</div></div>')


def gradient_figure(vocab_size: int, text_ids: np.ndarray, lang: str = EN):
    lang = figure_lang(lang)
    fig, ax = new_figure(8, 3.6)
    colours = {"rnn": "#dc2626", "gru": "#16a34a", "lstm": "#2563eb"}
    for cell, model in fresh_models(vocab_size, hidden_size=128).items():
        curve = gradient_decay(model, text_ids)
        ax.semilogy(np.arange(len(curve)), np.maximum(curve, 1e-30), label=cell.upper(), color=colours[cell])
    ax.set_xlabel(t("grad.x", lang))
    ax.set_ylabel(t("grad.y", lang))
    ax.set_ylim(bottom=1e-20)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def coloured_text(text: str, values: np.ndarray) -> str:
    scale = max(1e-6, float(np.max(np.abs(values))))
    spans = []
    for c, v in zip(text, values):
        a = min(1.0, abs(float(v)) / scale)
        rgb = "220,38,38" if v > 0 else "37,99,235"
        shown = "⏎<br>" if c == "\n" else html.escape(c)
        spans.append(f'<span title="{v:+.3f}" style="background:rgba({rgb},{a:.2f})">{shown}</span>')
    return f'<div class="cl-text">{"".join(spans)}</div>'


def guesses_html(text: str, guesses, lang: str = EN) -> str:
    spans = [html.escape(text[0])]
    for g in guesses:
        surprise = 1.0 - g.prob
        tip = html.escape(", ".join(f"{views.show_char(c)} {p:.0%}" for c, p in g.top)
                          + f" | {t('guess.actual', lang)}: {g.prob:.1%}")
        shown = "⏎<br>" if g.char == "\n" else html.escape(g.char)
        spans.append(f'<span title="{tip}" style="background:rgba(234,88,12,{surprise:.2f})">{shown}</span>')
    mean = -np.mean([np.log(max(g.prob, 1e-12)) for g in guesses])
    return (f'<div class="cl-text">{"".join(spans)}</div>'
            f'<div class="cl-note">{t("guess.mean", lang, loss=mean)}</div>')


def saturation_figure(sat: list[dict], lang: str = EN):
    lang = figure_lang(lang)
    fig, ax = new_figure(7, 3)
    labels, closed, opened = [], [], []
    for layer, gates in enumerate(sat):
        for gate, (lo, hi) in gates.items():
            labels.append(f"L{layer} {t('gate.' + gate, lang)}")
            closed.append(lo)
            opened.append(hi)
    y = np.arange(len(labels))
    ax.barh(y, closed, color="#64748b", label=t("gates.shut", lang))
    ax.barh(y, opened, left=closed, color="#f59e0b", label=t("gates.open", lang))
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel(t("gates.x", lang))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def compare_figure(curves: dict[str, list[tuple[int, float]]], lang: str = EN):
    lang = figure_lang(lang)
    fig, ax = new_figure(8, 3.6)
    for cell, points in curves.items():
        ax.plot([s for s, _ in points], [v for _, v in points], "o-", ms=3, label=cell.upper())
    ax.set_xlabel(t("cmp.x", lang))
    ax.set_ylabel(t("cmp.y", lang))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def build(app, model_box) -> None:
    """Lay out tab 5 and wire its events (called inside the app's Blocks)."""
    cheap = {"concurrency_limit": None}
    heavy = {"concurrency_id": "heavy", "concurrency_limit": app.config.heavy_concurrency}
    guarded = app.guarded
    with gr.Tab(I18N("tab.inside"), id="inside"):
        with gr.Accordion(I18N("toy.title"), open=True):
            gr.Markdown(I18N("toy.explain"))
            with gr.Row():
                word = gr.Textbox("hello", label=I18N("toy.word"), info=I18N("toy.word_info"))
                toy_cell = gr.Radio(["rnn", "lstm"], value="rnn", label=I18N("toy.cell"))
                toy_steps = gr.Slider(1, 1000, value=300, step=1, label=I18N("toy.steps"))
            toy_btn = gr.Button(I18N("toy.button"))
            toy_msg = gr.Markdown()
            toy_out = gr.HTML()
        with gr.Accordion(I18N("grad.title"), open=False):
            gr.Markdown(I18N("grad.explain"))
            grad_btn = gr.Button(I18N("grad.button"))
            grad_msg = gr.Markdown()
            grad_plot = gr.Plot()
        with gr.Accordion(I18N("cmp.title"), open=False):
            gr.Markdown(I18N("cmp.explain"))
            cmp_seconds = gr.Slider(5, 120, value=20, step=5, label=I18N("cmp.seconds"))
            cmp_btn = gr.Button(I18N("cmp.button"))
            cmp_msg = gr.Markdown()
            cmp_plot = gr.Plot()
        with gr.Accordion(I18N("cells.title"), open=False):
            gr.Markdown(I18N("cells.explain"))
            passage = gr.Textbox(DEFAULT_PASSAGE, lines=4, label=I18N("cells.passage"))
            with gr.Row():
                layer = gr.Number(0, precision=0, label=I18N("cells.layer"), minimum=0)
                unit = gr.Number(0, precision=0, label=I18N("cells.unit"), minimum=0)
                quantity = gr.Radio(["cell", "hidden"], value="cell", label=I18N("cells.show"),
                                    info=I18N("cells.show_info"))
            look_btn = gr.Button(I18N("cells.button"))
            look_msg = gr.Markdown()
            look_text = gr.HTML()
            look_features = gr.Markdown()
            look_gates = gr.Plot()
        with gr.Accordion(I18N("guess.title"), open=False):
            gr.Markdown(I18N("guess.explain"))
            guess_btn = gr.Button(I18N("guess.button"))
            guess_msg = gr.Markdown()
            guess_out = gr.HTML()

    def run_toy(w, c, s, request: gr.Request):
        return "", toy_table(w, c, s, app.lang_of(request))

    def run_gradients(request: gr.Request):
        corpus = app.corpus_for(app.visitor(request))
        lang = app.lang_of(request)
        if len(corpus.data) < 202:
            raise AppError("err.text_too_short", n=202)
        ids = corpus.data[100:201]
        return t("grad.note", lang), gradient_figure(len(corpus.vocab), ids, lang)

    def run_compare(seconds, request: gr.Request):
        visitor = app.visitor(request)
        lang = app.lang_of(request)
        corpus = app.corpus_for(visitor)
        if visitor.job is not None and not visitor.job.finished:
            yield "⚠️ " + t("cmp.busy", lang), gr.skip()
            return
        curves = {}
        for cell in ("rnn", "gru", "lstm"):
            config = preset("quick", cell=cell, hidden_size=128, max_steps=0, max_seconds=float(seconds), epochs=50,
                            eval_every=50, eval_batches=5, save_every=0, sample_every=0)
            try:
                job = TrainingJob(corpus, config, visitor.folder / f"compare-{cell}", slots=app.slots,
                                  niceness=10).start()
            except CharLMError as err:
                yield i18n.message(err, lang), gr.skip()
                return
            visitor.job = job
            while not job.wait(1.0):
                snap = job.snapshot()
                yield t("cmp.progress", lang, cell=cell.upper(), step=snap.step,
                        loss=snap.loss or float("nan")), gr.skip()
            snap = job.snapshot()
            if snap.state == "failed":
                yield "⚠️ " + views.failure_text(snap, lang), gr.skip()
                return
            curves[cell] = snap.val_loss
        summary = ", ".join(f"{c.upper()} {p[-1][1]:.3f}" for c, p in curves.items() if p)
        yield t("cmp.final", lang, seconds=seconds, summary=summary), compare_figure(curves, lang)

    def sampler_for(label, request):
        return app.sampler_for(app.resolve_model(label, app.visitor(request)))

    def run_look(label, text, layer_index, unit_index, what, request: gr.Request):
        sampler = sampler_for(label, request)
        lang = app.lang_of(request)
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
        colon, comma = ("：", "，") if lang == i18n.ZH else (": ", ", ")
        lines = [f"- **{t('feature.' + name, lang)}**{colon}"
                 + comma.join(t("cells.unit_r", lang, unit=i, r=r) for i, r in cells)
                 for name, cells in found.items()]
        sat = gate_saturation(tr)
        gates = saturation_figure(sat, lang) if any(sat) else None
        note = (t("cells.note", lang, layer=layer_index, unit=unit_index, what=key, seconds=time.perf_counter() - start)
                + ("" if key == what else t("cells.no_cell_state", lang)))
        features = t("cells.features", lang, layer=layer_index) + "\n" + "\n".join(lines)
        return note, coloured_text(text, acts[:, unit_index]), features, gates

    def run_guesses(label, text, request: gr.Request):
        sampler = sampler_for(label, request)
        if len(text) < 2:
            raise AppError("err.passage_short")
        return "", guesses_html(text, next_char_guesses(sampler, text), app.lang_of(request))

    toy_btn.click(guarded(2)(run_toy), [word, toy_cell, toy_steps], [toy_msg, toy_out], api_name="toy", **heavy)
    grad_btn.click(guarded(2)(run_gradients), None, [grad_msg, grad_plot], api_name="gradient_decay", **heavy)
    cmp_btn.click(run_compare, cmp_seconds, [cmp_msg, cmp_plot], api_name="compare_cells", **heavy)
    look_btn.click(guarded(4)(run_look), [model_box, passage, layer, unit, quantity],
                   [look_msg, look_text, look_features, look_gates], api_name="look_inside", **heavy)
    guess_btn.click(guarded(2)(run_guesses), [model_box, passage], [guess_msg, guess_out],
                    api_name="next_char_guesses", **cheap)
