"""Output writers: QuPath GeoJSON, OME-Zarr labels, measurement tables, QC overlay.

Every writer is opened once by the caller (the engine) and writes to a
temporary name that becomes the final name only when the output is complete
(see :mod:`wsinuc.writers.atomic`).

:class:`LabelsZarrWriter` is imported on first use, so the writers that need
no Zarr (and training and benchmark code that saves PNGs) also work where
zarr is not installed, e.g. on a lent GPU machine.
"""

from typing import Any

from wsinuc.writers.atomic import (
    OutputError,
    atomic_dir,
    atomic_file,
    check_free_space,
    disk_full_guard,
)
from wsinuc.writers.geojson import (
    GeoJSONWriter,
    feature_id,
    label_id_from_feature_id,
    prepare_polygon,
    validate_qupath_feature,
)
from wsinuc.writers.geojson_fast import kept_rings
from wsinuc.writers.overlay import draw_overlay, save_image, save_png
from wsinuc.writers.table import TableWriter, measurement_columns

__all__ = [
    "GeoJSONWriter",
    "LabelsZarrWriter",
    "OutputError",
    "TableWriter",
    "atomic_dir",
    "atomic_file",
    "check_free_space",
    "disk_full_guard",
    "draw_overlay",
    "feature_id",
    "kept_rings",
    "label_id_from_feature_id",
    "measurement_columns",
    "prepare_polygon",
    "save_image",
    "save_png",
    "validate_qupath_feature",
]


def __getattr__(name: str) -> Any:
    if name == "LabelsZarrWriter":
        from wsinuc.writers.zarr_labels import LabelsZarrWriter

        return LabelsZarrWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
