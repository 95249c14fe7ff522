"""Layout constants of wsinuc's networks, shared by the torch modules and the OpenVINO graph builder.

Nothing here imports torch: :mod:`wsinuc.inference.openvino_graph` builds the
cascade's OpenVINO graph straight from its weights with these numbers, and
:mod:`wsinuc.models.layers` / :mod:`wsinuc.models.vgg_unet` build the torch
modules with the same ones.
"""

from __future__ import annotations

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EXTRA_CHANNEL_MEAN = 0.5
EXTRA_CHANNEL_STD = 0.5
#: ``torch.nn.BatchNorm2d``'s default epsilon, which every batch norm of wsinuc uses.
BATCH_NORM_EPS = 1e-5

LITE_ENCODER = "vgg16_lite"
VGG16_CONVS_PER_STAGE = (2, 2, 3, 3, 3)
VGG16_WIDTH_FACTORS = (1, 2, 4, 8, 8)
OUTPUT_CLASSES = (1, 3)


def default_mean_std(in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std for an input of RGB plus extra channels.

    The first three channels use the ImageNet statistics; any further channel
    (the stage-1 probability of the cascade) maps [0, 1] to [-1, 1].
    """
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    extra = in_channels - len(IMAGENET_MEAN)
    mean = IMAGENET_MEAN[:in_channels] + (EXTRA_CHANNEL_MEAN,) * max(extra, 0)
    std = IMAGENET_STD[:in_channels] + (EXTRA_CHANNEL_STD,) * max(extra, 0)
    return mean, std
