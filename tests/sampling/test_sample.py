import numpy as np
import pytest
import torch

from charlm import CharLMError, Corpus, Sampler, preset, reference_generate, train
from charlm.data.vocab import Vocab
from charlm.network.model import CharRNN, ModelConfig

TEXT = "Far away, the family sat at the table and talked of Anna. " * 60


@pytest.fixture(scope="module")
def trained():
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    result = train(corpus, preset("tiny", epochs=20, max_steps=150, eval_every=0))
    return result.model, corpus.vocab


def test_same_seed_same_text_and_exact_length(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    a = s.generate("Far", 300, top_n=4, seed=7)
    b = s.generate("Far", 300, top_n=4, seed=7)
    c = s.generate("Far", 300, top_n=4, seed=8)
    assert a == b and a != c
    assert a.startswith("Far") and len(a) == 303
    assert len(s.generate("Far", 0, seed=1)) == 3


def test_stream_yields_the_generated_characters(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    chars = list(s.stream("Far", 50, seed=3))
    assert len(chars) == 50 and all(len(c) == 1 for c in chars)
    assert "Far" + "".join(chars) == s.generate("Far", 50, seed=3)


def test_top_one_is_greedy_and_deterministic(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    assert s.generate("Far", 80, top_n=1, seed=1) == s.generate("Far", 80, top_n=1, seed=2)


def test_top_n_limits_the_choices(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    probs = s.next_char_distribution("Far")
    allowed = {vocab.chars[i] for i in np.argsort(-probs)[:2]}
    # a high temperature flattens the two allowed choices, so both appear
    firsts = {s.generate("Far", 1, top_n=2, temperature=20.0, seed=k)[-1] for k in range(40)}
    assert firsts <= allowed and len(firsts) == 2


def test_distribution_sums_to_one_and_sharpens_with_temperature(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    p1 = s.next_char_distribution("Far away, the famil", temperature=1.0)
    p_cold = s.next_char_distribution("Far away, the famil", temperature=0.5)
    assert p1.shape == (len(vocab),) and p1.sum() == pytest.approx(1.0)
    assert p_cold.max() > p1.max()
    assert vocab.chars[int(np.argmax(p1))] == "y"


@pytest.mark.parametrize("cell,layers,embedding", [("lstm", 2, 0), ("gru", 2, 0), ("rnn", 2, 0), ("lstm", 1, 16)])
def test_fast_sampler_matches_the_plain_pytorch_loop(cell, layers, embedding):
    torch.manual_seed(0)
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(
        ModelConfig(len(vocab), cell=cell, hidden_size=48, num_layers=layers, dropout=0.0, embedding_dim=embedding)
    )
    # make the untrained network's predictions less uniform (a plain RNN with large weights is
    # chaotic: rounding differences would grow, so it is scaled less)
    for p in model.parameters():
        p.data.mul_(1.0 if cell == "rnn" else 3.0)
    model.eval()
    fast = Sampler(model, vocab).generate("Far away", 400, top_n=5, temperature=0.9, seed=11)
    slow = reference_generate(model, vocab, "Far away", 400, top_n=5, temperature=0.9, seed=11)
    assert fast == slow
    # and the scores themselves agree
    s = Sampler(model, vocab)
    logits = s.feed(s.new_state(), "Far away")
    with torch.inference_mode():
        ref, _ = model(torch.from_numpy(vocab.encode("Far away"))[None])
    np.testing.assert_allclose(logits, ref[0, -1].numpy(), rtol=1e-4, atol=1e-5)


def test_unknown_prime_characters_error_or_skip(trained):
    model, vocab = trained
    s = Sampler(model, vocab)
    with pytest.raises(CharLMError, match=r"'Z'.*'!'"):
        s.generate("Far Z!", 10)
    with pytest.warns(UserWarning, match="skipping"):
        text = s.generate("FarZ", 10, seed=1, on_unknown="skip")
    assert text.startswith("Far") and len(text) == 13
    with pytest.raises(CharLMError, match="None of"), pytest.warns(UserWarning):
        s.generate("ZZZ", 10, on_unknown="skip")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prime": ""}, "empty"),
        ({"top_n": 0}, "top_n"),
        ({"top_n": 10_000}, "top_n"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"length": -1}, "length"),
        ({"prime": "F" * 200_000}, "limit"),
    ],
)
def test_bad_sampling_settings(trained, kwargs, message):
    model, vocab = trained
    args = {"prime": "Far", "length": 5, "top_n": 4, "temperature": 1.0} | kwargs
    with pytest.raises(CharLMError, match=message):
        Sampler(model, vocab).generate(**args)


@pytest.mark.slow
def test_int8_weights_keep_the_models_predictions(trained):
    """The int8 sampler: a quarter of the weights' bytes; its next-character distributions stay within a small
    KL divergence of fp32's, it mostly picks the same most likely character, and a seed still fixes its text."""
    model, vocab = trained
    fp32, int8 = Sampler(model, vocab), Sampler(model, vocab, "int8")
    assert int8.precision == "int8" and int8.nbytes < fp32.nbytes / 2
    kl, same = [], []
    for end in range(5, len(TEXT), 97):
        p, q = fp32.next_char_distribution(TEXT[:end][-200:]), int8.next_char_distribution(TEXT[:end][-200:])
        kl.append(float(np.sum(p * np.log(p / q))))
        same.append(p.argmax() == q.argmax())
    assert np.mean(kl) < 0.01 and np.mean(same) > 0.9
    assert int8.generate(TEXT[:4], 200, 4, 1.0, 3) == int8.generate(TEXT[:4], 200, 4, 1.0, 3)
    with pytest.raises(CharLMError, match="precision"):
        Sampler(model, vocab, "fp16")


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 3), ("rnn", 1)])
def test_a_copied_memory_goes_on_exactly_as_the_text_read_again(cell, layers):
    """The sampling lab reads its prime once and lets each strategy go on from a copy: each copy then writes
    exactly what a reading of its own would, and stepping one copy leaves the others as they were."""
    torch.manual_seed(1)
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(ModelConfig(len(vocab), cell=cell, hidden_size=32, num_layers=layers, dropout=0.0))
    s = Sampler(model, vocab)
    read = s.new_state()
    s.feed(read, "Far away, the")
    first, second = s.copy_state(read), s.copy_state(read)
    again = s.new_state()
    s.feed(again, "Far away, the")
    for ch in " family sat":
        x = vocab.stoi[ch]
        assert np.array_equal(s.step(first, x), s.step(again, x))
    assert np.array_equal(s.step(second, vocab.stoi[" "]), s.step(s.copy_state(read), vocab.stoi[" "]))
    fresh = s.new_state()
    assert np.array_equal(s.feed(fresh, "Far away, the "), s.step(s.copy_state(read), vocab.stoi[" "]))
