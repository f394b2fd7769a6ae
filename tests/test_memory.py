"""The memory estimate a server checks before a training starts."""

import pytest

from charlm import CharLMError, preset
from charlm.memory import check_training_memory, estimate_training_bytes, host_memory_bytes


def test_the_estimate_grows_with_the_batch_and_the_model():
    quick = preset("quick")
    one, two = estimate_training_bytes(quick, 83), estimate_training_bytes(quick.replace(batch_size=64), 83)
    assert 0 < one < two < 2 * one + 1
    assert estimate_training_bytes(quick.replace(num_layers=2), 83) > one
    textbook = estimate_training_bytes(preset("textbook"), 83)
    assert estimate_training_bytes(quick.replace(cell="rnn"), 83) < one < textbook


def test_a_run_that_fits_passes_and_one_that_does_not_gets_the_largest_batch_that_fits():
    check_training_memory(preset("quick"), 83, 1 << 30)
    huge = preset("quick", num_layers=4, hidden_size=1024, batch_size=512, num_steps=512)
    budget = 8 << 30
    with pytest.raises(CharLMError, match=r"would need about \d+\.\d GB") as info:
        check_training_memory(huge, 83, budget)
    fits = info.value.params["fits"]
    assert estimate_training_bytes(huge.replace(batch_size=fits), 83) <= budget
    assert estimate_training_bytes(huge.replace(batch_size=fits + 1), 83) > budget
    with pytest.raises(CharLMError, match="Even one sequence"):
        check_training_memory(huge, 83, 64 << 20)


def test_the_host_has_some_memory():
    assert host_memory_bytes() > 256 << 20
