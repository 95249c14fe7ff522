"""Keep only the tiles whose core touches tissue (pure)."""

from __future__ import annotations

import math

import numpy as np

from wsinuc.tiling.plan import Box, Tile, TilePlan


def select_tiles(plan: TilePlan, tissue_mask: np.ndarray, mask_downsample: float) -> list[Tile]:
    """Return the tiles of ``plan`` whose core overlaps the tissue mask.

    Parameters
    ----------
    plan : TilePlan
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
