"""Exponential moving average of the weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wsinuc.training.averaging import ema_decay_at, init_ema, update_ema


def test_the_decay_ramps_up_to_its_ceiling():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(10**6, 0.999) == 0.999
    with pytest.raises(ValueError):
        ema_decay_at(0, 1.0)


def test_update_moves_floats_by_one_minus_decay_and_copies_integers():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = init_ema(model)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model[1].num_batches_tracked.fill_(5)
    before = ema["0.weight"].clone()
    update_ema(ema, model, 0.75)
    assert torch.allclose(ema["0.weight"], before + 0.25)
    assert int(ema["1.num_batches_tracked"]) == 5


def test_averages_of_another_model_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        update_ema(init_ema(nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 2)), 0.5)
