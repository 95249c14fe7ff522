"""Label image -> packed outer rings of every object at once (pure, vectorised).

Every object's outline is traced together with all the others, without a
per-object loop:

1. **Edges.** Each unit pixel edge between a pixel of label ``L`` and a
   pixel of another label (or background, or outside the array) is a
   directed edge of ``L``, oriented so the ring of a single pixel runs
   ``(0, 0) -> (1, 0) -> (1, 1) -> (0, 1)`` in ``(x, y)`` pixel-edge
   coordinates (positive shoelace area, shapely's counter-clockwise).
2. **Links.** Edges are sorted by ``(label, start vertex)``; each edge's
   successor is found by ``searchsorted`` on ``(label, end vertex)``. At a
   pinch vertex (two diagonal pixels of ``L``) the link first *joins* the
   two pixels, so outer cycles bound 8-connected pieces and every hole
   cycle bounds a 4-connected background hole, the holes
   ``scipy.ndimage.binary_fill_holes`` fills.
3. **Cycles.** Pointer jumping gives every edge its cycle (the smallest
   edge index in it) and its rank along the cycle; shoelace sums give each
   cycle's signed area.
4. **Split.** A pinch vertex visited twice by one outer cycle joins two
   different 4-connected pieces: it is re-linked to *separate* them and the
   cycles are traced again.
5. **Pick.** Per label, the outer cycle of largest area is kept (ties: the
   piece with the top-left-most start vertex); only its corners (vertices
   where the direction changes) are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PackedRings:
    """Outer rings of many objects in three flat arrays.

    Attributes
    ----------
    ids : np.ndarray
        int64 ``(k,)`` object ids, increasing.
    coords : np.ndarray
        float64 ``(n, 2)`` ``(x, y)`` vertices of all rings, one after the
        other.
    starts : np.ndarray
        int64 ``(k + 1,)``: ring ``i`` is ``coords[starts[i]:starts[i + 1]]``,
        not closed (its first vertex is not repeated).
    """

    ids: np.ndarray
    coords: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)

    def ring(self, index: int) -> np.ndarray:
        """Vertices ``(m, 2)`` of ring ``index`` (not closed)."""
        return self.coords[self.starts[index] : self.starts[index + 1]]

    @property
    def counts(self) -> np.ndarray:
        """Number of vertices of each ring, int64 ``(k,)``."""
        return np.diff(self.starts)


@dataclass(frozen=True)
class _Edges:
    label: np.ndarray  # compact label of each directed edge
    start: np.ndarray  # start vertex index y * (width + 1) + x
    end: np.ndarray
    direction: np.ndarray  # 0: +x, 1: +y, 2: -x, 3: -y
    width: int  # number of pixel columns; vertices per row = width + 1


_STEP = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)


def trace_rings(
    compact: np.ndarray, ids: np.ndarray, *, every_piece: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outer corners of every object of a compact label image.

    Parameters
    ----------
    compact : np.ndarray
        2-D int32 labels ``0..k`` (see :func:`compact_labels`).
    ids : np.ndarray
        Original id of each compact label ``1..k``.
    every_piece : bool, optional
        Return the outer ring of every filled 4-connected piece (ids repeat,
        non-decreasing) instead of the largest piece of each object.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray]
        ``ids`` of the rings, int64 ``(n, 2)`` integer ``(x, y)``
        pixel-edge corners of the rings, ``starts`` (``(rings + 1,)``).
    """
    edges = _boundary_edges(compact)
    if edges.label.size == 0:
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64), np.zeros(1, np.int64)
    keys = edges.label.astype(np.int64) * _vertex_count(compact.shape) + edges.start
    end_keys = edges.label.astype(np.int64) * _vertex_count(compact.shape) + edges.end
    successor = _link(keys, end_keys, edges.direction, separate=None)
    cycle, rank, length = _cycles(successor)
    area = _signed_area(edges, cycle, length.size)
    split = _repeated_outer_pinches(keys, cycle, area)
    if split.any():
        successor = _link(keys, end_keys, edges.direction, separate=split)
        cycle, rank, length = _cycles(successor)
        area = _signed_area(edges, cycle, length.size)
    chosen = np.flatnonzero(area > 0) if every_piece else _largest_outer_cycle(edges.label, cycle, area)
    return _emit(edges, successor, cycle, rank, chosen, ids)


def _vertex_count(shape: tuple[int, ...]) -> int:
    return (shape[0] + 1) * (shape[1] + 1)


def _boundary_edges(compact: np.ndarray) -> _Edges:
    """All directed boundary unit edges of all labels, sorted by their key (step 1).

    The key ``(label * vertices + start) * 4 + direction`` is unique per
    edge, so sorting the keys alone orders the edges and decodes them.
    """
    height, width = compact.shape
    padded = np.zeros((height + 2, width + 2), dtype=np.int32)
    padded[1:-1, 1:-1] = compact
    stride, vertices = width + 1, _vertex_count(compact.shape)
    keys = []
    # horizontal edges at y = i between padded rows i and i + 1, x from j to j + 1
    upper, lower = padded[:-1, 1:-1], padded[1:, 1:-1]
    rows, cols = np.divmod(np.flatnonzero(upper != lower), width)
    left_vertex = rows * stride + cols
    keys.append((lower[rows, cols].astype(np.int64) * vertices + left_vertex) * 4 + 0)  # object below: +x
    keys.append((upper[rows, cols].astype(np.int64) * vertices + left_vertex + 1) * 4 + 2)  # object above: -x
    # vertical edges at x = j between padded cols j and j + 1, y from i to i + 1
    left, right = padded[1:-1, :-1], padded[1:-1, 1:]
    rows, cols = np.divmod(np.flatnonzero(left != right), width + 1)
    top_vertex = rows * stride + cols
    keys.append((left[rows, cols].astype(np.int64) * vertices + top_vertex) * 4 + 1)  # object left: +y
    keys.append((right[rows, cols].astype(np.int64) * vertices + top_vertex + stride) * 4 + 3)  # object right: -y
    key = np.concatenate(keys)
    key = np.sort(key[key >= vertices * 4])
    direction = (key & 3).astype(np.int8)
    label, start = np.divmod(key >> 2, vertices)
    end = start + np.array([1, stride, -1, -stride], dtype=np.int64)[direction]
    return _Edges(label, start, end, direction, width)


def _link(keys: np.ndarray, end_keys: np.ndarray, direction: np.ndarray, separate: np.ndarray | None) -> np.ndarray:
    """Successor of every edge (step 2); ``keys`` sorted, pinches have two candidates.

    At a pinch the two outgoing edges leave in opposite directions, both
    perpendicular to the incoming one. *Joining* the two pixels of the
    label means turning right (``cross(d_in, d_out) < 0``); *separating*
    them means turning left. ``separate`` flags, per edge start, pinch
    vertices to separate.
    """
    first = np.searchsorted(keys, end_keys, side="left")
    second = np.minimum(first + 1, keys.size - 1)
    pinch = keys[second] == end_keys
    pinch &= second != first
    step_in, step_out = _STEP[direction], _STEP[direction[first]]
    cross = step_in[:, 0] * step_out[:, 1] - step_in[:, 1] * step_out[:, 0]
    want_left = np.zeros(keys.size, dtype=bool) if separate is None else separate[first]
    first_turns_left = cross > 0
    use_second = pinch & (first_turns_left != want_left)
    return np.where(use_second, second, first)


def _cycles(successor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycle id (dense, by smallest edge), rank from that edge, cycle lengths (step 3)."""
    count = successor.size
    index = np.arange(count)
    smallest, jump = index.copy(), successor.copy()
    while True:
        candidate = np.minimum(smallest, smallest[jump])
        if np.array_equal(candidate, smallest):
            break
        smallest, jump = candidate, jump[jump]
    is_head = smallest == index
    dense = np.cumsum(is_head) - 1
    cycle, heads = dense[smallest], np.flatnonzero(is_head)
    # list ranking on each cycle cut before its head: steps to the cut edge
    is_tail = successor == heads[cycle]
    jump = np.where(is_tail, index, successor)
    distance = (~is_tail).astype(np.int64)
    while not np.array_equal(jump[jump], jump):
        distance, jump = distance + distance[jump], jump[jump]
    length = np.bincount(cycle, minlength=heads.size).astype(np.int64)
    rank = length[cycle] - 1 - distance
    return cycle, rank, length


def _signed_area(edges: _Edges, cycle: np.ndarray, count: int) -> np.ndarray:
    """Twice the shoelace area of each cycle (integer valued, float64)."""
    stride = edges.width + 1
    x0, y0 = edges.start % stride, edges.start // stride
    x1, y1 = edges.end % stride, edges.end // stride
    return np.bincount(cycle, weights=(x0 * y1 - x1 * y0).astype(np.float64), minlength=count)


def _repeated_outer_pinches(keys: np.ndarray, cycle: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Per edge: its start is a pinch that one outer cycle passes twice (step 4)."""
    flags = np.zeros(keys.size, dtype=bool)
    twin = np.flatnonzero(keys[1:] == keys[:-1])
    same = (cycle[twin] == cycle[twin + 1]) & (area[cycle[twin]] > 0)
    flags[twin[same]] = True
    flags[twin[same] + 1] = True
    return flags


def _largest_outer_cycle(label: np.ndarray, cycle: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Per label present, the dense id of its largest outer cycle (step 5)."""
    cycle_label = np.zeros(area.size, dtype=np.int64)
    cycle_label[cycle] = label
    outer = np.flatnonzero(area > 0)
    # cycles are numbered by their smallest edge = top-left-most start: stable on ties
    order = np.lexsort((outer, -area[outer], cycle_label[outer]))
    ranked = outer[order]
    first = np.ones(ranked.size, dtype=bool)
    first[1:] = cycle_label[ranked[1:]] != cycle_label[ranked[:-1]]
    return ranked[first]


def _emit(
    edges: _Edges,
    successor: np.ndarray,
    cycle: np.ndarray,
    rank: np.ndarray,
    chosen: np.ndarray,
    ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corners of the chosen cycles, in ring order from each cycle's head."""
    predecessor = np.empty_like(successor)
    predecessor[successor] = np.arange(successor.size)
    corner = edges.direction != edges.direction[predecessor]
    picked = np.zeros(int(cycle.max()) + 1, dtype=bool)
    picked[chosen] = True
    counts = np.bincount(cycle[corner], minlength=picked.size)
    length = np.bincount(cycle, minlength=picked.size)
    ordered = np.empty_like(successor)
    ordered[(np.cumsum(length) - length)[cycle] + rank] = np.arange(successor.size)
    order = ordered[corner[ordered] & picked[cycle[ordered]]]
    counts = counts[chosen]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    stride = edges.width + 1
    vertex = edges.start[order]
    coords = np.stack([vertex % stride, vertex // stride], axis=1)
    cycle_label = np.zeros(picked.size, dtype=np.int64)
    cycle_label[cycle] = edges.label
    return ids[cycle_label[chosen] - 1], coords, starts


