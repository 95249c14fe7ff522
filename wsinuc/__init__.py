"""wsinuc: find and outline every cell nucleus in whole-slide pathology images.

Public API (imported lazily so that ``import wsinuc`` stays light):

- :func:`segment_slide` — segment a slide and write GeoJSON, OME-Zarr labels,
  a measurements table and an overlay;
- :func:`load_model` — load bundled (``"cascade-ib-lite-20x"``, ``"cascade-ib-lite"``, ``"cascade"``,
  ``"cascade-lite"``) or
  saved weights, offline;
- :func:`open_slide` — read any supported slide format.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "segment_slide": ("wsinuc.engine", "segment_slide"),
    "load_model": ("wsinuc.models.weights", "load_model"),
    "open_slide": ("wsinuc.slide", "open_slide"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'wsinuc' has no attribute {name!r}")
