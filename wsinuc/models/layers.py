"""Building blocks shared by the segmentation networks.

Every network in :mod:`wsinuc.models` starts with :class:`Normalize` (so
callers always pass RGB in [0, 1]), is built from :func:`conv_bn_relu`
layers, and checks its input with :func:`validate_input`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wsinuc.models.layout import (  # noqa: F401 - re-exported: the layers' public constants
    EXTRA_CHANNEL_MEAN,
    EXTRA_CHANNEL_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    default_mean_std,
)


class Normalize(nn.Module):
    """Fixed per-channel ``(x - mean) / std``; the constants are not trained.

    The buffers are not persistent: they are rebuilt from the model config
    and so never enter a saved state dict.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or min(std) <= 0:
            raise ValueError(f"need equal-length mean/std with std > 0, got {mean} and {std}")
        shape = (1, len(mean), 1, 1)
        self.register_buffer("mean", torch.tensor(mean).reshape(shape), persistent=False)
        self.register_buffer("std", torch.tensor(std).reshape(shape), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 same-padding convolution, batch norm, ReLU (no conv bias: BN has one)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """The U-Net block: two :func:`conv_bn_relu` layers."""
    return nn.Sequential(
        conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels)
    )


def validate_input(x: torch.Tensor, in_channels: int, multiple: int) -> None:
    """Raise ValueError unless ``x`` is (N, in_channels, H, W), H, W multiples of ``multiple``."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"expected input of shape (N, {in_channels}, H, W), got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(
            f"input height and width must be multiples of {multiple}, got {height}x{width}"
        )


def validate_width(name: str, value: int) -> None:
    """Raise ValueError unless a channel width is a positive integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
