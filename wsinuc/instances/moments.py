"""Per-label pixel sums of a compact label image, all labels at once (pure).

Every function takes the flat indices of the foreground pixels and their
compact labels, and returns per-label arrays of length ``k + 1`` (index 0
is background and unused), built with :func:`numpy.bincount`: no loop
over objects.
"""

from __future__ import annotations

import math

import numpy as np

# skimage.measure.perimeter(neighborhood=4) weights of the code
# 1 (centre) + 2 * (4-neighbours on the border) + 10 * (diagonal ones)
_PERIMETER_WEIGHTS = np.zeros(50, dtype=np.float64)
_PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1
_PERIMETER_WEIGHTS[[21, 33]] = math.sqrt(2)
_PERIMETER_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2

# -log(max(v / 255, 1e-6)) / -log(1e-6) for every uint8 value (skimage.color.separate_stains)
_LOG_RGB = np.log(np.maximum(np.arange(256) / 255.0, 1e-6)) / np.log(1e-6)


def row_runs(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of equal non-zero labels of a zero-padded label image.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
        ``label`` (intp), ``row``, ``first`` and ``last`` column (inclusive)
        of each run, in the unpadded frame.
    """
    flat = padded.ravel()
    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    ends = np.append(starts[1:], flat.size)
    label = flat[starts]
    keep = label != 0
    starts, ends = starts[keep], ends[keep]
    row, first = np.divmod(starts, padded.shape[1])
    return label[keep].astype(np.intp), row - 1, first - 1, first - 2 + (ends - starts)


def shape_moments(runs: tuple[np.ndarray, ...], size: int) -> dict[str, np.ndarray]:
    """Pixel count, centroid and inertia tensor per label (skimage conventions).

    Sums over each row run are taken in closed form; second moments are
    summed around each label's rounded-down centroid in integer-valued
    float64, so ``n**2 * variance`` is exact for objects under ~10**5
    pixels and ties such as ``a == c`` are detected exactly.

    Returns
    -------
    dict[str, np.ndarray]
        ``count``, ``row``, ``col`` (centroid, pixel centres at integer
        positions), and ``a``, ``b``, ``c``: the inertia tensor
        ``[[a, b], [b, c]]`` of :func:`skimage.measure.inertia_tensor`
        (``a`` = column variance, ``c`` = row variance, ``b`` = minus the
        covariance), plus ``a_minus_c_numerator`` for the exact tie test.
    """
    label, row, first, last = runs
    length = (last - first + 1).astype(np.float64)
    col_sum = length * (first + last) / 2
    count = np.bincount(label, length, size)
    safe = np.maximum(count, 1.0)
    base_row = np.floor(np.bincount(label, row * length, size) / safe)
    base_col = np.floor(np.bincount(label, col_sum, size) / safe)
    dr = row - base_row[label]
    a, b = first - base_col[label], last - base_col[label]
    dc = length * (a + b) / 2
    dc2 = (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) / 6
    sum_r, sum_c = np.bincount(label, dr * length, size), np.bincount(label, dc, size)
    num_rr = count * np.bincount(label, dr * dr * length, size) - sum_r * sum_r
    num_cc = count * np.bincount(label, dc2, size) - sum_c * sum_c
    num_rc = count * np.bincount(label, dr * dc, size) - sum_r * sum_c
    square = safe * safe
    return {
        "count": count,
        "row": base_row + sum_r / safe,
        "col": base_col + sum_c / safe,
        "a": num_cc / square,
        "b": -num_rc / square,
        "c": num_rr / square,
        "a_minus_c_numerator": num_cc - num_rr,
    }


def ellipse_features(moments: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Axis lengths, eccentricity and orientation exactly as skimage's regionprops."""
    a, b, c = moments["a"], moments["b"], moments["c"]
    half_sum = (a + c) / 2
    radius = np.sqrt(((a - c) / 2) ** 2 + b * b)
    major = np.maximum(half_sum + radius, 0.0)
    minor = np.clip(half_sum - radius, 0.0, major)
    with np.errstate(divide="ignore", invalid="ignore"):
        eccentricity = np.where(major == 0, 0.0, np.sqrt(np.clip(1 - minor / major, 0.0, 1.0)))
    tied = moments["a_minus_c_numerator"] == 0
    orientation = np.where(
        tied, np.where(b < 0, math.pi / 4, -math.pi / 4), 0.5 * np.arctan2(-2 * b, c - a)
    )
    return {
        "major": 4 * np.sqrt(major),
        "minor": 4 * np.sqrt(minor),
        "eccentricity": eccentricity,
        "orientation": orientation,
    }


def boundary_perimeter(scratch: np.ndarray, where: np.ndarray, label: np.ndarray, size: int) -> np.ndarray:
    """skimage's 4-connectivity boundary-pixel perimeter of every label.

    ``scratch`` is the compact label image with a 1-pixel zero border; it
    is **overwritten** (non-border pixels set to 0), which saves a
    full-size allocation. ``where`` are the flat indices of its object
    pixels and ``label`` their labels. A border pixel is an object pixel
    with a 4-neighbour of another value; each is coded by the same-label
    border pixels around it, as :func:`skimage.measure.perimeter` does, and
    the per-label histogram of codes is multiplied by the same weights.
    """
    width = scratch.shape[1]
    flat = scratch.reshape(-1)
    label = label.astype(scratch.dtype, copy=False)
    border = np.zeros(where.size, dtype=bool)
    probe, value, differs = np.empty_like(where), np.empty_like(label), np.empty(where.size, dtype=bool)
    for shift in (1, -1, width, -width):
        np.take(flat, np.add(where, shift, out=probe), out=value)
        border |= np.not_equal(value, label, out=differs)
    flat[where] = np.multiply(label, border, out=value)  # keep border pixels only
    where, label = where[border], label[border]
    code = np.ones(where.size, dtype=np.int64)
    probe, value, same = np.empty_like(where), np.empty_like(label), np.empty(where.size, dtype=bool)
    for shift, weight in ((1, 2), (-1, 2), (width, 2), (-width, 2),
                          (width + 1, 10), (width - 1, 10), (1 - width, 10), (-1 - width, 10)):
        np.take(flat, np.add(where, shift, out=probe), out=value)
        code += weight * np.equal(value, label, out=same)
    histogram = np.bincount(label.astype(np.int64) * 50 + code, minlength=size * 50).reshape(size, 50)
    return histogram @ _PERIMETER_WEIGHTS


def colour_means(
    runs: tuple[np.ndarray, ...], channels: tuple[np.ndarray, ...], stain_matrix: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """Mean stain densities and mean R, G, B per label, ``(count.size, 2 + 3)``.

    ``runs`` are :func:`row_runs` of the labels and ``channels`` the uint8
    R, G, B values of the object pixels in raster order, so each run is a
    contiguous slice of them: values are summed per run
    (:func:`numpy.add.reduceat`), then per label. ``count`` is the number
    of pixels of each label; ``stain_matrix`` ``(3, 2)`` maps skimage's
    scaled ``-log`` RGB to the two stains (each clipped at 0 per pixel, as
    skimage does), through per-channel lookup tables of ``-log(v) * matrix``.
    """
    label, _, first, last = runs
    size = count.size
    if label.size == 0:
        return np.zeros((size, stain_matrix.shape[1] + len(channels)))
    length = last - first + 1
    offsets = np.cumsum(length) - length
    density, term = np.empty(channels[0].size), np.empty(channels[0].size)
    columns = []
    for stain in range(stain_matrix.shape[1]):
        tables = _LOG_RGB[None, :] * stain_matrix[:, stain, None]
        np.take(tables[0], channels[0], out=density)
        density += np.take(tables[1], channels[1], out=term)
        density += np.take(tables[2], channels[2], out=term)
        per_run = np.add.reduceat(np.maximum(density, 0.0, out=density), offsets)
        columns.append(np.bincount(label, per_run, size))
    columns += [np.bincount(label, np.add.reduceat(channel, offsets, dtype=np.float64), size) for channel in channels]
    return np.stack(columns, axis=1) / np.maximum(count, 1)[:, None]
