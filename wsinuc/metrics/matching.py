"""Sparse overlap table between two instance maps, and one-to-one pairing.

Every metric in :mod:`wsinuc.metrics` is a function of the same three
ingredients: the area of each ground-truth (GT) nucleus, the area of each
predicted nucleus, and the number of pixels shared by every overlapping
(GT, prediction) pair. :func:`compute_overlap` counts all of them in one pass
over the pixels where either map is non-zero, so the cost grows with the
foreground area, never with (number of nuclei) x (image size).

Pairing helpers here are pure functions of an :class:`Overlap`:
:func:`max_weight_pairing` solves a one-to-one assignment separately on each
connected component of the bipartite overlap graph (most components are a
single GT and a single prediction, so the Hungarian solver only ever sees
small dense blocks), and :func:`match_instances` keeps pairs above an IoU
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True, eq=False)
class Overlap:
    """Contingency table of two instance maps, stored sparsely.

    Attributes
    ----------
    gt_ids, pred_ids : np.ndarray
        Sorted positive instance ids present in each map, shapes ``(n_gt,)``
        and ``(n_pred,)``.
    gt_areas, pred_areas : np.ndarray
        Pixel count of each instance, int64, aligned with the id arrays.
    pair_gt, pair_pred : np.ndarray
        Indices into ``gt_ids`` / ``pred_ids`` of every pair sharing at least
        one pixel, shape ``(n_pairs,)``, sorted by ``(pair_gt, pair_pred)``.
    pair_intersection : np.ndarray
        Number of shared pixels of each pair, int64, shape ``(n_pairs,)``.
    """

    gt_ids: np.ndarray
    pred_ids: np.ndarray
    gt_areas: np.ndarray
    pred_areas: np.ndarray
    pair_gt: np.ndarray
    pair_pred: np.ndarray
    pair_intersection: np.ndarray

    @property
    def pair_union(self) -> np.ndarray:
        """Pixel count of ``G_i ∪ S_j`` for every overlapping pair (int64)."""
        return (
            self.gt_areas[self.pair_gt] + self.pred_areas[self.pair_pred] - self.pair_intersection
        )

    @property
    def pair_iou(self) -> np.ndarray:
        """Intersection over union of every overlapping pair (float64, in (0, 1])."""
        return self.pair_intersection / self.pair_union


@dataclass(frozen=True, eq=False)
class InstanceMatch:
    """One-to-one matching between GT and predicted instances.

    Attributes
    ----------
    gt_ids, pred_ids : np.ndarray
        Instance ids of the matched pairs, aligned, shape ``(n_matches,)``.
    ious : np.ndarray
        IoU of each matched pair, float64.
    unmatched_gt_ids, unmatched_pred_ids : np.ndarray
        Ids of false negatives and false positives.
    """

    gt_ids: np.ndarray
    pred_ids: np.ndarray
    ious: np.ndarray
    unmatched_gt_ids: np.ndarray
    unmatched_pred_ids: np.ndarray

    @property
    def tp(self) -> int:
        """Number of matched pairs (true positives)."""
        return int(self.gt_ids.size)

    @property
    def fp(self) -> int:
        """Number of unmatched predictions (false positives)."""
        return int(self.unmatched_pred_ids.size)

    @property
    def fn(self) -> int:
        """Number of unmatched GT instances (false negatives)."""
        return int(self.unmatched_gt_ids.size)


def _validate_instance_map(name: str, labels: object) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D instance map, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must have an integer dtype (0 = background, >0 = instance id), "
            f"got dtype {array.dtype}"
        )
    if array.size and np.issubdtype(array.dtype, np.signedinteger) and array.min() < 0:
        raise ValueError(f"{name} must be non-negative, got minimum {array.min()}")
    return array


def _validate_instance_maps(gt: object, pred: object) -> tuple[np.ndarray, np.ndarray]:
    """Check that ``gt`` and ``pred`` are same-shape 2-D non-negative integer maps."""
    gt_array = _validate_instance_map("gt", gt)
    pred_array = _validate_instance_map("pred", pred)
    if gt_array.shape != pred_array.shape:
        raise ValueError(
            f"gt and pred must have the same shape, got gt {gt_array.shape} "
            f"and pred {pred_array.shape}"
        )
    return gt_array, pred_array


def _validate_iou_threshold(iou: float) -> float:
    value = float(iou)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"iou threshold must satisfy 0 <= iou < 1, got {iou!r}")
    return value


def _ids_and_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (positive ids, dense index of each value, area of each id).

    The dense index of background (0) is -1.
    """
    ids, inverse = np.unique(values, return_inverse=True)
    areas = np.bincount(inverse, minlength=ids.size).astype(np.int64)
    if ids.size and ids[0] == 0:
        return ids[1:], inverse - 1, areas[1:]
    return ids, inverse, areas


def compute_overlap(gt: np.ndarray, pred: np.ndarray) -> Overlap:
    """Count instance areas and pairwise intersections of two instance maps.

    One pass over the pixels where ``gt > 0`` or ``pred > 0``: each such pixel
    is reduced to a (GT index, prediction index) key and the keys are counted
    with :func:`numpy.unique`. No per-instance mask is ever built.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape; 0 is background and any
        positive integer is an instance id (ids need not be consecutive).

    Returns
    -------
    Overlap
        Ids, areas and the sparse intersection table.

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.
    """
    gt, pred = _validate_instance_maps(gt, pred)
    gt_flat, pred_flat = gt.ravel(), pred.ravel()
    foreground = np.flatnonzero((gt_flat > 0) | (pred_flat > 0))
    gt_ids, gt_index, gt_areas = _ids_and_inverse(gt_flat[foreground])
    pred_ids, pred_index, pred_areas = _ids_and_inverse(pred_flat[foreground])
    both = (gt_index >= 0) & (pred_index >= 0)
    keys = gt_index[both].astype(np.int64) * max(pred_ids.size, 1) + pred_index[both]
    pair_keys, pair_counts = np.unique(keys, return_counts=True)
    pair_gt, pair_pred = np.divmod(pair_keys, max(pred_ids.size, 1))
    return Overlap(
        gt_ids=gt_ids,
        pred_ids=pred_ids,
        gt_areas=gt_areas,
        pred_areas=pred_areas,
        pair_gt=pair_gt.astype(np.intp),
        pair_pred=pair_pred.astype(np.intp),
        pair_intersection=pair_counts.astype(np.int64),
    )


def _component_labels(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Connected-component label of each edge of a bipartite graph."""
    n_nodes = n_rows + n_cols
    ones = np.ones(rows.size, dtype=np.int8)
    graph = coo_matrix((ones, (rows, cols + n_rows)), shape=(n_nodes, n_nodes))
    _, node_labels = connected_components(graph, directed=False)
    return node_labels[rows]


def _solve_block(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Boolean mask of the edges chosen by a max-weight assignment on one block."""
    row_ids, local_rows = np.unique(rows, return_inverse=True)
    col_ids, local_cols = np.unique(cols, return_inverse=True)
    dense = np.zeros((row_ids.size, col_ids.size))
    dense[local_rows, local_cols] = weights
    chosen_rows, chosen_cols = linear_sum_assignment(dense, maximize=True)
    chosen = np.zeros_like(dense, dtype=bool)
    chosen[chosen_rows, chosen_cols] = True
    return chosen[local_rows, local_cols]


def max_weight_pairing(
    rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int, n_cols: int
) -> np.ndarray:
    """Choose a one-to-one subset of edges with maximal total weight.

    Equivalent to :func:`scipy.optimize.linear_sum_assignment` (maximize) on
    the dense ``n_rows x n_cols`` matrix holding ``weights`` at the edges and
    0 elsewhere, followed by dropping the zero entries. The problem splits
    into the connected components of the bipartite graph of edges; a
    component with a single edge is chosen directly and every other component
    is solved as its own small dense assignment.

    Parameters
    ----------
    rows, cols : np.ndarray
        Row and column index of each edge (no duplicate edges).
    weights : np.ndarray
        Strictly positive weight of each edge.
    n_rows, n_cols : int
        Number of row and column nodes.

    Returns
    -------
    np.ndarray
        Boolean mask over the edges: True for the chosen ones.
    """
    chosen = np.zeros(rows.size, dtype=bool)
    if rows.size == 0:
        return chosen
    labels = _component_labels(rows, cols, n_rows, n_cols)
    edges_per_component = np.bincount(labels)
    single = edges_per_component[labels] == 1
    chosen[single] = True
    shared = np.flatnonzero(~single)
    order = shared[np.argsort(labels[shared], kind="stable")]
    boundaries = np.flatnonzero(np.diff(labels[order])) + 1
    for block in np.split(order, boundaries):
        if block.size:
            chosen[block] = _solve_block(rows[block], cols[block], weights[block])
    return chosen


def _threshold_pairing(overlap: Overlap, iou: float) -> np.ndarray:
    """Mask of the pairs matched one-to-one among those with IoU > ``iou``."""
    ious = overlap.pair_iou
    eligible = np.flatnonzero(ious > iou)
    chosen = np.zeros(ious.size, dtype=bool)
    if iou >= 0.5:
        # IoU > 0.5 with two different partners is impossible, so the
        # eligible pairs are already one-to-one.
        chosen[eligible] = True
        return chosen
    # Lexicographic objective: most matches first, then largest total IoU.
    # The IoU term sums to at most 1/2 over any matching, below one match.
    n_max = max(overlap.gt_ids.size, overlap.pred_ids.size, 1)
    weights = 1.0 + ious[eligible] / (2.0 * n_max)
    picked = max_weight_pairing(
        overlap.pair_gt[eligible],
        overlap.pair_pred[eligible],
        weights,
        overlap.gt_ids.size,
        overlap.pred_ids.size,
    )
    chosen[eligible[picked]] = True
    return chosen


def match_overlap(overlap: Overlap, iou: float = 0.5) -> InstanceMatch:
    """One-to-one matching of an :class:`Overlap` at an IoU threshold.

    See :func:`match_instances` for the definition.
    """
    iou = _validate_iou_threshold(iou)
    chosen = _threshold_pairing(overlap, iou)
    gt_index, pred_index = overlap.pair_gt[chosen], overlap.pair_pred[chosen]
    gt_left = np.ones(overlap.gt_ids.size, dtype=bool)
    gt_left[gt_index] = False
    pred_left = np.ones(overlap.pred_ids.size, dtype=bool)
    pred_left[pred_index] = False
    return InstanceMatch(
        gt_ids=overlap.gt_ids[gt_index],
        pred_ids=overlap.pred_ids[pred_index],
        ious=overlap.pair_iou[chosen],
        unmatched_gt_ids=overlap.gt_ids[gt_left],
        unmatched_pred_ids=overlap.pred_ids[pred_left],
    )


def match_instances(gt: np.ndarray, pred: np.ndarray, iou: float = 0.5) -> InstanceMatch:
    """Match GT and predicted instances one-to-one at IoU > ``iou``.

    A (GT, prediction) pair is eligible when its IoU is strictly greater than
    ``iou``. For ``iou >= 0.5`` every instance has at most one eligible
    partner, so the eligible pairs are the matching (Kirillov et al. 2019).
    For ``iou < 0.5`` the matching is the one-to-one subset of eligible pairs
    with the most pairs and, among those, the largest summed IoU (the
    StarDist criterion, Schmidt et al. 2018), solved with the Hungarian
    algorithm on each connected block of eligible pairs.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape (0 = background).
    iou : float, default 0.5
        IoU threshold, ``0 <= iou < 1``; pairs need IoU strictly above it.

    Returns
    -------
    InstanceMatch
        Matched ids with their IoU, and the unmatched GT / predicted ids.

    Raises
    ------
    ValueError
        On invalid maps (see :func:`compute_overlap`) or threshold.

    References
    ----------
    .. [1] A. Kirillov, K. He, R. Girshick, C. Rother and P. Dollár,
       "Panoptic Segmentation," CVPR 2019, pp. 9404-9413.
    .. [2] U. Schmidt, M. Weigert, C. Broaddus and G. Myers, "Cell Detection
       with Star-Convex Polygons," MICCAI 2018, pp. 265-273.
    """
    return match_overlap(compute_overlap(gt, pred), iou)
