"""The OpenVINO model of a lite cascade, built straight from its safetensors weights (no torch).

Converting the torch network (:func:`~wsinuc.inference.openvino_cache.write_openvino_model`'s
fallback) imports torch, segmentation-models-pytorch and timm and traces the
network: seconds on a user's first run. For the cascades whose stage 2 is
our own ``vgg16_lite`` U-Net (the bundled ``cascade-ib-lite-20x``,
``cascade-ib-lite`` and ``cascade-lite``), this module writes the same graph layer by layer with
OpenVINO's opset API from the tensors read by
:func:`~wsinuc.models.cards.load_numpy_state`:

``maps = probability_maps(stage2(cat([x, sigmoid(stage1(x))])))``

with the input ``x`` float (N, 3, H, W) RGB in [0, 1] of dynamic batch,
height and width, and the output the engine's maps ((N, H, W) for one class,
(N, H, W, 2) for three), as the converted model gives them.
:func:`can_build_directly` tells which cards this covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import openvino
from openvino import opset13 as ops

from wsinuc.inference.openvino_layers import (
    NodeLike,
    StateView,
    concat_channels,
    conv_bn_relu,
    head,
    max_pool2,
    nearest_up2,
    normalize,
    probability_maps,
    transposed_up2,
)
from wsinuc.models.cards import CARD_SUFFIX, WeightsError, load_numpy_state
from wsinuc.models.layout import (
    LITE_ENCODER,
    OUTPUT_CLASSES,
    VGG16_CONVS_PER_STAGE,
    VGG16_WIDTH_FACTORS,
    default_mean_std,
)

#: Config keys every directly built cascade's card has (``create_model`` saves them all).
REQUIRED_KEYS = ("name", "stage1_width", "stage1_depth", "stage2_encoder", "stage2_width",
                 "stage2_decoder_channels")
#: Config keys older cards may lack, with ``create_model``'s default.
OPTIONAL_KEYS = {"classes": 1}
MAX_STAGE1_DEPTH = 6


@dataclass(frozen=True)
class LiteCascadeLayout:
    """The architecture of a cascade with a UNet stage 1 and a ``vgg16_lite`` stage 2 (see its card's ``config``)."""

    stage1_width: int
    stage1_depth: int
    stage2_width: int
    stage2_decoder_channels: tuple[int, ...]
    classes: int


def lite_cascade_layout(card: Mapping[str, Any]) -> LiteCascadeLayout | None:
    """The layout of a card whose network this module can build, else None.

    None for every other network (the paper's smp ``vgg16`` stage 2, the
    baselines, a single stage, unknown or invalid config entries): those are
    converted from torch, which also reports what is wrong with a bad config.
    """
    config = card.get("config")
    if not isinstance(config, dict) or not set(REQUIRED_KEYS) <= set(config):
        return None
    if set(config) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS):
        return None
    if config["name"] != "cascade" or config["stage2_encoder"] != LITE_ENCODER:
        return None
    classes = config.get("classes", OPTIONAL_KEYS["classes"])
    if not _valid_sizes(config, classes):
        return None
    return LiteCascadeLayout(config["stage1_width"], config["stage1_depth"], config["stage2_width"],
                             tuple(config["stage2_decoder_channels"]), classes)


def _valid_sizes(config: Mapping[str, Any], classes: object) -> bool:
    """Positive integer widths, five decoder widths, a depth of 1 to 6 and 1 or 3 classes."""
    decoder = config["stage2_decoder_channels"]
    if not isinstance(decoder, list) or len(decoder) != len(VGG16_CONVS_PER_STAGE):
        return False
    widths = [config["stage1_width"], config["stage2_width"], *decoder]
    depth = config["stage1_depth"]
    return (all(_is_positive_int(width) for width in widths) and _is_positive_int(depth)
            and depth <= MAX_STAGE1_DEPTH and _is_positive_int(classes) and classes in OUTPUT_CLASSES)


def can_build_directly(card: Mapping[str, Any]) -> bool:
    """Whether :func:`build_openvino_model` builds the card's network (else the torch conversion does)."""
    return lite_cascade_layout(card) is not None


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def build_openvino_model(model: str) -> openvino.Model:
    """The OpenVINO model of ``model`` (bundled name or weights path) from its weights, without torch.

    Raises
    ------
    ValueError
        When :func:`can_build_directly` is false for its card.
    WeightsError
        Missing or corrupt weights, or tensors that do not fit the card's config.
    """
    from wsinuc.inference.model_cache import weights_stem

    card_path = weights_stem(model).with_suffix(CARD_SUFFIX)
    state, card = load_numpy_state(card_path)
    layout = lite_cascade_layout(card)
    if layout is None:
        raise ValueError(f"{card_path}: not a cascade with a {LITE_ENCODER} stage 2; convert it from torch")
    try:
        return lite_cascade_model(layout, state)
    except ValueError as error:
        raise WeightsError(card_path, f"cannot load into the card's config: {error}") from error


def lite_cascade_model(layout: LiteCascadeLayout, state: Mapping[str, np.ndarray]) -> openvino.Model:
    """Build the cascade's maps model from its state dict (tensor names as torch saves them).

    Raises
    ------
    ValueError
        A tensor is missing, has a shape the layout does not give it, or is left unused.
    """
    view = StateView(state)
    x = ops.parameter(openvino.PartialShape([-1, 3, -1, -1]), np.float32, name="x")
    stage1_logits = unet_graph(x, view, "stage1", layout.stage1_width, layout.stage1_depth)
    probability = ops.sigmoid(stage1_logits, name="stage1.probability")
    stage2_input = concat_channels([x, probability], "stage2.input")
    logits = vgg_lite_unet_graph(stage2_input, view, "stage2", layout)
    maps = probability_maps(logits, layout.classes)
    unused = view.untaken()
    if unused:
        raise ValueError(f"{len(unused)} tensor(s) have no layer in this config, e.g. {unused[0]!r}")
    maps.output(0).get_tensor().set_names({"maps"})
    return openvino.Model([ops.result(maps)], [x], "wsinuc-cascade")


def _double_conv(x: NodeLike, state: StateView, prefix: str, channels: tuple[int, int]) -> NodeLike:
    """:func:`wsinuc.models.layers.double_conv`: two conv + BN + ReLU layers, ``channels`` = (in, out)."""
    c_in, c_out = channels
    return conv_bn_relu(conv_bn_relu(x, state, f"{prefix}.0", (c_in, c_out)), state, f"{prefix}.1", (c_out, c_out))


def unet_graph(x: NodeLike, state: StateView, prefix: str, width: int, depth: int) -> NodeLike:
    """Stage 1, :class:`wsinuc.models.unet.UNet` on RGB: (N, 3, H, W) → (N, 1, H, W) logits.

    1. Normalise with the ImageNet statistics.
    2. Encoder: a double conv, then ``depth`` times max-pool + double conv
       (widths ``width * 2**level``).
    3. Decoder: per level, 2x2 transposed conv up, concatenate [up, skip],
       double conv.
    4. 1x1 head.
    """
    widths = [width * 2**level for level in range(depth + 1)]
    y = normalize(x, *default_mean_std(3), name=f"{prefix}.normalize")
    features = [_double_conv(y, state, f"{prefix}.encoder.stem", (3, widths[0]))]
    for level in range(depth):
        pooled = max_pool2(features[-1], f"{prefix}.encoder.levels.{level}.0")
        features.append(_double_conv(pooled, state, f"{prefix}.encoder.levels.{level}.1",
                                     (widths[level], widths[level + 1])))
    y = features[-1]
    for step, level in enumerate(range(depth - 1, -1, -1)):
        block = f"{prefix}.decoder.{step}"
        up = transposed_up2(y, state, f"{block}.up", (widths[level + 1], widths[level]))
        y = _double_conv(concat_channels([up, features[level]], f"{block}.cat"), state, f"{block}.conv",
                         (2 * widths[level], widths[level]))
    return head(y, state, f"{prefix}.head", (widths[0], 1), kernel=1)


def vgg_lite_unet_graph(x: NodeLike, state: StateView, prefix: str, layout: LiteCascadeLayout) -> NodeLike:
    """Stage 2, :class:`wsinuc.models.vgg_unet.VggLiteUnet` on RGB + probability: → (N, classes, H, W) logits.

    1. Normalise (ImageNet statistics, 0.5 / 0.5 for the probability).
    2. Encoder: five VGG16 stages (max-pool before all but the first) of
       conv + BN + ReLU layers, widths ``stage2_width * (1, 2, 4, 8, 8)``,
       then a last max-pool (stride 32).
    3. Decoder: five steps of nearest 2x up-sampling, concatenate [up, skip]
       (the stage outputs at strides 16, 8, 4, 2; none at the last step),
       two conv + BN + ReLU.
    4. 3x3 head.
    """
    in_channels = 4
    widths = [layout.stage2_width * factor for factor in VGG16_WIDTH_FACTORS]
    y = normalize(x, *default_mean_std(in_channels), name=f"{prefix}.normalize")
    features, c_in = [], in_channels
    for stage, (n_convs, c_out) in enumerate(zip(VGG16_CONVS_PER_STAGE, widths)):
        if stage:
            y = max_pool2(y, f"{prefix}.encoder.stages.{stage}.0")
        for index in range(int(stage > 0), n_convs + int(stage > 0)):
            y = conv_bn_relu(y, state, f"{prefix}.encoder.stages.{stage}.{index}", (c_in, c_out))
            c_in = c_out
        features.append(y)
    y = max_pool2(y, f"{prefix}.encoder.pool")
    skips = [*zip(features[-1:0:-1], widths[-1:0:-1]), (None, 0)]
    inputs = [widths[-1], *layout.stage2_decoder_channels[:-1]]
    for step, ((skip, c_skip), c_in, c_out) in enumerate(zip(skips, inputs, layout.stage2_decoder_channels)):
        block = f"{prefix}.decoder.{step}"
        y = nearest_up2(y, f"{block}.up")
        if skip is not None:
            y = concat_channels([y, skip], f"{block}.cat")
        y = _double_conv(y, state, f"{block}.conv", (c_in + c_skip, c_out))
    return head(y, state, f"{prefix}.head", (layout.stage2_decoder_channels[-1], layout.classes), kernel=3)
