"""Distance-transform watershed on a mosaic of the objects that can split (private).

:func:`split_foreground` gives the labels of
``watershed(-edt, label(h_maxima(edt, h)), mask=foreground, connectivity=1)``
followed by a label for each unmarked foreground part (the rule of
:func:`wsinuc.instances.watershed_instances`), without running the slow
filters on the whole chunk:

1. the Euclidean distance transform (EDT) runs once on a mosaic of the
   8-connected foreground parts (:mod:`wsinuc.instances._mosaic`); a part that
   touches the array edge is packed together with its mirror image across
   that edge, which reproduces the "no background outside the array"
   semantics of :func:`scipy.ndimage.distance_transform_edt` exactly
   (OpenCV's exact EDT is used when ``cv2`` imports, SciPy's otherwise;
   a part touching two opposite edges sends the chunk to the plain
   whole-array route);
2. a part can hold two h-maxima only if it holds two plateaus of local
   maxima (3 x 3) with no higher pixel within two pixels (the EDT is
   1-Lipschitz, so such a higher pixel is joined to the plateau by a path
   that never drops ``h > sqrt(2)`` below it); every other part is one
   object, as the watershed floods it from its single marker;
3. in the remaining parts the h-maxima come from a graph of steepest-ascent
   basins (:mod:`wsinuc.instances._dynamics`) instead of a grey
   reconstruction;
4. the watershed runs only on a mosaic of the parts with two or more markers.

The h-maxima are exact except for peaks lower than ``h`` (never markers
here; :func:`skimage.morphology.h_maxima` can keep one when no higher pixel
is reachable through the background). The watershed equals SciPy/scikit-image's
on the whole image up to the order in which it pops equal-valued marker
pixels, which moves a few boundary pixels between touching nuclei.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from wsinuc.instances._dynamics import basin_edges, h_maxima_nodes, steepest_ascent_roots
from wsinuc.instances._fastmorph import exact_values, maximum3, squared_edt
from wsinuc.instances._labels import kept_ids
from wsinuc.instances._mosaic import Mosaic, build_mosaic, object_boxes, object_pixels

FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)
EIGHT_CONNECTED = ndimage.generate_binary_structure(2, 2)
MIN_H = float(np.sqrt(2.0))


def split_foreground(
    foreground: np.ndarray, h: float, *, parts_eight_connected: bool = True, use_cv2: bool = True
) -> np.ndarray:
    """Watershed instance labels of a boolean ``foreground`` (ids ``1..n``).

    Parameters
    ----------
    foreground : np.ndarray
        2-D boolean mask (already opened).
    h : float
        Minimum dynamic of a distance-transform peak, in pixels.
    parts_eight_connected : bool, optional
        Group the foreground into 8-connected parts for the h-maxima (exact
        for any mask). 4-connected parts are exact too when the mask is an
        opening by a square of side >= 5 and ``h <= 2``: every part then
        peaks at >= 3, its lower peaks are beaten inside it, and no path
        through a corner pixel (distance 1) can matter for its top.
    use_cv2 : bool, optional
        Use OpenCV's filters when ``cv2`` imports (same results as SciPy's).

    Returns
    -------
    np.ndarray
        ``int32`` labels: the parts that do not split keep the order of
        their first pixel, the split ones follow.
    """
    parts4, count4 = ndimage.label(foreground, structure=FOUR_CONNECTED)
    parts, count = parts4, count4
    if parts_eight_connected:
        parts, count = ndimage.label(foreground, structure=EIGHT_CONNECTED)
    if count == 0:
        return parts4.astype(np.int32, copy=False)
    boxes = object_boxes(parts, count)
    if _spans_an_axis(boxes, foreground.shape):
        return _whole_image_watershed(foreground, h)
    rows, cols, ids = object_pixels(parts)
    mosaic, all_ids, squared = _distance_mosaic(rows, cols, ids, boxes, foreground.shape, use_cv2)
    markers = _marker_of_pixels(mosaic, all_ids, squared, rows.size, h, use_cv2)
    chosen = _parts_with_two_markers(ids, markers, count)
    picked = chosen[ids]
    distance = exact_values(squared.reshape(-1)[mosaic.index[: rows.size][picked]])
    split = _watershed_parts(rows[picked], cols[picked], ids[picked], boxes, chosen,
                             distance, markers[picked])
    where = rows[picked] * foreground.shape[1] + cols[picked]
    flat = parts4.reshape(-1)
    return _combine(flat, np.unique(flat[where]), where, split).reshape(foreground.shape)


def _distance_mosaic(
    rows: np.ndarray, cols: np.ndarray, ids: np.ndarray, boxes: np.ndarray,
    shape: tuple[int, int], use_cv2: bool,
) -> tuple[Mosaic, np.ndarray, np.ndarray]:
    """Mosaic of the parts (mirrored at the array edge), their ids, and the squared-EDT canvas."""
    all_rows, all_cols, all_ids, windows = _mirrored(rows, cols, ids, boxes, shape)
    mosaic = build_mosaic(all_rows, all_cols, all_ids, windows)
    inside = mosaic.scatter(np.ones(all_rows.size, dtype=bool), False)
    return mosaic, all_ids, squared_edt(inside, use_cv2)


def _marker_of_pixels(
    mosaic: Mosaic, ids: np.ndarray, squared: np.ndarray, own: int, h: float, use_cv2: bool
) -> np.ndarray:
    """h-maximum plateau id (0: none) of the first ``own`` listed pixels (the unmirrored ones).

    Plateaus of local maxima are the graph nodes; those with a higher pixel
    within two pixels, or lower than ``h``, are not h-maxima. Parts left
    with two or more nodes get the basin graph, built only from their
    pixels higher than ``min(node value) - h`` (lower passes cannot decide).
    """
    near = maximum3(squared, use_cv2)
    groups, count = ndimage.label((near == squared) & (squared > 0), structure=EIGHT_CONNECTED)
    flat_groups, flat_order = groups.reshape(-1), squared.reshape(-1)
    group_of, values = flat_groups[mosaic.index], flat_order[mosaic.index]
    on_plateau = group_of > 0
    heights = np.zeros(count + 1)
    heights[group_of[on_plateau]] = exact_values(values[on_plateau])
    rejected = heights < h
    if h > MIN_H:
        higher_nearby = maximum3(near, use_cv2).reshape(-1)[mosaic.index] > values
        rejected[group_of[on_plateau & higher_nearby]] = True
    part_of_group = np.zeros(count + 1, dtype=np.int64)
    part_of_group[group_of[:own]] = ids[:own]
    part_of_group[0] = 0
    kept = np.flatnonzero(~rejected & (part_of_group > 0))
    floor = np.full(int(ids.max()) + 1, np.inf)
    np.minimum.at(floor, part_of_group[kept], heights[kept] - h)
    candidate_part = np.bincount(part_of_group[kept], minlength=floor.size) >= 2
    index = mosaic.index[candidate_part[ids] & (np.sqrt(values) > floor[ids] - 1e-3)]
    roots = steepest_ascent_roots(index, flat_order, squared.shape[1])
    basins = np.zeros_like(flat_groups)
    basins[index] = flat_groups[roots]
    first, second, weight = basin_edges(index, basins, flat_order, squared.shape[1])
    is_marker = h_maxima_nodes(heights, first, second, exact_values(weight), h) & ~rejected
    own_groups = group_of[:own]
    markers = np.where(is_marker[own_groups] & candidate_part[ids[:own]], own_groups, 0)
    return markers.astype(np.int64)


def _parts_with_two_markers(ids: np.ndarray, markers: np.ndarray, count: int) -> np.ndarray:
    """``(count + 1,)`` mask of the parts holding two or more distinct markers."""
    marked = markers > 0
    first_marker = np.zeros(count + 1, dtype=np.int64)
    first_marker[ids[marked]] = markers[marked]
    other = marked & (markers != first_marker[ids])
    return np.bincount(ids[other], minlength=count + 1) > 0


def _spans_an_axis(boxes: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether a part touches two opposite array edges (one mirror copy would not reproduce its EDT)."""
    return bool(((boxes[:, 0] == 0) & (boxes[:, 1] == shape[0])).any()
                or ((boxes[:, 2] == 0) & (boxes[:, 3] == shape[1])).any())


def _whole_image_watershed(foreground: np.ndarray, h: float) -> np.ndarray:
    """The plain rule on the whole array (a part spans it: small or degenerate inputs)."""
    distance = ndimage.distance_transform_edt(foreground)
    markers, _ = ndimage.label(foreground & h_maxima(distance, h).astype(bool), structure=EIGHT_CONNECTED)
    labels = watershed(-distance, markers, mask=foreground, connectivity=1)
    unmarked = foreground & (labels == 0)
    extra, _ = ndimage.label(unmarked, structure=FOUR_CONNECTED)
    labels = np.where(extra > 0, extra + labels.max(initial=0), labels)
    return labels.astype(np.int32)


def _mirrored(
    rows: np.ndarray, cols: np.ndarray, ids: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels plus mirror copies of the parts touching the array edge, and each part's window.

    The listed pixels come first, unchanged; the copies follow.
    """
    height, width = shape
    r0, r1, c0, c1 = boxes.T
    touches = np.stack([r0 == 0, r1 == height, c0 == 0, c1 == width], axis=1)
    windows = np.stack([np.where(touches[:, 0], r0 - (r1 - r0), r0) - 1,
                        np.where(touches[:, 1], r1 + (r1 - r0), r1) + 1,
                        np.where(touches[:, 2], c0 - (c1 - c0), c0) - 1,
                        np.where(touches[:, 3], c1 + (c1 - c0), c1) + 1], axis=1)
    edge = np.r_[False, touches.any(axis=1)][ids]
    b_rows, b_cols, b_ids = rows[edge], cols[edge], ids[edge]
    for axis, size in ((0, height), (1, width)):
        low, high = touches[b_ids - 1, 2 * axis], touches[b_ids - 1, 2 * axis + 1]
        coords, other = (b_rows, b_cols) if axis == 0 else (b_cols, b_rows)
        mirrored = np.concatenate([coords, -1 - coords[low], 2 * size - 1 - coords[high]])
        other = np.concatenate([other, other[low], other[high]])
        b_ids = np.concatenate([b_ids, b_ids[low], b_ids[high]])
        b_rows, b_cols = (mirrored, other) if axis == 0 else (other, mirrored)
    copies = slice(int(edge.sum()), None)
    return (np.concatenate([rows, b_rows[copies]]), np.concatenate([cols, b_cols[copies]]),
            np.concatenate([ids, b_ids[copies]]), windows)


def _watershed_parts(
    rows: np.ndarray, cols: np.ndarray, ids: np.ndarray, boxes: np.ndarray,
    chosen: np.ndarray, distance: np.ndarray, markers: np.ndarray,
) -> np.ndarray:
    """Watershed labels (1-based, unique over all chosen parts) at the listed pixels."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    renumber = np.cumsum(chosen) * chosen
    windows = boxes[chosen[1:]] + np.array([-1, 1, -1, 1])
    mosaic = build_mosaic(rows, cols, renumber[ids], windows)
    edt = mosaic.scatter(distance, 0.0)
    mask = mosaic.scatter(np.ones(rows.size, dtype=bool), False)
    labels = watershed(-edt, mosaic.scatter(markers, 0), mask=mask, connectivity=1)
    unmarked = mask & (labels == 0)
    if unmarked.any():
        extra, _ = ndimage.label(unmarked, structure=FOUR_CONNECTED)
        labels = np.where(extra > 0, extra + labels.max(initial=0), labels)
    labels = mosaic.gather(labels)
    present = np.zeros(int(labels.max()) + 1, dtype=bool)
    present[labels] = True
    return np.cumsum(present)[labels]


def _combine(
    parts: np.ndarray, split_parts: np.ndarray, where: np.ndarray, split: np.ndarray
) -> np.ndarray:
    """Flat ``parts`` with the ``split_parts`` replaced by the ``split`` labels at ``where`` (int32, 1..n)."""
    count = int(parts.max(initial=0))
    keep = np.ones(count + 1, dtype=bool)
    keep[split_parts] = False
    new_ids = kept_ids(keep)
    out = new_ids[parts]
    if split.size:
        out[where] = split.astype(np.int32) + int(new_ids.max(initial=0))
    return out
