"""Pixel weights for training stage 1 (Ronneberger et al., 2015, Eq. 2).

``w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))``

* ``d1``, ``d2``: distances to the nearest and second-nearest nucleus.
* The border term is set on background pixels only (the common reading of
  the paper: it up-weights the thin background gaps separating touching
  nuclei; on a nucleus pixel ``d1 = 0`` and the term would cover whole small
  nuclei in every clump). Images with fewer than two nuclei get no border term.
* ``w_c``: class balancing by frequency, ``w_c(k) = N / (2 N_k)`` for class
  ``k`` in {background, nucleus} (N pixels, N_k of class k), so that both
  classes carry the same total weight; ``1`` when ``class_balance=False`` or
  when the image holds only one class.
* The map is divided by its maximum, so it lies in (0, 1].

Speed: ``d1`` and ``d2`` are only needed where ``d1 + d2 <= R`` with
``R = sigma * sqrt(2 ln(1 / tolerance))`` (:func:`truncation_radius`); beyond
``R`` the border term is below ``tolerance * w0`` (tolerance 1e-3) and is set
to 0. Both nuclei of such a pixel lie within ``R`` of it, so each nucleus'
distance transform is computed only inside its bounding box padded by ``R``
and the two smallest distances are kept per pixel. Within ``R`` the result is
exactly that of one full-image distance transform per nucleus.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

DEFAULT_TOLERANCE = 1e-3
MAX_DIRECT_LABEL = 100_000


def border_weight_map(
    instances: np.ndarray,
    w0: float = 3.0,
    sigma: float = 10.0,
    *,
    class_balance: bool = True,
) -> np.ndarray:
    """Ronneberger weight map of an instance label image, normalised to (0, 1].

    Parameters
    ----------
    instances : np.ndarray
        (H, W) non-negative integer labels, 0 = background, one id per nucleus.
    w0 : float
        Height of the border term (>= 0).
    sigma : float
        Width of the border term in pixels (> 0).
    class_balance : bool
        Add the frequency-balancing class weights ``N / (2 N_k)``; otherwise ``w_c = 1``.

    Returns
    -------
    np.ndarray
        float32 (H, W) weights divided by their maximum.
    """
    _validate_weight_map_args(instances, w0, sigma)
    foreground = instances > 0
    weights = class_weight_map(foreground) if class_balance else np.ones(instances.shape)
    radius = truncation_radius(sigma)
    nearest, second = two_nearest_distances(instances, radius)
    total = nearest + second
    with np.errstate(over="ignore", invalid="ignore"):
        border = w0 * np.exp(-(total**2) / (2.0 * sigma**2))
    weights += np.where(~foreground & (total <= radius), border, 0.0)
    return (weights / weights.max()).astype(np.float32)


def class_weight_map(foreground: np.ndarray) -> np.ndarray:
    """Per-pixel class weight ``N / (2 N_k)``; all ones if a class is absent."""
    n_total = foreground.size
    n_foreground = int(np.count_nonzero(foreground))
    if n_foreground in (0, n_total):
        return np.ones(foreground.shape)
    w_foreground = n_total / (2.0 * n_foreground)
    w_background = n_total / (2.0 * (n_total - n_foreground))
    return np.where(foreground, w_foreground, w_background)


def truncation_radius(sigma: float, tolerance: float = DEFAULT_TOLERANCE) -> float:
    """Distance sum beyond which ``exp(-r**2 / (2 sigma**2)) < tolerance``."""
    return sigma * math.sqrt(2.0 * math.log(1.0 / tolerance))


def two_nearest_distances(instances: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances to the nearest and second-nearest labelled object.

    Parameters
    ----------
    instances : np.ndarray
        (H, W) non-negative integer labels.
    radius : float
        Each object's distances are computed only within its bounding box
        padded by ``ceil(radius)``; outside it they count as ``inf``. Both
        outputs are exact wherever ``d1 + d2 <= radius``.

    Returns
    -------
    (np.ndarray, np.ndarray)
        float64 (H, W) ``d1 <= d2`` (``inf`` where fewer objects are in reach).
        A pixel of an object has distance 0 to that object.
    """
    labels = _consecutive_labels(instances)
    nearest = np.full(labels.shape, np.inf)
    second = np.full(labels.shape, np.inf)
    pad = math.ceil(radius)
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        window = tuple(
            slice(max(s.start - pad, 0), min(s.stop + pad, size))
            for s, size in zip(box, labels.shape)
        )
        distance = ndimage.distance_transform_edt(labels[window] != label)
        d1 = nearest[window]
        second[window] = np.minimum(second[window], np.maximum(d1, distance))
        nearest[window] = np.minimum(d1, distance)
    return nearest, second


def _consecutive_labels(instances: np.ndarray) -> np.ndarray:
    """Labels as int32; very large ids are renumbered 1..n (0 stays background)."""
    if int(instances.max(initial=0)) <= MAX_DIRECT_LABEL:
        return instances.astype(np.int32, copy=False)
    _, inverse = np.unique(instances, return_inverse=True)
    offset = 1 if instances.min() > 0 else 0
    return (inverse.reshape(instances.shape) + offset).astype(np.int32)


def _validate_weight_map_args(instances: np.ndarray, w0: float, sigma: float) -> None:
    if not isinstance(instances, np.ndarray) or instances.ndim != 2:
        raise ValueError(
            f"instances must be a 2-D array, got {type(instances).__name__} "
            f"with shape {getattr(instances, 'shape', None)}"
        )
    if not np.issubdtype(instances.dtype, np.integer) or instances.min(initial=0) < 0:
        raise ValueError(
            f"instances must hold non-negative integer labels, got dtype {instances.dtype} "
            f"with minimum {instances.min(initial=0)}"
        )
    if not w0 >= 0 or not sigma > 0:
        raise ValueError(f"need w0 >= 0 and sigma > 0, got w0={w0} and sigma={sigma}")
