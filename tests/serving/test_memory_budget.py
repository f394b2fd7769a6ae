"""The shared memory budget of big requests: admitted before they allocate, waiting a little for room, and
what visitors keep between requests put away (longest unused first) when a request needs the room."""

import threading
import time

import pytest

from charlm import CharLMError
from charlm.serving.memory_budget import MemoryBudget

MB = 1 << 20


def test_a_request_larger_than_the_whole_budget_is_refused_at_once_with_both_sizes():
    budget = MemoryBudget(100 * MB, wait_seconds=5)
    started = time.monotonic()
    with pytest.raises(CharLMError) as err, budget.hold(300 * MB):
        pass
    assert err.value.key == "request_too_big" and "300 MB" in str(err.value) and "100 MB" in str(err.value)
    assert time.monotonic() - started < 1 and budget.in_use == 0


def test_requests_that_do_not_fit_together_wait_their_turn_and_then_run():
    budget = MemoryBudget(100 * MB, wait_seconds=5)
    order = []
    first_in = threading.Event()

    def first():
        with budget.hold(70 * MB):
            first_in.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait()
    with budget.hold(70 * MB):  # waits for the first to give its room back
        order.append("second ran")
        assert budget.in_use == 70 * MB
    thread.join()
    assert order == ["first done", "second ran"] and budget.in_use == 0


def test_a_request_that_finds_no_room_in_time_is_asked_to_try_again():
    budget = MemoryBudget(100 * MB, wait_seconds=0.2)
    with budget.hold(80 * MB), pytest.raises(CharLMError) as err, budget.hold(30 * MB):
        pass
    assert err.value.key == "server_memory_busy" and budget.in_use == 0


def test_kept_memory_is_put_away_longest_unused_first_when_a_request_needs_room():
    budget = MemoryBudget(100 * MB, wait_seconds=0.2)
    put_away = []
    for owner in ("ann", "bob", "cat"):
        budget.keep(owner, 30 * MB, lambda owner=owner: put_away.append(owner))
    budget.keep("ann", 30 * MB, lambda: put_away.append("ann"))  # ann used hers again: bob's is now the oldest
    with budget.hold(35 * MB):
        assert put_away == ["bob"] and budget.in_use == 95 * MB
    with budget.hold(75 * MB):
        assert put_away == ["bob", "cat", "ann"]
    assert budget.in_use == 0


def test_a_visitors_own_holding_is_not_put_away_while_their_request_runs():
    """Their request takes it out of the ledger (its bytes are the request's), so another request that needs
    the room waits rather than saving it under their feet."""
    budget = MemoryBudget(100 * MB, wait_seconds=0.2)
    put_away = []
    budget.keep("ann", 60 * MB, lambda: put_away.append("ann"))
    with budget.hold(60 * MB, owner="ann"):
        with pytest.raises(CharLMError), budget.hold(60 * MB):
            pass
        assert put_away == []
    budget.keep("ann", 60 * MB, lambda: put_away.append("ann"))
    with budget.hold(60 * MB):
        assert put_away == ["ann"]


def test_a_holding_that_cannot_be_put_away_is_let_go_of_and_the_request_still_runs():
    budget = MemoryBudget(100 * MB, wait_seconds=0.2)

    def full_disk():
        raise OSError(28, "No space left on device")

    budget.keep("ann", 80 * MB, full_disk)
    with budget.hold(50 * MB):
        assert budget.in_use == 50 * MB


def test_a_holding_too_big_to_keep_beside_the_others_is_put_away_at_once_and_a_forgotten_one_never():
    budget = MemoryBudget(100 * MB)
    put_away = []
    budget.keep("ann", 150 * MB, lambda: put_away.append("ann"))
    assert put_away == ["ann"] and budget.in_use == 0
    budget.keep("bob", 50 * MB, lambda: put_away.append("bob"))
    budget.forget("bob")
    assert budget.in_use == 0 and put_away == ["ann"]
