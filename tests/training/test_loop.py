"""The training loop on tiny synthetic data: loss falls, resume, log, validation."""

from __future__ import annotations

import csv
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from wsinuc.errors import OptionError
from wsinuc.models import WeightsError, create_model, load_weights
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.checkpoint import load_checkpoint
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import (
    Batch,
    make_patch_set,
    make_validation_set,
    with_probabilities,
    with_validation_probabilities,
)
from wsinuc.training.evaluate import validate_model
from wsinuc.training.loop import LOG_COLUMNS, batch_loss, loss_function, train_model

PATCH = 32


def synthetic_sample(seed: int, size: int = 64) -> SimpleNamespace:
    """Pink background with dark, well-separated square "nuclei" of 8 px."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = (230, 180, 210)
    instances = np.zeros((size, size), np.int32)
    label = 0
    for top in range(4, size - 10, 16):
        for left in range(4, size - 10, 16):
            dy, dx = rng.integers(0, 4, size=2)
            label += 1
            instances[top + dy : top + dy + 8, left + dx : left + dx + 8] = label
    image[instances > 0] = (70, 40, 120)
    return SimpleNamespace(image_id=f"img{seed}", image=image, instances=instances)


def tiny_config(**changes) -> TrainConfig:
    base = TrainConfig(
        epochs=2, batch_size=4, lr=1e-2, seed=0, device="cpu", patch_size=PATCH,
        progress=False, augment=NO_AUGMENTATION, schedule="cosine",
    )
    return dataclasses.replace(base, **changes)


def tiny_unet() -> nn.Module:
    torch.manual_seed(0)
    return create_model("unet", width=4, depth=2)


@pytest.fixture(scope="module")
def patches():
    return make_patch_set([synthetic_sample(s) for s in range(3)], patch_size=PATCH)


@pytest.fixture(scope="module")
def val_data():
    return make_validation_set([synthetic_sample(10, size=70)])


def test_weighted_bce_training_loss_falls(patches):
    result = train_model(tiny_unet(), patches, None, tiny_config(epochs=6, schedule="constant"))
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 6
    assert losses[-1] < 0.7 * losses[0]


def test_bf16_training_on_the_cpu_loss_falls_and_keeps_float32_weights(patches):
    model = tiny_unet()
    result = train_model(model, patches, None, tiny_config(epochs=6, schedule="constant", precision="bf16"))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.dtype == torch.float32 for p in result.model.parameters())


def test_an_unknown_training_precision_names_the_option():
    with pytest.raises(OptionError, match="--precision"):
        tiny_config(precision="fp16")


def test_stage2_dice_training_on_four_channels_loss_falls(patches, val_data):
    torch.manual_seed(0)
    stage2 = create_model(
        "vgg16_unet", in_channels=4, encoder="vgg16_lite", width=4, decoder_channels=[8, 8, 8, 8, 8]
    )
    probabilities = (patches.instances > 0).astype(np.float32) * 0.6 + 0.2
    result = train_model(
        stage2, with_probabilities(patches, probabilities), val_data,
        tiny_config(epochs=5, schedule="constant"), loss="dice", stage1=tiny_unet(),
    )
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert 0.0 <= result.best_metrics["val_aji"] <= 1.0


def _state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_after_a_crash_gives_the_same_weights_as_an_uninterrupted_run(
    patches, val_data, tmp_path, interrupt_at_epoch
):
    config = tiny_config(epochs=3, max_steps_per_epoch=2, val_every=1)
    straight = train_model(
        tiny_unet(), patches, val_data, dataclasses.replace(config, out_dir=tmp_path / "a")
    )
    expected_last = load_checkpoint(tmp_path / "a").model_state

    with interrupt_at_epoch(2):
        train_model(
            tiny_unet(), patches, val_data, dataclasses.replace(config, out_dir=tmp_path / "b")
        )
    assert load_checkpoint(tmp_path / "b").epoch == 1

    config_b = dataclasses.replace(config, out_dir=tmp_path / "b", resume=True)
    resumed = train_model(tiny_unet(), patches, val_data, config_b)
    final = load_checkpoint(tmp_path / "b")
    assert final.epoch == 3 and final.step == 6
    for name, tensor in expected_last.items():
        torch.testing.assert_close(final.model_state[name], tensor, rtol=0, atol=1e-6)
    assert resumed.best_epoch == straight.best_epoch
    for name, tensor in _state_of(straight.model).items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=0, atol=1e-6)
    assert [r["train_loss"] for r in resumed.history] == pytest.approx(
        [r["train_loss"] for r in straight.history], abs=1e-6
    )


def test_resume_restores_the_optimizer_state(patches, tmp_path):
    config = tiny_config(epochs=1, max_steps_per_epoch=2, out_dir=tmp_path)
    train_model(tiny_unet(), patches, None, config)
    saved = load_checkpoint(tmp_path)
    model = tiny_unet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    optimizer.load_state_dict(saved.optimizer_state)
    first = optimizer.state_dict()["state"][0]
    assert float(first["step"]) == 2.0
    assert first["exp_avg"].abs().sum() > 0
    assert optimizer.param_groups[0]["betas"] == pytest.approx((0.9, 0.999))


def test_log_has_the_expected_columns_and_one_row_per_epoch(patches, val_data, tmp_path):
    config = tiny_config(epochs=3, max_steps_per_epoch=1, val_every=2, out_dir=tmp_path)
    train_model(tiny_unet(), patches, val_data, config)
    with (tmp_path / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == LOG_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert rows[0]["val_aji"] == "" and rows[1]["val_aji"] != "" and rows[2]["val_aji"] != ""


def test_best_weights_are_written_with_a_card(patches, val_data, tmp_path):
    config = tiny_config(epochs=2, max_steps_per_epoch=1, out_dir=tmp_path)
    result = train_model(tiny_unet(), patches, val_data, config)
    model, card = load_weights(tmp_path / "best.safetensors")
    assert card["best_epoch"] == result.best_epoch
    assert card["metrics"]["val_aji"] == pytest.approx(result.best_metrics["val_aji"])
    assert card["loss"] == "weighted_bce"


def test_existing_checkpoint_without_resume_is_refused(patches, tmp_path):
    config = tiny_config(epochs=1, max_steps_per_epoch=1, out_dir=tmp_path)
    train_model(tiny_unet(), patches, None, config)
    with pytest.raises(OptionError, match="resume"):
        train_model(tiny_unet(), patches, None, config)


def test_resume_of_a_finished_run_trains_no_further(patches, tmp_path):
    config = tiny_config(epochs=1, max_steps_per_epoch=1, out_dir=tmp_path)
    first = train_model(tiny_unet(), patches, None, config)
    again = train_model(tiny_unet(), patches, None, dataclasses.replace(config, resume=True))
    assert again.steps == first.steps == 1
    for name, tensor in first.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[name], tensor)


class DarkPixelOracle(nn.Module):
    """Logit +10 where the red channel is dark (a nucleus of the synthetic images), else -10."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, :1] < 0.5, 10.0, -10.0)


def test_validation_of_a_perfect_model_on_a_non_multiple_image_scores_one(val_data):
    metrics = validate_model(
        DarkPixelOracle(), val_data, loss_function("weighted_bce"), patch_size=PATCH,
        device=torch.device("cpu"),
    )
    assert metrics["val_aji"] == pytest.approx(1.0)
    assert metrics["val_f1"] == pytest.approx(1.0)
    assert metrics["val_loss"] < 1e-3


def test_validation_uses_the_attached_probabilities():
    sample = synthetic_sample(3)
    val = make_validation_set([sample])
    with_probs = with_validation_probabilities(val, [(sample.instances > 0).astype(np.float32)])

    class ProbabilityCopier(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.where(x[:, 3:] > 0.5, 10.0, -10.0)

    metrics = validate_model(
        ProbabilityCopier(), with_probs, loss_function("dice"), patch_size=PATCH,
        device=torch.device("cpu"),
    )
    assert metrics["val_aji"] == pytest.approx(1.0)


def test_padding_pixels_do_not_change_the_loss():
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :2] = 1
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., :3, :3] = 1
    batch = Batch(torch.zeros(1, 3, 4, 4), target, torch.ones(1, 1, 4, 4), valid, None)
    logits = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    changed = logits.clone()
    changed[..., 3, :] = 50.0
    for kind in ("weighted_bce", "dice"):
        assert float(batch_loss(logits, batch, kind, 0.0)) == pytest.approx(
            float(batch_loss(changed, batch, kind, 0.0))
        )


def test_distillation_mixes_in_bce_against_the_teacher():
    ones = torch.ones(1, 1, 2, 2)
    teacher = torch.full((1, 1, 2, 2), 0.5)
    batch = Batch(torch.zeros(1, 3, 2, 2), ones, ones, ones, teacher)
    logits = torch.zeros(1, 1, 2, 2)
    # p = 0.5 everywhere: BCE against target 1 and against teacher 0.5 are both ln 2
    assert float(batch_loss(logits, batch, "weighted_bce", 0.5)) == pytest.approx(np.log(2.0))


def test_stage2_model_without_probabilities_is_refused(patches):
    stage2 = create_model(
        "vgg16_unet", in_channels=4, encoder="vgg16_lite", width=4, decoder_channels=[8, 8, 8, 8, 8]
    )
    with pytest.raises(ValueError, match="4 input channels"):
        train_model(stage2, patches, None, tiny_config())


def test_unknown_loss_is_refused(patches):
    with pytest.raises(ValueError, match="focal"):
        train_model(tiny_unet(), patches, None, tiny_config(), loss="focal")


def test_a_corrupt_checkpoint_is_reported_with_its_folder(patches, tmp_path):
    config = tiny_config(epochs=1, max_steps_per_epoch=1, out_dir=tmp_path)
    train_model(tiny_unet(), patches, None, config)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match=str(tmp_path)):
        train_model(tiny_unet(), patches, None, dataclasses.replace(config, resume=True))


def test_resuming_with_another_architecture_is_reported(patches, tmp_path):
    config = tiny_config(epochs=1, max_steps_per_epoch=1, out_dir=tmp_path)
    train_model(tiny_unet(), patches, None, config)
    wider = create_model("unet", width=8, depth=2)
    with pytest.raises(WeightsError, match="does not fit"):
        train_model(wider, patches, None, dataclasses.replace(config, resume=True, epochs=2))


def test_the_trained_network_is_kept_channels_last(patches):
    result = train_model(tiny_unet(), patches, None, tiny_config(epochs=1, max_steps_per_epoch=1))
    weights = [p for p in result.model.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)


def test_patience_stops_a_run_whose_validation_aji_stalls_and_resume_keeps_it_stopped(patches, val_data, tmp_path):
    config = tiny_config(epochs=10, max_steps_per_epoch=1, lr=1e-12, patience=2, out_dir=tmp_path)
    stopped = train_model(tiny_unet(), patches, val_data, config)
    assert stopped.best_epoch == 1 and stopped.steps == 3  # epochs 2 and 3 did not beat epoch 1
    again = train_model(tiny_unet(), patches, val_data, dataclasses.replace(config, resume=True))
    assert again.steps == 3
    unlimited = train_model(tiny_unet(), patches, val_data, dataclasses.replace(config, patience=0, out_dir=None))
    assert unlimited.steps == 10


def test_out_of_patience_counts_only_validated_epochs_after_the_best():
    from wsinuc.training.loop import out_of_patience

    history = [{"epoch": 1, "val_aji": 0.5}, {"epoch": 2}, {"epoch": 3, "val_aji": 0.4}, {"epoch": 4}]
    assert not out_of_patience(history, 1, 2)
    assert out_of_patience(history + [{"epoch": 5, "val_aji": 0.45}], 1, 2)
    assert not out_of_patience(history, 1, 0) and not out_of_patience(history, None, 1)


def test_patience_must_not_be_negative():
    with pytest.raises(OptionError, match="--patience"):
        tiny_config(patience=-1)
