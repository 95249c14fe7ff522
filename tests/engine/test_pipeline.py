"""overlapped(): each item starts before the previous one finishes; failures stay with their item."""

from __future__ import annotations

import pytest

from wsinuc.engine.pipeline import overlapped


def _recording(fail_start=(), fail_finish=()):
    calls = []

    def start(item):
        calls.append(("start", item))
        if item in fail_start:
            raise ValueError(f"cannot start {item}")
        return item * 10

    def finish(handle):
        calls.append(("finish", handle))
        if handle // 10 in fail_finish:
            raise OSError(f"cannot finish {handle}")
        return handle + 1

    def cancel(handle):
        calls.append(("cancel", handle))

    return calls, start, finish, cancel


def test_the_next_item_starts_before_the_previous_one_finishes():
    calls, start, finish, cancel = _recording()
    values = [outcome.value for outcome in overlapped([1, 2, 3], start, finish, cancel)]
    assert values == [11, 21, 31]
    assert calls == [("start", 1), ("start", 2), ("finish", 10), ("start", 3), ("finish", 20), ("finish", 30)]


@pytest.mark.parametrize("where", ["start", "finish"])
def test_a_failing_item_is_an_outcome_and_the_others_go_on(where):
    calls, start, finish, cancel = _recording(fail_start=(2,) if where == "start" else (),
                                              fail_finish=(2,) if where == "finish" else ())
    outcomes = list(overlapped([1, 2, 3], start, finish, cancel))
    assert [o.item for o in outcomes] == [1, 2, 3]
    assert [o.value for o in outcomes] == [11, None, 31]
    assert isinstance(outcomes[1].error, ValueError if where == "start" else OSError)
    assert "2" in str(outcomes[1].error)


def test_stopping_early_cancels_the_item_already_started():
    calls, start, finish, cancel = _recording(fail_finish=(1,))
    outcomes = overlapped([1, 2, 3], start, finish, cancel)
    first = next(outcomes)
    outcomes.close()
    assert first.error is not None
    assert calls == [("start", 1), ("start", 2), ("finish", 10), ("cancel", 20)]


def test_no_items_no_calls():
    calls, start, finish, cancel = _recording()
    assert list(overlapped([], start, finish, cancel)) == []
    assert calls == []
