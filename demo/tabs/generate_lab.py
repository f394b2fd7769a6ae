"""The Generate tab's sampling lab (chapter §5, step 12): six ways of choosing the next character side by
side, from the tab's own model, prime and seed (maths in charlm.lessons.strategies, drawing in demo.diagrams).
A section of the Generate tab, built by it: not a tab of its own."""

from __future__ import annotations

import time

import gradio as gr

from charlm.lessons.strategies import LAB, distribution_at, sampling_lab

from .. import diagrams, views
from ..context import Context
from ..fields import LAB_AT, LAB_LENGTH_FIELD, checked_prime, given_seed, seed_to_use
from ..i18n import I18N, t
from .generate_state import GenerateView

LAB_START = (200, 20)  # the lab's length and position on arrival


def run(ctx: Context, label, prime_text, n_chars, position, seed_value, request: gr.Request):
    """A new run draws a new seed when the box is empty, and looks where the model was least sure in the
    chapter's sample (``position`` None); moving the position keeps the run's seed."""
    visitor, lang = ctx.visitor(request), ctx.lang(request)
    sampler = ctx.models.sampler_for(label, visitor)
    n_chars = LAB_LENGTH_FIELD.parse(n_chars)
    prime_text = checked_prime(prime_text)
    seed_now = seed_to_use(given_seed(seed_value))
    visitor.state_of(GenerateView).last_seed = seed_now
    start = time.perf_counter()
    runs = sampling_lab(sampler, prime_text, n_chars, seed_now)
    chapter = next(r for r in runs if r.strategy.key == "top_n")
    position = chapter.most_uncertain if position is None else min(LAB_AT.parse(position), n_chars - 1)
    dist = distribution_at(sampler, prime_text + chapter.text[:position])
    shown_prime = f"`{views.show_char(prime_text[-20:])}`"
    return (
        t("lab.note", lang, seed=seed_now, prime=shown_prime, length=n_chars, seconds=time.perf_counter() - start),
        gr.update(maximum=n_chars - 1, value=position),
        diagrams.lab_html(runs, lang),
        diagrams.distribution_html(dist, LAB, lang),
    )


def move(ctx: Context, label, prime_text, n_chars, position, seed_value, request: gr.Request):
    keep = given_seed(seed_value)
    return run(
        ctx,
        label,
        prime_text,
        n_chars,
        position,
        keep if keep is not None else ctx.visitor(request).state_of(GenerateView).last_seed,
        request,
    )


def first_look(ctx: Context, label, prime_text, n_chars, seed_value, request: gr.Request):
    return run(ctx, label, prime_text, n_chars, None, seed_value, request)


def build(ctx: Context, model_box, prime, seed_box) -> None:
    """The lab's accordion, wired to the Generate tab's model, prime and seed boxes."""
    with gr.Accordion(I18N("lab.title"), open=False, elem_id="lab"):
        gr.Markdown(I18N("lab.explain"))
        with gr.Row():
            length = LAB_LENGTH_FIELD.component(LAB_START[0], elem_id="lab-length")
            at = LAB_AT.component(LAB_START[1], maximum=LAB_START[0] - 1, elem_id="lab-at")
        run_btn = gr.Button(I18N("lab.button"), elem_id="lab-run")
        note = gr.Markdown()
        samples = gr.HTML(elem_id="lab-samples")
        table = gr.HTML(elem_id="lab-table")

    inputs, outputs = [model_box, prime, length, at, seed_box], [note, at, samples, table]

    ctx.on(
        run_btn.click, first_look, [model_box, prime, length, seed_box], outputs, heavy=True, api_name="sampling_lab"
    )
    ctx.on(
        at.release,
        move,
        inputs,
        outputs,
        heavy=True,
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="minimal",
    )
