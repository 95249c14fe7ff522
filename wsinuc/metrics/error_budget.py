"""Where an image's AJI is lost: the foreground mask, or the parting of nuclei.

AJI mixes two kinds of error: pixels on the wrong side of the nucleus /
background line, and nuclei parted wrongly (merged, split, missed). Each
function below mends one kind with the ground truth and leaves the other, so
the AJI of the result is the ceiling that mending only the *other* kind
could reach:

* :func:`with_true_identities` keeps the predicted foreground and names its
  pixels by the true nuclei: the AJI a perfect parting of *this* mask would
  reach (the mask's own cost stays);
* :func:`with_true_foreground` keeps the predicted nuclei and paints them
  over the true foreground: the AJI *these* nuclei would reach with a
  perfect mask (merges, splits and misses stay).

These are diagnostics for method developers (they need the ground truth),
not post-processing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from wsinuc.metrics.aji import aji_from_overlap
from wsinuc.metrics.matching import _validate_instance_maps, compute_overlap


def with_true_identities(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The predicted foreground, each pixel labelled by the true nucleus it lies in.

    Predicted pixels outside every true nucleus are false foreground: they
    become objects of their own (8-connected components, numbered after the
    true ids), so AJI still counts them in its union.

    ``gt`` and ``pred`` are as in :func:`aji_ceilings` (which names the
    errors); returns an ``int64`` instance map whose foreground is exactly
    ``pred > 0``.
    """
    gt, pred = _validate_instance_maps(gt, pred)
    foreground = pred > 0
    labels = np.where(foreground, gt, 0).astype(np.int64)
    extra, _ = ndimage.label(foreground & (gt == 0), structure=np.ones((3, 3), bool))
    offset = int(gt.max()) if gt.size else 0
    return np.where(extra > 0, extra.astype(np.int64) + offset, labels)


def with_true_foreground(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The true foreground, each pixel labelled by the nearest predicted nucleus.

    A true nucleus far from every prediction is absorbed by the nearest one
    (a missed nucleus costs what a merge costs). With no predicted nucleus at
    all, the true foreground is one object per 8-connected component.

    ``gt`` and ``pred`` are as in :func:`aji_ceilings` (which names the
    errors); returns an ``int64`` instance map whose foreground is exactly
    ``gt > 0``.
    """
    gt, pred = _validate_instance_maps(gt, pred)
    truth = gt > 0
    if not (pred > 0).any():
        return ndimage.label(truth, structure=np.ones((3, 3), bool))[0].astype(np.int64)
    rows, cols = ndimage.distance_transform_edt(pred == 0, return_distances=False, return_indices=True)
    return np.where(truth, pred[rows, cols], 0).astype(np.int64)


def aji_ceilings(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The two AJI ceilings of ``pred`` (see the module docstring).

    Parameters
    ----------
    gt, pred : np.ndarray
        2-D non-negative integer instance maps of the same shape (0 = background).

    Returns
    -------
    dict of str to float
        ``aji_true_identities``: the AJI of :func:`with_true_identities`, what
        this foreground mask allows; ``aji_true_foreground``: the AJI of
        :func:`with_true_foreground`, what this parting allows. In practice
        each lies above the AJI of ``pred``; neither is a strict bound, since
        AJI pairs each true nucleus with one prediction greedily.

    Raises
    ------
    ValueError
        If the maps are not 2-D, not integer, negative, or differ in shape.

    Examples
    --------
    >>> gt = np.zeros((4, 8), int); gt[:, :4] = 1; gt[:, 4:] = 2
    >>> merged = (gt > 0).astype(int)          # the right mask, two nuclei merged
    >>> aggregated_jaccard_index(gt, merged)
    0.5
    >>> aji_ceilings(gt, merged)
    {'aji_true_identities': 1.0, 'aji_true_foreground': 0.5}
    """
    gt, pred = _validate_instance_maps(gt, pred)
    return {
        "aji_true_identities": aji_from_overlap(compute_overlap(gt, with_true_identities(gt, pred))),
        "aji_true_foreground": aji_from_overlap(compute_overlap(gt, with_true_foreground(gt, pred))),
    }
