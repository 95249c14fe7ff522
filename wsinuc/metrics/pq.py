"""Panoptic quality (DQ, SQ, PQ) and object-level F1 from a one-to-one matching."""

from __future__ import annotations

import numpy as np

from wsinuc.metrics.matching import (
    InstanceMatch,
    Overlap,
    compute_overlap,
    match_overlap,
)


def _detection_quality(match: InstanceMatch) -> float:
    """``TP / (TP + FP/2 + FN/2)``, 1.0 when there is nothing to detect or predict."""
    denominator = match.tp + 0.5 * match.fp + 0.5 * match.fn
    if denominator == 0:
        return 1.0
    return match.tp / denominator


def pq_from_overlap(overlap: Overlap, iou: float = 0.5) -> tuple[float, float, float]:
    """(DQ, SQ, PQ) of a precomputed :class:`Overlap`; see :func:`panoptic_quality`."""
    match = match_overlap(overlap, iou)
    dq = _detection_quality(match)
    if match.tp > 0:
        sq = float(np.mean(match.ious))
    else:
        sq = 1.0 if match.fp == match.fn == 0 else 0.0
    return dq, sq, dq * sq


def f1_from_overlap(overlap: Overlap, iou: float = 0.5) -> float:
    """Object F1 of a precomputed :class:`Overlap`; see :func:`object_f1`."""
    return _detection_quality(match_overlap(overlap, iou))


def panoptic_quality(
    gt: np.ndarray, pred: np.ndarray, iou: float = 0.5
) -> tuple[float, float, float]:
    """Panoptic quality of a predicted instance map, split as DQ x SQ.

    Definition (Kirillov et al. 2019, as used for nuclei by Graham et al.
    2019):

    1. Match GT and predicted nuclei one-to-one on IoU strictly greater than
       ``iou`` (see :func:`wsinuc.metrics.match_instances`; for the default
       0.5 the matches are unique by construction). Matches are true
       positives (TP), unmatched predictions false positives (FP), unmatched
       GT nuclei false negatives (FN).
    2. ``DQ = TP / (TP + FP/2 + FN/2)`` (detection quality, the F1 score).
    3. ``SQ = mean IoU of the TP pairs`` (segmentation quality). This is the
       exact mean, not HoVer-Net's ``sum / (TP + 1e-6)``.
    4. ``PQ = DQ * SQ``.

    Conventions: when neither map has an instance the result is
    ``(1.0, 1.0, 1.0)`` (HoVer-Net divides by zero here); when there is no
    match but at least one instance, ``SQ = 0.0`` (as in HoVer-Net), so
    ``(DQ, SQ, PQ) = (0.0, 0.0, 0.0)``.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape (0 = background).
    iou : float, default 0.5
        Matching threshold, ``0 <= iou < 1``.

    Returns
    -------
    tuple of float
        ``(dq, sq, pq)``, each in [0, 1].

    Raises
    ------
    ValueError
        On invalid maps (see :func:`wsinuc.metrics.compute_overlap`) or
        threshold.

    References
    ----------
    .. [1] A. Kirillov, K. He, R. Girshick, C. Rother and P. Dollár,
       "Panoptic Segmentation," CVPR 2019, pp. 9404-9413.
    .. [2] S. Graham et al., "HoVer-Net: Simultaneous Segmentation and
       Classification of Nuclei in Multi-Tissue Histology Images," Medical
       Image Analysis, vol. 58, 101563, 2019.
    """
    return pq_from_overlap(compute_overlap(gt, pred), iou)


def object_f1(gt: np.ndarray, pred: np.ndarray, iou: float = 0.5) -> float:
    """Object-level F1 score of a predicted instance map.

    Nuclei are matched one-to-one on IoU strictly greater than ``iou`` (see
    :func:`wsinuc.metrics.match_instances`: unique pairs for ``iou >= 0.5``,
    otherwise the largest one-to-one set found by the Hungarian algorithm).
    With TP matches, FP unmatched predictions and FN unmatched GT nuclei,
    ``F1 = 2 TP / (2 TP + FP + FN)``, which equals DQ of
    :func:`panoptic_quality` at the same threshold.

    Conventions: 1.0 when neither map has an instance; 0.0 for an empty
    prediction against a non-empty GT and for any prediction against an
    empty GT.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape (0 = background).
    iou : float, default 0.5
        Matching threshold, ``0 <= iou < 1``.

    Returns
    -------
    float
        F1 in [0, 1].

    Raises
    ------
    ValueError
        On invalid maps (see :func:`wsinuc.metrics.compute_overlap`) or
        threshold.

    References
    ----------
    .. [1] A. Kirillov, K. He, R. Girshick, C. Rother and P. Dollár,
       "Panoptic Segmentation," CVPR 2019, pp. 9404-9413.
    .. [2] U. Schmidt, M. Weigert, C. Broaddus and G. Myers, "Cell Detection
       with Star-Convex Polygons," MICCAI 2018, pp. 265-273.
    """
    return f1_from_overlap(compute_overlap(gt, pred), iou)
