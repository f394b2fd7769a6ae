"""Tab 1, the ideas (chapter §1-4): the h-e-l-o toy, vanishing gradients, and RNN vs GRU vs LSTM
trained side by side (maths in charlm.lessons: toy, gradients, race)."""

from __future__ import annotations

import gradio as gr
import numpy as np

from charlm.lessons.gradients import gradient_curves
from charlm.lessons.race import RACE_SEEDS, comparison_config, long_race
from charlm.lessons.recall import gaps_up_to, recall_experiment
from charlm.lessons.toy import toy_model
from charlm.network.cells import simplest_first
from charlm.serving.jobs import TrainingJob

from .. import figures, views
from ..context import Context
from ..fields import COMPARE_STEPS, RECALL_GAP, TOY_CELL, TOY_STEPS
from ..i18n import I18N, WARNING, t

ID, TITLE = "ideas", "tab.ideas"
SHORT_RACE_STEPS = 200  # the live race's default length, where the long race is compared with it


def run_toy(ctx: Context, text, cell, steps, request: gr.Request):
    result = toy_model(text, cell=TOY_CELL.parse(cell), steps=TOY_STEPS.parse(steps))
    return "", views.toy_table(result, ctx.lang(request))


def run_gradients(ctx: Context, request: gr.Request):
    corpus = ctx.corpus(ctx.visitor(request))
    lang = ctx.lang(request)
    curves = gradient_curves(len(corpus.vocab), corpus.data)
    return t("grad.note", lang), figures.picture(figures.gradient_figure, curves, lang)


def run_compare(ctx: Context, steps, request: gr.Request):
    """Each cell, several seeds, the same steps and about the same parameters; validation curves as they come,
    the time each run took beside them (the cost, not the result)."""
    visitor, lang = ctx.visitor(request), ctx.lang(request)
    steps, corpus = COMPARE_STEPS.parse(steps), ctx.corpus(visitor)
    runs: dict[str, list[list[tuple[int, float]]]] = {}
    seconds: dict[str, list[float]] = {}
    for cell in simplest_first():
        for seed in RACE_SEEDS:
            config = comparison_config(cell, steps, len(corpus.vocab), seed)
            with visitor.starting:  # one training per visitor, the race's included
                busy = visitor.job is not None and not visitor.job.finished
                if not busy:
                    job = TrainingJob(
                        corpus, config, visitor.folder / f"compare-{cell}-{seed}", slots=ctx.slots, niceness=10
                    ).start()
                    visitor.job = job
            if busy:
                yield WARNING + t("cmp.busy", lang), gr.skip()
                return
            try:
                while not job.wait(1.0):
                    snap = job.snapshot()
                    yield (
                        t(
                            "cmp.progress",
                            lang,
                            cell=cell.upper(),
                            seed=seed + 1,
                            seeds=len(RACE_SEEDS),
                            hidden=config.hidden_size,
                            step=snap.step,
                            loss=snap.loss or float("nan"),
                        ),
                        gr.skip(),
                    )
            finally:  # the page went away (Gradio closes this generator): so does the work
                if not job.finished:
                    job.stop()
            snap = job.snapshot()
            if snap.state == "failed":
                yield WARNING + views.failure_text(snap, lang), gr.skip()
                return
            runs.setdefault(cell, []).append(snap.val_loss)
            seconds.setdefault(cell, []).append(snap.elapsed)
        yield gr.skip(), figures.picture(figures.compare_figure, runs, lang)
    summary = t("punct.comma", lang).join(
        t(
            "cmp.cell",
            lang,
            cell=c.upper(),
            mean=float(np.mean([r[-1][1] for r in rs])),
            spread=float(np.ptp([r[-1][1] for r in rs])) / 2,
            seconds=float(np.mean(seconds[c])),
        )
        for c, rs in runs.items()
        if all(rs)
    )
    yield t("cmp.final", lang, steps=steps, seeds=len(RACE_SEEDS), summary=summary), gr.skip()


def long_race_view(ctx: Context, request: gr.Request):
    """The race run long (``scripts/long_race.py``, shipped as data): its curves and what they show, at once."""
    lang = ctx.lang(request)
    race = long_race()
    if race is None:
        return "", None
    finals = {cell: race.final(cell) for cell in race.curves}
    order = sorted(finals, key=lambda cell: finals[cell][0])
    summary = t("punct.comma", lang).join(
        t("cmp.long_cell", lang, cell=cell.upper(), mean=finals[cell][0], spread=finals[cell][1]) for cell in order
    )
    seeds = min(len(curves) for curves in race.curves.values())
    early = SHORT_RACE_STEPS
    best, last = order[0], order[-1]
    note = t(
        "cmp.long_note",
        lang,
        steps=race.steps,
        seeds=seeds,
        summary=summary,
        best=best.upper(),
        command=race.command,
    ) + t(
        "cmp.long_gap",
        lang,
        last=last.upper(),
        best=best.upper(),
        early=early,
        gap_early=race.mean_at(last, early) - race.mean_at(best, early),
        steps=race.steps,
        gap_end=finals[last][0] - finals[best][0],
    )
    return note, figures.picture(figures.compare_figure, race.curves, lang)


def run_recall(ctx: Context, longest, request: gr.Request):
    """The sweep, cell by cell: each result drawn as it comes (a minute or so for the whole of it)."""
    lang, results = ctx.lang(request), []
    total = len(simplest_first()) * len(gaps_up_to(RECALL_GAP.parse(longest)))
    for result in recall_experiment(RECALL_GAP.parse(longest)):
        results.append(result)
        yield (
            t(
                "recall.progress",
                lang,
                done=len(results),
                total=total,
                cell=result.cell.upper(),
                gap=result.gap,
                accuracy=result.accuracy,
                seconds=result.seconds,
            ),
            figures.picture(figures.recall_figure, results, lang),
        )
    longest_gap = max(r.gap for r in results)
    at_longest = ", ".join(f"{r.cell.upper()} {r.accuracy:.0%}" for r in results if r.gap == longest_gap)
    yield t("recall.final", lang, gap=longest_gap, summary=at_longest), gr.skip()


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.ideas"))
    with gr.Accordion(I18N("toy.title"), open=True):
        gr.Markdown(I18N("toy.explain"))
        with gr.Row():
            word = gr.Textbox("hello", label=I18N("toy.word"), info=I18N("toy.word_info"))
            toy_cell = TOY_CELL.component("rnn")
            toy_steps = TOY_STEPS.component(300)
        toy_btn = gr.Button(I18N("toy.button"), elem_id="train-toy")
        toy_msg, toy_out = gr.Markdown(), gr.HTML(elem_id="ideas-toy")
    with gr.Accordion(I18N("grad.title"), open=False):
        gr.Markdown(I18N("grad.explain"))
        grad_btn = gr.Button(I18N("grad.button"))
        grad_msg, grad_plot = gr.Markdown(), figures.figure_box(elem_id="gradient-plot")
    with gr.Accordion(I18N("cmp.title"), open=False):
        gr.Markdown(I18N("cmp.explain"))
        cmp_steps = COMPARE_STEPS.component(SHORT_RACE_STEPS)
        cmp_btn = gr.Button(I18N("cmp.button"))
        cmp_msg, cmp_plot = gr.Markdown(), figures.figure_box(elem_id="compare-plot")
        long_msg, long_plot = gr.Markdown(elem_id="long-race-msg"), figures.figure_box(elem_id="long-race-plot")
    with gr.Accordion(I18N("recall.title"), open=False):
        gr.Markdown(I18N("recall.explain"))
        recall_gap = RECALL_GAP.component(40)
        recall_btn = gr.Button(I18N("recall.button"), elem_id="recall-btn")
        recall_msg, recall_plot = gr.Markdown(elem_id="recall-msg"), figures.figure_box(elem_id="recall-plot")

    ctx.link("word", word)
    ctx.link(TOY_CELL, toy_cell)
    ctx.link(TOY_STEPS, toy_steps)
    ctx.link(COMPARE_STEPS, cmp_steps)
    ctx.link(RECALL_GAP, recall_gap)

    ctx.on(toy_btn.click, run_toy, [word, toy_cell, toy_steps], [toy_msg, toy_out], heavy=True, api_name="toy")
    ctx.on(grad_btn.click, run_gradients, None, [grad_msg, grad_plot], heavy=True, api_name="gradient_decay")
    ctx.on(cmp_btn.click, run_compare, cmp_steps, [cmp_msg, cmp_plot], heavy=True, api_name="compare_cells")
    ctx.refresh("long_race", long_race_view, [], [long_msg, long_plot], on=("open", "language"))
    ctx.on(recall_btn.click, run_recall, recall_gap, [recall_msg, recall_plot], heavy=True, api_name="recall")
