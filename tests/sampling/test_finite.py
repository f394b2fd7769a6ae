"""A checkpoint whose weights are finite but whose outputs overflow: every view that turns scores into
probabilities refuses it with a message (never "nan%" on a page)."""

import pytest
import torch

from charlm import CharLMError, Corpus, Sampler
from charlm.lessons.step_by_step import OneCharacter
from charlm.lessons.traces import next_char_guesses
from charlm.network.model import CharRNN, ModelConfig


@pytest.fixture(scope="module")
def overflowing():
    corpus = Corpus.from_text("abc abd abe " * 50)
    model = CharRNN(ModelConfig(len(corpus.vocab), hidden_size=16, num_layers=1)).eval()
    with torch.no_grad():
        for name, weight in model.rnn.named_parameters():  # every gate wide open: each unit's output near +1
            weight.fill_(10.0 if name.startswith("bias") else 0.0)
        model.decoder.weight.fill_(3e38)  # finite (float32 goes to 3.4e38), but a sum of 16 of them is not
    assert all(torch.isfinite(p).all() for p in model.parameters())
    return Sampler(model, corpus.vocab)


def test_the_next_character_view_refuses_scores_that_overflow(overflowing):
    with pytest.raises(CharLMError, match="not finite") as caught:
        overflowing.next_char_distribution("ab")
    assert caught.value.key == "outputs_not_finite"


def test_the_guesses_and_one_character_views_refuse_them_too(overflowing):
    with pytest.raises(CharLMError, match="not finite"):
        next_char_guesses(overflowing, "abc abd")
    with pytest.raises(CharLMError, match="not finite"):
        OneCharacter(overflowing, "ab", 3, 1.0, 0).step()


def test_a_model_whose_scores_overflow_is_caught_when_it_is_loaded(overflowing):
    """Before any view: the scores after each of its characters, from a blank memory, are checked."""
    with pytest.raises(CharLMError) as caught:
        overflowing.check_outputs()
    assert caught.value.key == "outputs_not_finite"
    corpus = Corpus.from_text("abc abd abe " * 50)
    Sampler(CharRNN(ModelConfig(len(corpus.vocab), hidden_size=16, num_layers=1)).eval(), corpus.vocab).check_outputs()
