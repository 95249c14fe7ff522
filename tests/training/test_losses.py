"""Losses: weighted BCE reduces to plain BCE; soft Dice of a perfect prediction is 0."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wsinuc.training.losses import (
    SoftDiceLoss,
    WeightedBCELoss,
    soft_dice_loss,
    weighted_bce_with_logits,
)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 8, 8)
    target = (torch.rand(2, 1, 8, 8) > 0.5).float()
    return logits, target


def test_unit_weights_give_plain_binary_cross_entropy(batch):
    logits, target = batch
    loss = weighted_bce_with_logits(logits, target, torch.ones_like(target))
    torch.testing.assert_close(loss, F.binary_cross_entropy(torch.sigmoid(logits), target))


def test_zero_logit_costs_log_two_per_pixel():
    zeros = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    loss = weighted_bce_with_logits(zeros, target, torch.ones_like(zeros), reduction="sum")
    assert loss.item() == pytest.approx(4 * math.log(2))


def test_weights_scale_each_pixel_term(batch):
    logits, target = batch
    weights = torch.rand_like(target)
    plain = weighted_bce_with_logits(logits, target, torch.ones_like(target), reduction="none")
    weighted = weighted_bce_with_logits(logits, target, weights, reduction="none")
    torch.testing.assert_close(weighted, plain * weights)
    torch.testing.assert_close(
        weighted_bce_with_logits(logits, target, weights, reduction="mean"), weighted.mean()
    )


def test_pixels_with_zero_weight_do_not_change_the_loss(batch):
    logits, target = batch
    weights = torch.ones_like(target)
    weights[..., :4] = 0
    changed = logits.clone()
    changed[..., :4] = 100.0
    before = weighted_bce_with_logits(logits, target, weights)
    assert weighted_bce_with_logits(changed, target, weights) == before


def test_bf16_logits_give_a_float32_loss(batch):
    logits, target = batch
    loss = weighted_bce_with_logits(logits.bfloat16(), target, torch.ones_like(target))
    assert loss.dtype == torch.float32


def test_confident_perfect_prediction_has_dice_loss_near_zero(batch):
    _, target = batch
    assert soft_dice_loss(40.0 * (2 * target - 1), target).item() < 1e-6


def test_confident_all_background_prediction_has_dice_loss_one_minus_eps_share():
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :2] = 1.0  # 4 nucleus pixels
    loss = soft_dice_loss(torch.full_like(target, -40.0), target, eps=1.0)
    assert loss.item() == pytest.approx(1 - 1 / (4 + 1), abs=1e-6)


def test_dice_of_empty_target_and_empty_prediction_is_zero():
    target = torch.zeros(1, 1, 4, 4)
    loss = soft_dice_loss(torch.full_like(target, -40.0), target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_dice_sums_over_the_whole_batch():
    target = torch.zeros(2, 1, 2, 2)
    target[0] = 1.0
    logits = torch.full_like(target, 40.0)
    # p = 1 everywhere: 2 * 4 + 1 over 8 + 4 + 1
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 - 9 / 13, abs=1e-6)


def test_modules_equal_the_functions(batch):
    logits, target = batch
    weights = torch.rand_like(target)
    expected = weighted_bce_with_logits(logits, target, weights, "sum")
    assert WeightedBCELoss("sum")(logits, target, weights) == expected
    assert SoftDiceLoss(eps=2.0)(logits, target) == soft_dice_loss(logits, target, eps=2.0)


def test_losses_are_differentiable(batch):
    logits, target = batch
    logits.requires_grad_(True)
    bce = weighted_bce_with_logits(logits, target, torch.ones_like(target))
    (bce + soft_dice_loss(logits, target)).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_rejects_mismatched_shapes_and_bad_options(batch):
    logits, target = batch
    with pytest.raises(ValueError, match=r"\(2, 1, 8, 8\).*\(2, 1, 4, 4\)"):
        weighted_bce_with_logits(logits, target, torch.ones(2, 1, 4, 4))
    with pytest.raises(ValueError, match="'avg'"):
        weighted_bce_with_logits(logits, target, torch.ones_like(target), reduction="avg")
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        soft_dice_loss(logits, target, eps=0)
