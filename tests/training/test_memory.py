"""The memory estimate a server checks before a training starts."""

import pytest

from charlm import CharLMError, preset
from charlm.training.memory import check_training_memory, estimate_training_bytes, host_memory_bytes


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


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_limit_of_a_nested_cgroup_is_found(tmp_path, version):
    """A server started in a child cgroup (a container, ``systemd-run -p MemoryMax=4G``) sees that limit,
    not the unlimited root's; and a tighter limit above it wins."""
    root = tmp_path / "cgroup"
    if version == "v1":
        own = "4:memory:/class/server\n1:cpu:/\n"
        base, name = root / "memory", "memory.limit_in_bytes"
    else:
        own = "0::/class/server\n"
        base, name = root, "memory.max"
    (base / "class" / "server").mkdir(parents=True)
    (base / name).write_text("9223372036854771712\n" if version == "v1" else "max\n")
    (base / "class" / name).write_text(str(6 << 30))
    (base / "class" / "server" / name).write_text(str(4 << 30))
    (tmp_path / "self").write_text(own)
    assert host_memory_bytes(root, tmp_path / "self") == 4 << 30
    (base / "class" / name).write_text(str(3 << 30))
    assert host_memory_bytes(root, tmp_path / "self") == 3 << 30
    (base / "class" / name).write_text("max\n")
    (base / "class" / "server" / name).write_text("max\n")
    assert host_memory_bytes(root, tmp_path / "self") > 1 << 28  # no limit anywhere: the machine's memory
