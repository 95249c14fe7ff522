"""The protocol's data on the working grid (``--mpp``), stain options, warm start and step budgets."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsinuc import datasets
from wsinuc.errors import OptionError
from wsinuc.models import load_model
from wsinuc.training import protocol
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.config import TrainConfig
from wsinuc.training.protocol_data import prepare_image

PATCH = 32


def _config(**changes) -> TrainConfig:
    values = dict(batch_size=4, lr=1e-2, device="cpu", patch_size=PATCH, progress=False,
                  augment=NO_AUGMENTATION)
    return TrainConfig(**{**values, **changes})


def test_prepare_image_halves_the_grid_and_normalises_on_request():
    rng = np.random.default_rng(0)
    image = rng.integers(60, 250, (40, 40, 3)).astype(np.uint8)
    instances = np.zeros((40, 40), np.int32)
    instances[4:16, 4:16] = 3
    sample = SimpleNamespace(image_id="t", image=image, instances=instances)
    half = prepare_image(sample, 0.5)
    assert half.image.shape == (20, 20, 3) and (half.instances == 3).sum() == 36
    assert prepare_image(sample) is sample
    normalised = prepare_image(sample, 0.25, "macenko")
    assert normalised.image.shape == image.shape and not np.array_equal(normalised.image, image)


def test_protocol_data_at_half_resolution(data_root, monkeypatch):
    monuseg_ids = datasets.list_monuseg_ids(data_root / "monuseg", "train")[:3]
    monkeypatch.setattr(datasets, "list_monuseg_ids", lambda root, split: monuseg_ids)
    data = protocol.load_protocol_data(data_root, 256, 0, False, 0.5)
    assert data.val.images[0].shape == (500, 500, 3)
    assert len(data.train) == 2 * 4  # 500 px -> 512 -> 2 x 2 patches of 256


def test_a_warm_started_step_budgeted_protocol_records_mpp_steps_and_averages(synthetic_data, tmp_path):
    out = tmp_path / "run"
    config = _config(lr=1e-12, total_steps=3, ema_decay=0.9, mpp=0.5, init_from="cascade-lite",
                     stage2_input="stage1-final")
    result = protocol.train_cascade(tmp_path, out, "cascade-lite", config, pretrain_tnbc_epochs=5)
    card = json.loads((out / "cascade-lite.json").read_text())
    assert card["mpp"] == 0.5 and card["warm_start"] == "cascade-lite"
    assert card["steps"] == {"pretrain_tnbc": 0, "finetune": 3, "stage2": 3}
    assert not (out / "stage1_tnbc").exists()
    shipped = load_model("cascade-lite", torch.device("cpu"))
    trained = dict(result.cascade.stage1.named_parameters())  # BatchNorm statistics move; weights barely
    for key, value in shipped.stage1.named_parameters():
        assert torch.allclose(trained[key].detach().cpu(), value, atol=1e-5), key


def test_a_warm_start_from_another_architecture_names_the_option(synthetic_data, tmp_path):
    with pytest.raises(OptionError, match="--init-from"):
        protocol.train_cascade(tmp_path, tmp_path / "r", "cascade-lite",
                               _config(init_from="cascade-ib-lite", total_steps=1))
