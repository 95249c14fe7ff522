"""``--batch-size auto``: the power-of-two search (GPU-free) and its CPU behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wsinuc.models import create_model
from wsinuc.training.batch_probe import largest_fitting_batch, probe_batch_size
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import make_patch_set
from wsinuc.training.device_data import DevicePatchSet
from wsinuc.training.loaders import prepare_training


def _linear(base: float, per_sample: float, oom_at: float = math.inf):
    tried = []

    def peak(batch: int) -> float:
        tried.append(batch)
        return math.inf if batch >= oom_at else base + per_sample * batch

    return peak, tried


def test_the_largest_power_of_two_under_the_budget_is_chosen():
    peak, tried = _linear(100.0, 10.0)
    assert largest_fitting_batch(peak, budget_bytes=100 + 10 * 40) == 32
    assert tried == [1, 2, 4, 8, 16, 32]  # 64 is not tried: twice the peak at 32 is over budget


def test_out_of_memory_stops_the_search_and_the_cap_holds():
    peak, _ = _linear(0.0, 1.0, oom_at=16)
    assert largest_fitting_batch(peak, budget_bytes=1e9) == 8
    peak, _ = _linear(0.0, 1.0)
    assert largest_fitting_batch(peak, budget_bytes=1e9, max_batch=100) == 64


def test_batch_one_is_kept_when_nothing_fits():
    peak, _ = _linear(1e9, 1.0)
    assert largest_fitting_batch(peak, budget_bytes=10.0) == 1
    with pytest.raises(ValueError, match="0"):
        largest_fitting_batch(peak, budget_bytes=0)


def test_probing_needs_a_cuda_model():
    with pytest.raises(ValueError, match="cpu"):
        probe_batch_size(create_model("unet", width=4, depth=2), 3, 32, "auto")


def test_on_the_cpu_auto_batch_size_keeps_the_batch_and_auto_keeps_numpy_batches():
    rng = np.random.default_rng(0)
    sample = type("S", (), {"image_id": "a", "image": rng.integers(0, 255, (64, 64, 3), np.uint8),
                            "instances": np.zeros((64, 64), np.int32)})
    patches = make_patch_set([sample], 32)
    model = create_model("unet", width=4, depth=2)
    config = TrainConfig(batch_size=6, auto_batch_size=True, patch_size=32, device="cpu")
    out_config, data = prepare_training(model, patches, config, torch.device("cpu"))
    assert out_config.batch_size == 6 and data is patches
    on = TrainConfig(patch_size=32, device="cpu", data_on_device="on")
    _, data = prepare_training(model, patches, on, torch.device("cpu"))
    assert isinstance(data, DevicePatchSet) and len(data) == len(patches)


def test_an_unknown_data_on_device_value_names_the_option():
    from wsinuc.errors import OptionError

    with pytest.raises(OptionError, match="--data-on-device"):
        TrainConfig(data_on_device="maybe")
