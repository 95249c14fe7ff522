"""Three-class training targets: background / nucleus interior / nucleus boundary (pure numpy).

The interior/boundary variant's final network predicts, per pixel, one of

* ``0`` background,
* ``1`` nucleus interior,
* ``2`` nucleus boundary: a nucleus pixel within ``boundary_width`` pixels
  (Euclidean, a disk of that radius) of a pixel that is not of the same
  nucleus -- background or another nucleus.

Touching nuclei therefore get a boundary band on both sides of their contact
line, and their interiors are separated by ``2 * boundary_width`` pixels or
more; :func:`wsinuc.instances.seeded_instances` grows those interiors back into
the nucleus mask.

**Small nuclei keep an interior.** A nucleus with no pixel farther than
``boundary_width`` from its outside would be all boundary and leave no seed,
so it gets the band of the largest width ``k < boundary_width`` that still
leaves it an interior. Only nuclei thinner than 3 px (no pixel whose four
neighbours are all in the nucleus) stay all boundary.

Pixels outside the array count as the nearest edge pixel: a nucleus cut by
the array edge gets no band along the cut. Widths are in working pixels
(0.25 um/px).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
CLASS_NAMES = ("background", "interior", "boundary")
MAX_BOUNDARY_WIDTH = 16


def _validate_labels(instances: np.ndarray) -> np.ndarray:
    labels = np.asarray(instances)
    if labels.ndim < 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"instances must be an integer label array (..., H, W), got {labels.dtype} {labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"instances must be >= 0 (0 = background), got minimum {labels.min()}")
    return labels


def validate_boundary_width(boundary_width: object) -> int:
    """Return ``boundary_width`` as an int, or raise ValueError when it is not in 1..16."""
    ok = isinstance(boundary_width, (int, np.integer)) and not isinstance(boundary_width, bool)
    if not ok or not 1 <= boundary_width <= MAX_BOUNDARY_WIDTH:
        raise ValueError(
            f"boundary_width must be an integer in [1, {MAX_BOUNDARY_WIDTH}], got {boundary_width!r}"
        )
    return int(boundary_width)


def disk_footprint(radius: int, ndim: int = 2) -> np.ndarray:
    """Boolean disk ``x**2 + y**2 <= radius**2`` on the last two of ``ndim`` axes (size 1 elsewhere)."""
    offsets = np.arange(-radius, radius + 1)
    disk = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2
    return disk.reshape((1,) * (ndim - 2) + disk.shape)


def core_mask(instances: np.ndarray, radius: int) -> np.ndarray:
    """Nucleus pixels whose whole ``radius`` disk lies in the same nucleus.

    Parameters
    ----------
    instances : np.ndarray
        Integer labels ``(..., H, W)``, 0 = background; leading axes are
        independent maps (a stack of patches).
    radius : int
        Disk radius in pixels (>= 1).

    Returns
    -------
    np.ndarray
        bool, same shape.
    """
    labels = _validate_labels(instances)
    footprint = disk_footprint(int(radius), labels.ndim)
    highest = ndimage.maximum_filter(labels, footprint=footprint, mode="nearest")
    lowest = ndimage.minimum_filter(labels, footprint=footprint, mode="nearest")
    return (labels > 0) & (highest == lowest)


def interior_boundary_targets(instances: np.ndarray, boundary_width: int = 2) -> np.ndarray:
    """Background / interior / boundary class map of an instance label map.

    Parameters
    ----------
    instances : np.ndarray
        Integer labels ``(..., H, W)`` (uint16, int32...), 0 = background,
        one id per nucleus; leading axes are independent maps.
    boundary_width : int
        Width of the boundary band in pixels (1..16; 2 at 0.25 um/px by default).

    Returns
    -------
    np.ndarray
        uint8, same shape: 0 background, 1 interior, 2 boundary.

    Raises
    ------
    ValueError
        Non-integer or negative labels, or a width out of range.

    Examples
    --------
    >>> labels = np.zeros((9, 9), np.int32); labels[1:8, 1:8] = 1
    >>> interior_boundary_targets(labels, 2)[4]
    array([0, 2, 2, 1, 1, 1, 2, 2, 0], dtype=uint8)
    """
    labels = _validate_labels(instances)
    width = validate_boundary_width(boundary_width)
    interior = core_mask(labels, width)
    missing = _labels_without_interior(labels, interior)
    for radius in range(width - 1, 0, -1):
        if not missing.any():
            break
        narrower = core_mask(labels, radius) & missing[labels]
        interior |= narrower
        missing &= ~np.bincount(labels[narrower], minlength=missing.size).astype(bool)
    classes = np.where(labels > 0, BOUNDARY, BACKGROUND).astype(np.uint8)
    classes[interior] = INTERIOR
    return classes


def _labels_without_interior(labels: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """bool per label id (index = id): present in ``labels`` but without an interior pixel."""
    size = int(labels.max(initial=0)) + 1
    present = np.bincount(labels.ravel(), minlength=size).astype(bool)
    has_interior = np.bincount(labels[interior], minlength=size).astype(bool)
    missing = present & ~has_interior
    missing[0] = False
    return missing


def class_weight_map(classes: np.ndarray, boundary_weight: float = 3.0) -> np.ndarray:
    """Per-pixel loss weights: the paper's class balancing, boundary weighted up.

    ``w(x) = w_c(x) * (boundary_weight if x is boundary else 1)`` where
    ``w_c = N / (2 N_k)`` balances background against nucleus (interior and
    boundary together) like the paper's ``w_c``
    (:func:`wsinuc.training.weight_maps.class_weight_map`), with ``N`` and
    ``N_k`` counted over the whole array: per image for one ``(H, W)`` map, over
    the training set for a stack of patches (per-patch counts would give a
    patch holding a sliver of one nucleus huge weights); ``w_c = 1`` when the
    array holds one class only.

    Parameters
    ----------
    classes : np.ndarray
        uint8 ``(..., H, W)`` from :func:`interior_boundary_targets`.
    boundary_weight : float
        Extra factor of boundary pixels (> 0; 2-5 typical).

    Returns
    -------
    np.ndarray
        float32, same shape.
    """
    classes = np.asarray(classes)
    integer = np.issubdtype(classes.dtype, np.integer)
    if not integer or classes.ndim < 2 or classes.size == 0 or classes.min() < 0 or classes.max() > BOUNDARY:
        raise ValueError(f"classes must be a (..., H, W) map of 0/1/2, got {classes.dtype} {classes.shape}")
    if not (isinstance(boundary_weight, (int, float)) and 0 < boundary_weight < np.inf):
        raise ValueError(f"boundary_weight must be a finite number > 0, got {boundary_weight!r}")
    nucleus = classes > 0
    n_pixels, n_nucleus = classes.size, int(np.count_nonzero(nucleus))
    w_nucleus, w_background = 1.0, 1.0
    if 0 < n_nucleus < n_pixels:
        w_nucleus = n_pixels / (2.0 * n_nucleus)
        w_background = n_pixels / (2.0 * (n_pixels - n_nucleus))
    lookup = np.array([w_background, w_nucleus, w_nucleus * boundary_weight], dtype=np.float32)
    return lookup[classes]


#: Smallest seed kept at 0.25 um/px, in pixels (0.5 um^2); scaled by area at other pixel sizes.
MIN_SEED_PX_AT_QUARTER_MICRON = 8


def seeded_parameters(boundary_width: int = 2, mpp: float = 0.25) -> dict[str, float | int]:
    """Keyword arguments of :func:`wsinuc.instances.seeded_instances` for a model trained with ``boundary_width``.

    Seeds grow by ``ceil(1.5 * boundary_width) + 1`` 4-neighbour rings: a band
    ``w`` px wide (Euclidean) is up to ``sqrt(2) * w`` Manhattan steps deep on
    the diagonals, plus one ring of slack (width 2 -> 4 rings, the engine's
    default). Threshold 0.5, seeds smaller than 0.5 um^2 dropped (8 px at the
    working pixel size ``mpp`` = 0.25 um/px, 2 px at 0.5 um/px; the keys are
    :data:`wsinuc.instances.rules.SEEDED_PARAMETERS`; the rule opens no
    seeds). All lengths in working pixels.
    """
    width = validate_boundary_width(boundary_width)
    if not mpp > 0:
        raise ValueError(f"mpp must be > 0, got {mpp!r}")
    min_seed = max(1, round(MIN_SEED_PX_AT_QUARTER_MICRON * (0.25 / mpp) ** 2))
    return {"threshold": 0.5, "min_seed_size": min_seed, "max_expansion": math.ceil(1.5 * width) + 1}
