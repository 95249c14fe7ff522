"""Output writers: QuPath GeoJSON, OME-Zarr labels, measurement tables, QC overlay.

Every writer is opened once by the caller (the engine) and writes to a
temporary name that becomes the final name only when the output is complete
(see :mod:`wsinuc.writers.atomic`).

Each name below is imported from its module on first use: the writers that
need no Zarr (and training and benchmark code that saves PNGs) also work
where zarr is not installed, e.g. on a lent GPU machine, and a chunk task
that needs one helper does not import every writer (pyarrow's Parquet and
CSV modules, zarr) before the first chunk starts.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module of :mod:`wsinuc.writers` defining it.
_HOMES = {
    "OutputError": "atomic", "atomic_dir": "atomic", "atomic_file": "atomic", "check_free_space": "atomic",
    "disk_full_guard": "atomic",
    "GeoJSONWriter": "geojson", "feature_id": "geojson", "label_id_from_feature_id": "geojson",
    "prepare_polygon": "geojson", "validate_qupath_feature": "geojson",
    "kept_rings": "geojson_fast",
    "draw_overlay": "overlay", "save_image": "overlay", "save_png": "overlay",
    "TableWriter": "table", "measurement_columns": "table",
    "LabelsZarrWriter": "zarr_labels",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"wsinuc.writers.{_HOMES[name]}"), name)
