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


def card_figures() -> dict[str, float]:
    """`model-file: validation loss X` lines of the card."""
    text = CARD.read_text(encoding="utf-8")
    found = re.finditer(r"`([\w.-]+\.safetensors)`: validation loss ([\d.]+)", text)
    return {m.group(1): float(m.group(2)) for m in found}


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
