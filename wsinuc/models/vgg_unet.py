"""Stage 2 of the cascade: a U-Net with a VGG16 encoder.

Two implementations share one builder, :func:`vgg_unet`:

* ``encoder="vgg16"`` (the paper) or any other encoder name of
  segmentation-models-pytorch: ``smp.Unet(encoder, encoder_weights=None)``.
  No ImageNet weights are downloaded; the network trains from scratch.
* ``encoder="vgg16_lite"``: our own width-scalable copy of the same layout
  (VGG16 conv stack with BN, channels ``width * (1, 2, 4, 8, 8)``, features at
  strides 1 ... 32 exactly as smp's VGG encoder gives them, smp's U-Net
  decoder: nearest up-sampling, concatenated skip, two conv + BN + ReLU), so
  that a narrow stage 2 is possible; smp cannot narrow vgg16.

Both normalise their (RGB [+ probability]) input internally and need H and W
to be multiples of 32.
"""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from wsinuc.models.layers import (
    Normalize,
    conv_bn_relu,
    default_mean_std,
    validate_input,
    validate_width,
)
from wsinuc.models.layout import LITE_ENCODER, OUTPUT_CLASSES, VGG16_CONVS_PER_STAGE, VGG16_WIDTH_FACTORS

DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)
INPUT_MULTIPLE = 32


class SmpUnet(nn.Module):
    """``smp.Unet`` with internal input normalisation; (N, C, H, W) -> (N, classes, H, W) logits."""

    def __init__(
        self, in_channels: int, encoder: str, decoder_channels: Sequence[int], classes: int = 1
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.input_multiple = INPUT_MULTIPLE
        self.normalize = Normalize(*default_mean_std(in_channels))
        self.net = smp.Unet(
            encoder,
            encoder_weights=None,
            in_channels=in_channels,
            classes=classes,
            decoder_channels=tuple(decoder_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate_input(x, self.in_channels, self.input_multiple)
        return self.net(self.normalize(x))


class VggLiteEncoder(nn.Module):
    """VGG16 conv stack (with BN) at channel width ``width * (1, 2, 4, 8, 8)``.

    Returns six feature maps at strides 1, 2, 4, 8, 16 (after each conv
    stage) and 32 (the final max-pool), like smp's VGG encoder.
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.out_channels = [width * f for f in VGG16_WIDTH_FACTORS] + [width * 8]
        stages, c_in = [], in_channels
        for index, (n_convs, c_out) in enumerate(zip(VGG16_CONVS_PER_STAGE, self.out_channels)):
            layers = [nn.MaxPool2d(2)] if index else []
            for _ in range(n_convs):
                layers.append(conv_bn_relu(c_in, c_out))
                c_in = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        features.append(self.pool(x))
        return features


class NearestUpBlock(nn.Module):
    """smp-style decoder step: nearest 2x up-sampling, optional skip, two conv layers."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            conv_bn_relu(in_channels + skip_channels, out_channels),
            conv_bn_relu(out_channels, out_channels),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv(x)


class VggLiteUnet(nn.Module):
    """Width-scalable VGG16 U-Net; (N, C, H, W) in [0, 1] -> (N, classes, H, W) logits."""

    def __init__(
        self, in_channels: int, width: int, decoder_channels: Sequence[int], classes: int = 1
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.input_multiple = INPUT_MULTIPLE
        self.normalize = Normalize(*default_mean_std(in_channels))
        self.encoder = VggLiteEncoder(in_channels, width)
        skips = self.encoder.out_channels[-2:0:-1] + [0]
        inputs = [self.encoder.out_channels[-1]] + list(decoder_channels[:-1])
        self.decoder = nn.ModuleList(
            NearestUpBlock(c_in, c_skip, c_out)
            for c_in, c_skip, c_out in zip(inputs, skips, decoder_channels)
        )
        self.head = nn.Conv2d(decoder_channels[-1], classes, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate_input(x, self.in_channels, self.input_multiple)
        features = self.encoder(self.normalize(x))
        skips = features[-2:0:-1] + [None]
        y = features[-1]
        for block, skip in zip(self.decoder, skips):
            y = block(y, skip)
        return self.head(y)


def vgg_unet(
    in_channels: int = 3,
    encoder: str = "vgg16",
    decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    width: int = 64,
    classes: int = 1,
) -> nn.Module:
    """Build a VGG-encoder U-Net (stage 2 of the cascade).

    Parameters
    ----------
    in_channels : int
        Input channels: 3 for RGB, 4 for RGB + stage-1 probability.
    encoder : str
        ``"vgg16"`` (paper, via segmentation-models-pytorch, no pretrained
        weights), another smp encoder name, or ``"vgg16_lite"`` (our
        width-scalable VGG16 layout).
    decoder_channels : sequence of int
        Output channels of the five decoder steps, coarse to fine.
    width : int
        First-stage channels of ``"vgg16_lite"`` (64 = VGG16); ignored by smp encoders.
    classes : int
        Output channels: 1 (nucleus logit) or 3 (background / interior /
        boundary logits, the interior/boundary variant).

    Returns
    -------
    torch.nn.Module
        Maps (N, in_channels, H, W) in [0, 1] to (N, classes, H, W) logits; H, W multiples of 32.
    """
    _validate_vgg_unet_args(encoder, decoder_channels, width)
    validate_classes(classes)
    if encoder == LITE_ENCODER:
        return VggLiteUnet(in_channels, width, decoder_channels, classes)
    return SmpUnet(in_channels, encoder, decoder_channels, classes)


def validate_classes(classes: object) -> None:
    """Raise ValueError unless ``classes`` is 1 (nucleus) or 3 (background / interior / boundary)."""
    if isinstance(classes, bool) or classes not in OUTPUT_CLASSES:
        raise ValueError(f"classes must be one of {OUTPUT_CLASSES}, got {classes!r}")


def _validate_vgg_unet_args(encoder: str, decoder_channels: Sequence[int], width: int) -> None:
    valid = [LITE_ENCODER, *smp.encoders.get_encoder_names()]
    if encoder not in valid:
        raise ValueError(f"unknown encoder {encoder!r}; valid encoders: {', '.join(valid)}")
    if len(decoder_channels) != len(VGG16_CONVS_PER_STAGE):
        raise ValueError(f"decoder_channels must have 5 entries, got {tuple(decoder_channels)}")
    for value in decoder_channels:
        validate_width("decoder_channels", value)
    validate_width("width", width)
