"""Random generator states survive a checkpoint."""

from __future__ import annotations

import random

import numpy as np
import torch

from wsinuc.training.rng import capture_rng, restore_rng


def _draws():
    return random.random(), random.gauss(0, 1), float(np.random.randn()), float(torch.rand(1))


def test_restored_generators_repeat_the_same_draws():
    random.seed(3), np.random.seed(4), random.gauss(0, 1), np.random.randn()
    state = capture_rng(torch.device("cpu"))
    first = _draws()
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng(state, torch.device("cpu"))
    assert _draws() == first
    assert all(isinstance(v, torch.Tensor) and v.ndim == 1 for v in state.values())
