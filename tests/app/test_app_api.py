"""The app driven through its API with gradio_client, as a program (or a second visitor) would."""

import itertools
import re
import time
from pathlib import Path

import pytest
from app_server import running_app
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

pytestmark = [pytest.mark.app, pytest.mark.slow]

STORY = (
    "The old man walked to the sea every morning, and every morning the sea was there. "
    "He counted the boats, he counted the birds, and he went home to his wife. "
) * 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("app"), max_jobs=2) as (app, url):
        yield app, url


@pytest.fixture(scope="module")
def story_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    return path


def client(url):
    return Client(url, verbose=False)


def tiny_form(max_steps=400, hidden=48, epochs=50):
    # preset, cell, layers, hidden, dropout, N, M, lr, clip, epochs, max_steps
    return ["quick", "lstm", 1, hidden, 0.0, 16, 32, 0.01, 5.0, epochs, max_steps]


def grid_cells(html):
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]


def wait_for(predicate, timeout=90, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def test_corpus_batches_training_and_generation(server, story_file):
    app, url = server
    c = client(url)
    status, summary, vocab, _codes, _freq = c.predict(None, handle_file(str(story_file)), 0.1, api_name="/load_corpus")
    assert "Loaded story.txt" in status
    assert f"{len(STORY):,} characters" in summary and f"**{len(set(STORY))}** distinct" in summary
    assert "0:⏎" not in vocab and "0:␣" in vocab  # sorted: the space comes first

    info, _reshape, gx, gy, *_ = c.predict(10, 20, 3, 2, True, api_name="/preview_batch")
    assert "both 10×20" in info
    x, y = grid_cells(gx), grid_cells(gy)
    assert len(x) == len(y) == 10
    for xr, yr in zip(x, y):  # integer view: each target is the next input
        assert yr[:-1] == xr[1:]

    msg, _ = c.predict(*tiny_form(max_steps=20_000, epochs=100), api_name="/start_training")  # 1,000 steps
    assert "Training started" in msg

    def losses():
        line = c.predict(api_name="/training_status")[0]
        found = re.search(r"Step: (\d+)/\d+\.\.\. loss: (\d+\.\d+)", line)
        return (int(found.group(1)), float(found.group(2))) if found else None

    wait_for(lambda: (lambda s: s and s[0] > 120)(losses()))
    job = next(v.job for v in app.store.visitors() if v.job is not None and v.corpus.name == "story.txt")
    train_losses = [v for _, v in job.snapshot().train_loss]
    assert train_losses[0] > 3.0 and train_losses[-1] < train_losses[0] - 1.5  # the loss has fallen
    assert "Stopping" in c.predict(api_name="/stop_training")
    status = wait_for(
        lambda: (lambda s: s if "stopped" in s[0] or "done" in s[0] else None)(c.predict(api_name="/training_status"))
    )
    assert status[3], "checkpoints are listed for download"
    # Resume continues from the newest checkpoint, the one listed last (the stop saved it)
    stopped_at = max(int(re.search(r"i(\d+)_l48", Path(f).name).group(1)) for f in status[3])
    assert stopped_at >= 120
    msg, _ = c.predict(*tiny_form(), api_name="/resume_training")
    assert msg == f"Resumed from step {stopped_at}."
    c.predict(api_name="/stop_training")
    wait_for(
        lambda: (
            "stopped" in c.predict(api_name="/training_status")[0]
            or "done" in c.predict(api_name="/training_status")[0]
        )
    )

    models = c.predict(api_name="/model_choices")
    choices = models["choices"]
    assert choices[0][0] == "pretrained: anna-2x512" and models["value"] == choices[0][0]  # the default
    text, _ = c.predict(choices[0][0], "Far", 200, 4, 1.0, 1, api_name="/generate")
    assert text.startswith("Far") and len(text) == 203 and " the " in text  # real words from the first second
    label = next(value for _, value in choices if value.startswith("this session"))
    assert sum("(best validation)" in name for name, _ in choices) == 1  # the checkpoint the coach points to
    one, done = c.predict(label, "The old", 150, 4, 1.0, 7, api_name="/generate")
    two, _ = c.predict(label, "The old", 150, 4, 1.0, 7, api_name="/generate")
    assert one == two and one.startswith("The old") and len(one) == 157 and "Done" in done
    note, probs, _ = c.predict(label, "The ol", 1.0, 4, api_name="/next_char")
    assert "top 4" in note and probs.get("value", probs)["data"]


def test_the_benchmarks_visitor_speaks_the_pages_protocol(server):
    """``bench/queue_client.py``, which the load figures rest on: the same text as gradio_client's for a seed,
    streamed in growing updates, and a refusal raised, not taken for an answer."""
    from bench.queue_client import Visitor

    _app, url = server
    visitor = Visitor(url)
    try:
        label = visitor("model_choices")[0]["value"]
        updates = []
        text, status = visitor("generate", label, "Far", 300, 4, 1.0, 5, on_update=lambda out: updates.append(out[0]))
        other = client(url)
        other.predict(api_name="/model_choices")  # as its page would on opening
        assert text == other.predict(label, "Far", 300, 4, 1.0, 5, api_name="/generate")[0]
        assert "Done" in status and len(updates) >= 2 and updates[-1] == text
        assert all(b.startswith(a) for a, b in itertools.pairwise(updates)) and len(updates[0]) < len(text)
        with pytest.raises(RuntimeError, match="refused"):
            visitor("generate", label, "Far", 300, 4, -1.0, 5)  # a negative temperature
    finally:
        visitor.close()


def test_the_benchmarks_visitor_applies_every_kind_of_gradio_diff():
    from bench.queue_client import apply_diff

    value = apply_diff(
        {"a": [1, 2], "b": "x"},
        [["add", ["a", 1], 9], ["append", ["b"], "y"], ["delete", ["a", 0], None], ["add", ["c"], 3]],
    )
    assert value == {"a": [9, 2], "b": "xy", "c": 3}
    assert apply_diff("ab", [["append", [], "c"]]) == "abc"
    with pytest.raises(ValueError, match="unknown edit"):
        apply_diff({"a": 1}, [["move", ["a"], 2]])


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        ("caf\u00e9 cr\u00e8me ".encode("latin-1") * 40, "not valid UTF-8"),
        ("hello".encode("utf-16"), "binary"),
        (b"too short", "too short"),
    ],
)
def test_bad_uploads_get_a_message_and_keep_the_old_corpus(server, story_file, tmp_path, content, message):
    _, url = server
    c = client(url)
    c.predict(None, handle_file(str(story_file)), 0.1, api_name="/load_corpus")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    status, *_rest = c.predict(None, handle_file(str(bad)), 0.1, api_name="/load_corpus")
    assert message in status and "Traceback" not in status
    info = c.predict(4, 10, 0, 0, False, api_name="/preview_batch")[0]
    expected_batches = (int(len(STORY) * 0.9) - 1) // 40
    assert f"of {expected_batches:,}" in info  # still the story


def test_two_visitors_are_kept_apart_and_the_cap_holds(server, story_file):
    app, url = server
    a, b, third = client(url), client(url), client(url)
    for c in (a, b):
        c.predict("anna-karenina", None, 0.1, api_name="/load_corpus")
    third.predict(None, handle_file(str(story_file)), 0.1, api_name="/load_corpus")
    long = {"max_steps": 100_000, "epochs": 100}  # on the novel: a and b train until they are stopped
    assert "Training started" in a.predict(*tiny_form(**long), api_name="/start_training")[0]
    assert "No training yet" in b.predict(api_name="/training_status")[0]
    assert "No training is running" in b.predict(api_name="/stop_training")
    assert "Training started" in b.predict(*tiny_form(hidden=32, **long), api_name="/start_training")[0]
    assert "number 1 in line" in third.predict(*tiny_form(max_steps=30), api_name="/start_training")[0]
    assert "Number 1 in line" in third.predict(api_name="/training_status")[0]
    wait_for(lambda: "Step:" in a.predict(api_name="/training_status")[0])  # a has trained (and will save)
    a.predict(api_name="/stop_training")
    wait_for(lambda: "stopped" in a.predict(api_name="/training_status")[0])
    assert "stopped" not in b.predict(api_name="/training_status")[0]  # b's job runs on
    wait_for(lambda: "Step:" in third.predict(api_name="/training_status")[0])  # its turn came: it started by itself
    b.predict(api_name="/stop_training")
    wait_for(lambda: "stopped" in b.predict(api_name="/training_status")[0])
    # each visitor sees only its own checkpoints (a trained 1×48, b 1×32)
    a_models = [v for _, v in a.predict(api_name="/model_choices")["choices"] if v.startswith("this session")]
    b_models = [v for _, v in b.predict(api_name="/model_choices")["choices"] if v.startswith("this session")]
    assert a_models and all(v.endswith("_l48") for v in a_models)
    assert b_models and all(v.endswith("_l32") for v in b_models)
    a_files = a.predict(api_name="/training_status")[3]
    assert a_files and all("_l48" in f for f in a_files)
    wait_for(lambda: app.slots.running == 0, timeout=60)


@pytest.mark.parametrize(
    "args, message",
    [
        (("MODEL", "The \u4e2d", 50, 4, 1.0, 1), "never saw"),
        (("MODEL", "", 50, 4, 1.0, 1), "empty"),
        (("MODEL", "The ", 50, 4, 1.0, -3), "seed"),
    ],
)
def test_bad_generation_settings_get_a_message(server, story_file, args, message):
    _, url = server
    c = client(url)
    c.predict(None, handle_file(str(story_file)), 0.1, api_name="/load_corpus")
    c.predict(*tiny_form(max_steps=20), api_name="/start_training")
    wait_for(lambda: "done" in c.predict(api_name="/training_status")[0])
    label = next(v for _, v in c.predict(api_name="/model_choices")["choices"] if v.startswith("this session"))
    args = tuple(label if a == "MODEL" else a for a in args)
    _text, status = c.predict(*args, api_name="/generate")
    assert message in status and "Traceback" not in status
    # a model that is not offered is refused by the dropdown itself, and the session goes on
    with pytest.raises(AppError, match="not in the list of choices"):
        c.predict("../../etc/passwd", "The ", 50, 4, 1.0, 1, api_name="/generate")
    assert c.predict(label, "The ", 5, 4, 1.0, 1, api_name="/generate")[0].startswith("The ")


def test_uploaded_checkpoints_are_checked_and_usable(server, story_file, tmp_path):
    from helpers import write_pickle_payload

    from charlm import Corpus, preset, train

    _, url = server
    c = client(url)
    result = train(Corpus.from_text(STORY, val_fraction=0.1), preset("tiny", max_steps=30, epochs=10), tmp_path / "ck")
    status, models = c.predict(handle_file(str(result.checkpoint)), api_name="/upload_checkpoint")
    assert "Loaded uploaded" in status
    label = models["value"] if isinstance(models, dict) and "value" in models else None
    label = label or next(v for _, v in c.predict(api_name="/model_choices")["choices"] if v.startswith("uploaded"))
    text, _done = c.predict(label, "The ", 40, 4, 1.0, 3, api_name="/generate")
    assert text.startswith("The ") and len(text) == 44

    marker = tmp_path / "executed"
    evil = tmp_path / "evil.safetensors"
    write_pickle_payload(evil, marker)
    status, _ = c.predict(handle_file(str(evil)), api_name="/upload_checkpoint")
    assert "never unpickles" in status and not marker.exists()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    status, _ = c.predict(handle_file(str(junk)), api_name="/upload_checkpoint")
    assert "not a valid checkpoint" in status


def chinese_text(n_chars: int = 30_000, distinct: int = 700) -> str:
    """A made-up text of many distinct Chinese characters (enough to need the embedding input)."""
    import numpy as np

    rng = np.random.default_rng(0)
    chars = [chr(0x4E00 + int(k)) for k in rng.choice(20_000, size=distinct, replace=False)]
    words = ["".join(rng.choice(chars, size=int(rng.integers(1, 4)))) for _ in range(1500)]
    out = []
    while sum(map(len, out)) < n_chars:
        out.append("".join(rng.choice(words, size=int(rng.integers(4, 12)))) + str(rng.choice(["，", "。", "。\n"])))
    return "".join(out)[:n_chars]


def test_a_chinese_corpus_trains_and_generates_in_chinese(server, tmp_path):
    """A class taught in Chinese: the page set to 中文, a Chinese text uploaded, trained and sampled."""
    _, url = server
    c = client(url)
    c.predict("zh-CN", api_name="/set_language")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 cr\u00e8me ".encode("latin-1") * 40)
    assert "不是有效的 UTF-8" in c.predict(None, handle_file(str(bad)), 0.1, api_name="/load_corpus")[0]
    text = chinese_text()
    path = tmp_path / "中文.txt"
    path.write_text(text, encoding="utf-8")
    status, summary, _vocab, *_ = c.predict(None, handle_file(str(path)), 0.1, api_name="/load_corpus")
    assert status == "已载入 中文.txt。"
    assert "嵌入向量" in summary and f"不同的字符 **{len(set(text))}** 个" in summary
    info, *_ = c.predict(8, 32, 0, 0, False, api_name="/preview_batch")
    assert "输入和目标都是 8×32" in info
    message, _ = c.predict("quick", "lstm", 1, 64, 0.0, 16, 32, 5.0, 5.0, 50, 60, api_name="/start_training")
    assert message == "⚠ 学习率必须在 1e-05 到 0.1 之间；收到的是 5.0。"
    c.predict("quick", "lstm", 1, 64, 0.0, 16, 32, 0.01, 5.0, 50, 60, api_name="/start_training")
    line = wait_for(lambda: (lambda s: s if "完成" in s else None)(c.predict(api_name="/training_status")[0]))
    assert re.search(r"轮次: (\d+)/\1\.\.\. 步数: 60/60\.\.\. 损失: [\d.]+", line)  # ends in the last epoch it reaches
    choices = c.predict(api_name="/model_choices")["choices"]  # (shown name, value)
    label = next(value for name, value in choices if name.startswith("本次会话："))
    assert ("预训练：anna-2x512", "pretrained: anna-2x512") in [tuple(x) for x in choices]
    prime = text[:3]
    out, done = c.predict(label, prime, 50, 4, 1.0, 2, api_name="/generate")
    assert out.startswith(prime) and len(out) == 53 and all("\u4e00" <= ch <= "\u9fff" or ch in "，。\n" for ch in out)
    assert done == "完成：50 个字符（随机种子 2）。"
    note, probs, _ = c.predict(label, prime, 1.0, 4, api_name="/next_char")
    probs = probs.get("value", probs)
    assert any("\u4e00" <= row[0] <= "\u9fff" for row in probs["data"])
    assert "只有前 4 个可能被抽中" in note and {row[2] for row in probs["data"]} == {
        "在前 N 个之内（可能被抽中）",
        "在前 N 个之外（不会被抽中）",
    }


def test_offline_machine_without_the_novels_falls_back_to_python_source(tmp_path, monkeypatch):
    import charlm.data.corpora
    from charlm import CharLMError
    from charlm.data.corpora import default_corpus_name
    from demo.context import builtin_corpus

    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(charlm.data.corpora, "SHIPPED", tmp_path / "no-assets")  # an install without the assets
    builtin_corpus.cache_clear()  # texts read earlier in this process are kept for everyone
    assert default_corpus_name() == "python-stdlib"
    corpus = builtin_corpus("python-stdlib", 0.1)
    assert len(corpus.data) == 1_500_000 and "def " in corpus.text
    with pytest.raises(CharLMError, match="python -m charlm download anna-karenina"):
        builtin_corpus("anna-karenina", 0.1)


def test_a_fresh_install_opens_on_the_chapters_novel(tmp_path, monkeypatch):
    """No data folder, no ../shared, no network: the novel that ships in assets/ is the first text."""
    from demo.context import builtin_corpus

    monkeypatch.setenv("CHARLM_DATA_DIR", str(tmp_path / "empty"))
    builtin_corpus.cache_clear()
    with running_app(tmp_path) as (_app, url):
        info = client(url).predict(4, 10, 0, 0, False, api_name="/preview_batch")[0]
    assert "Batch 0 of 44,667" in info and "input `C` → target `h`" in info  # "Chapter 1", 1,786,701 characters
    builtin_corpus.cache_clear()


def test_each_generate_draws_a_new_seed_it_shows_and_keep_this_seed_repeats_it(server):
    _app, url = server
    c = client(url)
    label = next(v for _, v in c.predict(api_name="/model_choices")["choices"] if "quick" in v)
    runs = [c.predict(label, "Far", 60, 4, 1.0, None, api_name="/generate") for _ in range(2)]
    seeds = [int(re.search(r"seed (\d+)", status).group(1)) for _text, status in runs]
    assert seeds[0] != seeds[1] and runs[0][0] != runs[1][0]  # a class sees different texts, each with its seed
    kept = c.predict(True, api_name="/keep_seed")
    assert kept == str(seeds[1])  # the latest one, into the seed box
    again, status = c.predict(label, "Far", 60, 4, 1.0, kept, api_name="/generate")
    assert again == runs[1][0] and f"seed {kept}" in status
    assert not c.predict(False, api_name="/keep_seed")  # unticked: the box empties, a new seed each time


def test_one_batch_and_one_character_at_a_time(server, story_file):
    _app, url = server
    c = client(url)
    c.predict(None, handle_file(str(story_file)), 0.1, api_name="/load_corpus")
    form = tiny_form()
    first = c.predict(*form, api_name="/one_batch")
    second = c.predict(*form, api_name="/one_batch")
    assert first.startswith("**Step 1: batch 1 of") and "The old man walked" in first
    assert second.startswith("**Step 2: batch 2 of")  # the same run goes on
    assert re.search(r"global norm: \*\*[\d.]+\*\* → [\d.]+ \(", first) and "nats per character" in first
    assert c.predict(*tiny_form(hidden=32), api_name="/one_batch").startswith("**Step 1:")  # new settings: new run
    assert "must be" in c.predict(*form[:7], 5.0, *form[8:], api_name="/one_batch")  # a learning rate of 5: a message

    label = next(v for _, v in c.predict(api_name="/model_choices")["choices"] if "quick" in v)
    texts, shown = [], ""  # the text box: empty, then what each press wrote
    for _ in range(3):
        texts.append(c.predict(label, "Far", 4, 1.0, 5, shown, api_name="/one_character"))
        shown = texts[-1][0]
    assert [len(text) for text, *_ in texts] == [4, 5, 6]  # one character more each time
    whole, _ = c.predict(label, "Far", 3, 4, 1.0, 5, api_name="/generate")
    assert texts[-1][0] == whole  # the same seed writes the same text, step by step or at once
    assert "Character 3 (seed 5)" in texts[-1][2] and "u = " in texts[-1][2]
    assert f"After “…{texts[-1][0][:-1]}”" in texts[-1][3]  # the chart: what the last character was drawn from
    longer, _ = c.predict(label, "Far", 40, 4, 1.0, 6, api_name="/generate")
    after = c.predict(label, "Far", 4, 1.0, 5, longer, api_name="/one_character")
    assert after[0].startswith(longer) and len(after[0]) == len(longer) + 1  # a generation goes on, not "Far"


def test_the_shapes_follow_the_settings(server):
    _app, url = server
    c = client(url)
    html = c.predict(*tiny_form(), api_name="/shapes")  # N 16, M 32, hidden 48, one LSTM layer
    assert "(16, 32)" in html and "(512, 48)" in html and html.count("memory carried") == 2  # h and c
    assert "Many to many" in html and "in (16, 32) → out (512, 83)" in html  # training, one of the four patterns
    gru = c.predict("quick", "gru", 2, 64, 0.0, 8, 10, 0.01, 5.0, 50, 100, api_name="/shapes")
    assert "(80, 64)" in gru and "layer 1" in gru and gru.count("memory carried") == 1


def test_a_class_generating_at_once_gets_each_its_own_text(server):
    """Six visitors press Generate together: their generations share one batch (it has more than one stream at
    once) and each visitor's text is exactly what the same settings write alone, here and in the library."""
    app, url = server
    visitors = [client(url) for _ in range(6)]
    choices = [c.predict(api_name="/model_choices") for c in visitors]  # each, as a page does on opening
    label = choices[0]["value"]
    generations = app.ctx.models.generations(app.ctx.models.shipped()[label])
    with generations.held():  # the six presses line up before the first step, whatever the machine's load
        jobs = [c.submit(label, "The ", 300, 4, 1.0, seed, api_name="/generate") for seed, c in enumerate(visitors)]
        wait_for(lambda: generations.waiting == 6, timeout=60, every=0.05)
    texts = [job.result()[0] for job in jobs]
    alone = [generations.sampler.generate("The ", 300, 4, 1.0, seed) for seed in range(6)]
    assert texts == alone and len(set(texts)) == 6
    assert generations.widest == 6
