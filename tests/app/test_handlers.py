"""The tabs' handlers are plain functions of the context and their inputs: called here directly, with no
server and no browser, as a visitor's clicks would call them (a request is only its session and language)."""

import dataclasses
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from charlm import CharLMError, Corpus, preset, train
from charlm.network.model import CharRNN, ModelConfig
from charlm.serving.memory_budget import MemoryBudget
from charlm.training.checkpoint import Progress, save_checkpoint
from demo.app import is_teacher_key
from demo.context import Context, client_address
from demo.fields import preset_values
from demo.i18n import AppError
from demo.sessions import API_LINE_SILENCE, LINE_SILENCE
from demo.settings import AppConfig
from demo.tabs import batches, corpus, generate, ideas, inside
from demo.tabs import train as train_tab
from demo.tabs.generate_state import GenerateView
from demo.tabs.train import TrainView

TEXT = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 60


def request(session: str, lang: str = "en"):
    """What a handler reads of Gradio's request: the visitor's session and their browser's language."""
    return types.SimpleNamespace(session_hash=session, headers={"accept-language": lang})


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Context.create(AppConfig(sessions_root=tmp_path_factory.mktemp("sessions"), max_jobs=1))


@pytest.fixture()
def dickens(ctx, tmp_path):
    """A visitor with a short text of their own loaded (an upload, as the Corpus tab receives it)."""
    path = tmp_path / "dickens.txt"
    path.write_text(TEXT, encoding="utf-8")
    asks = request(tmp_path.name)
    status, *_ = corpus.load_corpus(ctx, None, str(path), 0.1, asks)
    assert "dickens.txt" in status
    return asks


def test_a_loaded_text_is_the_visitors_own_and_cut_into_the_batches_asked_for(ctx, dickens):
    info, _, inputs, targets, *_ = batches.preview_batch(ctx, 4, 10, 0, 0, False, dickens)
    assert "4×10" in info and "input `I` → target `t`" in info and inputs != targets
    other = request("someone-else")
    assert "4×10" in batches.preview_batch(ctx, 4, 10, 0, 0, False, other)[0]
    assert ctx.visitor(other).corpus is not ctx.visitor(dickens).corpus  # another visitor: the default text


def test_the_shapes_follow_the_form_and_speak_the_visitors_language(ctx, dickens):
    values = list(preset_values("quick"))
    english = train_tab.shapes(ctx, dickens, "quick", *values)
    assert "(32, 64)" in english
    chinese = train_tab.shapes(ctx, request(dickens.session_hash, "zh-CN"), "quick", *values)
    assert chinese != english and "(32, 64)" in chinese


def test_one_batch_goes_on_with_the_same_run_and_starts_again_for_new_settings(ctx, dickens):
    values = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 30]  # the Train form, in its order: a small model
    first = train_tab.one_batch(ctx, dickens, "quick", *values)
    second = train_tab.one_batch(ctx, dickens, "quick", *values)
    assert "Step 1" in first and "Step 2" in second
    run = ctx.visitor(dickens).state_of(TrainView).batch_steps
    values[2] = 48  # another hidden size: another run
    assert "Step 1" in train_tab.one_batch(ctx, dickens, "quick", *values)
    assert ctx.visitor(dickens).state_of(TrainView).batch_steps is not run


def test_under_a_full_memory_budget_one_batch_runs_and_texts_are_put_away_and_taken_up_unnoticed(ctx, tmp_path):
    """Two students press One batch in a budget with room for one run: the second's press puts the first's run
    away to disk, and the first's next press takes it up again at the step it had reached. An uploaded text
    put away the same way is memory-mapped from the visitor's folder and still trains."""
    values = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 30]
    config = train_tab.config_from_form("quick", *values, device="cpu")
    need = train_tab.OneBatch.memory_bytes(config, 40)
    saved_budget, ctx.memory = ctx.memory, MemoryBudget(int(1.5 * need), wait_seconds=0.5)
    try:
        ann, bob = request("ann-" + tmp_path.name), request("bob-" + tmp_path.name)
        path = tmp_path / "dickens.txt"
        path.write_text(TEXT, encoding="utf-8")
        for who in (ann, bob):
            corpus.load_corpus(ctx, None, str(path), 0.1, who)
        assert "Step 1" in train_tab.one_batch(ctx, ann, "quick", *values)
        assert "Step 2" in train_tab.one_batch(ctx, ann, "quick", *values)
        assert "Step 1" in train_tab.one_batch(ctx, bob, "quick", *values)  # no room for both: ann's is put away
        mine = ctx.visitor(ann).state_of(TrainView)
        assert isinstance(mine.batch_steps[1], Path) and mine.batch_steps[1].is_file()
        assert isinstance(ctx.visitor(ann).corpus.data, np.memmap)  # her text too: the longest unused
        assert "Step 3" in train_tab.one_batch(ctx, ann, "quick", *values)  # taken up again where it was
        assert "Step 2" in train_tab.one_batch(ctx, bob, "quick", *values)
        assert "dickens.txt" in corpus.show_corpus(ctx, ann)[0]  # her Corpus tab reads it from the map
        assert ctx.memory.in_use <= ctx.memory.limit
    finally:
        ctx.memory = saved_budget


def test_a_generation_streams_its_text_and_stop_ends_it(ctx):
    asks = request("writer")
    label = ctx.models.first_shipped()
    shown = list(generate.generate(ctx, label, "Far", 40, 4, 1.0, 7, asks))
    text, status = shown[-1]
    assert text.startswith("Far") and len(text) == 43 and "seed 7" in status
    again = list(generate.generate(ctx, label, "Far", 40, 4, 1.0, 7, asks))[-1][0]
    assert again == text  # the same seed, the same text
    mine = ctx.visitor(asks).state_of(GenerateView)
    before = mine.generation
    generate.stop_generation(ctx, asks)
    assert mine.generation == before + 1


def test_keep_this_seed_keeps_the_latest_generations_seed(ctx):
    asks = request("keeper")
    label = ctx.models.first_shipped()
    list(generate.generate(ctx, label, "Far", 5, 4, 1.0, None, asks))  # a new seed, drawn
    drawn = ctx.visitor(asks).state_of(GenerateView).last_seed
    assert generate.keep_this_seed(ctx, True, asks) == drawn
    assert generate.keep_this_seed(ctx, False, asks) is None


def test_a_handler_refuses_a_bad_value_by_raising_what_the_page_shows(ctx):
    with pytest.raises(AppError):
        list(generate.generate(ctx, ctx.models.first_shipped(), "Far", 10, 500, 1.0, 1, request("greedy")))


def test_the_toy_trains_from_the_ideas_tab(ctx):
    message, table = ideas.run_toy(ctx, "hello", "rnn", 30, request("toy"))
    pairs = ("<b>h</b> → <b>e</b>", "<b>he</b> → <b>l</b>", "<b>hel</b> → <b>l</b>", "<b>hell</b> → <b>o</b>")
    assert message == "" and all(pair in table for pair in pairs) and "softmax after" in table


PARAGRAPH = "　　天下大势，分久必合，合久必分。周末七国分争，并入于秦。\n　　及秦灭之后，楚、汉分争，又并入于汉。\n"
CHINESE = "第一章\n\n" + PARAGRAPH * 80


@pytest.fixture(scope="module")
def chinese_model(tmp_path_factory):
    """A small model trained on a Chinese text (none of the letters of "Far"), and that text's file."""
    folder = tmp_path_factory.mktemp("chinese")
    path = folder / "sanguo.txt"
    path.write_text(CHINESE, encoding="utf-8")
    result = train(Corpus.from_text(CHINESE), preset("tiny", max_steps=30, eval_every=0), folder / "run")
    return path, result.checkpoint


def test_a_students_own_model_gets_a_prime_and_a_passage_it_can_read(ctx, chinese_model):
    """Exercise 5: after a student's Chinese text, the prime and the Inside passage typed for the novel
    become the opening of their text and a stretch of its held-out part, and every view then works."""
    text_file, checkpoint = chinese_model
    asks = request("student-own-text")
    corpus.load_corpus(ctx, None, str(text_file), 0.1, asks)
    label = ctx.models.add_upload(ctx.visitor(asks), str(checkpoint), 1 << 30)
    with pytest.raises(CharLMError, match="never saw"):
        generate.next_char(ctx, label, "Far", 1.0, 4, asks)  # what the page did: the novel's prime, refused
    prime = generate.prime_for_model(ctx, label, "Far", asks)
    assert prime == "第一章"
    _, chart, top = generate.next_char(ctx, label, prime, 1.0, 4, asks)
    assert top["maximum"] == len(Corpus.from_text(CHINESE).vocab) and len(chart) > 0
    text, _ = list(generate.generate(ctx, label, prime, 20, 4, 1.0, 1, asks))[-1]
    assert text.startswith("第一章") and len(text) == 23
    passage, position = inside.passage_for_model(ctx, label, inside.DEFAULT_PASSAGE, asks)
    assert passage and passage in CHINESE and position["maximum"] == len(passage) - 1
    assert inside.run_unroll(ctx, label, passage, 5, asks)[2]  # the unrolled drawing
    assert inside.run_guesses(ctx, label, passage, asks)[1]
    kept = generate.prime_for_model(ctx, label, "天下", asks)
    assert not isinstance(kept, str)  # a prime the model reads is left as typed


def test_a_model_whose_text_is_unknown_gets_a_letter_and_its_own_writing(ctx, chinese_model):
    """The same checkpoint uploaded by a visitor whose text is another: nothing of the corpus is known, so the
    prime is one of the model's characters and the passage one the model writes itself."""
    _, checkpoint = chinese_model
    asks = request("someone-with-a-checkpoint")
    label = ctx.models.add_upload(ctx.visitor(asks), str(checkpoint), 1 << 30)
    vocab = Corpus.from_text(CHINESE).vocab
    prime = generate.prime_for_model(ctx, label, "Far", asks)
    assert len(prime) == 1 and prime in vocab.chars and prime.isalpha()
    passage, _ = inside.passage_for_model(ctx, label, inside.DEFAULT_PASSAGE, asks)
    assert len(passage) > 100 and not vocab.unknown_chars(passage)


def test_the_train_tab_lists_every_sample_the_newest_first():
    samples = [(100, "Thhe an"), (200, "The man"), (300, "The man said")]
    for lang, header in (("en", "step 300"), ("zh-CN", "第 300 步")):
        shown = train_tab.samples_text(samples, lang)
        assert header in shown.splitlines()[0] and shown.index("The man said") < shown.index("Thhe an")
    assert train_tab.samples_text([], "en") == ""
    many = [(step, f"text {step}") for step in range(100, 10_000, 100)]
    assert train_tab.samples_text(many, "en").count("text ") == train_tab.SAMPLES_SHOWN


def test_the_line_message_follows_the_place_and_goes_when_the_training_starts(ctx, dickens):
    """With one training place: the second visitor reads "number 1 in line" under the buttons, and once the
    first stops and their training starts by itself, that message goes (it used to stay, stale, for minutes)."""
    form = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 100_000]  # the Train form: a small model, a long run
    first, second = dickens, request("second-in-line")
    assert "started" in next(train_tab.start_training(ctx, first, "quick", *form))[0]
    said = next(train_tab.start_training(ctx, second, "quick", *form))[0]
    assert "number 1 in line" in said
    status = train_tab.training_status(ctx, second)
    assert "Number 1 in line" in status[0] and "number 1 in line" in status[5]
    train_tab.stop_training(ctx, first)
    job = ctx.visitor(second).job
    for _ in range(600):
        if job.snapshot().state != "waiting":
            break
        time.sleep(0.05)
    assert train_tab.training_status(ctx, second)[5] == ""  # the place is gone from the message
    train_tab.stop_training(ctx, second)
    job.wait(30)


def test_polling_goes_on_until_the_page_has_drawn_the_end(ctx, dickens, monkeypatch):
    """The job can end between the snapshot a poll draws and the poll's choice to go on: the choice follows
    the snapshot drawn, or the page keeps "stopping…" for good (seen once in CI, on a loaded machine)."""
    form = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 100_000]
    next(train_tab.start_training(ctx, dickens, "quick", *form))
    job = ctx.visitor(dickens).job
    for _ in range(1200):  # a step of its own, so the line is the log line with its state
        if job.snapshot().step:
            break
        time.sleep(0.05)
    train_tab.stop_training(ctx, dickens)
    assert job.wait(60) and job.finished
    drawn_while_stopping = dataclasses.replace(job.snapshot(), state="stopping")
    monkeypatch.setattr(job, "snapshot", lambda: drawn_while_stopping)
    shown = train_tab.training_status(ctx, dickens)
    assert "stopping" in shown[0] and shown[4].active  # polled again: the next poll draws the end
    monkeypatch.undo()
    shown = train_tab.training_status(ctx, dickens)
    assert "stopped" in shown[0] and not shown[4].active


def test_the_inside_tabs_question_is_one_click_away(ctx):
    """ "Find the quotation cell" picks, in any layer, the cell that follows the quotation marks best on the
    default passage: for the shipped 2x512, one the lesson's answer names (layer 1, cell 347 or 228)."""
    asks = request("quotes")
    label = ctx.models.first_shipped()
    layer, unit, note, coloured, *_ = inside.find_quote_cell(ctx, label, inside.DEFAULT_PASSAGE, "cell", asks)
    assert (layer, unit) in {(1, 347), (1, 228)} and f"cell {unit}" in note.lower() and "<span" in coloured
    with pytest.raises(AppError):
        inside.find_quote_cell(ctx, label, "no marks at all here", "cell", asks)


def test_the_long_race_is_drawn_at_once_with_what_it_shows(ctx):
    for lang, words in (("en", "steps on the novel"), ("zh-CN", "在小说上训练")):
        note, picture = ideas.long_race_view(ctx, request("race", lang))
        assert words in note and all(cell in note for cell in ("RNN", "GRU", "LSTM")) and picture.endswith(".png")


def test_a_teachers_link_gets_the_kept_place(tmp_path):
    """With CHARLM_TEACHER_KEY set and one place for the class, taken: the teacher's training starts at once."""
    ctx = Context.create(AppConfig(sessions_root=tmp_path, max_jobs=1, teacher_key="owl"))
    assert is_teacher_key("owl", "owl") and not is_teacher_key("own", "owl") and not is_teacher_key("", "")
    form = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 100_000]
    student, teacher = request("student"), request("teacher")
    ctx.visitor(teacher).teacher = True  # what a link with ?teacher=owl makes of its visitor (``apply_link``)
    assert "started" in next(train_tab.start_training(ctx, student, "quick", *form))[0]
    assert "started" in next(train_tab.start_training(ctx, teacher, "quick", *form))[0]
    late = request("late student")
    assert "in line" in next(train_tab.start_training(ctx, late, "quick", *form))[0]
    values, notes = ctx.links.read({"teacher": "owl", "tab": "train"}, ("train",), "en", ())
    assert values["teacher"] == "owl" and not notes
    for visitor in (student, teacher, late):
        train_tab.stop_training(ctx, visitor)
    for visitor in (student, teacher, late):
        ctx.visitor(visitor).job.wait(30)


def test_a_silent_place_in_line_is_given_up(tmp_path, monkeypatch):
    """A visitor who pressed Start and went quiet (no status call for LINE_SILENCE seconds) leaves the line at the
    next sweep; the one who keeps asking keeps their place; a silent visitor's running training stops while
    someone waits, and its place goes to them. A script forgotten this way has what it held collected by that
    sweep (a flood of 300 left its jobs' reference cycles to Python's rare full collection)."""
    collections = []
    monkeypatch.setattr("demo.sessions.return_freed_memory", lambda: collections.append(1))
    ctx = Context.create(AppConfig(sessions_root=tmp_path, max_jobs=1))
    form = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 100_000]
    running, quiet, alive, script = (request(name) for name in ("running", "quiet", "alive", "script"))
    for visitor in (running, quiet, alive, script):
        ctx.visitor(visitor).browser = visitor is not script  # pages, and a script that never opened one
        next(train_tab.start_training(ctx, visitor, "quick", *form))
    assert ctx.visitor(quiet).job.snapshot().place == 1 and ctx.visitor(alive).job.snapshot().place == 2
    script_folder = ctx.visitor(script).folder
    ctx.visitor(script).last_seen -= API_LINE_SILENCE + 1  # a script has less time to ask than a page
    ctx.visitor(quiet).last_seen -= API_LINE_SILENCE + 1
    ctx.store.sweep()
    assert not script_folder.exists() and ctx.visitor(quiet).job.snapshot().place == 1  # a page keeps its place
    assert collections, "the sweep that forgot the script did not collect what it held"
    ctx.visitor(quiet).last_seen -= LINE_SILENCE
    ctx.store.sweep()
    assert ctx.visitor(alive).job.snapshot().place == 1  # moved up
    assert ctx.visitor(quiet).job.snapshot().state == "stopped"  # a page: its place given up, its files kept
    assert ctx.visitor(running).job.snapshot().state == "running"  # its visitor asks: it runs on
    ctx.visitor(running).last_seen -= LINE_SILENCE + 1  # now it goes quiet too, with someone waiting
    ctx.store.sweep()
    ctx.visitor(running).job.wait(30)
    assert ctx.visitor(running).job.snapshot().state == "stopped"
    job = ctx.visitor(alive).job
    for _ in range(600):
        if job.snapshot().state == "running":
            break
        time.sleep(0.05)
    assert job.snapshot().state == "running"  # its place went to the one who is there
    train_tab.stop_training(ctx, alive)
    job.wait(30)


def test_one_address_holds_at_most_its_places(tmp_path):
    """CHARLM_PLACES_PER_ADDRESS: the third training from one address is refused (running or waiting alike), another
    address is served, the teacher is not counted out; on a Space the address is the proxy's first one."""
    ctx = Context.create(AppConfig(sessions_root=tmp_path, max_jobs=1, places_per_address=2))

    def from_address(session: str, host: str):
        return types.SimpleNamespace(session_hash=session, headers={}, client=types.SimpleNamespace(host=host))

    form = ["lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 100_000]
    first, second, third = (from_address(f"script-{i}", "10.0.0.7") for i in range(3))
    elsewhere = from_address("student", "10.0.0.8")
    for asks in (first, second, elsewhere):
        next(train_tab.start_training(ctx, asks, "quick", *form))
    with pytest.raises(AppError) as refused:
        next(train_tab.start_training(ctx, third, "quick", *form))
    assert refused.value.key == "err.address_cap"
    assert (
        client_address(
            types.SimpleNamespace(headers={"x-forwarded-for": "203.0.113.5, 10.1.1.1"}, client=None), behind_proxy=True
        )
        == "203.0.113.5"
    )
    assert client_address(from_address("x", "10.0.0.9"), behind_proxy=False) == "10.0.0.9"
    for asks in (first, second, elsewhere):
        train_tab.stop_training(ctx, asks)
        ctx.visitor(asks).job.wait(30)


def test_a_checkpoint_whose_scores_overflow_is_refused_at_upload_and_marked_in_the_list(ctx, tmp_path):
    """Finite weights, infinite scores: an upload is refused at once with what it means; a visitor's own such
    checkpoint is refused when chosen and from then on says so in the list, in the visitor's language."""
    corpus_ = Corpus.from_text("abc abd abe " * 50)
    model = CharRNN(ModelConfig(len(corpus_.vocab), hidden_size=16, num_layers=1)).eval()
    with torch.no_grad():
        for name, weight in model.rnn.named_parameters():  # every gate wide open: each unit's output near +1
            weight.fill_(10.0 if name.startswith("bias") else 0.0)
        model.decoder.weight.fill_(3e38)  # finite, but a sum of 16 of them is not
    asks = request("overflowing-checkpoint", "zh-CN")
    visitor = ctx.visitor(asks)
    path = save_checkpoint(tmp_path, model, corpus_.vocab, preset("tiny"), Progress(step=1))
    with pytest.raises(CharLMError) as refused:
        ctx.models.add_upload(visitor, str(path), 1 << 30)
    assert refused.value.key == "outputs_not_finite" and not list(visitor.uploads_dir.glob("*"))

    own = save_checkpoint(visitor.checkpoints_dir / "run1", model, corpus_.vocab, preset("tiny"), Progress(step=1))
    label = next(value for _, value in ctx.models.choices(visitor, "zh-CN")["choices"] if "run1" in value)
    with pytest.raises(CharLMError) as chosen:
        generate.next_char(ctx, label, "ab", 1.0, 4, asks)
    assert chosen.value.key == "outputs_not_finite" and own in ctx.models.overflowing
    names = dict((value, name) for name, value in ctx.models.choices(visitor, "zh-CN")["choices"])
    assert names[label].endswith("它的打分溢出：请换一个")


def page_request(session: str, lang: str = "en"):
    """An event as Gradio's page sends it: marked as the app's own (its clients send "api")."""
    return types.SimpleNamespace(session_hash=session, headers={"accept-language": lang, "x-gradio-user": "app"})


def test_a_page_from_before_a_restart_is_told_its_work_is_gone(ctx):
    """After a restart an open page goes on calling with a session the new server never saw open: its training
    poll and its trained model's label find nothing. It is told why, in its language, never "No training yet"
    or "Unknown model" as if it had never trained."""
    for lang, words in (("en", "no longer knows this page"), ("zh-CN", "服务器已不认识这个页面")):
        old_page = page_request(f"before-restart-{lang}", lang)
        said = train_tab.training_status(ctx, old_page)
        assert words in said[0] and said[4].active is False  # and the page stops asking
        with pytest.raises(AppError) as gone:
            list(generate.generate(ctx, "this session: run1 step 500", "Far", 5, 4, 1.0, 7, old_page))
        assert gone.value.key == "err.model_lost" and "run1 step 500" in gone.value.text(lang)
        shipped = ctx.models.first_shipped()
        assert list(generate.generate(ctx, shipped, "Far", 5, 4, 1.0, 7, old_page))[-1][0].startswith("Far")


def test_a_new_page_and_an_api_client_are_not_told_of_a_restart(ctx):
    from demo.language import LanguageSwitch

    opened = page_request("opened-here")
    switch = types.SimpleNamespace(ctx=ctx)
    assert LanguageSwitch.initial(switch, None, "en", opened) == "en"  # the page's first event: its opening
    script = request("a-script")
    for asks in (opened, script):
        assert "No training yet" in train_tab.training_status(ctx, asks)[0]
        with pytest.raises(AppError) as unknown:
            list(generate.generate(ctx, "this session: run1 step 500", "Far", 5, 4, 1.0, 7, asks))
        assert unknown.value.key == "err.unknown_model"
