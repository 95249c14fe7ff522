"""Baseline (single-network) training with the protocol, on tiny synthetic data."""

from __future__ import annotations

import json

import pytest
import torch

from wsinuc.errors import OptionError
from wsinuc.models import load_model
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.baselines import BASELINES, train_baseline
from wsinuc.training.config import TrainConfig

PATCH = 32  # patch side of the synthetic_data fixture (tests/training/conftest.py)


def _config(**changes) -> TrainConfig:
    return TrainConfig(
        batch_size=4, lr=1e-2, device="cpu", patch_size=PATCH, max_steps_per_epoch=1,
        progress=False, augment=NO_AUGMENTATION, **changes,
    )


@pytest.mark.parametrize("name", ["unet-lite", "attention_unet-lite", "vgg16_unet-lite"])
def test_each_lite_baseline_trains_and_writes_a_loadable_card(synthetic_data, tmp_path, name):
    out = tmp_path / "run"
    result = train_baseline(tmp_path, out, name, _config(), pretrain_tnbc_epochs=1, finetune_epochs=2)
    for run, epochs in (("tnbc", 1), ("monuseg", 2)):
        assert len((out / run / "log.csv").read_text().splitlines()) == 1 + epochs
    card = json.loads((out / f"{name}.json").read_text())
    architecture, loss = BASELINES[name]
    assert card["name"] == name and card["loss"] == loss
    assert card["config"]["name"] == architecture["name"]
    assert card["epochs"] == {"pretrain_tnbc": 1, "finetune": 2}
    assert card["best_epoch"] in (1, 2)
    assert card["metrics"]["val_aji"] == pytest.approx(result.metrics["val_aji"])
    assert card["split"]["val_ids"] == ["TCGA-val"]
    model = load_model(result.weights_path)
    assert model(torch.rand(1, 3, PATCH, PATCH)).shape == (1, 1, PATCH, PATCH)


def test_no_pretraining_skips_the_tnbc_run(synthetic_data, tmp_path):
    out = tmp_path / "run"
    train_baseline(tmp_path, out, "unet-lite", _config(), pretrain_tnbc_epochs=0, finetune_epochs=1)
    assert not (out / "tnbc").exists() and (out / "unet-lite.safetensors").is_file()


def test_resume_continues_a_finished_run_without_training_again(synthetic_data, tmp_path):
    out = tmp_path / "run"
    first = train_baseline(tmp_path, out, "unet-lite", _config(), pretrain_tnbc_epochs=0, finetune_epochs=1)
    with pytest.raises(OptionError, match="resume"):
        train_baseline(tmp_path, out, "unet-lite", _config(), pretrain_tnbc_epochs=0, finetune_epochs=1)
    again = train_baseline(
        tmp_path, out, "unet-lite", _config(resume=True), pretrain_tnbc_epochs=0, finetune_epochs=1
    )
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key


@pytest.mark.parametrize(
    "name, pretrain, epochs, option",
    [("resnet_unet", 1, 1, "--baseline"), ("unet-lite", -1, 1, "--pretrain-epochs"),
     ("unet-lite", 0, 0, "--epochs")],
)
def test_bad_baseline_options_name_the_option(tmp_path, name, pretrain, epochs, option):
    with pytest.raises(OptionError, match=option):
        train_baseline(tmp_path, tmp_path / "o", name, _config(),
                       pretrain_tnbc_epochs=pretrain, finetune_epochs=epochs)


def test_paper_width_baselines_build_with_the_paper_sizes():
    from wsinuc.training.cascade import build_stage

    counts = {name: sum(p.numel() for p in build_stage(BASELINES[name][0], 0).parameters())
              for name in ("unet", "unet-lite", "vgg16_unet")}
    assert counts["unet"] == 31_037_633
    assert counts["unet-lite"] < counts["unet"] / 10
    assert counts["vgg16_unet"] > 14_000_000  # the VGG16 convolutions alone hold 14.7 M


def test_a_budgeted_baseline_records_the_epochs_that_ran(synthetic_data, tmp_path, fake_clock):
    out = tmp_path / "run"
    started = fake_clock[0]
    train_baseline(
        tmp_path, out, "unet-lite", _config(time_budget_s=60.0),
        pretrain_tnbc_epochs=3, finetune_epochs=20,
    )
    assert fake_clock[0] - started <= 60.0
    card = json.loads((out / "unet-lite.json").read_text())
    assert card["epochs_requested"] == {"pretrain_tnbc": 3, "finetune": 20}
    assert 1 <= card["epochs"]["pretrain_tnbc"] <= 3 and 1 <= card["epochs"]["finetune"] < 20
    assert len((out / "monuseg" / "log.csv").read_text().splitlines()) == 1 + card["epochs"]["finetune"]
