"""Build any wsinuc network by name: ``create_model(name, **cfg)``.

Names: ``"unet"`` (stage 1, weighted U-Net), ``"vgg16_unet"`` (stage 2
alone), ``"attention_unet"`` (baseline), ``"cascade"`` (both stages) and
``"colour_threshold"`` (per-pixel colour classifier: baseline and test stand-in).
:data:`PRESETS` adds named configurations: ``"cascade"`` (paper widths) and
``"cascade-lite"`` (narrow and several times faster), and their
interior/boundary variants ``"cascade-ib"`` and ``"cascade-ib-lite"``, whose
stage 2 returns three logits (background, interior, boundary; ``classes=3``;
``"vgg16_unet"`` and ``"cascade"`` take ``classes``, default 1). The resolved
arguments are stored on the model as ``model.wsinuc_config`` so that
``create_model(**model.wsinuc_config)`` rebuilds the same architecture; this
is what :mod:`wsinuc.models.weights` saves beside the tensors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from wsinuc.models.attention_unet import AttentionUNet
from wsinuc.models.cascade import Cascade
from wsinuc.models.colour_threshold import ColourThreshold
from wsinuc.models.unet import UNet
from wsinuc.models.vgg_unet import DEFAULT_DECODER_CHANNELS, LITE_ENCODER, vgg_unet

CONFIG_ATTRIBUTE = "wsinuc_config"


def _build_unet(in_channels: int = 3, width: int = 64, depth: int = 4) -> nn.Module:
    return UNet(in_channels, width, depth)


def _build_attention_unet(in_channels: int = 3, width: int = 64, depth: int = 4) -> nn.Module:
    return AttentionUNet(in_channels, width, depth)


def _build_vgg16_unet(
    in_channels: int = 3,
    encoder: str = "vgg16",
    width: int = 64,
    decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    classes: int = 1,
) -> nn.Module:
    return vgg_unet(in_channels, encoder, decoder_channels, width, classes)


def _build_cascade(
    stage1_width: int = 64,
    stage1_depth: int = 4,
    stage2_encoder: str = "vgg16",
    stage2_width: int = 64,
    stage2_decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    classes: int = 1,
) -> nn.Module:
    stage1 = UNet(3, stage1_width, stage1_depth)
    stage2 = vgg_unet(4, stage2_encoder, stage2_decoder_channels, stage2_width, classes)
    return Cascade(stage1, stage2)


def _build_colour_threshold(blur: int = 3, darkness_gain: float = 20.0, threshold: float = 0.45) -> nn.Module:
    return ColourThreshold(blur, darkness_gain, threshold)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet": _build_unet,
    "vgg16_unet": _build_vgg16_unet,
    "attention_unet": _build_attention_unet,
    "cascade": _build_cascade,
    "colour_threshold": _build_colour_threshold,
}
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)

PRESETS: dict[str, dict[str, Any]] = {
    "cascade": {
        "name": "cascade",
        "stage1_width": 64,
        "stage1_depth": 4,
        "stage2_encoder": "vgg16",
        "stage2_width": 64,
        "stage2_decoder_channels": list(DEFAULT_DECODER_CHANNELS),
    },
    "cascade-lite": {
        "name": "cascade",
        "stage1_width": 16,
        "stage1_depth": 4,
        "stage2_encoder": LITE_ENCODER,
        "stage2_width": 16,
        "stage2_decoder_channels": [64, 32, 16, 16, 16],
    },
}
# The interior/boundary variant: stage 2 predicts background / interior / boundary.
PRESETS["cascade-ib"] = {**PRESETS["cascade"], "classes": 3}
PRESETS["cascade-ib-lite"] = {**PRESETS["cascade-lite"], "classes": 3}


def create_model(name: str, **cfg: Any) -> nn.Module:
    """Build a network by registry name or preset name.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES` or a key of :data:`PRESETS` (whose
        settings ``cfg`` may override).
    **cfg
        Arguments of the named builder, e.g. ``width=16`` for ``"unet"`` or
        ``stage2_encoder="vgg16_lite"`` for ``"cascade"``.

    Returns
    -------
    torch.nn.Module
        Freshly initialised network (train mode) mapping (N, 3, H, W) RGB in
        [0, 1] to (N, 1, H, W) logits (``(N, 3, H, W)`` with ``classes=3``),
        with ``wsinuc_config`` set.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid names) or unknown option.
    """
    if name in PRESETS:
        preset = dict(PRESETS[name])
        name = preset.pop("name")
        cfg = {**preset, **cfg}
    builder = _BUILDERS.get(name)
    if builder is None:
        valid = sorted(set(MODEL_NAMES) | set(PRESETS))
        raise ValueError(f"unknown model name {name!r}; valid names: {', '.join(valid)}")
    resolved = _resolve_arguments(name, builder, cfg)
    model = builder(**resolved)
    setattr(model, CONFIG_ATTRIBUTE, {"name": name, **_jsonable(resolved)})
    return model


def model_config(model: nn.Module) -> dict[str, Any]:
    """The ``create_model`` arguments (with ``"name"``) that rebuild ``model``."""
    config = getattr(model, CONFIG_ATTRIBUTE, None)
    if not isinstance(config, dict):
        raise ValueError(
            f"{type(model).__name__} has no {CONFIG_ATTRIBUTE!r}; build it with create_model"
        )
    return dict(config)


def _resolve_arguments(
    name: str, builder: Callable[..., nn.Module], cfg: dict[str, Any]
) -> dict[str, Any]:
    """All builder arguments, defaults filled in; unknown keys raise ValueError."""
    signature = inspect.signature(builder)
    unknown = sorted(set(cfg) - set(signature.parameters))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for model {name!r}; "
            f"accepted: {', '.join(signature.parameters)}"
        )
    bound = signature.bind(**cfg)
    bound.apply_defaults()
    return dict(bound.arguments)


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists so that the config survives a JSON round trip unchanged."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()}
