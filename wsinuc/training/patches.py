"""Cut training images into square patches and put them back together.

The paper pads each 1000 x 1000 MoNuSeg training image to 1024 x 1024 and
cuts it into 16 non-overlapping 256 x 256 patches (a 512 x 512 TNBC image
gives 4). Padding is added at the bottom and the right only, so pixel
``(y, x)`` of the original image stays at ``(y, x)`` of the padded one and
cropping ``[:h, :w]`` undoes it.

Padding choice: images are padded by *reflection* (the network sees
plausible tissue instead of a hard edge) and instance maps with 0. The
reflected strip therefore shows nuclei that the label calls background, so
:func:`valid_mask` marks the padded pixels and the training loss ignores
them (see :mod:`wsinuc.training.data`).

All functions are pure: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

PAD_MODES = ("reflect", "constant")


def _validate_multiple(name: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _validate_image_like(array: np.ndarray) -> None:
    if array.ndim < 2:
        raise ValueError(f"expected an array of shape (H, W, ...), got shape {array.shape}")


def padded_shape(shape: tuple[int, ...], multiple: int) -> tuple[int, int]:
    """Height and width of ``shape`` rounded up to a multiple of ``multiple``.

    Parameters
    ----------
    shape : tuple of int
        Array shape; only the first two entries (H, W) are used.
    multiple : int
        Positive integer.

    Returns
    -------
    tuple of int
        ``(ceil(H / multiple) * multiple, ceil(W / multiple) * multiple)``.
    """
    _validate_multiple("multiple", multiple)
    height, width = shape[:2]
    return (-(-height // multiple) * multiple, -(-width // multiple) * multiple)


def pad_to_multiple(
    array: np.ndarray, multiple: int = 1024, *, mode: str = "reflect"
) -> np.ndarray:
    """Pad the first two axes at the bottom/right up to a multiple of ``multiple``.

    Parameters
    ----------
    array : np.ndarray
        Image ``(H, W, C)`` or label map ``(H, W)``.
    multiple : int
        Target multiple (1024 for MoNuSeg as in the paper, or the patch size).
    mode : {"reflect", "constant"}
        ``"reflect"`` mirrors the border pixels (for images); ``"constant"``
        pads with 0 (for instance maps, weight maps and masks).

    Returns
    -------
    np.ndarray
        Padded array of the same dtype; the input itself when no padding is needed.
    """
    _validate_image_like(array)
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    target_h, target_w = padded_shape(array.shape, multiple)
    pad_h, pad_w = target_h - array.shape[0], target_w - array.shape[1]
    if pad_h == 0 and pad_w == 0:
        return array
    if mode == "reflect" and (pad_h >= array.shape[0] or pad_w >= array.shape[1]):
        raise ValueError(
            f"reflect padding of {(pad_h, pad_w)} px needs an array larger than that, "
            f"got shape {array.shape}; use mode='constant'"
        )
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    if mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=0)
    return np.pad(array, widths, mode="reflect")


def valid_mask(shape: tuple[int, ...], multiple: int) -> np.ndarray:
    """Boolean map of the padded shape, True on the original pixels.

    Parameters
    ----------
    shape : tuple of int
        Shape of the unpadded array (only H, W are used).
    multiple : int
        The multiple passed to :func:`pad_to_multiple`.

    Returns
    -------
    np.ndarray
        bool ``(H', W')``; ``[:H, :W]`` is True and the padding False.
    """
    mask = np.zeros(padded_shape(shape, multiple), dtype=bool)
    mask[: shape[0], : shape[1]] = True
    return mask


def cut_patches(array: np.ndarray, size: int = 256) -> np.ndarray:
    """Cut an array into non-overlapping ``size`` x ``size`` patches, row by row.

    Parameters
    ----------
    array : np.ndarray
        ``(H, W, ...)`` with H and W multiples of ``size`` (pad first).
    size : int
        Patch side in pixels.

    Returns
    -------
    np.ndarray
        ``(n, size, size, ...)`` with ``n = (H / size) * (W / size)``; patch
        ``i`` covers rows ``(i // (W / size)) * size`` onwards and columns
        ``(i % (W / size)) * size`` onwards.
    """
    _validate_image_like(array)
    _validate_multiple("size", size)
    height, width = array.shape[:2]
    if height % size or width % size:
        raise ValueError(
            f"array of shape {array.shape} is not a multiple of size={size}; "
            "call pad_to_multiple first"
        )
    rows, cols = height // size, width // size
    rest = array.shape[2:]
    grid = array.reshape(rows, size, cols, size, *rest)
    grid = np.moveaxis(grid, 2, 1)
    return np.ascontiguousarray(grid.reshape(rows * cols, size, size, *rest))


def reassemble_patches(patches: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`cut_patches`: tile patches back into an (H, W, ...) array.

    Parameters
    ----------
    patches : np.ndarray
        ``(n, size, size, ...)`` in the row-by-row order of :func:`cut_patches`.
    shape : tuple of int
        ``(H, W)`` of the padded array the patches came from.

    Returns
    -------
    np.ndarray
        ``(H, W, ...)``.
    """
    if patches.ndim < 3 or patches.shape[1] != patches.shape[2]:
        raise ValueError(f"expected patches of shape (n, size, size, ...), got {patches.shape}")
    size = patches.shape[1]
    height, width = shape[:2]
    if height % size or width % size or (height // size) * (width // size) != len(patches):
        raise ValueError(
            f"{len(patches)} patches of size {size} cannot tile an array of shape {tuple(shape)}"
        )
    rows, cols = height // size, width // size
    rest = patches.shape[3:]
    grid = patches.reshape(rows, cols, size, size, *rest)
    grid = np.moveaxis(grid, 1, 2)
    return np.ascontiguousarray(grid.reshape(height, width, *rest))
