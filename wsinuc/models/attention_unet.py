"""Baseline: Attention U-Net (Oktay et al., 2018, "Attention U-Net: Learning
Where to Look for the Pancreas").

The U-Net of :mod:`wsinuc.models.unet` with an additive attention gate on
every skip connection. As in the paper, the gate compares the skip features
``x`` with the coarser decoder features ``g`` at the coarse resolution
(``x`` is sub-sampled by a strided 2x2 conv), turns the sum into one
coefficient per pixel through ReLU, a 1x1 conv and a sigmoid, resamples the
coefficients bilinearly to the skip resolution and scales the skip by them
before a final 1x1 conv + BN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsinuc.models.unet import UNet, UpBlock


class AttentionGate(nn.Module):
    """Additive attention gate: ``x * sigmoid(psi(relu(theta(x) + phi(g))))``.

    Parameters
    ----------
    skip_channels : int
        Channels of the skip features ``x`` (resolution H x W).
    gate_channels : int
        Channels of the gating features ``g`` (resolution H/2 x W/2).
    """

    def __init__(self, skip_channels: int, gate_channels: int) -> None:
        super().__init__()
        inter_channels = max(skip_channels // 2, 1)
        self.theta = nn.Conv2d(skip_channels, inter_channels, kernel_size=2, stride=2, bias=False)
        self.phi = nn.Conv2d(gate_channels, inter_channels, kernel_size=1)
        self.psi = nn.Conv2d(inter_channels, 1, kernel_size=1)
        self.out = nn.Sequential(
            nn.Conv2d(skip_channels, skip_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(skip_channels),
        )

    def coefficients(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Attention coefficients in (0, 1), shape (N, 1, H, W) of ``x``."""
        alpha = torch.sigmoid(self.psi(F.relu(self.theta(x) + self.phi(g))))
        return F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.out(x * self.coefficients(x, g))


class AttentionUpBlock(UpBlock):
    """U-Net expanding step whose skip passes through an :class:`AttentionGate`."""

    def __init__(self, in_channels: int, skip_channels: int) -> None:
        super().__init__(in_channels, skip_channels)
        self.gate = AttentionGate(skip_channels, in_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return super().forward(x, self.gate(skip, x))


class AttentionUNet(UNet):
    """Attention U-Net mapping (N, in_channels, H, W) in [0, 1] to (N, 1, H, W) logits.

    Parameters
    ----------
    in_channels : int
        Input channels (3 for RGB).
    width : int
        Channels of the first level; level ``k`` has ``width * 2**k``.
    depth : int
        Number of down-sampling steps; H and W must be multiples of ``2**depth``.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, depth: int = 4) -> None:
        super().__init__(in_channels, width, depth, decoder_block=AttentionUpBlock)
