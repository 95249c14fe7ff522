"""Stage-1 U-Net: Ronneberger layout, parameter count, normalisation."""

from __future__ import annotations

import pytest
import torch

from wsinuc.models.layers import IMAGENET_MEAN, IMAGENET_STD, Normalize, default_mean_std
from wsinuc.models.unet import UNet


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def double_conv_parameters(c_in: int, c_out: int) -> int:
    """Two bias-free 3x3 convs, each followed by BN (weight + bias)."""
    return 9 * c_in * c_out + 9 * c_out * c_out + 2 * 2 * c_out


def expected_unet_parameters(width: int, depth: int, in_channels: int = 3) -> int:
    widths = [width * 2**k for k in range(depth + 1)]
    total = double_conv_parameters(in_channels, widths[0])
    total += sum(double_conv_parameters(a, b) for a, b in zip(widths, widths[1:]))
    for c_in, c_skip in zip(widths[:0:-1], widths[-2::-1]):
        total += 4 * c_in * c_skip + c_skip  # 2x2 transposed conv with bias
        total += double_conv_parameters(2 * c_skip, c_skip)
    return total + widths[0] + 1  # 1x1 head with bias


@pytest.mark.parametrize(("width", "depth"), [(4, 4), (8, 3), (6, 2)])
def test_parameter_count_matches_the_layout(width, depth):
    assert n_parameters(UNet(3, width, depth)) == expected_unet_parameters(width, depth)


def test_paper_width_has_about_31_million_parameters():
    count = n_parameters(UNet(3, 64, 4))
    assert count == expected_unet_parameters(64, 4)
    assert 30.5e6 < count < 31.5e6


def test_depth_sets_the_required_input_multiple():
    model = UNet(3, 4, depth=2).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 20, 12)).shape == (1, 1, 20, 12)
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.rand(1, 3, 18, 12))


@pytest.mark.parametrize(("width", "depth"), [(0, 4), (4, 0), (4, 7)])
def test_rejects_bad_width_or_depth(width, depth):
    with pytest.raises(ValueError, match="got"):
        UNet(3, width, depth)


def test_normalize_maps_the_imagenet_mean_to_zero_and_mean_plus_std_to_one():
    layer = Normalize(*default_mean_std(3))
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    torch.testing.assert_close(layer(mean.expand(1, 3, 2, 2)), torch.zeros(1, 3, 2, 2))
    torch.testing.assert_close(layer((mean + std).expand(1, 3, 2, 2)), torch.ones(1, 3, 2, 2))


def test_extra_channels_are_mapped_from_unit_range_to_plus_minus_one():
    mean, std = default_mean_std(4)
    layer = Normalize(mean, std)
    x = torch.zeros(1, 4, 1, 2)
    x[0, 3, 0, 1] = 1.0
    assert layer(x)[0, 3].flatten().tolist() == [-1.0, 1.0]


def test_normalisation_constants_are_not_saved_in_the_state_dict():
    assert not any("normalize" in key for key in UNet(3, 4, 2).state_dict())
