"""Interior seeds grown back into the nucleus mask: instances for a 3-class model (pure).

A background / interior / boundary model predicts, per pixel, the probability
of a nucleus *interior* (the nucleus shrunk by its boundary band) and of a
nucleus at all (interior + boundary). Touching nuclei have separate
interiors, so no peak finding or watershed is needed:

1. seeds = 4-connected components of ``interior_prob > threshold``
   (optionally opened with a small square), seeds smaller than
   ``min_seed_size`` pixels dropped, and (hysteresis) seeds whose highest
   interior probability does not exceed ``seed_peak`` dropped;
2. mask = ``nucleus_prob > threshold`` (plus the seeds themselves);
3. each seed grows into the mask one 4-neighbour ring at a time, at most
   ``max_expansion`` rings; a pixel reached by two seeds in the same ring
   goes to the larger id;
4. two grown objects that touch merge when the interior probability where
   they meet stays within ``merge_dip`` of the lower of their two peaks: a
   nucleus whose interior barely dips below the threshold in its middle is
   one nucleus, while touching nuclei are parted by their boundary band,
   where the interior probability falls to near 0.

Steps 1 and 4 are what keeps the result stable when the probabilities move
a little (another sub-pixel phase of the resampling grid, another tile):
a fragment that only just crosses the threshold is dropped or merged, not
flipped in and out. Every step is local (a pixel's label depends only on
pixels within ``kernel_size + max_expansion`` of it, and on the objects
it touches), so shifting the input shifts the objects: tiles agree with the
whole image away from their edges. Grown objects stay 4-connected, and so do
merged ones, so each has one simple outline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from wsinuc.instances._labels import kept_ids
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
    seed_peak: float = 0.0,
    merge_dip: float = 0.0,
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
    seed_peak : float, optional
        Seeds whose highest interior probability is not above it are
        dropped (hysteresis: a seed's extent is still ``> threshold``);
        0 keeps all.
    merge_dip : float, optional
        Touching grown objects ``a``, ``b`` merge when
        ``min(peak_a, peak_b) - pass_ab < merge_dip``, where ``peak`` is an
        object's highest interior probability and ``pass_ab`` the highest
        ``min(interior[p], interior[q])`` over 4-neighbour pixels ``p`` in
        ``a`` and ``q`` in ``b``; 0 never merges.

    Returns
    -------
    np.ndarray
        ``int32`` labels ``1..n``, same shape, ids in raster order of each
        seed's first pixel (a merged object keeps the smallest id).

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
    _validate_fraction(seed_peak, "seed_peak")
    _validate_fraction(merge_dip, "merge_dip")
    interior = np.asarray(interior_prob, dtype=np.float32)
    seeds_mask = open_foreground(interior, threshold, kernel_size)
    seeds, _ = ndimage.label(seeds_mask, structure=FOUR_CONNECTED)
    seeds = drop_small_objects(seeds.astype(np.int32, copy=False), min_seed_size)
    peaks = object_peaks(seeds, interior)
    if seed_peak > 0 and len(peaks) > 1:
        seeds, peaks = _drop_weak_seeds(seeds, peaks, seed_peak)
    mask = np.asarray(nucleus_prob) > threshold
    grown = grow_labels(seeds, mask, max_expansion)
    if merge_dip > 0:
        grown = merge_shallow_passes(grown, interior, peaks, merge_dip)
    return grown


def object_peaks(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Highest ``values`` of each object: ``float32`` array indexed by id (``[0]`` is 0)."""
    peaks = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.float32)
    inside = labels > 0
    np.maximum.at(peaks, labels[inside], values[inside])
    return peaks


def _drop_weak_seeds(seeds: np.ndarray, peaks: np.ndarray, seed_peak: float) -> tuple[np.ndarray, np.ndarray]:
    """Seeds whose peak is above ``seed_peak``, renumbered ``1..k`` in id order, and their peaks."""
    keep = peaks > seed_peak
    keep[0] = False
    return kept_ids(keep)[seeds], np.concatenate([[0.0], peaks[keep]]).astype(np.float32)


def merge_shallow_passes(labels: np.ndarray, values: np.ndarray, peaks: np.ndarray, dip: float) -> np.ndarray:
    """Merge touching objects whose highest pass lies within ``dip`` of the lower peak.

    Parameters
    ----------
    labels : np.ndarray
        ``int32`` labels ``0..n``.
    values : np.ndarray
        The map the peaks and passes are read from, same shape.
    peaks : np.ndarray
        Highest value of each object, indexed by id (``len(peaks) == n + 1``).
    dip : float
        Objects ``a``, ``b`` merge when ``min(peaks[a], peaks[b]) - pass < dip``;
        merging is transitive.

    Returns
    -------
    np.ndarray
        ``int32`` labels ``1..k``, each merged group under its smallest id,
        renumbered in id order (``labels`` itself when nothing merges).
    """
    first, second, passes = _touching_pairs(labels, values)
    if not first.size:
        return labels
    merge = np.minimum(peaks[first], peaks[second]) - passes < dip
    if not merge.any():
        return labels
    n = peaks.size
    graph = coo_matrix((np.ones(int(merge.sum()), dtype=np.int8), (first[merge], second[merge])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    smallest = np.full(n, n, dtype=np.int64)
    np.minimum.at(smallest, group, np.arange(n))
    root = smallest[group]                      # each id -> smallest id of its group
    return kept_ids(root == np.arange(n))[root][labels]


def _touching_pairs(labels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``a < b`` of 4-adjacent objects and their highest pass ``max min(values[p], values[q])``."""
    firsts, seconds, passes = [], [], []
    for axis in (0, 1):
        a = labels[1:] if axis == 0 else labels[:, 1:]
        b = labels[:-1] if axis == 0 else labels[:, :-1]
        touching = (a != b) & (a > 0) & (b > 0)
        if not touching.any():
            continue
        va = values[1:] if axis == 0 else values[:, 1:]
        vb = values[:-1] if axis == 0 else values[:, :-1]
        la, lb = a[touching], b[touching]
        firsts.append(np.minimum(la, lb))
        seconds.append(np.maximum(la, lb))
        passes.append(np.minimum(va[touching], vb[touching]))
    if not firsts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    first, second, value = (np.concatenate(x) for x in (firsts, seconds, passes))
    width = int(labels.max()) + 1
    unique, inverse = np.unique(first.astype(np.int64) * width + second, return_inverse=True)
    best = np.full(unique.size, -np.inf, dtype=np.float32)
    np.maximum.at(best, inverse, value)
    return unique // width, unique % width, best


def grow_labels(labels: np.ndarray, mask: np.ndarray, rings: int) -> np.ndarray:
    """Grow ``labels`` into unlabelled ``mask`` pixels by up to ``rings`` 4-neighbour steps.

    A pixel reached by two labels in the same step takes the larger id.
    Returns a new ``int32`` array; ``labels`` is not modified.
    """
    grown = np.array(labels, dtype=np.int32, copy=True)
    if rings <= 0 or not grown.any():
        return grown
    free = np.asarray(mask, dtype=bool) & (grown == 0)
    reach, new = np.empty_like(grown), np.empty_like(free)
    for _ in range(rings):
        _cross_maximum(grown, out=reach)
        np.greater(reach, 0, out=new)
        new &= free
        if not new.any():
            break
        np.copyto(grown, reach, where=new)
        free &= ~new
    return grown


def _cross_maximum(labels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Largest label among each pixel's four edge neighbours (0 outside the array), into ``out`` if given."""
    reach = np.empty_like(labels) if out is None else out
    reach[0] = 0
    reach[1:] = labels[:-1]
    np.maximum(reach[:-1], labels[1:], out=reach[:-1])
    np.maximum(reach[:, 1:], labels[:, :-1], out=reach[:, 1:])
    np.maximum(reach[:, :-1], labels[:, 1:], out=reach[:, :-1])
    return reach


def _validate_fraction(value: object, name: str) -> None:
    if isinstance(value, bool) or not (isinstance(value, int | float | np.number) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _validate_seeded_options(
    threshold: object, min_seed_size: object, max_expansion: object, kernel_size: object
) -> None:
    if not (isinstance(threshold, int | float | np.number) and 0.0 <= threshold < 1.0):
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    for name, value, low in (("min_seed_size", min_seed_size, 0), ("max_expansion", max_expansion, 0),
                             ("kernel_size", kernel_size, 1)):
        if isinstance(value, bool) or not (isinstance(value, int | np.integer) and value >= low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
