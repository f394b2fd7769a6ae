"""The models shipped in assets/: they load, their card tells the truth, their samples repeat."""

import math
import re

import pytest
from helpers import ANNA, ROOT

from charlm import Corpus, Sampler, load_checkpoint
from charlm.training.evaluate import score_held_out

ASSETS = ROOT / "assets"
CARD = ASSETS / "MODEL_CARD.md"
MODELS = sorted(ASSETS.glob("*.safetensors"))


def card_figures(column: str = "validation loss") -> dict[str, float]:
    """`model-file: validation loss X; the novel alone Y` lines of the card."""
    text = CARD.read_text(encoding="utf-8")
    found = re.finditer(rf"`([\w.-]+\.safetensors)`: .*?{column} ([\d.]+)", text)
    return {m.group(1): float(m.group(2)) for m in found}


def card_metadata() -> dict:
    """The card's metadata block (what the Hub reads), as YAML."""
    import yaml

    text = CARD.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_cards_metadata_gives_the_licence_and_the_figures_it_quotes():
    meta = card_metadata()
    assert meta["license"] == "mit"
    quoted = {entry["name"]: [m["value"] for m in entry["results"][0]["metrics"]] for entry in meta["model-index"]}
    for name, alone in card_figures("the novel alone").items():
        assert quoted[name.removesuffix(".safetensors")] == [card_figures()[name], alone]


def test_the_pretrained_models_are_shipped_with_a_card():
    assert MODELS, "assets/ holds the pretrained models"
    assert any(p.stem.startswith("anna-2x512") for p in MODELS)
    figures = card_figures()
    for path in MODELS:
        assert path.name in figures, f"MODEL_CARD.md gives the validation loss of {path.name}"
        assert path.with_suffix(".json").is_file()
    total = sum(p.stat().st_size + p.with_suffix(".json").stat().st_size for p in MODELS)
    assert total <= 25 * 1024 * 1024


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_loads_and_samples_reproducibly(path):
    ckpt = load_checkpoint(path)
    assert len(ckpt.vocab) == 83 and not ckpt.can_resume  # weights only
    sampler = Sampler(ckpt.model, ckpt.vocab)
    a = sampler.generate("Far", 300, top_n=4, seed=42)
    assert a == sampler.generate("Far", 300, top_n=4, seed=42)
    assert a != sampler.generate("Far", 300, top_n=4, seed=43)


@pytest.mark.slow
@pytest.mark.skipif(not ANNA.is_file(), reason="../shared/corpora/anna.txt is not present")
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_validation_loss_matches_the_card(path):
    ckpt = load_checkpoint(path)
    corpus = Corpus.from_text(ANNA.read_text(encoding="utf-8"), val_fraction=0.1, vocab=ckpt.vocab)
    cfg = ckpt.train_config
    score = score_held_out(ckpt.model, corpus.val_data, cfg.batch_size, cfg.num_steps)
    assert score.chars == 198_521  # every held-out character
    loss = score.loss
    assert math.isclose(loss, card_figures()[path.name], abs_tol=0.002)
    if path.stem.startswith("anna-2x512"):
        assert loss <= 1.30
    held_out = corpus.text[len(corpus.text) - len(corpus.val_data) :]
    novel = held_out[: held_out.index("*** END OF")]  # as `evaluate --until "*** END OF"`: before the licence
    alone = score_held_out(ckpt.model, ckpt.vocab.encode(novel), cfg.batch_size, cfg.num_steps)
    assert alone.chars == 179_449  # what `evaluate` reports for the same part
    assert math.isclose(alone.loss, card_figures("the novel alone")[path.name], abs_tol=0.002)
