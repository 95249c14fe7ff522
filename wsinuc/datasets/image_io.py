"""Reading dataset images and label maps from disk (I/O only, no processing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from wsinuc.errors import DatasetError

_TIFF_SUFFIXES = (".tif", ".tiff")


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an RGB image as uint8 ``(H, W, 3)``; alpha is dropped, grey is repeated.

    Raises
    ------
    DatasetError
        The file is missing, unreadable, or not an 8-bit image.
    """
    path = Path(path)
    pixels = _read_array(path)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise DatasetError(
            path, f"expected an 8-bit RGB image, got {pixels.dtype} array of shape {pixels.shape}"
        )
    return np.ascontiguousarray(pixels[:, :, :3])


def read_label_map(path: str | Path) -> np.ndarray:
    """Read an instance label map (e.g. a uint16 PNG) as int32 ``(H, W)``.

    Raises
    ------
    DatasetError
        The file is missing, unreadable, not single-channel or not integer.
    """
    path = Path(path)
    labels = _read_array(path)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(
            path, f"expected a single-channel integer label map, got {labels.dtype} {labels.shape}"
        )
    if labels.dtype.itemsize >= 4 and labels.max(initial=0) > np.iinfo(np.int32).max:
        raise DatasetError(path, "label ids exceed the int32 range")
    return labels.astype(np.int32)


def _read_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(path, "file not found")
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            return np.asarray(tifffile.imread(path))
        with Image.open(path) as image:
            return np.asarray(image)
    except (OSError, ValueError, RuntimeError, UnidentifiedImageError) as exc:
        raise DatasetError(path, f"cannot read image ({type(exc).__name__}: {exc})") from exc
