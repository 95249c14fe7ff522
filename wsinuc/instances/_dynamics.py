"""Which peaks of a distance map are h-maxima, from a graph of their basins (private).

A pixel ``p`` of value ``v`` is in ``skimage.morphology.h_maxima(f, h)`` when
no strictly higher pixel can be reached from ``p`` along an 8-connected path
whose values all stay above ``v - h``. Every such pixel lies on a plateau of
local maxima (3 x 3); the whole plateau shares the answer.

Give every pixel the plateau it reaches by steepest ascent (its *basin*):
each pixel is joined to its plateau by a path that never drops below its own
value. The best path between two plateaus then drops to the best *pass*
between basins, and the question becomes one on a small graph: nodes are
plateaus (value ``v``), edges are adjacent basins weighted by their highest
pass ``min(f(a), f(b))``. A plateau is an h-maximum unless a higher plateau
is reachable through edges heavier than ``v - h``, which Kruskal's merging
(heaviest edge first) finds for all plateaus at once.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
FORWARD = ((0, 1), (1, -1), (1, 0), (1, 1))


def steepest_ascent_roots(index: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
    """Flat canvas index of the local maximum each listed pixel climbs to.

    Parameters
    ----------
    index : np.ndarray
        Flat indices of the pixels in a canvas of ``width`` columns whose
        other pixels are background (0) and at least one pixel away from
        its edges.
    values : np.ndarray
        The flat canvas (non-negative values; background 0).
    width : int
        Canvas width.
    """
    offsets = np.array([dr * width + dc for dr, dc in NEIGHBOURS], dtype=np.int64)
    around = values[index[:, None] + offsets]
    best = np.argmax(around, axis=1)
    higher = around[np.arange(index.size), best] > values[index]
    parent = np.arange(values.size, dtype=np.int64)
    parent[index[higher]] = index[higher] + offsets[best[higher]]
    while True:
        grand = parent[parent[index]]
        if np.array_equal(grand, parent[index]):
            return grand
        parent[index] = grand


def basin_edges(
    index: np.ndarray, basins: np.ndarray, values: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of 8-adjacent basins ``(a, b)`` with ``a < b`` and the highest pass between them.

    ``basins`` and ``values`` are flat canvases (basin id 0 = none).
    """
    firsts, seconds, passes = [], [], []
    own = basins[index]
    for dr, dc in FORWARD:
        other = index + dr * width + dc
        theirs = basins[other]
        cross = (theirs > 0) & (theirs != own)
        firsts.append(np.minimum(own[cross], theirs[cross]))
        seconds.append(np.maximum(own[cross], theirs[cross]))
        passes.append(np.minimum(values[index[cross]], values[other[cross]]))
    first, second, weight = (np.concatenate(part) for part in (firsts, seconds, passes))
    key = first * (int(second.max(initial=0)) + 1) + second
    order = np.argsort(key, kind="stable")
    key, weight = key[order], weight[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, dtype=np.int64)
    if starts.size == 0:
        return first[:0], second[:0], weight[:0]
    best = np.maximum.reduceat(weight, starts)
    return first[order][starts], second[order][starts], best


def h_maxima_nodes(
    heights: np.ndarray, first: np.ndarray, second: np.ndarray, weight: np.ndarray, h: float
) -> np.ndarray:
    """Boolean mask of the graph nodes that are h-maxima.

    Parameters
    ----------
    heights : np.ndarray
        Value of each node (index 0 unused).
    first, second, weight : np.ndarray
        Edges and their pass values.
    h : float
        Minimum dynamic.
    """
    beaten_at = _first_beaten(heights, first, second, weight)
    with np.errstate(invalid="ignore"):
        keep = np.isnan(beaten_at) | (heights - beaten_at >= h)
    keep &= heights >= h
    keep[0] = False
    return keep


def _first_beaten(
    heights: np.ndarray, first: np.ndarray, second: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Pass value at which each node first joins a strictly higher node (NaN: never).

    Kruskal's merging over the edges, heaviest first; a loop over the edges
    of the candidate parts only (a few per nucleus).
    """
    beaten_at = np.full(heights.size, np.nan)
    parent = list(range(heights.size))
    top = heights.tolist()
    leaders = [[node] for node in range(heights.size)]
    order = np.argsort(-weight, kind="stable")
    for a, b, w in zip(first[order].tolist(), second[order].tolist(), weight[order].tolist()):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        if top[ra] < top[rb]:
            ra, rb = rb, ra
        if top[rb] < top[ra]:
            beaten_at[leaders[rb]] = w
        else:
            leaders[ra].extend(leaders[rb])
        parent[rb] = ra
    return beaten_at


def _find(parent: list[int], node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node
