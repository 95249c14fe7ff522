"""How two probability maps of the same pixels differ, and where, against the chunk grid.

>>> a = np.zeros((64, 64, 1), np.float32); b = a.copy(); b[0, 5] = 0.5
>>> diff = map_difference(a, b, chunk_size=32)
>>> diff["max_abs_difference"], diff["class_differs_pixels"]
(0.5, 1)
"""

from __future__ import annotations

import numpy as np

DISTANCE_BINS = (0, 2, 8, 32, 128)
"""Lower edges (px) of the distance-to-a-chunk-border classes a difference is counted in."""


def map_difference(first: np.ndarray, second: np.ndarray, chunk_size: int, computed: np.ndarray | None = None,
                   *, threshold: float = 0.5, tolerance: float = 1e-3) -> dict:
    """Largest and mean absolute difference, and the pixels whose class differs, by distance to a border.

    Parameters
    ----------
    first, second : ndarray, shape (H, W, C), float
        Probability maps of one box; the last map is nucleus probability.
        The box starts on the chunk grid (its corner is a chunk corner).
    chunk_size : int
        Side of the chunk grid.
    computed : ndarray of bool, shape (H, W), optional
        Pixels compared (those an engine computed); all by default.
    threshold : float
        Nucleus is ``prob > threshold`` (the class compared).
    tolerance : float
        A pixel *differs* when any map differs by more than this.

    Returns
    -------
    dict
        ``pixels``, ``max_abs_difference``, ``mean_abs_difference``,
        ``class_differs_pixels`` and ``class_differs_fraction``, and
        ``differs_by_border_distance``: pixels differing by more than
        ``tolerance`` per class of distance (px) to the nearest chunk border
        or box edge, with ``max_abs_difference`` in each class.
    """
    first, second = _validate(first, second)
    keep = np.ones(first.shape[:2], dtype=bool) if computed is None else np.asarray(computed, dtype=bool)
    if keep.shape != first.shape[:2]:
        raise ValueError(f"computed of shape {keep.shape} does not match maps of shape {first.shape[:2]}")
    pixels = int(keep.sum())
    difference = np.abs(first - second).max(axis=-1)
    differs_class = (first[..., -1] > threshold) != (second[..., -1] > threshold)
    distance = border_distance(first.shape[:2], chunk_size)
    by_distance = {}
    edges = (*DISTANCE_BINS, np.inf)
    for low, high in zip(edges[:-1], edges[1:]):
        band = keep & (distance >= low) & (distance < high)
        name = f"{low}-{high}px" if np.isfinite(high) else f">={low}px"
        values = difference[band]
        by_distance[name] = {"pixels": int(band.sum()), "differing": int((values > tolerance).sum()),
                             "class_differs": int(differs_class[band].sum()),
                             "max_abs_difference": float(values.max()) if values.size else 0.0}
    values = difference[keep]
    return {
        "pixels": pixels,
        "max_abs_difference": float(values.max()) if pixels else 0.0,
        "mean_abs_difference": float(values.mean()) if pixels else 0.0,
        "class_differs_pixels": int(differs_class[keep].sum()),
        "class_differs_fraction": float(differs_class[keep].sum() / pixels) if pixels else 0.0,
        "tolerance": tolerance,
        "differs_by_border_distance": by_distance,
    }


def border_distance(shape: tuple[int, int], chunk_size: int) -> np.ndarray:
    """Distance (px) of every pixel of a grid-aligned box to the nearest chunk border or box edge.

    A pixel just inside a border has distance 0.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    rows = _axis_distance(shape[0], chunk_size)
    cols = _axis_distance(shape[1], chunk_size)
    return np.minimum(rows[:, None], cols[None, :])


def _axis_distance(length: int, chunk_size: int) -> np.ndarray:
    index = np.arange(length)
    within = index % chunk_size
    to_grid = np.minimum(within, chunk_size - 1 - within)
    to_edge = np.minimum(index, length - 1 - index)
    return np.minimum(to_grid, to_edge)


def _validate(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)
    if first.ndim != 3 or first.shape != second.shape:
        raise ValueError(f"maps must share one (H, W, C) shape, got {first.shape} and {second.shape}")
    return first, second
