"""Keep only the tiles a run needs: those on tissue, and their part of a region (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from wsinuc.tiling.plan import Box, Tile


def select_tiles(plan: Iterable[Tile], tissue_mask: np.ndarray, mask_downsample: float) -> list[Tile]:
    """Return the tiles of ``plan`` whose core overlaps the tissue mask.

    Parameters
    ----------
    plan : TilePlan or iterable of Tile
        Tiles at the working resolution.
    tissue_mask : np.ndarray
        2-D boolean (or 0/1) mask at a lower resolution; True is tissue.
    mask_downsample : float
        Working-resolution pixels per mask pixel (e.g. 32.0 when the mask is
        32 times smaller than the working image). Mask pixel ``(i, j)``
        covers working pixels ``[i * d, (i + 1) * d) x [j * d, (j + 1) * d)``.

    Returns
    -------
    list[Tile]
        The selected tiles, in plan (row-major) order. A core partly
        outside the mask extent is judged on its part inside the mask.

    Raises
    ------
    ValueError
        If the mask is not 2-D or ``mask_downsample`` is not a positive
        finite number.
    """
    _validate_select_args(tissue_mask, mask_downsample)
    mask = np.asarray(tissue_mask).astype(bool, copy=False)
    return [tile for tile in plan if _core_touches(mask, tile.core_box, float(mask_downsample))]


def crop_to_region(plan: Iterable[Tile], region: Box, stride_multiple: int = 1) -> list[Tile]:
    """The tiles whose core meets ``region``, with cores cut down to the region.

    Each kept tile's core becomes ``core & region``; its read box is that core
    grown by the tile's halo (and at the bottom/right to a multiple of
    ``stride_multiple``), clipped to the image for the valid box. Cores still
    partition the region, so "the tile whose core holds the anchor owns the
    object" keeps exactly the objects anchored inside the region, each seen
    whole as long as it is no wider than the halo. Tile indices are kept, so
    the tiles still name their cell of the full grid.

    Parameters
    ----------
    plan : TilePlan or iterable of Tile
        The full grid.
    region : Box
        Part of the image to keep, ``(y0, x0, y1, x1)``; clipped to the image.
    stride_multiple : int, optional
        Read boxes are grown to a multiple of it.

    Returns
    -------
    list[Tile]
        The cropped tiles in plan order (empty if the region misses the image).
    """
    if not (isinstance(stride_multiple, int) and stride_multiple > 0):
        raise ValueError(f"stride_multiple must be a positive integer, got {stride_multiple!r}")
    kept = []
    for tile in plan:
        region_in_image = region.clip(tile.image_shape)
        core = Box(max(tile.core_box.y0, region_in_image.y0), max(tile.core_box.x0, region_in_image.x0),
                   min(tile.core_box.y1, region_in_image.y1), min(tile.core_box.x1, region_in_image.x1))
        if core.y0 >= core.y1 or core.x0 >= core.x1:
            continue
        halo = tile.halo
        height = math.ceil((core.shape[0] + 2 * halo) / stride_multiple) * stride_multiple
        width = math.ceil((core.shape[1] + 2 * halo) / stride_multiple) * stride_multiple
        read = Box(core.y0 - halo, core.x0 - halo, core.y0 - halo + height, core.x0 - halo + width)
        kept.append(Tile(index=tile.index, read_box=read, valid_box=read.clip(tile.image_shape),
                         core_box=core, image_shape=tile.image_shape))
    return kept


def _core_touches(mask: np.ndarray, core: Box, downsample: float) -> bool:
    rows = slice(math.floor(core.y0 / downsample), math.ceil(core.y1 / downsample))
    cols = slice(math.floor(core.x0 / downsample), math.ceil(core.x1 / downsample))
    return bool(mask[rows, cols].any())


def _validate_select_args(tissue_mask: object, mask_downsample: object) -> None:
    if np.ndim(tissue_mask) != 2:
        raise ValueError(
            f"tissue_mask must be a 2-D array, got shape {np.shape(tissue_mask)!r}"
        )
    if not (
        isinstance(mask_downsample, int | float | np.integer | np.floating)
        and math.isfinite(mask_downsample)
        and mask_downsample > 0
    ):
        raise ValueError(f"mask_downsample must be a positive number, got {mask_downsample!r}")
