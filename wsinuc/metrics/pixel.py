"""Pixel-level Dice of the foreground (nucleus vs background) masks."""

from __future__ import annotations

import numpy as np

from wsinuc.metrics.matching import Overlap, compute_overlap


def dice_from_overlap(overlap: Overlap) -> float:
    """Foreground Dice of a precomputed :class:`Overlap`; see :func:`dice`.

    Every pixel that is foreground in both maps belongs to exactly one
    (GT, prediction) pair, so ``|A ∩ B|`` is the sum of the pair
    intersections.
    """
    both = int(overlap.pair_intersection.sum())
    total = int(overlap.gt_areas.sum()) + int(overlap.pred_areas.sum())
    if total == 0:
        return 1.0
    return 2.0 * both / total


def dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Dice coefficient of the foreground masks ``gt > 0`` and ``pred > 0``.

    ``Dice = 2 |A ∩ B| / (|A| + |B|)`` with ``A = {gt > 0}`` and
    ``B = {pred > 0}``; instance ids are ignored (this is HoVer-Net's
    ``get_dice_1``). When both masks are empty the result is 1.0.

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D integer instance (or 0/1 label) maps of the same shape.

    Returns
    -------
    float
        Dice in [0, 1].

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.

    References
    ----------
    .. [1] L. R. Dice, "Measures of the Amount of Ecologic Association
       Between Species," Ecology, vol. 26, no. 3, pp. 297-302, 1945.
    """
    return dice_from_overlap(compute_overlap(gt, pred))
