"""English and Chinese: every text in both languages, every core error translatable, figures legible."""

import ast
import dataclasses
import errno
import io
import re
import warnings
from pathlib import Path

import pytest
from matplotlib import font_manager

from charlm import CharLMError, Corpus, preset
from charlm.data.batches import check_fits
from charlm.data.vocab import decode_text
from charlm.serving.jobs import JobSnapshot, TrainingJob
from demo import figures, i18n, views
from demo.app import AppConfig, CharLMApp
from demo.i18n import EN, AppError, t
from demo.locales import LOCALES

ZH = "zh-CN"
ENGLISH = LOCALES[EN].texts
CHINESE = LOCALES[ZH]

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
# keys whose Chinese may rightly be the same as the English (symbols, the language switch itself)
SAME_IN_BOTH = {"status.running", "name.top_n", "name.dropout", "link.bad", "cmp.long_cell"}


@pytest.mark.parametrize("key", sorted(ENGLISH))
def test_every_text_exists_in_both_languages(key):
    en, zh = ENGLISH[key], CHINESE.texts.get(key, "")
    assert en.strip() and zh.strip(), f"{key}: an empty text"
    assert i18n.placeholders(en) == i18n.placeholders(zh), f"{key}: the placeholders differ"
    if key not in SAME_IN_BOTH and LATIN_WORD.search(en):
        assert CJK.search(zh), f"{key}: the Chinese text has no Chinese in it"


@pytest.mark.parametrize("code", sorted(LOCALES))
def test_every_language_translates_only_keys_that_exist_with_the_same_placeholders(code):
    texts = LOCALES[code].texts
    assert set(texts) <= set(ENGLISH), f"{code}: keys English does not have: {set(texts) - set(ENGLISH)}"
    for key, text in texts.items():
        assert i18n.placeholders(text) == i18n.placeholders(ENGLISH[key]), f"{code} {key}: the placeholders differ"


def test_gradio_gets_every_language_complete():
    tables = i18n.i18n_table().translations_dict
    assert set(tables) == set(LOCALES) == {EN, ZH}
    assert all(set(table) == set(ENGLISH) for table in tables.values())
    assert all(v.strip() for table in tables.values() for v in table.values())


def test_a_missing_text_falls_back_to_english_then_to_the_key():
    assert t("tab.corpus", "fr") == t("tab.corpus", EN) == "2 · Corpus"
    assert t("no.such.key", ZH) == "no.such.key" and t("no.such.key", ZH, default="x") == "x"
    assert i18n.normalise("zh_TW") == ZH and i18n.normalise("en-GB") == EN and i18n.normalise("fr") == EN


def _core_errors():
    """Every CharLMError(...) in charlm with its key and the names of its parameters."""
    for path in sorted((ROOT / "charlm").rglob("*.py")):
        if path.name == "cli.py":  # the command line speaks English only
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CharLMError":
                kwargs = {k.arg: k.value for k in node.keywords}
                key = kwargs.pop("key", None)
                yield f"{path.name}:{node.lineno}", getattr(key, "value", None), set(kwargs)


COMPOSED = set(CHINESE.hints)  # built by demo.i18n from other parameters


@pytest.mark.parametrize("where,key,params", list(_core_errors()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_core_error_has_a_chinese_translation(where, key, params):
    assert key, f"{where}: CharLMError without a key cannot be translated"
    assert key in CHINESE.errors, f"{where}: no Chinese for {key!r}"
    missing = i18n.placeholders(CHINESE.errors[key]) - params - COMPOSED
    assert not missing, f"{where}: the Chinese for {key!r} needs {missing}, which the raise does not pass"


def test_no_translation_is_left_over():
    used = {key for _, key, _ in _core_errors()}
    assert set(CHINESE.errors) <= used, f"translations of errors nobody raises: {set(CHINESE.errors) - used}"


def _error(fn, *args, **kwargs) -> CharLMError:
    with pytest.raises(CharLMError) as info:
        fn(*args, **kwargs)
    return info.value


def test_core_errors_read_in_chinese_with_their_numbers():
    short = _error(check_fits, 120, 10, 20, what="The training part of the text")
    zh = i18n.error_text(short, ZH)
    assert zh.startswith("文本的训练部分只有 120 个字符") and "还差 81 个" in zh and "N=5，M=20" in zh
    assert i18n.error_text(short, EN) == str(short)  # English is the core's own sentence

    binary = _error(decode_text, "ab".encode("utf-16"))
    assert "UTF-16" in i18n.error_text(binary, ZH) and "二进制" in i18n.error_text(binary, ZH)
    latin = _error(decode_text, "café".encode("latin-1"))
    assert "0xe9" in i18n.error_text(latin, ZH) and "UTF-8" in i18n.error_text(latin, ZH)

    vocab = Corpus.from_text("abc abc abc").vocab
    unknown = _error(vocab.encode, "abz")
    assert i18n.error_text(unknown, ZH) == (
        "有 1 个字符不在模型的字符表中：'z'。请删掉它们，或使用在这类文本上训练的模型。"
    )


def test_app_errors_name_the_setting_in_the_language_asked_for():
    err = AppError("err.whole_range", name="name.learning_rate", low=1, high=4, value=9)
    assert str(err) == "The learning rate must be a whole number from 1 to 4; got 9."
    assert err.text(ZH) == "学习率必须是 1 到 4 之间的整数；收到的是 9。"
    assert i18n.message(err, ZH) == "⚠ " + err.text(ZH)
    assert i18n.message(KeyError("x"), ZH) == "⚠ 出了点问题（KeyError）。请再试一次。"


def test_terms_the_core_passes_are_the_ones_it_uses():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "charlm").rglob("*.py"))
    source += "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "demo").rglob("*.py"))
    for term in CHINESE.terms:
        assert f'"{term}"' in source


@pytest.mark.parametrize(
    "header,lang",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH),
        ("en-US,en;q=0.9", EN),
        ("zh-TW", ZH),
        ("fr-FR,fr;q=0.9", EN),
        (None, EN),
        ("de, zh;q=0.5", ZH),
    ],
)
def test_the_browser_language_picks_the_default(header, lang):
    assert i18n.from_accept_language(header) == lang


def test_every_static_text_of_the_page_is_translated(tmp_path):
    """No component shows a hard-coded English label, hint or explanation."""
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    demo = app.build()
    untranslated = []
    for block in demo.blocks.values():
        for prop in ("label", "info", "placeholder", "title"):
            value = getattr(block, prop, None)
            if isinstance(value, str) and value.strip() and i18n.key_of(value) is None:
                untranslated.append(f"{type(block).__name__}.{prop} = {value!r}")
        markup = type(block).__name__ in ("Markdown", "Button") and isinstance(block.value, str) and block.value
        if markup and i18n.key_of(block.value) is None:
            untranslated.append(f"{type(block).__name__}.value = {block.value[:40]!r}")
    assert not untranslated, untranslated
    keys = {key for block, props in app.language.translated for key in props.values()}
    assert keys <= set(ENGLISH)
    assert {"tab.corpus", "tab.inside", "explain.train", "hint.top_n", "cells.explain"} <= keys
    # the page's switch re-labels exactly these, in the language asked for
    relabel = app.language.relabel(ZH)
    assert len(relabel) == len(app.language.translated) > 60
    by_key = {
        props.get("label") or props.get("value"): update for (_, props), update in zip(app.language.translated, relabel)
    }
    assert by_key["tab.corpus"]["label"] == "2 · 语料" and by_key["corpus.load"]["value"] == "载入文本"
    expected = {"__type__": "update", "label": "内置文本", "info": CHINESE.texts["hint.builtin"]}
    assert by_key["corpus.builtin"] == expected


def _snapshot() -> JobSnapshot:
    steps = list(range(1, 201))
    return JobSnapshot(
        "running",
        step=200,
        total_steps=400,
        epoch=1,
        epochs=2,
        loss=2.1,
        sec_per_batch=0.01,
        chars_per_sec=5000,
        elapsed=2.0,
        train_loss=[(s, 3.0 - s / 200) for s in steps],
        val_loss=[(100, 2.5), (200, 2.2)],
    )


def test_status_lines_follow_the_language():
    snap = _snapshot()
    assert views.status_line(snap, EN).startswith("▶ Epoch: 1/2... Step: 200/400... loss: 2.1000...")
    assert views.status_line(snap, ZH).startswith("▶ 轮次: 1/2... 步数: 200/400... 损失: 2.1000...")
    assert "验证损失 2.200（部分）" in views.status_line(snap, ZH)  # the curve's subset, said as such
    assert "validation 2.200 (on a part)" in views.status_line(snap, EN)


def _texts(fig) -> list[str]:
    ax = fig.axes[0]
    legends = [x.get_text() for legend in fig.legends for x in legend.get_texts()]  # each under its plot
    return [ax.get_xlabel(), ax.get_ylabel(), *legends]


CJK_FILES = [p for p in font_manager.findSystemFonts() if "cjk" in Path(p).name.lower()]
needs_cjk_font = pytest.mark.skipif(not CJK_FILES, reason="no CJK font file on this machine (.ci/run installs one)")


@needs_cjk_font
def test_a_cjk_font_is_found_even_when_matplotlibs_cache_predates_it(monkeypatch):
    """A font installed after matplotlib built its cache is not in its list: it is found on disk and added."""
    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    found = figures._installed(LOCALES[ZH].figure_fonts)
    assert found and found in {f.name for f in font_manager.fontManager.ttflist}


@needs_cjk_font
def test_chinese_figures_render_without_missing_glyphs():
    assert figures.FONTS.get(ZH), "a CJK font is on disk, so Chinese figures must use it"
    fig = figures.loss_figure(_snapshot(), ZH)
    assert "步数（已训练的小批量数）" in _texts(fig) and "验证" in _texts(fig)
    gates = figures.saturation_figure([{"input": (0.1, 0.3), "forget": (0.0, 0.6)}], ZH)
    assert "L0 遗忘门" in [x.get_text() for x in gates.axes[0].get_yticklabels()]
    compare = figures.compare_figure({"rnn": [[(50, 2.4)]], "lstm": [[(50, 2.1)], [(50, 2.2)]]}, ZH)
    assert compare.axes[0].get_ylabel() == "验证损失（nat/字符）"
    for figure in (fig, gates, compare):
        png = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for boxes
            figure.savefig(png, format="png")
        assert png.getvalue().startswith(b"\x89PNG")


def test_figures_fall_back_to_english_without_a_cjk_font(monkeypatch):
    monkeypatch.setitem(figures.FONTS, ZH, None)
    assert figures.figure_lang(ZH) == EN
    assert "step (batches seen)" in _texts(figures.loss_figure(_snapshot(), ZH))


def test_every_text_key_used_in_the_code_exists():
    """t("…") and I18N("…") calls name keys that exist (a typo would only show at run time)."""
    used = set()
    for path in (ROOT / "demo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("t", "I18N", "AppError")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    from demo import fields

    for field in vars(fields).values():  # the settings' labels, hints and names in messages
        if isinstance(field, fields.Field):
            used |= {key for key in (field.label, field.hint, field.message_name) if key}
    assert used and not used - set(ENGLISH), used - set(ENGLISH)
    assert t("gen.done", ZH, n=5, seed=1) == "完成：5 个字符（随机种子 1）。"


def test_a_diverged_training_is_reported_in_chinese_with_its_last_good_checkpoint(tmp_path, monkeypatch):
    from charlm import CharRNN, preset, train

    original = CharRNN.forward

    def poisoned(self, x, state=None, **kwargs):
        logits, state = original(self, x, state, **kwargs)
        poisoned.calls += self.training
        return (logits * float("nan") if poisoned.calls == 8 else logits), state

    poisoned.calls = 0
    monkeypatch.setattr(CharRNN, "forward", poisoned)
    err = _error(
        train,
        Corpus.from_text("abc abd abe " * 200, val_fraction=0.0),
        preset("tiny", epochs=10, max_steps=50, save_every=5),
        tmp_path,
    )
    zh = i18n.error_text(err, ZH)
    assert zh.startswith("训练发散了：第 8 步的损失变成了 nan。") and "请降低学习率（当前为 0.01）" in zh
    assert zh.endswith("最后一个正常的检查点是 i5_l64.safetensors。") and str(tmp_path) not in zh  # no server path


# Emoji-only signs (and the selector that turns a text sign into an emoji): Debian's Chromium, a projector's
# browser, has no font for them and draws empty boxes.
EMOJI = re.compile("[\ufe0f\u231a\u231b\u23e9-\u23fa\u2705\u274c\u274e\u2753-\u2755\u2795-\u2797\U0001f000-\U0001faff]")


def test_no_sign_in_the_page_needs_an_emoji_font():
    root = Path(__file__).resolve().parents[2]
    for path in [*sorted((root / "demo").rglob("*.py")), root / "app.py"]:
        found = EMOJI.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(root)}: {found}"


def test_the_status_says_when_max_steps_end_a_run_before_its_epochs():
    """The form says 50 epochs, the line "Epoch: 1/2": the status says why, in both languages."""
    cut = dataclasses.replace(_snapshot(), epochs_asked=50)
    assert "max steps (400) end it before the 50 epochs asked" in views.status_line(cut, EN)
    assert "设定的 50 轮之前" in views.status_line(cut, ZH)
    assert "max steps" not in views.status_line(dataclasses.replace(_snapshot(), epochs_asked=2), EN)


def test_a_long_line_is_called_long_with_what_to_do_meanwhile():
    waiting = JobSnapshot("waiting", place=12)
    assert "in about 9:00" in views.status_line(dataclasses.replace(waiting, starts_in=540.0), EN)
    long = dataclasses.replace(waiting, starts_in=3 * 3600.0)
    assert "the line is long" in views.status_line(long, EN) and "One batch" in views.status_line(long, EN)
    assert "队伍很长" in views.status_line(long, ZH)


def test_a_full_disk_is_said_as_such_and_no_error_shows_a_server_path():
    full = OSError(errno.ENOSPC, "No space left on device", "/tmp/charlm-sessions/123/abc/run-1/i100_l256.json")
    for lang in (EN, ZH):
        shown = i18n.error_text(full, lang)
        assert shown == i18n.t("err.disk_full", lang) and "/" not in shown
    assert "/" not in i18n.error_text(PermissionError(13, "denied", "/srv/x"), EN)


def test_a_live_runs_final_figure_past_its_budget_is_said_to_be_a_part(tmp_path):
    """Through the whole path: the training loop scores within ``final_score_gflop``, the job keeps the part's
    size, and the status line says the figure covers a part and why."""
    text = "Happy families are all alike; every unhappy family is unhappy in its own way.\n" * 2000
    corpus = Corpus.from_text(text, val_fraction=0.2)
    cfg = preset("tiny", max_steps=3, eval_every=0, save_every=0, final_score_gflop=1e-6, val_fraction=0.2)
    job = TrainingJob(corpus, cfg, str(tmp_path))
    job.start()
    job.wait(timeout=120)
    snap = job.snapshot()
    step, _, chars = snap.held_out
    assert step == 3 and 0 < chars < snap.held_out_chars == len(corpus.val_data) - 1
    assert f"over {chars:,} of the {snap.held_out_chars:,} held-out characters" in views.status_line(snap, "en")
    assert "个字符上的损失" in views.status_line(snap, "zh-CN")
