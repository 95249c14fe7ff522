"""Nucleus probability map -> instance label image (pure).

Two routes, both returning ``int32`` labels ``0`` (background), ``1..n``:

* :func:`probability_to_instances`, the paper's post-processing:
  threshold, binary **opening** (erosion then dilation) with a
  ``kernel_size x kernel_size`` **square** of ones (``kernel_size=5`` is the
  paper's "5 px kernel"; a square is what ``cv2.morphologyEx(MORPH_OPEN,
  np.ones((5, 5)))`` uses), then connected components with
  **4-connectivity** (edge neighbours). 4-connectivity keeps nuclei that
  touch only at a corner apart, and makes every object edge-connected, so
  its outline is one simple polygon (:mod:`wsinuc.instances.polygons`).
* :func:`watershed_instances`: same foreground, then a marker-controlled
  watershed on the negated distance transform to split touching nuclei.

The opening treats pixels outside the array as background, so a tile's
result equals the whole-image result away from the tile's inner edges
(the halo absorbs the difference; see :mod:`wsinuc.tiling.plan`).

Speed: the opening runs as one OpenCV call or four separable 1-D minimum /
maximum filters on a ``uint8`` mask (the same pixels as
:func:`scipy.ndimage.binary_opening`; :mod:`wsinuc.instances._fastmorph`), and
the distance-transform watershed runs only on a packed mosaic of the
foreground parts that can hold two peaks (:mod:`wsinuc.instances._split`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from wsinuc.instances._fastmorph import open_square
from wsinuc.instances._labels import kept_ids
from wsinuc.instances._split import EIGHT_CONNECTED, FOUR_CONNECTED, split_foreground


def probability_to_instances(
    prob: np.ndarray, *, threshold: float = 0.5, kernel_size: int = 5, min_size: int = 0
) -> np.ndarray:
    """Threshold, open and label a nucleus probability map.

    Parameters
    ----------
    prob : np.ndarray
        2-D float map of nucleus probability in [0, 1].
    threshold : float, optional
        Pixels with ``prob > threshold`` are foreground.
    kernel_size : int, optional
        Side of the square opening kernel; 1 disables the opening.
    min_size : int, optional
        Objects with fewer pixels are removed (0 keeps all).

    Returns
    -------
    np.ndarray
        ``int32`` labels, same shape as ``prob``, ids ``1..n`` in raster
        order of each object's first pixel.

    Raises
    ------
    ValueError
        If ``prob`` is not a finite 2-D array or an option is out of range.
    """
    _validate_probability(prob, "prob")
    _validate_options(threshold, kernel_size, min_size)
    foreground = open_foreground(prob, threshold, kernel_size)
    labels, _ = ndimage.label(foreground, structure=FOUR_CONNECTED)
    return drop_small_objects(labels.astype(np.int32, copy=False), min_size)


def watershed_instances(
    prob: np.ndarray,
    stage1_prob: np.ndarray | None = None,
    *,
    threshold: float = 0.5,
    kernel_size: int = 5,
    min_size: int = 0,
    marker_threshold: float = 0.9,
    h: float = 2.0,
) -> np.ndarray:
    """Split touching nuclei with a marker-controlled watershed.

    Steps:

    1. foreground = ``prob > threshold``, opened as in
       :func:`probability_to_instances`;
    2. distance = Euclidean distance of each foreground pixel to the
       background;
    3. markers = connected parts of ``stage1_prob >= marker_threshold`` inside
       the foreground when ``stage1_prob`` is given, otherwise the h-maxima of
       the distance (peaks at least ``h`` pixels higher than the saddle that
       joins them to a higher peak);
    4. watershed of ``-distance`` from the markers, restricted to the
       foreground (4-connected flooding);
    5. foreground parts that received no marker become objects of their own;
       objects smaller than ``min_size`` are removed.

    Parameters
    ----------
    prob : np.ndarray
        2-D nucleus probability (final stage) in [0, 1].
    stage1_prob : np.ndarray or None, optional
        Probability from stage 1, same shape, used for markers when given.
    threshold, kernel_size, min_size
        As in :func:`probability_to_instances`.
    marker_threshold : float, optional
        Level of ``stage1_prob`` that marks nucleus interiors.
    h : float, optional
        Minimum peak dynamic, in pixels, of distance-transform markers.

    Returns
    -------
    np.ndarray
        ``int32`` labels ``1..n``, same shape as ``prob``.

    Raises
    ------
    ValueError
        If an input is not a finite 2-D array of ``prob``'s shape or an
        option is out of range.

    Notes
    -----
    Without ``stage1_prob`` the steps run on a packed mosaic of the
    foreground parts and only the parts with two or more markers are
    flooded (:mod:`wsinuc.instances._split`): the markers are those of
    ``skimage.morphology.h_maxima`` on the whole image, and the objects are
    the same, up to a few boundary pixels between touching nuclei where the
    flooding meets equal values in another order.
    """
    _validate_probability(prob, "prob")
    if stage1_prob is not None:
        _validate_probability(stage1_prob, "stage1_prob", shape=np.shape(prob))
    _validate_options(threshold, kernel_size, min_size)
    _validate_marker_options(marker_threshold, h)
    foreground = open_foreground(prob, threshold, kernel_size)
    if stage1_prob is None:
        eight = kernel_size < 5 or h > 2  # 4-connected parts are exact otherwise (see split_foreground)
        labels = split_foreground(foreground, float(h), parts_eight_connected=eight)
        return drop_small_objects(labels, min_size)
    distance = ndimage.distance_transform_edt(foreground)
    seeds = foreground & (np.asarray(stage1_prob) >= marker_threshold)
    markers, _ = ndimage.label(seeds, structure=EIGHT_CONNECTED)
    labels = watershed(-distance, markers, mask=foreground, connectivity=1)
    labels = _label_unmarked(labels, foreground)
    return drop_small_objects(labels.astype(np.int32, copy=False), min_size)


def open_foreground(prob: np.ndarray, threshold: float, kernel_size: int) -> np.ndarray:
    """``prob > threshold`` opened with a ``kernel_size`` square (outside = background)."""
    foreground = np.asarray(prob) > threshold
    if kernel_size <= 1:
        return foreground
    return open_square(foreground, int(kernel_size))


def drop_small_objects(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Drop objects with fewer than ``min_size`` pixels and renumber ``1..k`` in id order."""
    if min_size <= 0 or labels.max(initial=0) == 0:
        return labels
    return kept_ids(np.bincount(labels.ravel()) >= min_size)[labels]


def keep_largest_pieces(labels: np.ndarray) -> np.ndarray:
    """Each object reduced to its largest 4-connected piece (ties: the first in raster order).

    Resampling labels to a coarser grid can cut a thin object into pieces;
    one object should be one piece, with one outline and one measurement.
    Ids are kept; an array whose objects are all one piece is returned as is.
    """
    from skimage.measure import label as label_regions

    labels = np.asarray(labels)
    pieces, count = label_regions(labels, background=0, connectivity=1, return_num=True)
    if count == int(np.count_nonzero(np.bincount(labels.ravel())[1:])):
        return labels
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    owner = np.zeros(count + 1, dtype=np.int64)
    owner[pieces.ravel()] = labels.ravel()
    index = np.arange(1, count + 1)
    order = index[np.lexsort((index, -sizes[1:], owner[1:]))]
    first = np.ones(order.size, dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    keep = np.zeros(count + 1, dtype=bool)
    keep[order[first]] = True
    return np.where(keep[pieces], labels, 0).astype(labels.dtype, copy=False)


def _label_unmarked(labels: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    unmarked = foreground & (labels == 0)
    if not unmarked.any():
        return labels
    extra, _ = ndimage.label(unmarked, structure=FOUR_CONNECTED)
    offset = labels.max(initial=0)
    return np.where(extra > 0, extra + offset, labels)


def _validate_probability(
    prob: object, name: str, shape: tuple[int, ...] | None = None
) -> None:
    array = np.asarray(prob)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {array.shape!r}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)!r}, got {array.shape!r}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.size and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _validate_options(threshold: object, kernel_size: object, min_size: object) -> None:
    if not (isinstance(threshold, int | float | np.number) and 0.0 <= threshold < 1.0):
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    if not (isinstance(kernel_size, int | np.integer) and kernel_size >= 1):
        raise ValueError(f"kernel_size must be an integer >= 1, got {kernel_size!r}")
    if not (isinstance(min_size, int | np.integer) and min_size >= 0):
        raise ValueError(f"min_size must be an integer >= 0, got {min_size!r}")


def _validate_marker_options(marker_threshold: object, h: object) -> None:
    number = isinstance(marker_threshold, int | float | np.number)
    if not (number and 0.0 <= marker_threshold <= 1.0):
        raise ValueError(f"marker_threshold must be a number in [0, 1], got {marker_threshold!r}")
    if not (isinstance(h, int | float | np.number) and h > 0):
        raise ValueError(f"h must be a positive number, got {h!r}")
