"""Quality-control overlay: nucleus outlines drawn on a slide thumbnail.

Outlines come either from a label image (any size; it is resampled to the
thumbnail by nearest neighbour, e.g. the coarsest level of
``labels.ome.zarr``) or from polygons in level-0 pixel coordinates scaled
down to the thumbnail. The drawing functions are pure (arrays in, array out);
:func:`save_image` (and :func:`save_png`) is the only one touching the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import shapely
from PIL import Image
from scipy import ndimage
from shapely.geometry import Polygon
from skimage.draw import polygon_perimeter

from wsinuc.writers.atomic import atomic_file

logger = logging.getLogger(__name__)

DEFAULT_OUTLINE_COLOR = (0, 255, 0)


def _validate_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"thumbnail must be (h, w, 3) uint8, got {image.dtype} {image.shape}")
    return image


def resize_nearest(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a 2-D array to ``shape`` by nearest neighbour (no new label values).

    An array that already has ``shape`` is returned as it is.

    >>> resize_nearest(np.array([[1, 2], [3, 4]]), (4, 4))[:, 0].tolist()
    [1, 1, 3, 3]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    if labels.shape == tuple(shape):
        return labels
    rows = (np.arange(shape[0]) * labels.shape[0]) // shape[0]
    cols = (np.arange(shape[1]) * labels.shape[1]) // shape[1]
    return labels[np.ix_(rows, cols)]


def inner_boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels of a nucleus with a 4-neighbour of another label (background included).

    The same mask as ``skimage.segmentation.find_boundaries(labels, mode="inner")``
    (pixels outside the image do not count as neighbours), from four array
    comparisons: about 10x faster on a megapixel label image.

    >>> inner_boundaries(np.array([[0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]])).astype(int).tolist()
    [[0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    mask = np.zeros(labels.shape, dtype=bool)
    rows = labels[1:] != labels[:-1]
    mask[1:] |= rows
    mask[:-1] |= rows
    cols = labels[:, 1:] != labels[:, :-1]
    mask[:, 1:] |= cols
    mask[:, :-1] |= cols
    return mask & (labels != 0)


def label_outline_mask(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return a boolean mask of nucleus borders of ``labels`` resampled to ``shape``."""
    return inner_boundaries(resize_nearest(labels, shape))


def polygon_outline_mask(
    polygons: Iterable[Polygon | np.ndarray], shape: tuple[int, int], scale: float
) -> np.ndarray:
    """Return a boolean mask of polygon outlines drawn at ``scale`` into ``shape``.

    Parameters
    ----------
    polygons : iterable of shapely.Polygon or (n, 2) ndarray
        Outlines in level-0 pixel coordinates (x, y).
    shape : tuple of int
        ``(height, width)`` of the mask.
    scale : float
        Thumbnail pixels per level-0 pixel (thumbnail width / slide width).
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    mask = np.zeros(shape, dtype=bool)
    for polygon in polygons:
        if isinstance(polygon, Polygon):
            xy = shapely.get_coordinates(polygon.exterior)
        else:
            xy = np.asarray(polygon, dtype=float)
        # Coordinates count from pixel corners; minus 0.5 makes rounding pick
        # the thumbnail pixel that contains the point.
        scaled = xy * scale - 0.5
        rows, cols = polygon_perimeter(scaled[:, 1], scaled[:, 0], shape=shape, clip=False)
        mask[rows, cols] = True
    return mask


def draw_overlay(
    thumbnail_rgb: np.ndarray,
    outlines: np.ndarray | Iterable[Polygon | np.ndarray],
    *,
    scale: float = 1.0,
    color: tuple[int, int, int] = DEFAULT_OUTLINE_COLOR,
    thickness: int = 1,
) -> np.ndarray:
    """Return a copy of the thumbnail with nucleus outlines drawn in ``color``.

    Parameters
    ----------
    thumbnail_rgb : ndarray
        ``(h, w, 3)`` uint8 slide thumbnail.
    outlines : array or iterable of polygons
        A 2-D integer label image (numpy or zarr, any size, resampled to the
        thumbnail; pass a coarse pyramid level), or a list of polygons
        (shapely or ``(n, 2)`` x, y arrays) in level-0 pixel coordinates.
    scale : float
        For polygons: thumbnail pixels per level-0 pixel. Ignored for labels.
    color : tuple of int
        Outline colour (r, g, b).
    thickness : int
        Outline width in thumbnail pixels.

    Returns
    -------
    ndarray
        ``(h, w, 3)`` uint8.
    """
    image = _validate_rgb(thumbnail_rgb)
    if thickness < 1:
        raise ValueError(f"thickness must be >= 1, got {thickness}")
    shape = image.shape[:2]
    if getattr(outlines, "ndim", None) == 2:
        labels = np.asarray(outlines)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"a 2-D outlines array must be an integer label image, got {labels.dtype}; "
                "pass polygons as a list"
            )
        mask = label_outline_mask(labels, shape)
    else:
        mask = polygon_outline_mask(outlines, shape, scale)
    if thickness > 1:
        mask = ndimage.binary_dilation(mask, iterations=thickness - 1)
    overlay = image.copy()
    overlay[mask] = np.asarray(color, dtype=np.uint8)
    return overlay


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB (or grey) uint8 image as PNG; the file appears only once complete.

    Returns
    -------
    Path
        The written path.
    """
    return save_image(path, image)


def save_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB (or grey) uint8 image as PNG or JPEG (by the suffix), atomically.

    JPEG (quality 90, no chroma subsampling, so thin coloured outlines stay
    sharp) suits a slide overlay: a photograph, which PNG's lossless
    compression barely shrinks (1.8 MB and 60 ms per megapixel of H&E at its
    fastest level, against about 0.4 MB and 5 ms).

    Returns
    -------
    Path
        The written path.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"image must be a 2-D or (h, w, 3) uint8 array, got {image.dtype} {image.shape}"
        )
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{path}: choose a .png, .jpg or .jpeg name")
    with atomic_file(path, "wb") as handle:
        if suffix == ".png":
            Image.fromarray(image).save(handle, format="PNG", compress_level=1)
        else:
            Image.fromarray(image).save(handle, format="JPEG", quality=90, subsampling=0)
    logger.info("wrote %s", path)
    return Path(path)
