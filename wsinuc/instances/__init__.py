"""Instances: probabilities -> labelled nuclei -> outlines and measurements (pure)."""

from wsinuc.instances.measure import MEASUREMENT_COLUMNS, measure_nuclei
from wsinuc.instances.polygons import label_polygons, label_rings, mask_outline, rings_to_polygons, simplify_rings
from wsinuc.instances.postprocess import (
    drop_small_objects,
    keep_largest_pieces,
    open_foreground,
    probability_to_instances,
    watershed_instances,
)
from wsinuc.instances.rings import PackedRings
from wsinuc.instances.rules import METHODS, InstanceRule
from wsinuc.instances.seeded import seeded_instances

__all__ = [
    "METHODS",
    "InstanceRule",
    "MEASUREMENT_COLUMNS",
    "PackedRings",
    "drop_small_objects",
    "keep_largest_pieces",
    "label_polygons",
    "label_rings",
    "mask_outline",
    "measure_nuclei",
    "open_foreground",
    "probability_to_instances",
    "rings_to_polygons",
    "seeded_instances",
    "simplify_rings",
    "watershed_instances",
]
