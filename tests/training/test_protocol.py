"""The end-to-end protocol on tiny synthetic data (data loading replaced)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from wsinuc import datasets
from wsinuc.errors import OptionError
from wsinuc.models import create_model, load_model, save_weights
from wsinuc.training import protocol
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.config import TrainConfig
from wsinuc.training.precision import training_precision

PATCH = 32


def _config(**changes) -> TrainConfig:
    return TrainConfig(
        batch_size=4, lr=1e-2, device="cpu", patch_size=PATCH, max_steps_per_epoch=1,
        progress=False, augment=NO_AUGMENTATION, **changes,
    )


def test_protocol_writes_every_stage_and_a_loadable_cascade(synthetic_data, tmp_path):
    out = tmp_path / "run"
    result = protocol.train_cascade(
        tmp_path, out, "cascade-lite", _config(),
        pretrain_tnbc_epochs=1, finetune_epochs=1, folds=2,
    )
    for run in ("stage1_tnbc", "stage1", "stage1_oof/fold0", "stage1_oof/fold1", "stage2"):
        log_lines = (out / run / "log.csv").read_text().splitlines()
        assert len(log_lines) == 1 + 1, run  # header + one epoch each
    card = json.loads((out / "cascade-lite.json").read_text())
    assert card["name"] == "cascade-lite" and card["device"].startswith("cpu (") and card["device"].endswith(", " + training_precision("auto", "cpu"))
    assert card["split"]["val_ids"] == ["TCGA-val"]
    assert sorted(card["fold_of_image"]) == sorted(synthetic_data.train_ids)
    assert set(card["fold_of_image"].values()) == {0, 1}
    assert card["epochs"] == {"pretrain_tnbc": 1, "finetune": 1, "stage2": 1}
    assert card["metrics"] == pytest.approx(result.metrics)
    assert "date" in card
    for stage in ("stage1", "stage2"):
        assert (out / f"{stage}.safetensors").is_file()
    model = load_model(result.weights_path)
    assert model(torch.rand(1, 3, PATCH, PATCH)).shape == (1, 1, PATCH, PATCH)


def test_stage1_final_inputs_skip_the_fold_models(synthetic_data, tmp_path):
    out = tmp_path / "run"
    protocol.train_cascade(
        tmp_path, out, "cascade-lite", _config(stage2_input="stage1-final"),
        pretrain_tnbc_epochs=0, finetune_epochs=1,
    )
    assert not (out / "stage1_oof").exists() and not (out / "stage1_tnbc").exists()
    card = json.loads((out / "stage2.json").read_text())
    assert card["stage2_input"] == "stage1-final" and card["folds"] is None


def test_rerun_into_a_used_folder_needs_resume(synthetic_data, tmp_path):
    out = tmp_path / "run"
    arguments = dict(pretrain_tnbc_epochs=0, finetune_epochs=1, folds=2)
    first = protocol.train_cascade(tmp_path, out, "cascade-lite", _config(), **arguments)
    with pytest.raises(OptionError, match="resume"):
        protocol.train_cascade(tmp_path, out, "cascade-lite", _config(), **arguments)
    again = protocol.train_cascade(
        tmp_path, out, "cascade-lite", _config(resume=True), **arguments
    )
    assert again.metrics == pytest.approx(first.metrics)


def test_bad_protocol_options_are_refused(tmp_path):
    with pytest.raises(OptionError, match="--epochs"):
        protocol.train_cascade(tmp_path, tmp_path, finetune_epochs=0)
    with pytest.raises(OptionError, match="--folds"):
        protocol.train_cascade(tmp_path, tmp_path, folds=1)
    with pytest.raises(OptionError, match="huge"):
        protocol.train_cascade(tmp_path, tmp_path, preset="huge")


def test_out_of_range_training_options_name_the_cli_option():
    with pytest.raises(OptionError, match="--batch-size: must be a positive integer, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(OptionError, match="--stage2-input"):
        TrainConfig(stage2_input="oracle")
    with pytest.raises(OptionError, match="--distill-weight"):
        TrainConfig(teacher="cascade")


def test_a_teacher_changes_the_training_loss(synthetic_data, tmp_path):
    torch.manual_seed(1)
    teacher_path, _ = save_weights(create_model("cascade-lite"), tmp_path / "teacher")
    arguments = dict(pretrain_tnbc_epochs=0, finetune_epochs=1)
    plain_config = _config(stage2_input="stage1-final")
    plain = protocol.train_cascade(
        tmp_path, tmp_path / "plain", "cascade-lite", plain_config, **arguments
    )
    taught_config = dataclasses.replace(plain_config, teacher=str(teacher_path), distill_weight=0.5)
    taught = protocol.train_cascade(
        tmp_path, tmp_path / "taught", "cascade-lite", taught_config, **arguments
    )
    card = json.loads((tmp_path / "taught" / "stage1.json").read_text())
    assert card["training"]["teacher"] == str(teacher_path)
    plain_loss = plain.stage1.history[0]["train_loss"]
    assert taught.stage1.history[0]["train_loss"] != pytest.approx(plain_loss)


def test_protocol_data_from_the_shared_folder_is_split_by_patient(data_root, monkeypatch):
    monuseg_ids = datasets.list_monuseg_ids(data_root / "monuseg", "train")[:5]
    tnbc_ids = datasets.list_tnbc_ids(data_root / "tnbc")[:2]
    monkeypatch.setattr(datasets, "list_monuseg_ids", lambda root, split: monuseg_ids)
    monkeypatch.setattr(datasets, "list_tnbc_ids", lambda root: tnbc_ids)
    data = protocol.load_protocol_data(data_root, 256, seed=0, with_tnbc=True)
    assert len(data.val_ids) == 1 and len(data.train_ids) == 4
    assert sorted(data.train_ids + data.val_ids) == sorted(monuseg_ids)
    assert len(data.train) == 4 * 16  # 1000 px -> 1024 -> 4 x 4 patches of 256
    assert len(data.tnbc) == 2 * 4  # 512 px -> 2 x 2 patches
    assert data.val.images[0].shape == (1000, 1000, 3)
    assert data.train.valid[0].all() and not data.train.valid[15].all()


def test_a_budget_is_shared_between_the_runs_and_the_card_says_what_ran(
    synthetic_data, tmp_path, fake_clock
):
    started = fake_clock[0]
    out = tmp_path / "run"
    protocol.train_cascade(
        tmp_path, out, "cascade-lite", _config(time_budget_s=100.0),
        pretrain_tnbc_epochs=2, finetune_epochs=10, folds=2,
    )
    assert fake_clock[0] - started <= 100.0  # 10 simulated seconds per epoch
    card = json.loads((out / "cascade-lite.json").read_text())
    assert card["epochs_requested"] == {"pretrain_tnbc": 2, "finetune": 10, "stage2": 10}
    ran = card["epochs"]
    assert ran["pretrain_tnbc"] >= 1 and 1 <= ran["finetune"] < 10 and 1 <= ran["stage2"] < 10
    assert all(1 <= epochs < 10 for epochs in card["fold_epochs"])
    for run, epochs in (("stage1", ran["finetune"]), ("stage2", ran["stage2"])):
        assert len((out / run / "log.csv").read_text().splitlines()) == 1 + epochs
    assert card["training"]["time_budget_s"] == 100.0


def test_time_left_by_a_short_run_passes_to_the_later_ones(synthetic_data, tmp_path, fake_clock):
    out = tmp_path / "run"
    protocol.train_cascade(
        tmp_path, out, "cascade-lite", _config(time_budget_s=200.0, stage2_input="stage1-final"),
        pretrain_tnbc_epochs=0, finetune_epochs=30,
    )
    card = json.loads((out / "cascade-lite.json").read_text())
    # Equal work: stage 1 gets 0.95 x 200 / 2 = 95 s -> 9 epochs of 10 s, leaving 110 s;
    # stage 2 gets 0.95 x 110 = 104.5 s -> 10 epochs (stage 1's unused 5 s passed on).
    assert card["epochs"]["finetune"] == 9
    assert card["epochs"]["stage2"] == 10
