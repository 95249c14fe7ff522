"""All instance metrics of one image, and their mean over a set of images."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np

from wsinuc.metrics.aji import aji_from_overlap, aji_plus_from_overlap
from wsinuc.metrics.matching import compute_overlap
from wsinuc.metrics.pixel import dice_from_overlap
from wsinuc.metrics.pq import pq_from_overlap

METRIC_KEYS = ("aji", "aji_plus", "dq", "sq", "pq", "f1", "dice")


def evaluate_instances(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Every instance metric of one image, from a single overlap table.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance maps of the same shape (0 = background).

    Returns
    -------
    dict of str to float
        ``aji`` (:func:`~wsinuc.metrics.aggregated_jaccard_index`),
        ``aji_plus`` (:func:`~wsinuc.metrics.aji_plus`), ``dq``, ``sq``,
        ``pq`` (:func:`~wsinuc.metrics.panoptic_quality` at IoU > 0.5),
        ``f1`` (:func:`~wsinuc.metrics.object_f1` at IoU > 0.5, equal to
        ``dq``) and ``dice`` (:func:`~wsinuc.metrics.dice`), with the edge-case
        conventions of those functions.

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.

    References
    ----------
    .. [1] N. Kumar et al., "A Dataset and a Technique for Generalized
       Nuclear Segmentation for Computational Pathology," IEEE TMI, vol. 36,
       no. 7, pp. 1550-1560, 2017.
    .. [2] S. Graham et al., "HoVer-Net," Medical Image Analysis, vol. 58,
       101563, 2019.
    """
    overlap = compute_overlap(gt, pred)
    dq, sq, pq = pq_from_overlap(overlap, 0.5)
    return {
        "aji": aji_from_overlap(overlap),
        "aji_plus": aji_plus_from_overlap(overlap),
        "dq": dq,
        "sq": sq,
        "pq": pq,
        "f1": dq,
        "dice": dice_from_overlap(overlap),
    }


def _is_number(value: object) -> bool:
    return isinstance(value, Real | np.number) and not isinstance(value, bool | np.bool_)


def _numeric_keys(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Keys, in first-seen order, whose value is a real number in every row that has them."""
    keys: dict[str, bool] = {}
    for row in rows:
        for key, value in row.items():
            keys[key] = keys.get(key, True) and _is_number(value)
    return [key for key, numeric in keys.items() if numeric]


def mean_metrics(rows: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """Mean of each numeric metric over images (one row per image).

    MoNuSeg ranks methods by the mean of the per-image AJI, so the mean here
    is over images, each weighing the same. Keys whose value is not a real
    number in some row (an ``"image_id"`` string, a path, a bool) are left
    out. NaN values propagate into the mean.

    Parameters
    ----------
    rows : sequence of mapping
        Per-image results, e.g. from :func:`evaluate_instances` with an
        ``"image_id"`` added.

    Returns
    -------
    dict of str to float
        ``{key: mean over rows}`` for every numeric key, in first-seen order.

    Raises
    ------
    ValueError
        If ``rows`` is empty or a numeric key is missing from some row.
    """
    if len(rows) == 0:
        raise ValueError("mean_metrics needs at least one row, got an empty sequence")
    keys = _numeric_keys(rows)
    for index, row in enumerate(rows):
        missing = [key for key in keys if key not in row]
        if missing:
            raise ValueError(f"row {index} lacks metric key(s) {missing}; present: {sorted(row)}")
    return {key: math.fsum(float(row[key]) for row in rows) / len(rows) for key in keys}
