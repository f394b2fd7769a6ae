"""The sampling lab: each strategy keeps what it says, the chapter's top-N sample is the Generate tab's text,
and the scores order the strategies as the chapter's argument needs (greedy safest, hot least likely)."""

import numpy as np
import pytest

from charlm import CharLMError, Corpus, Sampler, preset, train
from charlm.lessons.strategies import LAB, Strategy, distribution_at, sampling_lab

TEXT = (
    "Happy families are all alike; every unhappy family is unhappy in its own way. "
    "Everything was in confusion in the Oblonskys' house. "
) * 40


@pytest.fixture(scope="module")
def sampler():
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    model = train(corpus, preset("tiny", max_steps=150, eval_every=0, seed=0)).model
    return Sampler(model, corpus.vocab)


def test_each_strategy_keeps_what_it_says():
    logits = np.log(np.array([0.05, 0.5, 0.2, 0.15, 0.1]))
    assert list(Strategy("g", top_n=1).kept(logits)) == [1]
    assert list(Strategy("n", top_n=3).kept(logits)) == [1, 2, 3]
    assert list(Strategy("p", top_p=0.8).kept(logits)) == [1, 2, 3]  # 0.5 + 0.2 + 0.15 = 0.85 ≥ 0.8
    assert list(Strategy("p", top_p=0.7).kept(logits)) == [1, 2]  # 0.7 reached exactly
    w = Strategy("n", top_n=2).weights(logits)
    np.testing.assert_allclose(w, [0, 0.5 / 0.7, 0.2 / 0.7, 0, 0])
    cold, hot = Strategy("c", temperature=0.5).weights(logits), Strategy("h", temperature=2.0).weights(logits)
    assert cold.max() > 0.5 > hot.max() and np.isclose(cold.sum(), 1) and np.isclose(hot.sum(), 1)


def test_the_lab_is_reproducible_and_its_top_n_sample_is_the_generate_tabs(sampler):
    runs = sampling_lab(sampler, "Happy ", 120, seed=7)
    assert [r.strategy.key for r in runs] == [s.key for s in LAB]
    assert [r.text for r in runs] == [r.text for r in sampling_lab(sampler, "Happy ", 120, seed=7)]
    top4 = next(r for r in runs if r.strategy.key == "top_n")
    assert top4.text == sampler.generate("Happy ", 120, top_n=4, temperature=1.0, seed=7)[len("Happy ") :]
    greedy = next(r for r in runs if r.strategy.key == "greedy")
    assert greedy.text == sampler.generate("Happy ", 120, top_n=1, seed=99)[len("Happy ") :]  # no draw at all
    by_key = {r.strategy.key: r for r in runs}
    assert by_key["greedy"].kept_size == 1 and by_key["top_n"].kept_size == 4
    assert by_key["whole"].mass_kept == pytest.approx(1.0)
    assert by_key["greedy"].bits_per_char < by_key["top_n"].bits_per_char < by_key["hot"].bits_per_char
    assert 0 < by_key["top_n"].mass_kept <= 1 and by_key["greedy"].mass_kept < by_key["top_n"].mass_kept


def test_the_bits_are_the_models_own_log_likelihood_of_the_sample(sampler):
    run = sampling_lab(sampler, "Happy ", 40, seed=3)[1]
    bits, state = 0.0, sampler.new_state()
    logits = sampler.feed(state, "Happy ")
    for c in run.text:
        p = np.exp(logits - logits.max())
        p /= p.sum()
        bits -= np.log2(p[sampler.vocab.stoi[c]])
        logits = sampler.step(state, sampler.vocab.stoi[c])
    assert run.bits_per_char == pytest.approx(bits / 40, rel=1e-6)


def test_the_distribution_at_a_position_shows_each_strategys_version(sampler):
    d = distribution_at(sampler, "Happy fam")
    np.testing.assert_allclose(d.probs.sum(), 1.0)
    for key, w in d.weights.items():
        np.testing.assert_allclose(w.sum(), 1.0, err_msg=key)
    assert np.count_nonzero(d.weights["top_n"]) == 4 and np.count_nonzero(d.weights["greedy"]) == 1
    assert np.argmax(d.weights["greedy"]) == np.argmax(d.probs)


def test_bad_lab_settings_are_refused(sampler):
    with pytest.raises(CharLMError) as err:
        sampling_lab(sampler, "Happy", 5000, seed=0)
    assert err.value.key == "lab_length"
    with pytest.raises(CharLMError):
        sampling_lab(sampler, "Zebra ☃", 50, seed=0)
    with pytest.raises(CharLMError) as err:  # a 20,000-character prime cost a minute of CPU in the lab
        sampling_lab(sampler, "Happy " * 400, 50, seed=0)
    assert err.value.key == "lab_prime_long" and "2,000" in str(err.value)
    assert len(sampling_lab(sampler, ("Happy " * 400)[:2000], 20, seed=0)) == 6


def test_the_lab_finds_where_the_model_was_least_sure(sampler):
    run = sampling_lab(sampler, "Happy ", 60, seed=1)[1]
    text = "Happy " + run.text

    def entropy(prefix):
        p = distribution_at(sampler, prefix).probs
        return float(-(p * np.log(np.maximum(p, 1e-300))).sum())

    found = entropy(text[: len("Happy ") + run.most_uncertain])
    assert all(found >= entropy(text[: len("Happy ") + k]) - 1e-9 for k in range(0, 60, 7))
