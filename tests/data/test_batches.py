import numpy as np
import pytest

from charlm import Batches, CharLMError, one_hot


def test_targets_are_inputs_shifted_by_one_including_last_column():
    data = np.arange(1000)
    b = Batches(data, batch_size=4, num_steps=10)
    assert len(b) == (1000 - 1) // 40 == 24
    for i in range(len(b)):
        x, y = b[i]
        assert x.shape == y.shape == (4, 10)
        # every target is the character right after its input in the text
        assert np.array_equal(y, x + 1)
    # the last target column is the first input column of the next window (not a wrap-around)
    _x0, y0 = b[0]
    x1, _ = b[1]
    assert np.array_equal(y0[:, -1], x1[:, 0])


def test_rows_are_contiguous_stretches_of_the_text():
    data = np.arange(401)
    b = Batches(data, batch_size=4, num_steps=10)  # K = 400 // 40 = 10 windows
    assert b.inputs.shape == (4, 100)
    assert np.array_equal(b.inputs[1, :3], [100, 101, 102])
    assert b.targets[-1, -1] == 400  # the kept extra character


def test_only_whole_batches_are_kept():
    b = Batches(np.arange(125), batch_size=3, num_steps=10)
    assert len(b) == 4 and b.dropped == 125 - 120
    with pytest.raises(IndexError):
        b[4]


def test_text_shorter_than_one_batch_says_how_short_and_what_fits():
    with pytest.raises(CharLMError) as err:
        Batches(np.arange(500), batch_size=100, num_steps=100)
    message = str(err.value)
    assert "10,001" in message and "9,501 more" in message
    assert "batch_size=4, num_steps=100" in message
    with pytest.raises(CharLMError, match="batch_size=1, num_steps=49"):
        Batches(np.arange(50), batch_size=2, num_steps=100)


def test_one_hot():
    oh = one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert oh.shape == (2, 2, 3)
    assert np.array_equal(oh.sum(-1), np.ones((2, 2)))
    assert oh[0, 1, 2] == 1 and oh[1, 0, 1] == 1
