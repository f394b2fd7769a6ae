"""Tab 4, training (chapter §5.4-5.11): presets and every setting, Start/Stop/Resume, the live log."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from charlm import list_checkpoints, load_checkpoint
from charlm.lessons.shapes import io_patterns, model_shapes
from charlm.lessons.step_by_step import OneBatch
from charlm.serving.jobs import TrainingJob
from charlm.training.config import resume_config
from charlm.training.memory import check_training_memory, run_disk_bytes
from charlm.training.resume import check_resumable

from .. import diagrams, fields, figures, views
from ..context import Context, holder
from ..fields import TRAIN_FORM, checked_preset, config_from_form, preset_values
from ..i18n import I18N, AppError, t
from ..sessions import Visitor
from .corpus import corpus_title

ID, TITLE = "train", "tab.train"
FIRST_ROW = 5  # the form's first fields (the model) in one row, the rest (batches, optimiser, length) below
STOP_WAIT = 30  # seconds a Start waits for the visitor's stopped run to save its checkpoint and end


@dataclass
class TrainView:
    """What the Train tab keeps per visitor (``Visitor.state_of(TrainView)``)."""

    plotted: tuple = ()  # what the loss figure last showed, to skip redrawing it
    # One batch's run: (the text and settings it was made with, the stepper, or its checkpoint when it was put
    # away to make room for others), replaced when the text or the settings change
    batch_steps: tuple[tuple, OneBatch | Path] | None = None


def start_training(
    ctx: Context, request: gr.Request, preset_name: str, *values
):  # the request first: the form's length varies
    visitor = ctx.visitor(request)
    corpus = ctx.corpus(visitor)
    config = config_from_form(
        preset_name, *values, max_seconds=ctx.config.max_job_minutes * 60, device=ctx.runner.device
    )
    check_training_memory(config, len(corpus.vocab), ctx.config.job_memory_bytes)
    with visitor.starting:
        finish_stopping(visitor)
        if visitor.job is not None and not visitor.job.finished:
            raise AppError("err.already_training")
        check_address_cap(ctx, visitor)
        ctx.disk.check(run_disk_bytes(config, len(corpus.vocab)))  # the class's files together, Gradio's too
        visitor.make_room(run_disk_bytes(config, len(corpus.vocab)), ctx.config.session_disk_mb << 20)
        job = TrainingJob(
            corpus,
            config,
            visitor.run_dir_for(visitor.run + 1),
            slots=ctx.slots,
            niceness=10,
            priority=visitor.teacher,
        )
        ctx.runner.start(job)
        visitor.job = job
        visitor.run += 1  # earlier runs' checkpoints stay available in the Generate tab (the last few)
        visitor.prune_runs()
    lang = ctx.lang(request)
    started = (
        "train.started",
        dict(
            corpus=corpus_title(corpus.name, lang),
            layers=config.num_layers,
            hidden=config.hidden_size,
            cell=config.cell,
        ),
    )
    yield in_line(ctx, visitor, job, started, lang), gr.Timer(active=True)
    yield from follow(ctx, job)


def resume_training(ctx: Context, request: gr.Request, preset_name: str, *values):
    visitor = ctx.visitor(request)
    with visitor.starting:
        finish_stopping(visitor)
        if visitor.job is not None and not visitor.job.finished:
            raise AppError("err.still_training")
        check_address_cap(ctx, visitor)
        latest = list_checkpoints(visitor.run_dir)
        if not latest or visitor.corpus is None:
            raise AppError("err.nothing_to_resume")
        ckpt = load_checkpoint(latest[-1])
        limit = ctx.config.max_job_minutes * 60  # more of it: the clock goes on from the checkpoint's
        until = ckpt.progress.elapsed + limit if limit else 0.0
        requested = config_from_form(preset_name, *values, max_seconds=until, device=ctx.runner.device)
        config = resume_config(ckpt.train_config, requested)
        check_resumable(ckpt, visitor.corpus, config)  # before saying "Resumed"
        check_training_memory(config, len(ckpt.vocab), ctx.config.job_memory_bytes)
        job = TrainingJob(
            visitor.corpus,
            config,
            visitor.run_dir,
            resume=ckpt,
            slots=ctx.slots,
            niceness=10,
            priority=visitor.teacher,
        )
        ctx.runner.start(job)
        visitor.job = job
    resumed = ("train.resumed", dict(step=ckpt.progress.step))
    yield in_line(ctx, visitor, job, resumed, ctx.lang(request)), gr.Timer(active=True)
    yield from follow(ctx, job)


def finish_stopping(visitor: Visitor) -> None:
    """Stop, then Start at once: the stopped run is measuring its held-out loss and saving its last
    checkpoint; wait for it (seconds), as the visitor expects, rather than tell them to stop a training they
    have just stopped; past ``STOP_WAIT``, say that it is still stopping."""
    if visitor.job is not None and visitor.job.stopping and not visitor.job.wait(STOP_WAIT):
        raise AppError("err.still_stopping")


def in_line(ctx: Context, visitor: Visitor, job: TrainingJob, started: tuple[str, dict], lang: str) -> str:
    """What Start says: started, or (every slot taken) the place in line and that it will start by itself."""
    snap = job.snapshot()
    if snap.state == "waiting":
        return visitor.say("train", "train.in_line", lang, place=snap.place, limit=ctx.slots.limit)
    key, params = started
    return visitor.say("train", key, lang, **params)


def check_address_cap(ctx: Context, visitor: Visitor) -> None:
    """One network address holds at most ``places_per_address`` trainings, running or waiting: a script with a
    thousand sessions cannot fill the line, while a class behind one router (set it high for them) is served."""
    cap = ctx.config.places_per_address
    if cap and visitor.address and not visitor.teacher and ctx.places_taken_from(visitor.address) >= cap:
        raise AppError("err.address_cap", n=cap)


def line_message(ctx: Context, visitor: Visitor, snap, lang: str):
    """The message under the buttons, kept true as the job moves: "number 3 in line" follows the place, and goes
    once the training starts ("started" too once it ends: the status line then says more)."""
    key, _ = visitor.said.get("train", ("", {}))
    if key == "train.in_line":
        if snap.state == "waiting":
            return visitor.say("train", "train.in_line", lang, place=snap.place, limit=ctx.slots.limit)
        visitor.said.pop("train")
        return ""
    if snap.finished and visitor.said.pop("train", None):  # "started", "stopping": the status line says more
        return ""
    return gr.skip()


def follow(ctx: Context, job: TrainingJob):
    """While the runner trains in this event (chunks on a GPU), say nothing new once a second: the event
    stays open, which is what charges the GPU to this visitor, and Gradio notices if the page goes away."""
    last = time.monotonic()
    for _ in ctx.runner.follow(job):
        if time.monotonic() - last >= 1.0:
            last = time.monotonic()
            yield gr.skip(), gr.skip()


def one_batch(ctx: Context, request: gr.Request, preset_name: str, *values):
    """One step of the run these settings would start, each stage in numbers; the next press takes the next
    batch (new settings or a new text: a new run)."""
    visitor = ctx.visitor(request)
    corpus = ctx.corpus(visitor)
    config = config_from_form(preset_name, *values, device="cpu")
    key = (visitor.texts_loaded, config)
    mine = visitor.state_of(TrainView)
    need, owner = OneBatch.memory_bytes(config, len(corpus.vocab)), holder(visitor, "one-batch")
    with ctx.memory.hold(need, owner=owner):  # the stepper is the visitor's own while this runs
        if mine.batch_steps is None or mine.batch_steps[0] != key:
            check_training_memory(config, len(corpus.vocab), ctx.config.job_memory_bytes)
            mine.batch_steps = (key, OneBatch(corpus, config))
        elif isinstance(mine.batch_steps[1], Path):  # put away while others needed the room: taken up again
            mine.batch_steps = (key, OneBatch(corpus, config, resume=load_checkpoint(mine.batch_steps[1])))
        stepper = mine.batch_steps[1]
        step = stepper.step()
    ctx.memory.keep(owner, need, functools.partial(put_steps_away, visitor, stepper))
    return views.batch_step_text(step, ctx.lang(request))


def put_steps_away(visitor: Visitor, stepper: OneBatch) -> None:
    """One batch's run out of memory, into the visitor's folder: the next press goes on from there, exactly."""
    mine = visitor.state_of(TrainView)
    if mine.batch_steps is not None and mine.batch_steps[1] is stepper:
        saved = stepper.put_away(visitor.folder / "one-batch")
        mine.batch_steps = (mine.batch_steps[0], saved) if saved is not None else None


def shapes(ctx: Context, request: gr.Request, preset_name: str, *values):
    """The chapter's four input/output patterns where the app uses them, then one training step's tensors:
    both with the shapes these settings give."""
    config, lang = config_from_form(preset_name, *values), ctx.lang(request)
    vocab_size = len(ctx.corpus(ctx.visitor(request)).vocab)
    return diagrams.patterns_html(io_patterns(config, vocab_size), lang) + views.shapes_html(
        model_shapes(config, vocab_size), lang
    )


def stop_training(ctx: Context, request: gr.Request):
    visitor = ctx.visitor(request)
    if visitor.job is None or visitor.job.finished:
        return visitor.say("train", "train.not_running", ctx.lang(request))
    visitor.job.stop()
    return visitor.say("train", "train.stopping", ctx.lang(request))


SAMPLES_SHOWN = 30  # the latest samples the Train tab lists (one every 100 steps: 3,000 steps' worth)


def samples_text(samples: list[tuple[int, str]], lang: str) -> str:
    """Every sample of the run so far, the newest first, each under the step that wrote it: the chapter's
    figure of samples improving, growing as the class watches (gibberish at step 100, words by 1,000)."""
    shown = samples[::-1][:SAMPLES_SHOWN]
    return "\n\n".join(t("train.sample_header", lang, step=step) + "\n" + text for step, text in shown)


def training_status(ctx: Context, request: gr.Request):
    visitor = ctx.visitor(request)
    lang = ctx.lang(request)
    if visitor.job is None:  # none started, or (a page from before a restart) none this server knows
        empty = figures.empty_loss_picture(lang)
        said = t("train.lost" if visitor.page_from_before else "train.none_yet", lang)
        return said, empty, "", [], gr.Timer(active=False), gr.skip(), ""
    snap = visitor.job.snapshot()
    sample = samples_text(snap.samples, lang)
    # redraw the figure only when there is something new to show (or in another language)
    key = (id(visitor.job), snap.step, len(snap.val_loss), lang)
    job = visitor.job
    mine = visitor.state_of(TrainView)
    figure = (
        gr.skip()
        if key == mine.plotted
        else figures.picture(figures.loss_figure, snap, lang, frequencies=job.facts.unigram_entropy)
    )
    mine.plotted = key
    files = visitor.offer(snap.checkpoints[-3:])  # links: pruning cannot pull a file from under Gradio's copy
    message = line_message(ctx, visitor, snap, lang)
    return (
        views.status_line(snap, lang),
        figure,
        sample,
        files,
        gr.Timer(active=not snap.finished),  # the snapshot drawn: polling ends only once "stopped" is shown
        message,
        views.coach_text(job.findings(snap), lang),
    )


def status_in_language(ctx: Context, request: gr.Request):
    """After a language switch: the status, and the last message said again in the new language."""
    *shown_now, _, coach_now = training_status(ctx, request)
    return *shown_now, ctx.visitor(request).said_again("train", ctx.lang(request)), coach_now


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.train"))
    defaults = dict(zip((f.name for f in TRAIN_FORM), preset_values(fields.UI_PRESETS[0])))
    with gr.Row():
        preset_box = gr.Dropdown(
            list(fields.UI_PRESETS), value=fields.UI_PRESETS[0], label=I18N("train.preset"), info=I18N("hint.preset")
        )
        form = [f.component(defaults[f.name]) for f in TRAIN_FORM[: FIRST_ROW - 1]]
    with gr.Row():
        form += [f.component(defaults[f.name]) for f in TRAIN_FORM[FIRST_ROW - 1 :]]
    with gr.Row():
        start_btn = gr.Button(I18N("train.start"), variant="primary", elem_id="start-training")
        stop_btn = gr.Button(I18N("train.stop"), variant="stop", elem_id="stop-training")
        resume_btn = gr.Button(I18N("train.resume"), elem_id="resume-training")
        one_batch_btn = gr.Button(I18N("step.button"), elem_id="one-batch")
    with gr.Accordion(I18N("shape.title"), open=False):
        shapes_view = gr.HTML(elem_id="shapes")  # what each setting changes, from the inputs to the loss
    message = gr.Markdown(elem_id="train-message")
    step_view = gr.Markdown(elem_id="step-view")  # one batch, stage by stage
    status = gr.Markdown(I18N("train.no_training"), elem_id="train-status")
    coach = gr.Markdown(elem_id="coach")  # what the curve says, live and after the run
    with gr.Row(elem_classes=["cl-pair"]):  # side by side on a laptop; stacked at a projector, the curve full width
        loss_plot = figures.figure_box(elem_id="loss-plot")
        sample_box = gr.Textbox(
            label=I18N("train.sample"), lines=6, max_lines=16, interactive=False, elem_id="train-sample"
        )
    ckpt_files = gr.File(label=I18N("train.checkpoints"), file_count="multiple", interactive=False)
    timer = gr.Timer(1.0, active=False)
    shown = [status, loss_plot, sample_box, ckpt_files, timer]

    with_form = [preset_box, *form]
    ctx.link("preset", preset_box, checked_preset)
    for f, component in zip(TRAIN_FORM, form, strict=True):
        ctx.link(f, component)
    # .input: a visitor's choice fills the form; a link that sets a preset and a learning rate keeps both
    ctx.on(preset_box.input, preset_values, preset_box, form, api_name="preset_values")
    # In chunks, a training's own event drives it for as long as it runs (or waits in line, asleep): those
    # events get a pool of their own, room for the trainings and three times as many in line.
    pool = ("training", 4 * ctx.config.max_jobs) if ctx.runner.name == "chunks" else None
    ctx.on(
        start_btn.click, start_training, with_form, [message, timer], heavy=True, pool=pool, api_name="start_training"
    )
    ctx.on(
        resume_btn.click,
        resume_training,
        with_form,
        [message, timer],
        heavy=True,
        pool=pool,
        api_name="resume_training",
    )
    ctx.on(stop_btn.click, stop_training, None, message, api_name="stop_training")
    ctx.on(one_batch_btn.click, one_batch, with_form, step_view, heavy=True, api_name="one_batch")
    ctx.on(
        functools.partial(gr.on, [c.change for c in with_form]),
        shapes,
        with_form,
        shapes_view,
        api_name="shapes",
        trigger_mode="always_last",
    )
    ctx.refresh("shapes", shapes, with_form, [shapes_view], on=("open", "language", "corpus"))
    ctx.on(timer.tick, training_status, None, [*shown, message, coach], api_name="training_status")
    ctx.refresh("status", status_in_language, [], [*shown, message, coach], on=("open", "language"))
