"""Aggregated Jaccard Index (AJI, Kumar et al. 2017) and AJI+ (Graham et al. 2019)."""

from __future__ import annotations

import numpy as np

from wsinuc.metrics.matching import Overlap, compute_overlap, max_weight_pairing


def _aggregate(
    overlap: Overlap, chosen_pairs: np.ndarray, gt_paired: np.ndarray, pred_paired: np.ndarray
) -> float:
    """``C / U`` from the chosen pairs plus the areas of unpaired instances.

    ``chosen_pairs`` indexes the pair arrays (a pair may appear once only,
    but one prediction may sit in several pairs); ``gt_paired`` and
    ``pred_paired`` are boolean masks over the instances that took part in a
    pair. Returns 1.0 when both maps have no instance (``U = 0``).
    """
    intersection = int(overlap.pair_intersection[chosen_pairs].sum())
    union = int(overlap.pair_union[chosen_pairs].sum())
    union += int(overlap.gt_areas[~gt_paired].sum())
    union += int(overlap.pred_areas[~pred_paired].sum())
    if union == 0:
        return 1.0
    return intersection / union


def _used(indices: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[indices] = True
    return mask


def aji_from_overlap(overlap: Overlap) -> float:
    """AJI of a precomputed :class:`Overlap`; see :func:`aggregated_jaccard_index`."""
    ious = overlap.pair_iou
    # Per GT: highest IoU first, ties to the smallest prediction id (the
    # official MATLAB loop scans ids in ascending order with a strict ">").
    order = np.lexsort((overlap.pair_pred, -ious, overlap.pair_gt))
    sorted_gt = overlap.pair_gt[order]
    is_first = np.ones(order.size, dtype=bool)
    is_first[1:] = sorted_gt[1:] != sorted_gt[:-1]
    best = order[is_first]
    gt_paired = _used(overlap.pair_gt[best], overlap.gt_ids.size)
    pred_paired = _used(overlap.pair_pred[best], overlap.pred_ids.size)
    return _aggregate(overlap, best, gt_paired, pred_paired)


def aji_plus_from_overlap(overlap: Overlap) -> float:
    """AJI+ of a precomputed :class:`Overlap`; see :func:`aji_plus`."""
    chosen = max_weight_pairing(
        overlap.pair_gt,
        overlap.pair_pred,
        overlap.pair_iou,
        overlap.gt_ids.size,
        overlap.pred_ids.size,
    )
    pairs = np.flatnonzero(chosen)
    gt_paired = _used(overlap.pair_gt[pairs], overlap.gt_ids.size)
    pred_paired = _used(overlap.pair_pred[pairs], overlap.pred_ids.size)
    return _aggregate(overlap, pairs, gt_paired, pred_paired)


def aggregated_jaccard_index(gt: np.ndarray, pred: np.ndarray) -> float:
    """Aggregated Jaccard Index of a predicted instance map against the GT.

    Definition (Kumar et al. 2017, Algorithm 1, and the official MATLAB code
    distributed with MoNuSeg, version of 2018-07-17):

    1. ``C = U = 0``. For every GT nucleus ``G_i``:

       - if it shares no pixel with any prediction, ``U += |G_i|``;
       - otherwise take the prediction ``S_j`` with the largest
         ``IoU(G_i, S_j)`` among those it overlaps (ties: smallest
         prediction id), then ``C += |G_i ∩ S_j|`` and
         ``U += |G_i ∪ S_j|``, and mark ``S_j`` as used.

       A prediction may be chosen by several GT nuclei; each choice adds its
       own ``|G_i ∪ S_j|`` to ``U``, so the pixels of a reused prediction are
       counted in ``U`` once per GT nucleus that chose it (this is what
       over-penalises merges; see :func:`aji_plus`).
    2. Every prediction never chosen adds its area: ``U += |S_k|``.
    3. ``AJI = C / U``.

    Conventions: when neither map has an instance (``U = 0``) the result is
    1.0 (a perfect, empty prediction); an empty prediction against a
    non-empty GT gives 0.0, and so do predictions against an empty GT.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape; 0 is background, any
        positive integer an instance id (ids need not be consecutive).

    Returns
    -------
    float
        AJI in [0, 1].

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.

    References
    ----------
    .. [1] N. Kumar, R. Verma, S. Sharma, S. Bhargava, A. Vahadane and
       A. Sethi, "A Dataset and a Technique for Generalized Nuclear
       Segmentation for Computational Pathology," IEEE Transactions on
       Medical Imaging, vol. 36, no. 7, pp. 1550-1560, 2017.
    """
    return aji_from_overlap(compute_overlap(gt, pred))


def aji_plus(gt: np.ndarray, pred: np.ndarray) -> float:
    """AJI+: aggregated Jaccard index with a one-to-one pairing.

    Definition (Graham et al. 2019, HoVer-Net ``get_fast_aji_plus``):

    1. Pair GT and predicted nuclei one-to-one so that the summed IoU of the
       pairs is maximal (Hungarian algorithm on the IoU matrix, i.e.
       ``linear_sum_assignment(-IoU)``); pairs with IoU 0 are dropped.
       Here the assignment is solved per connected block of overlapping
       nuclei, which gives the same optimal total IoU; when several
       assignments tie, the chosen one may differ from HoVer-Net's.
    2. ``C = sum |G_i ∩ S_j|`` and ``U = sum |G_i ∪ S_j|`` over the pairs.
    3. Every unpaired GT and every unpaired prediction adds its area to
       ``U``.
    4. ``AJI+ = C / U``.

    Unlike :func:`aggregated_jaccard_index`, no prediction is counted twice,
    so a merge of two GT nuclei is not over-penalised. Same conventions:
    1.0 when neither map has an instance.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape (0 = background).

    Returns
    -------
    float
        AJI+ in [0, 1].

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.

    References
    ----------
    .. [1] S. Graham, Q. D. Vu, S. E. A. Raza, A. Azam, Y. W. Tsang, J. T.
       Kwak and N. Rajpoot, "HoVer-Net: Simultaneous Segmentation and
       Classification of Nuclei in Multi-Tissue Histology Images," Medical
       Image Analysis, vol. 58, 101563, 2019.
    """
    return aji_plus_from_overlap(compute_overlap(gt, pred))
