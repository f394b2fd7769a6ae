"""Each thing a contributor may add has one place: a cell type, a built-in corpus and a language,
each added here in that one place only (as docs/ARCHITECTURE.md's recipes say), and the page
builds with them, offers them and uses them."""

import functools
import types

import numpy as np
import pytest
import torch
from torch import nn

from charlm import Corpus, Sampler, preset, reference_generate, train
from charlm.data import corpora
from charlm.network import cells as cell_table
from demo import fields, i18n
from demo.app import AppConfig, CharLMApp
from demo.locales import LOCALES, Locale
from demo.tabs import corpus as corpus_tab

TEXT = "a relu network reads the text one character at a time. " * 80


def _relu_step(g, _, h, c, H, record):
    np.maximum(g, 0.0, out=h)
    if record is not None:
        record.append({"hidden": h.reshape(-1).copy()})  # one row (the sampler steps one generation to record)


def _relu_kernel(x, state, weights, train):
    return torch.rnn_relu(x, state, weights, True, 1, 0.0, train, False, True)


RELU = cell_table.Cell(
    "relu",
    functools.partial(nn.RNN, nonlinearity="relu"),
    _relu_kernel,
    blocks=1,
    gates=(),
    has_cell_state=False,
    fused_input=True,
    step=_relu_step,
    colour="#9333ea",
)


@pytest.fixture()
def relu_cell(monkeypatch):
    monkeypatch.setitem(cell_table.CELLS, "relu", RELU)
    return "relu"


@pytest.fixture()
def extra_corpus(monkeypatch, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "fables.txt").write_text(TEXT, encoding="utf-8")
    info = corpora.CorpusInfo(
        name="fables",
        filename="fables.txt",
        title="Fables (a test text)",
        source="this test",
        licence="public domain",
        url="",
        size=len(TEXT.encode()),
        sha256="",
        download_sha256="",
    )
    monkeypatch.setitem(corpora.REGISTRY, "fables", info)
    monkeypatch.setenv("CHARLM_DATA_DIR", str(data))
    return "fables"


@pytest.fixture()
def extra_language(monkeypatch, tmp_path):
    """French as the recipe adds a language: a module of short texts, and a lesson folder of Markdown."""
    module = types.ModuleType("fr")
    module.CODE, module.NAME = "fr", "Français"
    module.TEXTS = {"tab.corpus": "1 · Corpus (fr)", "corpus.load": "Charger le texte"}
    (tmp_path / "lessons" / "fr").mkdir(parents=True)
    (tmp_path / "lessons" / "fr" / "corpus.md").write_text(
        "# Onglet 2 · Corpus\n\n<!-- ask.corpus -->\nCombien de caractères différents ?\n", encoding="utf-8"
    )
    monkeypatch.setitem(LOCALES, "fr", Locale.from_module(module, lessons=tmp_path / "lessons"))
    return "fr"


def test_a_new_cell_is_one_entry_and_trains_samples_and_shows(relu_cell, tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    config = preset(
        "tiny", cell=relu_cell, epochs=30, max_steps=150, eval_every=0, dropout=0.2, num_layers=2, learning_rate=3e-3
    )
    result = train(corpus, config)
    losses = [v for _, v in result.progress.train_loss]
    assert np.mean(losses[-10:]) < losses[0] - 0.5  # it learns
    model = result.model.eval()
    # the NumPy step the entry gives samples exactly what the PyTorch layer computes
    assert Sampler(model, corpus.vocab).generate("a ", 80, seed=3) == reference_generate(
        model, corpus.vocab, "a ", 80, seed=3
    )
    assert fields.TRAIN_FORM[0].parse(relu_cell) == "relu" and relu_cell in fields.TOY_CELL.options
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    demo = app.build()
    radios = [b for b in demo.blocks.values() if type(b).__name__ == "Radio" and ("relu", "relu") in b.choices]
    assert len(radios) == 2  # the Train tab's cell and the toy's


def test_a_new_corpus_is_one_registry_entry_and_is_offered_with_its_own_title(extra_corpus, tmp_path):
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    demo = app.build()
    dropdown = next(
        b
        for b in demo.blocks.values()
        if type(b).__name__ == "Dropdown" and ("Fables (a test text)", "fables") in b.choices
    )
    assert dropdown is not None
    assert corpus_tab.builtin_choices("zh-CN")[-1] == ("Fables (a test text)", "fables")  # untranslated: English
    loaded = corpora.load_builtin("fables", 0.1)
    assert loaded.text == TEXT and loaded.name == "fables"


def test_a_new_language_is_one_file_and_the_page_speaks_it(extra_language, tmp_path):
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    app.build()
    assert ("Français", "fr") in i18n.language_choices()
    assert i18n.normalise("fr-FR") == "fr" and i18n.from_accept_language("fr-CA,fr;q=0.9") == "fr"
    table = i18n.i18n_table().translations_dict["fr"]
    assert table["tab.corpus"] == "1 · Corpus (fr)" and table["tab.train"] == "4 · Train"  # the rest in English
    assert table["ask.corpus"] == "Combien de caractères différents ?"  # its lesson prose, from its Markdown
    assert table["explain.corpus"] == i18n.t("explain.corpus", "en")  # a section left out: in English
    relabel = {
        props.get("label") or props.get("value"): update
        for (_, props), update in zip(app.language.translated, app.language.relabel("fr"))
    }
    assert relabel["tab.corpus"]["label"] == "1 · Corpus (fr)" and relabel["corpus.load"]["value"] == "Charger le texte"
    # an error in a language without a translation of it: charlm's own English sentence
    from charlm.data.batches import check_fits

    with pytest.raises(Exception) as info:
        check_fits(10, 5, 20, what="The text")
    assert i18n.error_text(info.value, "fr") == str(info.value)


def test_a_new_tab_is_one_module_in_the_list(monkeypatch, tmp_path):
    import gradio as gr

    from demo import app as shell
    from demo.i18n import t

    def show(ctx, request: gr.Request):  # a handler: a plain function of the context and its inputs
        return t("tab.notes", ctx.lang(request))

    built = {}

    def build(ctx, tab):  # only layout and wiring
        built["tab"] = tab
        note = gr.Markdown(elem_id="notes")
        ctx.refresh("notes", show, [], [note], on=("language",))

    notes = types.SimpleNamespace(ID="notes", TITLE="tab.notes", build=build)
    monkeypatch.setattr(shell, "TABS", (*shell.TABS, notes))
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    demo = app.build()
    tab = built["tab"]
    assert isinstance(tab, gr.Tab) and i18n.key_of(tab.label) == "tab.notes" and tab.id == "notes"
    assert show(app.ctx, None) == t("tab.notes", "en")  # called in a test, no server
    names = {d.api_name for d in demo.fns.values()}
    assert "notes_on_language" in names and "load_corpus" in names


def test_a_new_preset_is_one_entry_and_is_the_same_in_the_cli_and_the_page(monkeypatch, tmp_path):
    from charlm import PRESETS, TrainConfig
    from charlm.cli import build_parser

    lesson = TrainConfig(batch_size=24, num_steps=48, num_layers=1, hidden_size=128, max_steps=600)
    monkeypatch.setitem(PRESETS, "lesson", lesson)
    monkeypatch.setattr(fields, "UI_PRESETS", (*fields.UI_PRESETS, "lesson"))  # offered on the page too
    app = CharLMApp(AppConfig(sessions_root=tmp_path / "sessions"))
    demo = app.build()
    assert any(type(b).__name__ == "Dropdown" and ("lesson", "lesson") in b.choices for b in demo.blocks.values())
    config = fields.config_from_form("lesson", *fields.preset_values("lesson"))
    assert (config.batch_size, config.hidden_size, config.max_steps) == (24, 128, 600)
    args = build_parser().parse_args(["train", "--corpus", "x.txt", "--out", "runs/x", "--preset", "lesson"])
    assert args.preset == "lesson"
