"""Interior seeds grown back into the nucleus mask: instances for a 3-class model (pure).

A background / interior / boundary model predicts, per pixel, the probability
of a nucleus *interior* (the nucleus shrunk by its boundary band) and of a
nucleus at all (interior + boundary). Touching nuclei have separate
interiors, so no peak finding or watershed is needed:

1. seeds = 4-connected components of ``interior_prob > threshold``
   (optionally opened with a small square), seeds smaller than
   ``min_seed_size`` pixels dropped;
2. mask = ``nucleus_prob > threshold`` (plus the seeds themselves);
3. each seed grows into the mask one 4-neighbour ring at a time, at most
   ``max_expansion`` rings; a pixel reached by two seeds in the same ring
   goes to the larger id.

Every step is local (a pixel's label depends only on pixels within
``kernel_size + max_expansion`` of it), so shifting the input shifts the
objects: tiles agree with the whole image away from their edges. Grown
objects stay 4-connected, so each has one simple outline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from wsinuc.instances._split import FOUR_CONNECTED
from wsinuc.instances.postprocess import (
    _validate_probability,
    drop_small_objects,
    open_foreground,
)


def seeded_instances(
    interior_prob: np.ndarray,
    nucleus_prob: np.ndarray,
    *,
    threshold: float = 0.5,
    min_seed_size: int = 8,
    max_expansion: int = 4,
    kernel_size: int = 1,
) -> np.ndarray:
    """Label nuclei from interior seeds grown into the nucleus mask.

    Parameters
    ----------
    interior_prob : np.ndarray
        2-D probability in [0, 1] that a pixel is a nucleus interior.
    nucleus_prob : np.ndarray
        2-D probability that a pixel belongs to a nucleus (interior +
        boundary), same shape.
    threshold : float, optional
        Both maps are foreground where ``prob > threshold``.
    min_seed_size : int, optional
        Seeds with fewer pixels (after the opening) are dropped; 0 keeps all.
    max_expansion : int, optional
        Most 4-neighbour rings a seed grows by (0: objects are the seeds).
        Rings are Manhattan steps: a boundary band ``w`` pixels wide needs
        about ``1.5 * w`` rings to be filled on the diagonals.
    kernel_size : int, optional
        Side of the square opening of the interior mask; 1 disables it.

    Returns
    -------
    np.ndarray
        ``int32`` labels ``1..n``, same shape, ids in raster order of each
        seed's first pixel.

    Raises
    ------
    ValueError
        If a map is not a finite 2-D array of the same shape, or an option
        is out of range.

    Examples
    --------
    >>> interior = np.zeros((9, 9)); interior[3:6, 3:6] = 0.9
    >>> nucleus = np.zeros((9, 9)); nucleus[2:7, 2:7] = 0.9
    >>> int((seeded_instances(interior, nucleus, min_seed_size=0) == 1).sum())
    25
    """
    _validate_probability(interior_prob, "interior_prob")
    _validate_probability(nucleus_prob, "nucleus_prob", shape=np.shape(interior_prob))
    _validate_seeded_options(threshold, min_seed_size, max_expansion, kernel_size)
    seeds_mask = open_foreground(interior_prob, threshold, kernel_size)
    seeds, _ = ndimage.label(seeds_mask, structure=FOUR_CONNECTED)
    seeds = drop_small_objects(seeds.astype(np.int32, copy=False), min_seed_size)
    mask = np.asarray(nucleus_prob) > threshold
    return grow_labels(seeds, mask, max_expansion)


def grow_labels(labels: np.ndarray, mask: np.ndarray, rings: int) -> np.ndarray:
    """Grow ``labels`` into unlabelled ``mask`` pixels by up to ``rings`` 4-neighbour steps.

    A pixel reached by two labels in the same step takes the larger id.
    Returns a new ``int32`` array; ``labels`` is not modified.
    """
    grown = np.array(labels, dtype=np.int32, copy=True)
    if rings <= 0 or not grown.any():
        return grown
    free = np.asarray(mask, dtype=bool) & (grown == 0)
    for _ in range(rings):
        reach = _cross_maximum(grown)
        new = free & (reach > 0)
        if not new.any():
            break
        grown[new] = reach[new]
        free &= ~new
    return grown


def _cross_maximum(labels: np.ndarray) -> np.ndarray:
    """Largest label among each pixel's four edge neighbours (0 outside the array)."""
    reach = np.zeros_like(labels)
    np.maximum(reach[1:], labels[:-1], out=reach[1:])
    np.maximum(reach[:-1], labels[1:], out=reach[:-1])
    np.maximum(reach[:, 1:], labels[:, :-1], out=reach[:, 1:])
    np.maximum(reach[:, :-1], labels[:, 1:], out=reach[:, :-1])
    return reach


def _validate_seeded_options(
    threshold: object, min_seed_size: object, max_expansion: object, kernel_size: object
) -> None:
    if not (isinstance(threshold, int | float | np.number) and 0.0 <= threshold < 1.0):
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    for name, value, low in (("min_seed_size", min_seed_size, 0), ("max_expansion", max_expansion, 0),
                             ("kernel_size", kernel_size, 1)):
        if isinstance(value, bool) or not (isinstance(value, int | np.integer) and value >= low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
