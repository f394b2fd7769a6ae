import numpy as np
import pytest

from charlm import CharLMError, Corpus, Sampler, preset, train
from charlm.lessons.gradients import fresh_models, gradient_decay
from charlm.lessons.toy import toy_model
from charlm.lessons.traces import feature_correlations, gate_saturation, next_char_guesses, text_features, trace


def test_toy_hello_scores_become_the_right_predictions():
    r = toy_model("hello", steps=300)
    assert r.vocab == ("h", "e", "l", "o")
    assert r.pairs == [("h", "e"), ("he", "l"), ("hel", "l"), ("hell", "o")]
    assert r.one_hot.shape == (4, 4) and np.array_equal(r.one_hot.sum(1), np.ones(4))
    for probs in (r.probs_before, r.probs_after):
        np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    targets = [r.vocab.index(t) for _, t in r.pairs]
    assert np.all(r.probs_after[np.arange(4), targets] > 0.9)
    assert np.all(r.probs_before[np.arange(4), targets] < 0.6)
    assert r.losses[-1] < 0.05 < r.losses[0]


def test_toy_rejects_bad_words():
    for word in ("", "a", "aaaa", "x" * 41):
        with pytest.raises(CharLMError):
            toy_model(word)


def test_gradient_curves_have_the_right_length_and_the_rnn_forgets_fastest():
    ids = np.random.default_rng(0).integers(0, 40, 101)
    curves = {cell: gradient_decay(m, ids) for cell, m in fresh_models(40, hidden_size=64).items()}
    for curve in curves.values():
        assert curve.shape == (100,) and np.all(curve >= 0)
    # 30 steps back, the plain RNN's gradient has shrunk far more than the LSTM's
    ratio = {cell: c[30] / c[0] for cell, c in curves.items()}
    assert ratio["rnn"] < ratio["lstm"] / 100


def test_feature_correlation_finds_a_planted_unit():
    text = 'He said "yes" and then "no", and left.\nShe said "maybe" twice.\n' * 4
    features = text_features(text)
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(len(text), 32))
    acts[:, 17] = 2.0 * features["inside quotes"] + 0.1 * rng.normal(size=len(text))
    acts[:, 5] = -0.3 * features["position in the line"] + 0.1 * rng.normal(size=len(text))
    found = feature_correlations(acts, features)
    assert found["inside quotes"][0][0] == 17 and found["inside quotes"][0][1] > 0.95
    assert found["position in the line"][0][0] == 5 and found["position in the line"][0][1] < -0.95


def test_trace_saturation_and_guesses_on_a_trained_model():
    text = 'The cat said "hello" to the dog. The dog said "hi".\n' * 50
    corpus = Corpus.from_text(text, val_fraction=0.1)
    model = train(corpus, preset("tiny", epochs=40, max_steps=200, num_layers=2, eval_every=0)).model
    sampler = Sampler(model, corpus.vocab)
    passage = text[:200]
    tr = trace(sampler, passage)
    assert len(tr.layers) == 2
    assert tr.layers[0]["cell"].shape == (200, 64) and set(tr.layers[1]) >= {"input", "forget", "output", "hidden"}
    np.testing.assert_allclose(tr.probs.sum(1), 1.0, rtol=1e-5)
    sat = gate_saturation(tr)
    assert len(sat) == 2 and all(0 <= lo <= 1 and 0 <= hi <= 1 for lo, hi in sat[0].values())
    guesses = next_char_guesses(sampler, passage)
    assert len(guesses) == 199 and all(len(g.top) == 5 for g in guesses)
    assert np.mean([g.prob for g in guesses]) > 0.5  # it learned this repetitive text
    # the recorded hidden state is the one the sampler carries
    state = sampler.new_state()
    for x in corpus.vocab.encode(passage):
        sampler.step(state, int(x))
    np.testing.assert_allclose(tr.layers[1]["hidden"][-1], state.h[1], rtol=1e-6)
    with pytest.raises(CharLMError, match="never saw"):
        trace(sampler, "Zebra")


def test_the_cell_race_is_on_equal_footing():
    """The same steps for every cell, about the same parameters (within 2 %), a seed of its own per run."""
    from charlm.lessons.race import comparison_config
    from charlm.network.model import parameter_count

    configs = {cell: comparison_config(cell, 200, 83, seed=1) for cell in ("rnn", "gru", "lstm")}
    assert {c.max_steps for c in configs.values()} == {200} and all(c.max_seconds == 0 for c in configs.values())
    sizes = {cell: parameter_count(c.model_config(83)) for cell, c in configs.items()}
    assert max(sizes.values()) / min(sizes.values()) < 1.02, sizes
    assert configs["rnn"].hidden_size > configs["gru"].hidden_size > configs["lstm"].hidden_size == 128
    assert comparison_config("lstm", 200, 83, seed=2).seed == 2
