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
from skimage.color import rgb2hed
from skimage.measure import regionprops_table

from wsinuc.instances._labels import compact_labels, validate_labels

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

_REGION_PROPERTIES = (
    "label",
    "centroid",
    "area",
    "perimeter",
    "eccentricity",
    "solidity",
    "axis_major_length",
    "axis_minor_length",
    "orientation",
    "intensity_mean",
)


def measure_nuclei(
    labels: np.ndarray,
    image_rgb: np.ndarray,
    *,
    mpp: float,
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Shape, position and stain measurements of every labelled nucleus.

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

    Raises
    ------
    ValueError
        If shapes or dtypes disagree or ``mpp``/``scale`` are not positive.
    """
    array = validate_labels(labels)
    _validate_measure_args(array.shape, image_rgb, mpp, offset, scale)
    compact, ids = compact_labels(array)
    rgb = np.asarray(image_rgb)
    stains = rgb2hed(rgb)[..., :2] * OD_PER_RGB2HED_UNIT
    channels = np.concatenate([stains, rgb.astype(np.float64)], axis=-1).astype(np.float32)
    table = regionprops_table(compact, intensity_image=channels, properties=_REGION_PROPERTIES)
    return _columns(table, ids, float(mpp), (float(offset[0]), float(offset[1])), float(scale))


def _columns(
    table: dict[str, np.ndarray],
    ids: np.ndarray,
    mpp: float,
    offset: tuple[float, float],
    scale: float,
) -> dict[str, np.ndarray]:
    compact_ids = np.asarray(table["label"], dtype=np.int64)
    columns = {
        "id": ids[compact_ids - 1] if compact_ids.size else np.zeros(0, dtype=np.int64),
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
