"""The interior/boundary variant: its losses, its stage-2 patches and a smoke run of its protocol."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsinuc.inference.predictor import Predictor
from wsinuc.models import create_model, load_weights
from wsinuc.training import protocol
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import Batch, epoch_batches
from wsinuc.training.evaluate import logits_to_instances
from wsinuc.training.interior_boundary import stage2_loss, stage2_patches
from wsinuc.training.losses import (
    interior_boundary_loss,
    nucleus_logit,
    soft_dice_loss,
    weighted_cross_entropy,
)
from wsinuc.training.objective import batch_loss, loss_function
from wsinuc.training.targets import BOUNDARY, INTERIOR, interior_boundary_targets

PATCH = 32


def _three_class(seed: int = 0, n: int = 2, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 3, size, size, generator=generator)
    classes = torch.randint(0, 3, (n, 1, size, size), generator=generator).float()
    return logits, classes


def test_nucleus_logit_is_the_logit_of_interior_plus_boundary():
    logits, _ = _three_class()
    probability = torch.softmax(logits, dim=1)
    expected = probability[:, 1:2] + probability[:, 2:3]
    torch.testing.assert_close(torch.sigmoid(nucleus_logit(logits)), expected)


def test_weighted_cross_entropy_with_unit_weights_is_cross_entropy():
    logits, classes = _three_class()
    plain = F.cross_entropy(logits, classes[:, 0].long())
    torch.testing.assert_close(weighted_cross_entropy(logits, classes, torch.ones_like(classes)), plain)


def test_weights_scale_pixels_and_zero_weights_ignore_them():
    logits, classes = _three_class()
    weights = torch.ones_like(classes)
    weights[:, :, :4] = 0.0
    per_pixel = F.cross_entropy(logits, classes[:, 0].long(), reduction="none")
    expected = (per_pixel * weights[:, 0]).mean()
    torch.testing.assert_close(weighted_cross_entropy(logits, classes, weights), expected)
    changed = logits.clone()
    changed[:, :, :4] = 100.0  # only ignored pixels change
    torch.testing.assert_close(weighted_cross_entropy(changed, classes, weights), expected)


def test_dice_term_covers_valid_pixels_only():
    logits, classes = _three_class()
    weights, valid = torch.ones_like(classes), torch.ones_like(classes)
    valid[..., 6:] = 0.0
    ce_only = interior_boundary_loss(logits, classes, weights, valid=valid)
    with_dice = interior_boundary_loss(logits, classes, weights, valid=valid, dice_weight=0.5)
    inside = (slice(None), slice(None), slice(None), slice(0, 6))
    dice = soft_dice_loss(nucleus_logit(logits)[inside], (classes[inside] > 0).float())
    torch.testing.assert_close(with_dice - ce_only, 0.5 * dice)
    torch.testing.assert_close(
        ce_only, weighted_cross_entropy(logits, classes, weights * valid)
    )


def test_bad_loss_inputs_are_refused():
    logits, classes = _three_class()
    with pytest.raises(ValueError, match="classes must lie"):
        weighted_cross_entropy(logits, classes + 3, torch.ones_like(classes))
    with pytest.raises(ValueError, match="per-pixel"):
        weighted_cross_entropy(logits, classes[:, :, :4], torch.ones_like(classes[:, :, :4]))
    with pytest.raises(ValueError, match="dice_weight"):
        interior_boundary_loss(logits, classes, torch.ones_like(classes), dice_weight=-1.0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nucleus_logit(logits[:, :1])


def test_stage2_patches_carry_classes_through_the_batches(synthetic_data):
    config = TrainConfig(boundary_width=1, boundary_weight=5.0)
    assert stage2_patches("cascade-lite", synthetic_data.train, config) is synthetic_data.train
    patches = stage2_patches("cascade-ib-lite", synthetic_data.train, config)
    np.testing.assert_array_equal(patches.classes, interior_boundary_targets(patches.instances, 1))
    assert np.unique(patches.weights[patches.classes == BOUNDARY]) == pytest.approx(
        5.0 * np.unique(patches.weights[patches.classes == INTERIOR])
    )
    batch = next(epoch_batches(patches, 4, seed=0, epoch=0, augment=NO_AUGMENTATION))
    assert batch.classes.shape == batch.target.shape
    torch.testing.assert_close((batch.classes > 0).float(), batch.target)
    value = batch_loss(torch.zeros(4, 3, PATCH, PATCH, requires_grad=True), batch, "interior_boundary", 0.0)
    assert value.ndim == 0 and value.item() > 0
    assert stage2_loss("cascade-ib") == "interior_boundary" and stage2_loss("cascade") == "dice"


def test_interior_boundary_loss_needs_classes():
    batch = Batch(inputs=torch.zeros(1, 4, 4, 4), target=torch.zeros(1, 1, 4, 4),
                  weights=torch.ones(1, 1, 4, 4), valid=torch.ones(1, 1, 4, 4), teacher=None)
    with pytest.raises(ValueError, match="classes"):
        batch_loss(torch.zeros(1, 3, 4, 4), batch, "interior_boundary", 0.0)


def test_validation_of_three_class_logits_uses_seeded_instances():
    logits = np.full((16, 16, 3), [5.0, -5.0, -5.0], np.float32)
    logits[3:13, 3:13] = [-5.0, -5.0, 5.0]  # boundary
    logits[5:11, 5:11] = [-5.0, 5.0, -5.0]  # interior
    labels = logits_to_instances(logits, {"min_seed_size": 0, "max_expansion": 4})
    assert labels.max() == 1 and (labels == 1).sum() == 100
    target = torch.zeros(1, 1, 16, 16)
    target[..., 3:13, 3:13] = 1.0
    tensor = torch.from_numpy(logits).permute(2, 0, 1)[None]
    assert loss_function("interior_boundary")(tensor, target, target) < 0.01


def test_cascade_ib_lite_trains_one_step_per_stage_and_loads_as_a_three_class_model(
    synthetic_data, tmp_path
):
    started = time.perf_counter()
    config = TrainConfig(
        batch_size=4, lr=1e-2, device="cpu", patch_size=PATCH, max_steps_per_epoch=1,
        progress=False, augment=NO_AUGMENTATION, boundary_width=3, boundary_weight=4.0,
    )
    out = tmp_path / "run"
    result = protocol.train_cascade(
        tmp_path, out, "cascade-ib-lite", config, pretrain_tnbc_epochs=1, finetune_epochs=1, folds=2
    )
    card = json.loads((out / "cascade-ib-lite.json").read_text())
    assert card["name"] == "cascade-ib-lite" and card["postprocess"] == "seeded" and card["mpp"] == 0.25
    assert card["boundary_width"] == 3 and card["class_weights"]["boundary_weight"] == 4.0
    assert card["seeded"] == {"threshold": 0.5, "min_seed_size": 8, "max_expansion": 6}
    assert card["config"]["classes"] == 3 and set(card["metrics"]) == {"val_loss", "val_aji", "val_f1", "val_dice"}
    assert json.loads((out / "stage2.json").read_text())["postprocess"] == "seeded"
    assert "postprocess" not in json.loads((out / "stage1.json").read_text())
    model, loaded_card = load_weights(result.weights_path)
    assert loaded_card["postprocess"] == "seeded"
    maps = Predictor(model, torch.device("cpu"), batch_size=2).predict(
        np.zeros((3, 40, 36, 3), np.uint8)
    )
    assert maps.shape == (3, 40, 36, 2) and maps.dtype == np.float32
    assert np.all(maps[..., 0] <= maps[..., 1] + 1e-6) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert time.perf_counter() - started < 15.0


def test_binary_presets_still_build_one_channel_models():
    assert create_model("cascade-lite")(torch.rand(1, 3, PATCH, PATCH)).shape == (1, 1, PATCH, PATCH)
    assert create_model("cascade-ib-lite")(torch.rand(1, 3, PATCH, PATCH)).shape == (1, 3, PATCH, PATCH)
