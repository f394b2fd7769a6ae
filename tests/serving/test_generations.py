"""Generations stepped together: each writes exactly the text it writes alone, joins and leaves at step
boundaries, and a stopped one leaves without disturbing the rest."""

import threading
import time

import pytest
import torch

from charlm import CharLMError, CharRNN, ModelConfig, Sampler, Vocab
from charlm.serving.generations import Generations

TEXT = "the cat sat on the mat. a dog ran far away; the end!\n"
SETTINGS = [  # prime, length, top-N, temperature, seed: every stream its own
    ("the ", 120, 4, 1.0, 1),
    ("a", 80, 1, 1.0, 2),
    ("dog ran", 150, 3, 0.7, 3),
    ("t", 1, 5, 2.0, 4),
    ("the mat", 60, 10, 1.3, 5),
    ("far", 140, 2, 0.5, None),
    ("on ", 100, 20, 1.0, 7),
    ("e", 90, 4, 1.0, 8),
    ("the ", 70, len(set(TEXT)), 1.0, 11),  # every character kept: drawn by NumPy, not by the compiled rule
]


@pytest.fixture(scope="module", params=[("lstm", "fp32"), ("gru", "fp32"), ("lstm", "int8")], ids=str)
def sampler(request) -> Sampler:
    cell, precision = request.param
    torch.manual_seed(0)
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(ModelConfig(len(vocab), cell, 48, 2, 0.0))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)  # varied scores, so that different settings write different texts
    return Sampler(model, vocab, precision)


def _read_all(gens: Generations, settings, stop_after: dict[int, int] | None = None) -> list[str]:
    """Each setting read by its own thread (as visitors' requests are), all lined up before the first step."""
    texts = [""] * len(settings)

    def reader(i):
        it = gens.stream(*settings[i])
        for ch in it:
            texts[i] += ch
            if stop_after and len(texts[i]) == stop_after.get(i):
                it.close()  # the visitor pressed Stop
                return

    with gens.held():
        threads = [threading.Thread(target=reader, args=(i,)) for i in range(len(settings))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while gens.waiting < len(settings) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gens.waiting == len(settings)
    for t in threads:
        t.join(60)
    return texts


def _alone(sampler: Sampler, settings) -> list[str]:
    texts = []
    for prime, length, top_n, temperature, seed in settings:
        texts.append("".join(sampler.stream(prime, length, top_n, temperature, seed if seed is not None else 6)))
    return texts


def _seeded(settings):
    return [(p, n, k, t, s if s is not None else 6) for p, n, k, t, s in settings]


@pytest.mark.slow
def test_every_stream_writes_what_it_writes_alone(sampler):
    gens = Generations(sampler)
    together = _read_all(gens, _seeded(SETTINGS))
    assert together == _alone(sampler, SETTINGS)
    assert gens.widest == len(SETTINGS)  # they really were stepped together
    assert (gens.runs > 0) == sampler.generates_rows  # and many steps at a time where the loops are compiled
    assert len(set(together)) == len(together)  # and the settings really differ
    assert [len(t) for t in together] == [s[1] for s in SETTINGS]


def test_a_batch_cut_into_parts_for_several_cores_writes_what_each_writes_alone(sampler):
    """Sixteen streams on four cores: four parts side by side, cut again as streams of different lengths leave."""
    settings = [
        (prime, 40 + 13 * i, 1 + i % 6, 0.6 + 0.1 * (i % 7), 100 + i)
        for i, prime in enumerate(["the ", "a", "dog", "t", "mat", "far", "on ", "e"] * 2)
    ]
    gens = Generations(sampler, cores=4)
    assert _read_all(gens, settings) == _alone(sampler, settings)
    assert gens.widest == 16
    assert (gens.split_runs > 0) == sampler.generates_rows  # the parts really were stepped side by side


def test_a_full_batch_makes_the_rest_wait_and_changes_nothing(sampler):
    gens = Generations(sampler, max_streams=3)
    assert _read_all(gens, _seeded(SETTINGS)) == _alone(sampler, SETTINGS)
    assert gens.widest == 3


def test_stop_ends_one_stream_only(sampler):
    gens = Generations(sampler)
    got = _read_all(gens, _seeded(SETTINGS), stop_after={0: 10, 2: 1})
    alone = _alone(sampler, SETTINGS)
    assert got[0] == alone[0][:10] and got[2] == alone[2][:1]
    assert [g for i, g in enumerate(got) if i not in (0, 2)] == [a for i, a in enumerate(alone) if i not in (0, 2)]


def test_the_stepping_thread_ends_with_the_last_stream(sampler):
    gens = Generations(sampler)
    _read_all(gens, _seeded(SETTINGS[:3]))
    deadline = time.monotonic() + 30
    while any(t.name == "charlm-generations" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "charlm-generations" for t in threading.enumerate())
    assert "".join(gens.stream("the ", 30, 4, 1.0, 9)) == "".join(sampler.stream("the ", 30, 4, 1.0, 9))  # and again


def test_bad_settings_are_refused_before_anything_starts(sampler):
    gens = Generations(sampler)
    with pytest.raises(CharLMError):
        gens.stream("the ", 10, 0, 1.0, 1)
    with pytest.raises(CharLMError):
        gens.stream("", 10, 4, 1.0, 1)
    with pytest.raises(CharLMError):
        gens.stream("the ", 10, 4, float("nan"), 1)
    assert list(gens.stream("the ", 0, 4, 1.0, 1)) == []
    assert gens.steps == 0
