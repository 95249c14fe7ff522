"""Per-nucleus measurements from a label image and its RGB tile (pure).

Coordinates follow :mod:`wsinuc.instances.polygons`: pixel ``(r, c)`` has
its centre at ``(c + 0.5, r + 0.5)`` in pixel-edge coordinates, and slide
(level-0) coordinates are ``(edge + offset) * scale``.

Stain densities come from :func:`skimage.color.rgb2hed` (Ruifrok-Johnston
colour deconvolution), rescaled to base-10 optical density: skimage
divides natural-log OD by ``ln(1e-6)``, so its values times
``ln(1e6) / ln(10) = 6`` are ``-log10(I)`` units projected on each stain.
A white pixel has density 0.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.color import hed_from_rgb

from wsinuc.instances._labels import compact_labels, validate_labels
from wsinuc.instances.hull import hull_pixel_counts
from wsinuc.instances.moments import (
    boundary_perimeter,
    colour_means,
    ellipse_features,
    row_runs,
    shape_moments,
)
from wsinuc.instances.rings import PackedRings, trace_rings

OD_PER_RGB2HED_UNIT = math.log(1e6) / math.log(10.0)

MEASUREMENT_COLUMNS = (
    "id",
    "centroid_x",
    "centroid_y",
    "area_um2",
    "perimeter_um",
    "eccentricity",
    "solidity",
    "major_axis_length_um",
    "minor_axis_length_um",
    "orientation",
    "mean_hematoxylin_od",
    "mean_eosin_od",
    "mean_red",
    "mean_green",
    "mean_blue",
)

_STAIN_MATRIX = hed_from_rgb[:, :2] * OD_PER_RGB2HED_UNIT


def measure_nuclei(
    labels: np.ndarray,
    image_rgb: np.ndarray,
    *,
    mpp: float,
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    rings: PackedRings | None = None,
) -> dict[str, np.ndarray]:
    """Shape, position and stain measurements of every labelled nucleus, vectorised.

    1. Per-label pixel sums (:func:`numpy.bincount`): area, centroid and
       inertia tensor -> axes, eccentricity, orientation.
    2. skimage's boundary-pixel perimeter from the pattern of same-label
       border pixels around each border pixel.
    3. Solidity: area over the pixel count of the convex hull of the outer
       ring's edge midpoints (skimage's ``area_convex``).
    4. Stain densities and mean RGB over each object's pixels.

    Parameters
    ----------
    labels : np.ndarray
        2-D non-negative integer labels; 0 is background.
    image_rgb : np.ndarray
        ``uint8`` RGB image of shape ``labels.shape + (3,)``.
    mpp : float
        Microns per pixel of ``labels`` (the working resolution).
    offset : tuple[float, float], optional
        ``(x0, y0)`` of the arrays' top-left corner at the working resolution.
    scale : float, optional
        Level-0 pixels per working pixel (for the centroid columns).
    rings : PackedRings, optional
        ``label_rings(labels, offset=offset, scale=scale)`` if already
        computed (unsimplified); traced here otherwise.

    Returns
    -------
    dict[str, np.ndarray]
        One array per name in :data:`MEASUREMENT_COLUMNS`, aligned, one row
        per object in increasing id order: ``id`` (int64); ``centroid_x``,
        ``centroid_y`` (level-0 pixels); ``area_um2``; ``perimeter_um``
        (skimage's boundary-pixel perimeter); ``eccentricity`` and
        ``solidity`` (unitless); ``major_axis_length_um``,
        ``minor_axis_length_um``; ``orientation`` (radians, skimage
        convention: angle between the row axis and the major axis, in
        ``[-pi/2, pi/2]``); ``mean_hematoxylin_od``, ``mean_eosin_od``
        (base-10 OD); ``mean_red``, ``mean_green``, ``mean_blue`` (0-255).
        All columns equal skimage's ``regionprops`` to float rounding except
        ``solidity`` of an object in several pieces (hull of its largest
        piece only).

    Raises
    ------
    ValueError
        If shapes or dtypes disagree, ``mpp``/``scale`` are not positive or
        ``rings`` do not belong to ``labels``.
    """
    array = validate_labels(labels)
    _validate_measure_args(array.shape, image_rgb, mpp, offset, scale)
    compact, ids = compact_labels(array)
    padded = np.pad(compact, 1)
    where = np.flatnonzero(padded != 0)
    label = padded.ravel()[where]
    runs = row_runs(padded)
    moments = shape_moments(runs, ids.size + 1)
    present = np.flatnonzero(moments["count"][1:] > 0) + 1
    count = moments["count"][present]
    corners, starts, owner = _ring_corners(compact, ids, ids[present - 1], count, rings, (offset, scale))
    channels = _pixel_channels(image_rgb, where, padded.shape[1])
    features = {
        **{key: value[present] for key, value in ellipse_features(moments).items()},
        "count": count,
        "row": moments["row"][present],
        "col": moments["col"][present],
        "hull": hull_pixel_counts(corners, starts, owner, present.size),
        "colours": colour_means(runs, channels, _STAIN_MATRIX, moments["count"])[present],
        # last: overwrites ``padded``
        "perimeter": boundary_perimeter(padded, where, label, ids.size + 1)[present],
    }
    transform = (float(mpp), (float(offset[0]), float(offset[1])), float(scale))
    return _columns(features, ids[present - 1], transform)


def _pixel_channels(image_rgb: np.ndarray, where: np.ndarray, padded_width: int) -> tuple[np.ndarray, ...]:
    """R, G, B values of the object pixels at flat indices ``where`` of the padded labels."""
    pixel = where // padded_width  # row + 1
    pixel -= 1
    pixel *= 2
    np.subtract(where, pixel, out=pixel)
    pixel -= padded_width + 1  # flat index in the unpadded image
    pixel *= 3
    rgb = np.ascontiguousarray(image_rgb).reshape(-1)
    red = rgb[pixel]
    pixel += 1
    green = rgb[pixel]
    pixel += 1
    return red, green, rgb[pixel]


def _ring_corners(
    compact: np.ndarray,
    ids: np.ndarray,
    expected: np.ndarray,
    count: np.ndarray,
    rings: PackedRings | None,
    transform: tuple[tuple[float, float], float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer pixel-edge corners of outer rings and their owner (row of the table).

    ``expected`` are the ids of the objects present, ``count`` their pixel
    counts. Given ``rings``
    (largest piece only) are used unless an object has more pixels than
    its filled ring encloses (other pieces); otherwise every piece of every
    object is traced, as skimage's hull covers all pieces.
    """
    if rings is not None:
        corners, starts = _given_corners(rings, expected, transform)
        if np.all(_filled_area(corners, starts) >= count):
            return corners, starts, np.arange(expected.size)
    ring_ids, corners, starts = trace_rings(compact, ids, every_piece=True)
    return corners, starts, np.searchsorted(expected, ring_ids)


def _filled_area(corners: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Shoelace area of each packed ring."""
    following = np.arange(corners.shape[0]) + 1
    following[starts[1:] - 1] = starts[:-1]
    x, y = corners[:, 0], corners[:, 1]
    twice = x * y[following] - x[following] * y
    return np.add.reduceat(twice, starts[:-1]) / 2 if starts.size > 1 else np.zeros(0)


def _given_corners(
    rings: PackedRings, expected: np.ndarray, transform: tuple[tuple[float, float], float]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer corners of rings from :func:`label_rings`, checked against the labels."""
    (x0, y0), scale = transform
    if not isinstance(rings, PackedRings) or not np.array_equal(rings.ids, expected):
        raise ValueError("rings must be label_rings(labels) of these labels (same ids), "
                         f"got {type(rings).__name__} with {len(getattr(rings, 'ids', []))} ids")
    corners = rings.coords / float(scale)
    corners -= np.array([float(x0), float(y0)])
    rounded = np.round(corners)
    if rounded.size and np.abs(corners - rounded).max() > 1e-6:
        raise ValueError("rings must be unsimplified label_rings with the same offset and scale")
    return rounded, rings.starts


def _columns(
    features: dict[str, np.ndarray], ids: np.ndarray, transform: tuple[float, tuple[float, float], float]
) -> dict[str, np.ndarray]:
    mpp, offset, scale = transform
    colours = features["colours"]
    columns = {
        "id": ids,
        "centroid_x": (features["col"] + 0.5 + offset[0]) * scale,
        "centroid_y": (features["row"] + 0.5 + offset[1]) * scale,
        "area_um2": features["count"] * mpp**2,
        "perimeter_um": features["perimeter"] * mpp,
        "eccentricity": features["eccentricity"],
        "solidity": features["count"] / features["hull"],
        "major_axis_length_um": features["major"] * mpp,
        "minor_axis_length_um": features["minor"] * mpp,
        "orientation": features["orientation"],
        "mean_hematoxylin_od": colours[:, 0],
        "mean_eosin_od": colours[:, 1],
        "mean_red": colours[:, 2],
        "mean_green": colours[:, 3],
        "mean_blue": colours[:, 4],
    }
    return {name: np.asarray(columns[name], dtype=_dtype(name)) for name in MEASUREMENT_COLUMNS}


def _dtype(name: str) -> type:
    return np.int64 if name == "id" else np.float64


def _validate_measure_args(
    shape: tuple[int, ...], image_rgb: object, mpp: object, offset: object, scale: object
) -> None:
    image = np.asarray(image_rgb)
    if image.shape != (*shape, 3):
        raise ValueError(f"image_rgb must have shape {(*shape, 3)}, got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image_rgb must be uint8, got {image.dtype}")
    for name, value in (("mpp", mpp), ("scale", scale)):
        if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (
        isinstance(offset, tuple | list)
        and len(offset) == 2
        and all(isinstance(v, int | float | np.number) and math.isfinite(v) for v in offset)
    ):
        raise ValueError(f"offset must be two finite numbers (x0, y0), got {offset!r}")
