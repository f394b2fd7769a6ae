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

from . import views
from .views import new_figure

TOY = ("**The toy (§2).** Four letters, one word: `hello` gives the training pairs h→e, he→l, hel→l, hell→o. "
       "Each input is a one-hot vector; the network outputs one score per letter, and softmax turns the scores "
       "into probabilities. Before training the scores are noise; after a few hundred steps the right next "
       "letter gets almost all the probability. Try another word.")
GRADIENTS = ("**Vanishing gradients (§3).** How much does the loss at the last step depend on the input k steps "
             "earlier? The curves show the size of that gradient for an untrained RNN, GRU and LSTM of the same "
             "size, on a log scale. Look for the plain RNN's curve plunging within a few dozen steps while the "
             "LSTM's falls slowly: the LSTM can still learn from what it read 50 or 100 characters ago.")
COMPARE = ("**Long-term dependencies, measured.** One click trains a plain RNN, a GRU and an LSTM on the loaded "
           "text with the same budget (a small preset) and plots their validation losses side by side.")
CELLS = ("**What the cells track (§4).** The passage is coloured by the activation of one cell of one layer "
         "(blue negative, red positive). The lists name the cells whose activation follows something visible "
         "(being inside quotes, the position in the line...) most closely; pick one to see it. The gate chart "
         "shows how often each gate is nearly shut (<0.1) or wide open (>0.9).")
GUESSES = ("**Where is the model sure, where surprised?** Each character is shaded by the probability the model "
           "gave it before seeing it (dark: surprised). Hover over a character for the model's top five guesses.")
DEFAULT_PASSAGE = ('"I\'m not going to argue," said Levin, smiling. "But tell me, what did you do there?"\n'
                   'Stepan Arkadyevitch was silent for a while. Then he turned to his friend and said, '
                   '"You know, I could never have imagined it."\n')


def toy_table(word: str, cell: str, steps) -> str:
    r = toy_model(word, cell=cell, steps=int(steps))
    head = "".join(f"<th>{html.escape(views.show_char(c))}</th>" for c in r.vocab)
    rows = []
    for i, (context, target) in enumerate(r.pairs):
        t = r.vocab.index(target)

        def cells(values, fmt, target=t):
            return "".join(
                f'<td style="{"background:#bbf7d0;font-weight:600" if j == target else ""}">{fmt.format(v)}</td>'
                for j, v in enumerate(values))

        rows.append(
            f"<tr><td><b>{html.escape(context)}</b> → <b>{html.escape(target)}</b></td>"
            f"<td>{' '.join(str(int(v)) for v in r.one_hot[i])}</td>{cells(r.scores_before[i], '{:+.2f}')}"
            f"{cells(r.probs_before[i], '{:.2f}')}{cells(r.scores_after[i], '{:+.2f}')}"
            f"{cells(r.probs_after[i], '{:.2f}')}</tr>")
    table = (f'<div class="cl-grid"><table><tr><th>pair</th><th>one-hot input</th>'
             f'<th colspan="{len(r.vocab)}">scores before</th><th colspan="{len(r.vocab)}">softmax before</th>'
             f'<th colspan="{len(r.vocab)}">scores after</th><th colspan="{len(r.vocab)}">softmax after</th></tr>'
             f'<tr><th></th><th>{" ".join(map(html.escape, r.vocab))}</th>{head * 4}</tr>{"".join(rows)}</table>'
             f'<div class="cl-note">green: the right next letter. Loss {r.losses[0]:.3f} before, '
             f'{r.losses[-1]:.4f} after {len(r.losses)} steps of Adam.</div></div>')
    return table


def gradient_figure(vocab_size: int, text_ids: np.ndarray):
    fig, ax = new_figure(8, 3.6)
    colours = {"rnn": "#dc2626", "gru": "#16a34a", "lstm": "#2563eb"}
    for cell, model in fresh_models(vocab_size, hidden_size=128).items():
        curve = gradient_decay(model, text_ids)
        ax.semilogy(np.arange(len(curve)), np.maximum(curve, 1e-30), label=cell.upper(), color=colours[cell])
    ax.set_xlabel("k: steps back from the last character")
    ax.set_ylabel("gradient size (log scale)")
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


def guesses_html(text: str, guesses) -> str:
    spans = [html.escape(text[0])]
    for g in guesses:
        surprise = 1.0 - g.prob
        tip = html.escape(", ".join(f"{views.show_char(c)} {p:.0%}" for c, p in g.top) + f" | actual: {g.prob:.1%}")
        shown = "⏎<br>" if g.char == "\n" else html.escape(g.char)
        spans.append(f'<span title="{tip}" style="background:rgba(234,88,12,{surprise:.2f})">{shown}</span>')
    mean = -np.mean([np.log(max(g.prob, 1e-12)) for g in guesses])
    return (f'<div class="cl-text">{"".join(spans)}</div><div class="cl-note">average loss on this passage: '
            f'{mean:.3f} nats per character</div>')


def saturation_figure(sat: list[dict]):
    fig, ax = new_figure(7, 3)
    labels, closed, opened = [], [], []
    for layer, gates in enumerate(sat):
        for gate, (lo, hi) in gates.items():
            labels.append(f"L{layer} {gate}")
            closed.append(lo)
            opened.append(hi)
    y = np.arange(len(labels))
    ax.barh(y, closed, color="#64748b", label="nearly shut (< 0.1)")
    ax.barh(y, opened, left=closed, color="#f59e0b", label="wide open (> 0.9)")
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the passage")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def build(app, model_box, guarded) -> None:
    """Lay out tab 5 and wire its events (called inside the app's Blocks)."""
    cheap = {"concurrency_limit": None}
    heavy = {"concurrency_id": "heavy", "concurrency_limit": app.config.heavy_concurrency}
    with gr.Tab("5 · Inside the network", id="inside"):
        with gr.Accordion("The toy: h e l o", open=True):
            gr.Markdown(TOY)
            with gr.Row():
                word = gr.Textbox("hello", label="Word", info="2–40 characters, at least two different ones.")
                toy_cell = gr.Radio(["rnn", "lstm"], value="rnn", label="Cell")
                toy_steps = gr.Slider(1, 1000, value=300, step=1, label="Training steps")
            toy_btn = gr.Button("Train the toy")
            toy_msg = gr.Markdown()
            toy_out = gr.HTML()
        with gr.Accordion("Vanishing gradients", open=False):
            gr.Markdown(GRADIENTS)
            grad_btn = gr.Button("Measure")
            grad_msg = gr.Markdown()
            grad_plot = gr.Plot()
        with gr.Accordion("RNN vs GRU vs LSTM", open=False):
            gr.Markdown(COMPARE)
            cmp_seconds = gr.Slider(5, 120, value=20, step=5, label="Seconds of training per cell")
            cmp_btn = gr.Button("Train all three")
            cmp_msg = gr.Markdown()
            cmp_plot = gr.Plot()
        with gr.Accordion("What the cells track", open=False):
            gr.Markdown(CELLS)
            passage = gr.Textbox(DEFAULT_PASSAGE, lines=4, label="Passage (uses the model chosen in the Generate tab)")
            with gr.Row():
                layer = gr.Number(0, precision=0, label="Layer", minimum=0)
                unit = gr.Number(0, precision=0, label="Cell (unit)", minimum=0)
                quantity = gr.Radio(["cell", "hidden"], value="cell", label="Show",
                                    info="cell: the LSTM's memory c; hidden: its output h")
            look_btn = gr.Button("Look inside")
            look_msg = gr.Markdown()
            look_text = gr.HTML()
            look_features = gr.Markdown()
            look_gates = gr.Plot()
        with gr.Accordion("Next-character guesses", open=False):
            gr.Markdown(GUESSES)
            guess_btn = gr.Button("Show the guesses for the passage above")
            guess_msg = gr.Markdown()
            guess_out = gr.HTML()

    def run_toy(w, c, s):
        return "", toy_table(w, c, s)

    def run_gradients(request: gr.Request):
        corpus = app.corpus_for(app.visitor(request))
        if len(corpus.data) < 202:
            raise CharLMError("The loaded text is too short: it needs at least 202 characters.")
        ids = corpus.data[100:201]
        return "Untrained networks, 128 units, the same 101 characters of the loaded text.", gradient_figure(
            len(corpus.vocab), ids)

    def run_compare(seconds, request: gr.Request):
        visitor = app.visitor(request)
        corpus = app.corpus_for(visitor)
        if visitor.job is not None and not visitor.job.finished:
            yield "⚠️ A training is running in this tab: stop it first.", gr.skip()
            return
        curves = {}
        for cell in ("rnn", "gru", "lstm"):
            config = preset("quick", cell=cell, hidden_size=128, max_steps=0, max_seconds=float(seconds), epochs=50,
                            eval_every=50, eval_batches=5, save_every=0, sample_every=0)
            try:
                job = TrainingJob(corpus, config, visitor.folder / f"compare-{cell}", slots=app.slots,
                                  niceness=10).start()
            except CharLMError as err:
                yield f"⚠️ {err}", gr.skip()
                return
            visitor.job = job
            while not job.wait(1.0):
                snap = job.snapshot()
                yield f"Training {cell.upper()}: step {snap.step}, loss {snap.loss or float('nan'):.3f}", gr.skip()
            snap = job.snapshot()
            if snap.state == "failed":
                yield f"⚠️ {snap.error}", gr.skip()
                return
            curves[cell] = snap.val_loss
        fig, ax = new_figure(8, 3.6)
        for cell, points in curves.items():
            ax.plot([s for s, _ in points], [v for _, v in points], "o-", ms=3, label=cell.upper())
        ax.set_xlabel("step")
        ax.set_ylabel("validation loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        summary = ", ".join(f"{c.upper()} {p[-1][1]:.3f}" for c, p in curves.items() if p)
        yield f"Final validation loss after {seconds:g} s each: {summary}.", fig

    def sampler_for(label, request):
        return app.sampler_for(app.resolve_model(label, app.visitor(request)))

    def run_look(label, text, layer_index, unit_index, what, request: gr.Request):
        sampler = sampler_for(label, request)
        start = time.perf_counter()
        tr = trace(sampler, text)
        layer_index = int(layer_index or 0)
        if not 0 <= layer_index < len(tr.layers):
            raise CharLMError(f"This model has {len(tr.layers)} layer(s): choose a layer from 0 to {len(tr.layers) - 1}.")
        values = tr.layers[layer_index]
        key = what if what in values else "hidden"
        acts = values[key]
        unit_index = int(unit_index or 0)
        if not 0 <= unit_index < acts.shape[1]:
            raise CharLMError(f"Layers have {acts.shape[1]} cells: choose one from 0 to {acts.shape[1] - 1}.")
        found = feature_correlations(acts, text_features(text))
        lines = [f"- **{name}**: " + ", ".join(f"cell {i} (r = {r:+.2f})" for i, r in cells)
                 for name, cells in found.items()]
        sat = gate_saturation(tr)
        gates = saturation_figure(sat) if any(sat) else None
        note = (f"Layer {layer_index}, cell {unit_index}, {key} ({time.perf_counter() - start:.2f} s)."
                + ("" if key == what else " This model has no cell state: showing the hidden state."))
        return note, coloured_text(text, acts[:, unit_index]), "Cells that follow a feature in this passage "\
            f"(layer {layer_index}):\n" + "\n".join(lines), gates

    def run_guesses(label, text, request: gr.Request):
        sampler = sampler_for(label, request)
        if len(text) < 2:
            raise CharLMError("The passage needs at least two characters.")
        return "", guesses_html(text, next_char_guesses(sampler, text))

    toy_btn.click(guarded(2)(run_toy), [word, toy_cell, toy_steps], [toy_msg, toy_out], api_name="toy", **heavy)
    grad_btn.click(guarded(2)(run_gradients), None, [grad_msg, grad_plot], api_name="gradient_decay", **heavy)
    cmp_btn.click(run_compare, cmp_seconds, [cmp_msg, cmp_plot], api_name="compare_cells", **heavy)
    look_btn.click(guarded(4)(run_look), [model_box, passage, layer, unit, quantity],
                   [look_msg, look_text, look_features, look_gates], api_name="look_inside", **heavy)
    guess_btn.click(guarded(2)(run_guesses), [model_box, passage], [guess_msg, guess_out],
                    api_name="next_char_guesses", **cheap)
