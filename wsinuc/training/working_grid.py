"""Training images and instance masks on the model's working grid (e.g. 0.5 um/px).

MoNuSeg and TNBC are scanned at 40x (about 0.25 um/px). A model that works at
0.5 um/px must learn from the same pixels it will see at inference, so each
training image is resampled once, before patches and targets are made:

* the RGB image by **area averaging** (each working pixel is the mean of the
  source pixels it covers: exact block means for integer factors such as 2);
* the instance mask by the **mode** of the labels a working pixel covers
  (integer factors), or by nearest sampling otherwise, so every working pixel
  keeps one label and instance ids are preserved;

and the boundary / interior targets and border weights are then computed on
the resampled instances (:mod:`wsinuc.training.data`), i.e. on the working
grid. Everything here is pure numpy.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

#: Relative tolerance within which a source and a working pixel size count as equal.
MPP_TOLERANCE = 0.02


def scale_factor(source_mpp: float, working_mpp: float) -> float:
    """Source pixels per working pixel (2.0 for 0.25 -> 0.5 um/px); 1.0 within :data:`MPP_TOLERANCE`."""
    if not (source_mpp > 0 and working_mpp > 0):
        raise ValueError(f"pixel sizes must be > 0, got {source_mpp!r} and {working_mpp!r}")
    factor = working_mpp / source_mpp
    return 1.0 if abs(factor - 1.0) <= MPP_TOLERANCE else factor


def _integer(factor: float) -> int | None:
    rounded = round(factor)
    return int(rounded) if rounded >= 1 and abs(factor - rounded) < 1e-6 else None


def _working_shape(shape: tuple[int, ...], factor: float) -> tuple[int, int]:
    return max(1, int(round(shape[0] / factor))), max(1, int(round(shape[1] / factor)))


def downsample_image(image: np.ndarray, factor: float) -> np.ndarray:
    """Area-average an (H, W, C) uint8 image by ``factor`` (>= 1).

    Integer factors average exact ``factor x factor`` blocks (a ragged last row or
    column of blocks is cropped away); others weight each source pixel by the
    area it shares with the working pixel (separable overlap matrices).
    """
    if image.ndim != 3 or image.dtype != np.uint8 or factor < 1:
        raise ValueError(f"expected a uint8 (H, W, C) image and factor >= 1, got {image.dtype} {image.shape}, {factor}")
    whole = _integer(factor)
    if whole == 1:
        return image.copy()
    if whole is not None:
        h, w = image.shape[0] // whole, image.shape[1] // whole
        blocks = image[: h * whole, : w * whole].reshape(h, whole, w, whole, -1)
        return np.round(blocks.mean(axis=(1, 3), dtype=np.float64)).astype(np.uint8)
    height, width = _working_shape(image.shape, factor)
    rows, cols = _area_matrix(image.shape[0], height), _area_matrix(image.shape[1], width)
    averaged = np.einsum("ih,hwc->iwc", rows, image.astype(np.float64), optimize=True)
    averaged = np.einsum("iwc,jw->ijc", averaged, cols, optimize=True)
    return np.clip(np.round(averaged), 0, 255).astype(np.uint8)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: the share of output pixel i covered by input pixel j (rows sum to 1)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def downsample_labels(labels: np.ndarray, factor: float) -> np.ndarray:
    """Resample an (H, W) integer label map by ``factor`` (>= 1) without inventing labels.

    Integer factors take the most frequent label of each block (ties go to the
    first in row-major order within the block); others sample the nearest pixel.
    The output has the shape :func:`downsample_image` gives.
    """
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or factor < 1:
        raise ValueError(f"expected an integer (H, W) label map and factor >= 1, got {labels.dtype} {labels.shape}, {factor}")
    whole = _integer(factor)
    if whole == 1:
        return labels.copy()
    if whole is None:
        height, width = _working_shape(labels.shape, factor)
        rows = np.minimum(((np.arange(height) + 0.5) * factor).astype(int), labels.shape[0] - 1)
        cols = np.minimum(((np.arange(width) + 0.5) * factor).astype(int), labels.shape[1] - 1)
        return labels[np.ix_(rows, cols)]
    h, w = labels.shape[0] // whole, labels.shape[1] // whole
    blocks = labels[: h * whole, : w * whole].reshape(h, whole, w, whole).transpose(0, 2, 1, 3)
    candidates = blocks.reshape(h, w, whole * whole)
    counts = (candidates[..., :, None] == candidates[..., None, :]).sum(axis=-1)
    first_best = counts.argmax(axis=-1)
    return np.take_along_axis(candidates, first_best[..., None], axis=-1)[..., 0]


def to_working_grid(sample, source_mpp: float, working_mpp: float):
    """``sample`` (``image_id``, ``image``, ``instances``) resampled to ``working_mpp``.

    Returns the sample itself when the pixel sizes agree within
    :data:`MPP_TOLERANCE`; otherwise a new object with the same ``image_id``
    and the resampled ``image`` and ``instances`` (other attributes dropped).
    Upsampling (``working_mpp < source_mpp``) is refused: it adds no information.
    """
    factor = scale_factor(source_mpp, working_mpp)
    if factor == 1.0:
        return sample
    if factor < 1:
        raise ValueError(
            f"{sample.image_id}: working pixel size {working_mpp} um/px is finer than the "
            f"source's {source_mpp} um/px; training data is only downsampled"
        )
    return SimpleNamespace(
        image_id=sample.image_id,
        image=downsample_image(sample.image, factor),
        instances=downsample_labels(sample.instances, factor),
    )
