"""Segmentation networks: the two-stage cascade, its stages and a baseline.

Every network maps float (N, 3, H, W) RGB in [0, 1] to (N, 1, H, W) logits of
"nucleus" (H, W multiples of 32) and normalises its input itself. Build one
with :func:`create_model`; save and load trained ones with
:func:`save_weights`, :func:`load_weights` and :func:`load_model`.
"""

from wsinuc.models.attention_unet import AttentionUNet
from wsinuc.models.cascade import Cascade
from wsinuc.models.registry import MODEL_NAMES, PRESETS, create_model, model_config
from wsinuc.models.unet import UNet
from wsinuc.models.vgg_unet import vgg_unet
from wsinuc.models.weights import (
    WeightsError,
    list_bundled_weights,
    load_model,
    load_weights,
    save_weights,
    saved_weights_exist,
)

__all__ = [
    "MODEL_NAMES",
    "PRESETS",
    "AttentionUNet",
    "Cascade",
    "UNet",
    "WeightsError",
    "create_model",
    "list_bundled_weights",
    "load_model",
    "load_weights",
    "model_config",
    "save_weights",
    "saved_weights_exist",
    "vgg_unet",
]
