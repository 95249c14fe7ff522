"""Stage 1 of the cascade: the U-Net of Ronneberger et al. (2015).

Layout: ``depth`` down-sampling levels (paper: 4) of two 3x3 conv + BN + ReLU
layers with same padding, channel widths ``width * 2**level`` (paper: 64, so
64 ... 1024 and about 31 M parameters), max-pool down, 2x2 transposed-conv
up, concatenated skips and a 1x1 head giving one "nucleus" logit per pixel.
The input is RGB in [0, 1]; :class:`~wsinuc.models.layers.Normalize`
standardises it inside the network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from wsinuc.models.layers import (
    Normalize,
    default_mean_std,
    double_conv,
    validate_input,
    validate_width,
)

DecoderBlockFactory = Callable[[int, int], nn.Module]


class UNetEncoder(nn.Module):
    """Contracting path; returns one feature map per level, finest first."""

    def __init__(self, in_channels: int, widths: list[int]) -> None:
        super().__init__()
        self.stem = double_conv(in_channels, widths[0])
        self.levels = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), double_conv(c_in, c_out))
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for level in self.levels:
            features.append(level(features[-1]))
        return features


class UpBlock(nn.Module):
    """Expanding-path step: 2x2 transposed conv up, concatenate the skip, double conv."""

    def __init__(self, in_channels: int, skip_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, skip_channels, kernel_size=2, stride=2)
        self.conv = double_conv(2 * skip_channels, skip_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """U-Net mapping (N, in_channels, H, W) in [0, 1] to (N, 1, H, W) logits.

    Parameters
    ----------
    in_channels : int
        Input channels (3 for RGB).
    width : int
        Channels of the first level; level ``k`` has ``width * 2**k``.
    depth : int
        Number of down-sampling steps; H and W must be multiples of ``2**depth``.
    decoder_block : callable, optional
        ``(in_channels, skip_channels) -> module`` building each expanding
        step (default :class:`UpBlock`); the attention U-Net passes its gated one.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        depth: int = 4,
        decoder_block: DecoderBlockFactory = UpBlock,
    ) -> None:
        super().__init__()
        validate_width("width", width)
        if not 1 <= depth <= 6:
            raise ValueError(f"depth must be between 1 and 6, got {depth}")
        widths = [width * 2**level for level in range(depth + 1)]
        self.in_channels = in_channels
        self.input_multiple = 2**depth
        self.normalize = Normalize(*default_mean_std(in_channels))
        self.encoder = UNetEncoder(in_channels, widths)
        self.decoder = nn.ModuleList(
            decoder_block(c_in, c_skip) for c_in, c_skip in zip(widths[:0:-1], widths[-2::-1])
        )
        self.head = nn.Conv2d(widths[0], 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate_input(x, self.in_channels, self.input_multiple)
        features = self.encoder(self.normalize(x))
        y = features[-1]
        for block, skip in zip(self.decoder, features[-2::-1]):
            y = block(y, skip)
        return self.head(y)
