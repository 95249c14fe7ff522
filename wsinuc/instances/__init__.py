"""Instances: probabilities -> labelled nuclei -> outlines and measurements (pure)."""

from wsinuc.instances.measure import MEASUREMENT_COLUMNS, measure_nuclei
from wsinuc.instances.polygons import label_polygons, mask_outline
from wsinuc.instances.postprocess import (
    drop_small_objects,
    open_foreground,
    probability_to_instances,
    watershed_instances,
)

__all__ = [
    "MEASUREMENT_COLUMNS",
    "drop_small_objects",
    "label_polygons",
    "mask_outline",
    "measure_nuclei",
    "open_foreground",
    "probability_to_instances",
    "watershed_instances",
]
