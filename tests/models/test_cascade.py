"""Cascade: stage 2 sees RGB plus the stage-1 probability."""

from __future__ import annotations

import pytest
import torch

from wsinuc.models.cascade import Cascade
from wsinuc.models.unet import UNet
from wsinuc.models.vgg_unet import vgg_unet


@pytest.fixture
def cascade() -> Cascade:
    torch.manual_seed(0)
    stage2 = vgg_unet(4, "vgg16_lite", (8, 8, 4, 4, 4), width=4)
    return Cascade(UNet(3, 4, 4), stage2).eval()


def test_forward_is_stage2_of_image_and_stage1_probability(cascade):
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        expected = cascade.stage2(torch.cat([x, torch.sigmoid(cascade.stage1(x))], dim=1))
        torch.testing.assert_close(cascade(x), expected)


def test_forward_stages_returns_both_logit_maps(cascade):
    x = torch.rand(1, 3, 64, 32)
    with torch.inference_mode():
        first, second = cascade.forward_stages(x)
        torch.testing.assert_close(first, cascade.stage1(x))
        torch.testing.assert_close(second, cascade(x))
    assert first.shape == second.shape == (1, 1, 64, 32)


def test_requires_the_stricter_input_multiple_of_the_two_stages(cascade):
    assert cascade.input_multiple == 32
    with pytest.raises(ValueError, match="multiples of 32"):
        cascade(torch.rand(1, 3, 48, 64))


def test_gradients_reach_stage1_through_the_probability(cascade):
    cascade.train()
    cascade(torch.rand(1, 3, 64, 64)).sum().backward()
    assert cascade.stage1.head.weight.grad is not None
    assert cascade.stage1.head.weight.grad.abs().sum() > 0
