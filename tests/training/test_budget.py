"""Time budgets: epoch planning and sharing a protocol's budget (pure arithmetic)."""

from __future__ import annotations

import math

import pytest

from wsinuc.training.budget import (
    RESERVE_FRACTION,
    Deadline,
    overshoot_message,
    planned_epochs,
    run_budget,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_never_goes_negative():
    clock = FakeClock()
    deadline = Deadline.after(10, clock)
    clock.now += 4
    assert deadline.remaining() == pytest.approx(6)
    clock.now += 60
    assert deadline.remaining() == 0


def test_no_budget_never_passes():
    assert Deadline.after(None).remaining() == math.inf


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_a_non_positive_budget_is_refused(seconds):
    with pytest.raises(ValueError, match="seconds"):
        Deadline.after(seconds)


def test_plan_keeps_every_epoch_that_fits():
    # 2 epochs done at 10 s each, 55 s left: 5 more fit.
    assert planned_epochs(2, 30, 55.0, [10.0, 10.0]) == 7


def test_plan_never_exceeds_the_epochs_asked_for():
    assert planned_epochs(2, 5, 1000.0, [1.0, 1.0]) == 5


def test_plan_stops_when_the_next_epoch_does_not_fit():
    assert planned_epochs(3, 30, 9.0, [10.0, 10.0, 10.0]) == 3


def test_plan_uses_the_median_so_a_slow_first_epoch_does_not_dominate():
    # first epoch 60 s (start-up), then 10 s: median 10 s -> 4 more in 40 s.
    assert planned_epochs(3, 30, 40.0, [60.0, 10.0, 10.0]) == 7


def test_plan_runs_at_least_one_epoch_and_keeps_epochs_done():
    assert planned_epochs(1, 30, 0.0, [500.0]) == 1
    assert planned_epochs(6, 4, 100.0, [1.0]) == 6


def test_plan_without_measurements_or_limit_is_the_request():
    assert planned_epochs(0, 12, 5.0, []) == 12
    assert planned_epochs(3, 12, math.inf, [100.0]) == 12


def test_run_budget_is_its_share_of_the_time_left_minus_the_reserve():
    seconds = run_budget(100.0, run_work=1.0, later_work=3.0)
    assert seconds == pytest.approx(100.0 * (1 - RESERVE_FRACTION) / 4)


def test_last_run_gets_all_but_the_reserve_and_no_budget_stays_none():
    assert run_budget(100.0, 2.0, 0.0) == pytest.approx(100.0 * (1 - RESERVE_FRACTION))
    assert run_budget(None, 1.0, 1.0) is None
    assert run_budget(0.0, 1.0, 1.0) == 1.0


def test_run_budget_refuses_empty_work():
    with pytest.raises(ValueError, match="run_work"):
        run_budget(10.0, 0.0, 1.0)


def test_overshoot_is_reported_only_past_ten_percent():
    clock = FakeClock()
    deadline = Deadline.after(100, clock)
    clock.now += 105
    assert overshoot_message(100.0, deadline, [50.0, 55.0]) is None
    clock.now += 20
    message = overshoot_message(100.0, deadline, [50.0, 75.0])
    assert "25 s more than the 100 s budget" in message and "about 75 s" in message
    assert overshoot_message(None, deadline, [50.0]) is None
