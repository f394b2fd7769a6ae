"""NumPy's BLAS runs on one thread while a sampler serves, and goes back when the last one is done."""

import threading

import pytest
import torch

from charlm import Sampler, Vocab
from charlm.network.model import CharRNN, ModelConfig
from charlm.sampling.fast.blas_threads import blas_threads, numpy_blas, one_blas_thread, set_blas_threads

pytestmark = pytest.mark.skipif(not numpy_blas(), reason="threadpoolctl cannot see NumPy's BLAS here")


@pytest.fixture
def sampler():
    torch.manual_seed(0)
    vocab = Vocab(tuple("abcdefgh \n"))
    return Sampler(CharRNN(ModelConfig(len(vocab), hidden_size=32, num_layers=2)).eval(), vocab)


@pytest.fixture
def two_threads():
    """NumPy's BLAS on two threads, as on a 2-core server, whatever this machine's default."""
    libs = numpy_blas()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        set_blas_threads(lib, 2)
    yield
    for lib, n in zip(libs, before):
        set_blas_threads(lib, n)


def test_a_stream_holds_one_thread_until_it_ends(sampler, two_threads):
    seen = []
    stream = sampler.stream("ab", 5, seed=1)
    for _ in stream:
        seen.append(blas_threads())
    assert all(counts == [1] * len(counts) for counts in seen)
    assert blas_threads() == [2] * len(blas_threads())


def test_an_abandoned_stream_gives_the_threads_back(sampler, two_threads):
    stream = sampler.stream("ab", 50, seed=1)
    next(stream)
    assert set(blas_threads()) == {1}
    stream.close()  # what Gradio does when the visitor leaves mid-stream
    assert set(blas_threads()) == {2}


def test_overlapping_callers_share_the_limit(two_threads):
    """The first caller to finish must not put two threads back while another still samples."""
    inside, release = threading.Event(), threading.Event()

    def long_caller():
        with one_blas_thread():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=long_caller)
    worker.start()
    inside.wait(10)
    with one_blas_thread():
        assert set(blas_threads()) == {1}
    assert set(blas_threads()) == {1}  # the other caller is still inside
    release.set()
    worker.join(10)
    assert set(blas_threads()) == {2}


def test_the_scores_are_the_same_on_one_thread_or_two(two_threads):
    """A product large enough for OpenBLAS to split across threads (2×512): identical scores either way."""
    torch.manual_seed(0)
    vocab = Vocab(tuple(chr(c) for c in range(32, 127)))
    big = Sampler(CharRNN(ModelConfig(len(vocab), hidden_size=512, num_layers=2)).eval(), vocab)
    text = vocab.encode("It was the best of times, it was the worst of times")

    def scores():
        state, out = big.new_state(), []
        for x in text:  # step by step: ``step`` itself sets no limit
            out.append(big.step(state, int(x)).copy())
        return out

    assert set(blas_threads()) == {2}
    two = scores()
    with one_blas_thread():
        one = scores()
    assert all((a == b).all() for a, b in zip(one, two))
