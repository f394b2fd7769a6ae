"""Tab 5, sampling (chapter §5.12): a model, a prime, top-N and temperature; the text streams in,
and the next-character distribution shows which characters can be drawn."""

from __future__ import annotations

import time

import gradio as gr

from charlm.lessons.step_by_step import OneCharacter
from charlm.sampling.pick import readable_prime
from charlm.sampling.sampler import Sampler

from .. import views
from ..context import Context
from ..disk import uploaded_size
from ..fields import LENGTH, PRIME_LIMIT, SEED, TEMPERATURE, TOP_N, checked_prime, given_seed, seed_to_use
from ..i18n import I18N, AppError, t
from ..locales import LOCALES
from . import generate_lab
from .generate_state import GenerateView

ID, TITLE = "generate", "tab.generate"
IN_TOP, OUT_OF_TOP = "#f59e0b", "#94a3b8"
# What the text box shows on arrival: the chapter's prime, its top-N, and a seed whose text was read and found
# fit for a classroom's projector (the shipped 2x512 model; a few dialogue lines). Generate draws a new seed.
DEMO_PRIME, DEMO_LENGTH, DEMO_TOP_N, DEMO_SEED = "Far", 400, 4, 2


_demo_texts: dict[str, str] = {}


SHOWN_PER_SECOND = 100  # the page's text updates per second, for all the visitors generating together


def shown_every(streaming: int) -> float:
    """Seconds between two updates of one visitor's text: 20 a second alone, less often when a class shares
    the model, since every update costs the server (and each visitor's browser) the same whatever it adds;
    thirty at once see their texts grow about three times a second, in longer pieces."""
    return max(0.05, streaming / SHOWN_PER_SECOND)


def demo_text(label: str, sampler: Sampler) -> str:
    """The arrival text of a shipped model, written once for everyone (a class opening the page at once)."""
    if label not in _demo_texts:
        _demo_texts[label] = sampler.generate(DEMO_PRIME, DEMO_LENGTH, DEMO_TOP_N, 1.0, DEMO_SEED)
    return _demo_texts[label]


def model_choices(ctx: Context, request: gr.Request):
    return ctx.models.choices(ctx.visitor(request), ctx.lang(request))


def upload_checkpoint(ctx: Context, upload, request: gr.Request):
    visitor, lang = ctx.visitor(request), ctx.lang(request)
    if upload:
        ctx.disk.check(uploaded_size(upload))
    label = ctx.models.add_upload(visitor, upload, ctx.config.session_disk_mb << 20)
    return (
        visitor.say("gen", "gen.loaded", lang, label=visitor.model_names[label][lang]),
        ctx.models.choices(visitor, lang, select=label),
    )


def next_char(ctx: Context, label, prime_text, temp, top, request: gr.Request):
    sampler = ctx.models.sampler_for(label, ctx.visitor(request))
    temp, top = TEMPERATURE.parse(temp), TOP_N.parse(top)
    top = min(top, len(sampler.vocab))
    probs = sampler.next_char_distribution(checked_prime(prime_text), temp)
    tail = prime_text[-12:] if len(prime_text) > 1 else prime_text[-1:]
    lang = ctx.lang(request)
    frame = views.probability_frame(probs, sampler.vocab, top, lang)
    note = t(
        "gen.next_note",
        lang,
        prime=views.show_char(tail),
        shown=len(frame),
        size=len(sampler.vocab),
        temperature=temp,
        top_n=top,
    )
    return note, frame, gr.update(maximum=len(sampler.vocab))


def prime_for_model(ctx: Context, label, prime_text, request: gr.Request):
    """The prime stays when the chosen model can read it; else it becomes one the model can: the opening of
    the visitor's text when the model was trained on it (a student's Chinese novel opens on its own first
    words), else a letter of the model's vocabulary."""
    visitor = ctx.visitor(request)
    vocab = ctx.models.sampler_for(label, visitor).vocab
    corpus = visitor.corpus
    text = corpus.opening(2000) if corpus is not None and corpus.vocab.chars == vocab.chars else ""
    prime = readable_prime(vocab, prime_text, text)
    return gr.skip() if prime == prime_text else prime


def generate(ctx: Context, label, prime_text, n_chars, top, temp, seed_value, request: gr.Request):
    visitor, lang = ctx.visitor(request), ctx.lang(request)
    mine = visitor.state_of(GenerateView)
    writer = ctx.models.writer_for(label, visitor)  # with everyone generating with this model, in one batch
    sampler = writer.sampler
    n_chars, top, temp = LENGTH.parse(n_chars), TOP_N.parse(top), TEMPERATURE.parse(temp)
    if top > len(sampler.vocab):
        raise AppError("err.top_n_vocab", size=len(sampler.vocab), value=top)
    # no seed: a new one, shown when done, so that any text can be written again
    seed_value = seed_to_use(given_seed(seed_value))
    mine.last_seed = seed_value
    prime_text = checked_prime(prime_text)
    mine.generation += 1
    ticket = mine.generation
    text, last = prime_text, 0.0  # the first character is shown at once
    for i, ch in enumerate(writer.stream(prime_text, n_chars, top, temp, seed_value)):
        text += ch
        if mine.generation != ticket:  # Stop was pressed
            yield text, visitor.say("gen", "gen.stopped_after", lang, n=i + 1)
            return
        if time.monotonic() - last > shown_every(writer.sharing):
            yield text, t("gen.progress", lang, i=i + 1, n=n_chars)
            # counted from when the page took it: a busy server's round trip can outlast the interval, and
            # counted from before, every character written meanwhile would be sent on its own round trip
            last = time.monotonic()
    yield text, visitor.say("gen", "gen.done", lang, n=n_chars, seed=seed_value)


def one_character(ctx: Context, label, prime_text, top, temp, seed_value, shown_text, request: gr.Request):
    """The next character, each stage shown: after the text in the box when it goes on from the prime (a finished
    generation continues), else after the prime; the chart beside it shows the distribution it was drawn from."""
    visitor, lang = ctx.visitor(request), ctx.lang(request)
    mine = visitor.state_of(GenerateView)
    sampler = ctx.models.sampler_for(label, visitor)
    top, temp = TOP_N.parse(top), TEMPERATURE.parse(temp)
    given = given_seed(seed_value)
    key = (label, top, temp, given)
    going_on = mine.char_steps is not None and mine.char_steps[0] == key and mine.char_steps[1].text == shown_text
    if not going_on:
        start = checked_prime(prime_text)
        if isinstance(shown_text, str) and shown_text.startswith(start) and not sampler.vocab.unknown_chars(shown_text):
            start = shown_text[-PRIME_LIMIT:]  # the generated text goes on
        seed_now = seed_to_use(given)
        mine.last_seed = seed_now
        mine.char_steps = (key, OneCharacter(sampler, start, top, temp, seed_now))
    stepper = mine.char_steps[1]
    step = stepper.step()
    before = stepper.text[:-1]
    frame = views.probability_frame(step.probs, sampler.vocab, top, lang)
    note = t(
        "gen.next_note",
        lang,
        prime=views.show_char(before[-12:]),
        shown=len(frame),
        size=len(sampler.vocab),
        temperature=temp,
        top_n=top,
    )
    return stepper.text, "", views.char_step_html(step, sampler.vocab, mine.last_seed, lang), note, frame


def keep_this_seed(ctx: Context, keep: bool, request: gr.Request):
    """Checked: the latest generation's seed goes in the box and stays (a new one if none yet); unchecked:
    the box empties, and each Generate draws a new seed."""
    mine = ctx.visitor(request).state_of(GenerateView)
    if not keep:
        return None
    if mine.last_seed is None:
        mine.last_seed = seed_to_use(None)
    return mine.last_seed


def arrival_text(ctx: Context, label, request: gr.Request):
    """The example on arrival (the shipped models only: a visitor's own run has no vetted seed)."""
    lang = ctx.lang(request)
    if label not in ctx.models.shipped():
        return gr.skip(), gr.skip()
    visitor = ctx.visitor(request)
    sampler = ctx.models.sampler_for(label, visitor)
    example = demo_text(label, sampler)
    mine = visitor.state_of(GenerateView)
    # late (a first visitor's page can take seconds to open): the visitor's own text is there, and stays
    if mine.generation or mine.char_steps is not None:
        return gr.skip(), gr.skip()
    return example, visitor.say("gen", "gen.example", lang, seed=DEMO_SEED)


def status_in_language(ctx: Context, request: gr.Request):
    return ctx.visitor(request).said_again("gen", ctx.lang(request))


def stop_generation(ctx: Context, request: gr.Request):
    visitor = ctx.visitor(request)
    visitor.state_of(GenerateView).generation += 1  # the running generation sees it and ends
    return visitor.say("gen", "gen.stopped", ctx.lang(request))


def build(ctx: Context, tab: gr.Tab) -> None:
    """The tab's layout and wiring, inside its open ``tab``; what it does is in the handlers above."""
    gr.Markdown(I18N("explain.generate"))
    with gr.Row():
        model_box = gr.Dropdown([], label=I18N("gen.model"), info=I18N("hint.model"), elem_id="model-choice")
        ckpt_upload = gr.File(label=I18N("gen.upload"), file_types=[".safetensors"], type="filepath")
    with gr.Row():
        prime = gr.Textbox(DEMO_PRIME, label=I18N("gen.prime"), info=I18N("hint.prime"), elem_id="prime")
        length = LENGTH.component(500)
        top_n = TOP_N.component(DEMO_TOP_N, maximum=83)  # its maximum follows the model's vocabulary
        temperature = TEMPERATURE.component(1.0)
        with gr.Column(min_width=160):
            seed = SEED.component(None, elem_id="seed")  # empty: a new seed each time, shown when done
            keep_seed = gr.Checkbox(False, label=I18N("gen.keep_seed"), elem_id="keep-seed")
    with gr.Row():
        gen_btn = gr.Button(I18N("gen.generate"), variant="primary", elem_id="generate-btn")
        gen_stop = gr.Button(I18N("gen.stop"), variant="stop")
        one_char_btn = gr.Button(I18N("char.button"), elem_id="one-char")
    status = gr.Markdown(elem_id="gen-status")
    char_view = gr.HTML(elem_id="char-step")  # one character, stage by stage
    with gr.Row():
        text_box = gr.Textbox(label=I18N("gen.text"), lines=14, interactive=False, elem_id="gen-text")
        with gr.Column():
            note = gr.Markdown()
            colours = {
                t(key, code): colour
                for code in LOCALES
                for key, colour in (("gen.in_top", IN_TOP), ("gen.out_top", OUT_OF_TOP))
            }
            dist_plot = gr.BarPlot(
                x="character",
                y="probability",
                color="kind",
                sort="-y",
                height=320,
                y_lim=[0, 1],  # the same scale at every temperature: the flattening is what there is to see
                color_map=colours,
                color_title=I18N("gen.kind"),
                x_title=I18N("axis.character"),
                y_title=I18N("axis.probability"),
                buttons=["fullscreen", "export"],
            )
    generate_lab.build(ctx, model_box, prime, seed)
    ctx.offered.model_box = model_box
    ctx.link("prime", prime, checked_prime)
    for setting, component in ((LENGTH, length), (TOP_N, top_n), (TEMPERATURE, temperature), (SEED, seed)):
        ctx.link(setting, component)

    dist_in, dist_out = [model_box, prime, temperature, top_n], [note, dist_plot, top_n]
    ctx.on(tab.select, model_choices, None, model_box, api_name="model_choices")
    ctx.on(
        ckpt_upload.upload,
        upload_checkpoint,
        ckpt_upload,
        [status, model_box],
        heavy=True,
        api_name="upload_checkpoint",
    )
    ctx.on(prime.submit, next_char, dist_in, dist_out, api_name="next_char")
    # a new model: first a prime it can read, then its distribution (after the prime, so never the old one's)
    new_model = ctx.on(
        model_box.change,
        prime_for_model,
        [model_box, prime],
        prime,
        api_name="prime_for_model",
        trigger_mode="always_last",
    )
    ctx.on(new_model.then, next_char, dist_in, dist_out, api_name="next_char_on_model", api_visibility="private")
    for name, component in (("temperature", temperature), ("top", top_n)):
        ctx.on(
            component.change,
            next_char,
            dist_in,
            dist_out,
            api_name=f"next_char_on_{name}",
            api_visibility="private",
            trigger_mode="always_last",
        )
    streams = ctx.config.generation_streams  # batched: a class's generations are served at once, not four by four
    ctx.on(
        gen_btn.click,
        generate,
        [model_box, prime, length, top_n, temperature, seed],
        [text_box, status],
        heavy=True,
        pool=("generate", streams) if streams else None,
        api_name="generate",
    )
    ctx.on(gen_btn.click, next_char, dist_in, dist_out, api_name="next_char_on_generate", api_visibility="private")
    ctx.on(gen_stop.click, stop_generation, None, status, api_name="stop_generation")
    ctx.on(keep_seed.input, keep_this_seed, keep_seed, seed, api_name="keep_seed")
    ctx.on(
        one_char_btn.click,
        one_character,
        [model_box, prime, top_n, temperature, seed, text_box],
        [text_box, status, char_view, note, dist_plot],
        heavy=True,
        api_name="one_character",
    )
    ctx.refresh("models", model_choices, [], [model_box], on=("open", "language"))
    ctx.refresh("arrival_text", arrival_text, [model_box], [text_box, status], on=("open",))
    ctx.refresh("generate_status", status_in_language, [], [status], on=("language",))
