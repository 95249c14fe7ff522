"""Slow reference implementations (the pre-vectorisation code), kept as test oracles.

* :func:`reference_polygons` - per-object ``find_contours`` on the
  hole-filled mask, pixel-corner staircase, largest piece, oriented
  counter-clockwise with shapely.
* :func:`reference_measurements` - ``skimage.measure.regionprops_table``
  with ``rgb2hed`` stain densities, optionally in float32 as the old code
  did.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from shapely import make_valid
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient
from skimage.color import rgb2hed
from skimage.measure import find_contours, regionprops_table

OD_PER_RGB2HED_UNIT = math.log(1e6) / math.log(10.0)


def reference_polygons(labels: np.ndarray, offset=(0.0, 0.0), scale=1.0) -> list[tuple[int, Polygon]]:
    """``(id, polygon)`` per object, exactly as ``label_polygons`` did before packed rings."""
    ids, inverse = np.unique(labels, return_inverse=True)
    compact = inverse.reshape(labels.shape) + (0 if ids[0] == 0 else 1)
    ids = ids[ids > 0]
    result = []
    for index, box in enumerate(ndimage.find_objects(compact), start=1):
        rows, cols = box
        corner = np.array([cols.start + offset[0], rows.start + offset[1]], dtype=float)
        padded = np.pad(ndimage.binary_fill_holes(compact[box] == index), 1).astype(np.float64)
        pieces = [Polygon((_staircase(c) + corner) * scale) for c in find_contours(padded, 0.5)]
        polygon = max((p for p in pieces if len(p.exterior.coords) >= 4), key=lambda p: p.area)
        result.append((int(ids[index - 1]), _largest(polygon)))
    return result


def _staircase(contour: np.ndarray) -> np.ndarray:
    start = contour[:-1] if np.array_equal(contour[0], contour[-1]) else contour
    following = np.roll(start, -1, axis=0)
    diagonal = (start[:, 0] != following[:, 0]) & (start[:, 1] != following[:, 1])
    row_is_edge = np.isclose(np.mod(start[:, 0], 1.0), 0.5)
    corner_row = np.where(row_is_edge, start[:, 0], following[:, 0])[diagonal]
    corner_col = np.where(row_is_edge, following[:, 1], start[:, 1])[diagonal]
    return np.stack([corner_col - 0.5, corner_row - 0.5], axis=1)


def _largest(geometry) -> Polygon:
    if not geometry.is_valid:
        geometry = make_valid(geometry)
    parts = [geometry] if isinstance(geometry, Polygon) else [g for g in geometry.geoms if isinstance(g, Polygon)]
    return orient(Polygon(max(parts, key=lambda p: p.area).exterior), sign=1.0)


_PROPERTIES = (
    "label", "centroid", "area", "perimeter", "eccentricity", "solidity",
    "axis_major_length", "axis_minor_length", "orientation", "intensity_mean",
)


def reference_measurements(labels, image_rgb, *, mpp, offset=(0.0, 0.0), scale=1.0, dtype=np.float64):
    """The old regionprops-based table (``dtype=np.float32`` reproduces its intensity rounding)."""
    stains = rgb2hed(image_rgb)[..., :2] * OD_PER_RGB2HED_UNIT
    channels = np.concatenate([stains, image_rgb.astype(np.float64)], axis=-1).astype(dtype)
    table = regionprops_table(labels, intensity_image=channels, properties=_PROPERTIES)
    return {
        "id": np.asarray(table["label"], dtype=np.int64),
        "centroid_x": (table["centroid-1"] + 0.5 + offset[0]) * scale,
        "centroid_y": (table["centroid-0"] + 0.5 + offset[1]) * scale,
        "area_um2": table["area"] * mpp**2,
        "perimeter_um": table["perimeter"] * mpp,
        "eccentricity": table["eccentricity"],
        "solidity": table["solidity"],
        "major_axis_length_um": table["axis_major_length"] * mpp,
        "minor_axis_length_um": table["axis_minor_length"] * mpp,
        "orientation": table["orientation"],
        "mean_hematoxylin_od": table["intensity_mean-0"],
        "mean_eosin_od": table["intensity_mean-1"],
        "mean_red": table["intensity_mean-2"],
        "mean_green": table["intensity_mean-3"],
        "mean_blue": table["intensity_mean-4"],
    }
