"""Learning-rate schedules: warm-up, cosine, step, constant."""

from __future__ import annotations

import pytest

from wsinuc.training.config import TrainConfig
from wsinuc.training.schedule import learning_rate


def _config(**changes) -> TrainConfig:
    return TrainConfig(lr=0.1, **changes)


def test_cosine_schedule_starts_at_lr_and_ends_at_one_percent():
    config = _config(schedule="cosine")
    assert learning_rate(0, 11, config) == pytest.approx(0.1)
    assert learning_rate(5, 11, config) == pytest.approx(0.0505)
    assert learning_rate(10, 11, config) == pytest.approx(0.001)


def test_step_schedule_divides_by_ten_after_two_thirds():
    config = _config(schedule="step")
    assert learning_rate(5, 10, config) == pytest.approx(0.1)
    assert learning_rate(6, 10, config) == pytest.approx(0.01)


def test_warmup_rises_linearly():
    config = _config(warmup_steps=4)
    rates = [learning_rate(s, 100, config) for s in range(4)]
    assert rates == pytest.approx([0.025, 0.05, 0.075, 0.1])


def test_constant_schedule_never_changes():
    config = _config(schedule="constant")
    assert {learning_rate(s, 7, config) for s in range(7)} == {0.1}


def test_negative_step_is_refused():
    with pytest.raises(ValueError, match="-1"):
        learning_rate(-1, 10, _config())
