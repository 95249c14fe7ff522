"""Segmentation networks: the two-stage cascade, its stages and a baseline.

Every network maps float (N, 3, H, W) RGB in [0, 1] to (N, 1, H, W) logits of
"nucleus" (H, W multiples of 32) and normalises its input itself. Build one
with :func:`create_model`; save and load trained ones with
:func:`save_weights`, :func:`load_weights` and :func:`load_model`.

Names are imported on first use, so that ``wsinuc.models.cards`` (model
cards, no torch) can be imported without torch.
"""

from __future__ import annotations

import importlib
import sys
import types

_LAZY = {
    "AttentionUNet": "wsinuc.models.attention_unet",
    "Cascade": "wsinuc.models.cascade",
    "MODEL_NAMES": "wsinuc.models.registry",
    "PRESETS": "wsinuc.models.registry",
    "create_model": "wsinuc.models.registry",
    "model_config": "wsinuc.models.registry",
    "UNet": "wsinuc.models.unet",
    "vgg_unet": "wsinuc.models.vgg_unet",
    "WeightsError": "wsinuc.models.cards",
    "list_bundled_weights": "wsinuc.models.cards",
    "saved_weights_exist": "wsinuc.models.cards",
    "load_model": "wsinuc.models.weights",
    "load_weights": "wsinuc.models.weights",
    "save_weights": "wsinuc.models.weights",
}

__all__ = sorted(_LAZY)


class _ModelsPackage(types.ModuleType):
    """Keeps a lazily exported function when its same-named submodule is imported.

    Importing ``wsinuc.models.vgg_unet`` binds the submodule to the package's
    ``vgg_unet`` attribute; the public name is the function of that module.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ModelsPackage


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wsinuc.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
