"""The long-dependency experiment: a key recalled across a gap of k random characters."""

import numpy as np
import pytest

from charlm.errors import CharLMError
from charlm.lessons.recall import ALPHABET, KEYS, RecallSettings, as_text, records, train_recall


def test_a_record_is_a_key_random_fillers_and_the_question():
    x, y = records(5, 3, np.random.default_rng(0))
    assert x.shape == (3, 7) and y.shape == (3,)
    for text, key in zip(as_text(x), y.tolist()):
        assert text[0] == KEYS[key] and text[-1] == "=" and text[1:-1].islower()
    assert len(set(ALPHABET)) == len(ALPHABET)


def test_the_curriculum_grows_the_gap_to_the_whole_of_it():
    s = RecallSettings(steps=600)
    assert [s.gap_at(step, 40) for step in (0, 199, 200, 399, 400, 599)] == [10, 10, 20, 20, 40, 40]


@pytest.mark.slow
def test_the_lstm_remembers_across_40_characters_where_the_plain_rnn_cannot():
    """Same size, steps, learning rate, clipping, seed and curriculum: only the cell differs."""
    settings = RecallSettings(hidden_size=64, steps=600, test_records=500)
    lstm, rnn = train_recall("lstm", 40, settings), train_recall("rnn", 40, settings)
    assert lstm.accuracy > 0.95  # right nearly every time
    assert rnn.accuracy < 0.75 and lstm.accuracy > rnn.accuracy + 0.25  # chance is 0.25
    assert train_recall("lstm", 2, RecallSettings(steps=150, test_records=200)).accuracy > 0.95  # a short gap: easy


def test_a_gap_out_of_range_is_refused():
    with pytest.raises(CharLMError):
        train_recall("lstm", 0)
