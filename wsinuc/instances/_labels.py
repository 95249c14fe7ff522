"""Shared helpers for label images (private to :mod:`wsinuc.instances`)."""

from __future__ import annotations

import numpy as np


def kept_ids(keep: np.ndarray) -> np.ndarray:
    """New id of every old id: the kept ones ``1..k`` in id order, the others (and 0) 0.

    ``keep`` is a boolean array indexed by old id (``keep[0]`` is ignored);
    ``kept_ids(keep)[labels]`` renumbers a label image.
    """
    keep = np.asarray(keep, dtype=bool).copy()
    keep[0] = False
    new_ids = np.zeros(keep.size, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber labels ``1..k`` so per-id tables stay small.

    Returns the compact ``int32`` labels and ``ids`` (int64, ``(k,)``) with
    ``ids[i - 1]`` the original id of compact label ``i``. Labels that are
    already small (max <= number of pixels) are returned as they are, with
    ``ids = 1..max``; absent ids then have empty objects.
    """
    largest = int(labels.max(initial=0))
    if largest <= labels.size and largest < np.iinfo(np.int32).max:
        return labels.astype(np.int32, copy=False), np.arange(1, largest + 1, dtype=np.int64)
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape).astype(np.int32)
    if ids[0] == 0:
        return inverse, ids[1:].astype(np.int64)
    return inverse + 1, ids.astype(np.int64)


def validate_labels(labels: object, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an array after checking it is 2-D, integer and >= 0."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {array.shape!r}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0, got minimum {array.min()}")
    return array
