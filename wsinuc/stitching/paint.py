"""Paint a label-image block from the masks each owner traced (pure).

Every nucleus is kept by exactly one chunk (:mod:`wsinuc.stitching.ownership`),
which stores the nucleus' mask on its own valid block. A block of the label
image is painted from the owners whose valid blocks reach it: the chunk of
the block itself first, then its eight neighbours in row-major order. A pixel
claimed twice (two chunks segmented a seam differently) keeps its first
painter, so the label image and the polygons always agree on which pixels
belong to which nucleus and no unknown id appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from wsinuc.tiling.plan import Box


class OwnerMasks(NamedTuple):
    """One owner's nuclei on its valid block.

    Attributes
    ----------
    valid_box : Box
        Where ``labels`` lies, in level-0 pixels.
    global_ids : np.ndarray
        ``uint32`` id of local label ``i`` at position ``i`` (``global_ids[0] == 0``).
    labels : np.ndarray
        Local labels ``0..k`` of the owned nuclei, shape ``valid_box.shape``.
    """

    valid_box: Box
    global_ids: np.ndarray
    labels: np.ndarray


def paint_block(
    box: Box, owners: Iterable[OwnerMasks], dtype: type = np.uint32, out: np.ndarray | None = None
) -> np.ndarray:
    """The labels of ``box``, painted by ``owners`` in order (first painter wins).

    The first owner reaching ``box`` paints its whole overlap with one
    ``np.take`` (zeros included); later ones only fill pixels still 0 where
    their own labels are non-zero.

    Parameters
    ----------
    box : Box
        The block of the label image, in level-0 pixels.
    owners : iterable of OwnerMasks
        The chunks whose owned nuclei may reach ``box``, in priority order.
        Every local label must be a valid index of its ``global_ids``
        (``0..len(global_ids) - 1``; not checked here, for speed).
    dtype : numpy dtype, optional
        Of the result; wide enough for every global id.
    out : np.ndarray, optional
        A C-contiguous array of ``box.shape`` and ``dtype`` to paint into
        (its content is overwritten; reusing one spares the page faults of a
        fresh allocation per block).

    Returns
    -------
    np.ndarray
        Array of ``box.shape`` (``out`` if given); 0 where no owner paints.
    """
    if out is None:
        block = np.zeros(box.shape, dtype=dtype)
    elif out.shape != box.shape or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {np.dtype(dtype)} {box.shape}, got {out.dtype} {out.shape}")
    else:
        block = out
    first = True
    for owner in owners:
        window = _overlap(box, owner.valid_box)
        if window is None:
            continue
        (ty, tx), (sy, sx) = window
        local, target = owner.labels[sy, sx], block[ty, tx]
        ids = np.asarray(owner.global_ids).astype(dtype, copy=False)
        if first:  # outside its window the block is 0; inside, every pixel takes this owner's ids
            if out is not None and target.shape != block.shape:
                block.fill(0)
            np.take(ids, local, out=target, mode="wrap")
            first = False
            continue
        claimed = local != 0
        if claimed.any():
            free = claimed & (target == 0)
            target[free] = ids[local[free]]
    if first and out is not None:
        block.fill(0)
    return block


def _overlap(box: Box, valid: Box) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Slices of ``box``'s block and of the owner's labels where they overlap, or None."""
    y0, x0 = max(box.y0, valid.y0), max(box.x0, valid.x0)
    y1, x1 = min(box.y1, valid.y1), min(box.x1, valid.x1)
    if y0 >= y1 or x0 >= x1:
        return None
    target = (slice(y0 - box.y0, y1 - box.y0), slice(x0 - box.x0, x1 - box.x0))
    return target, (slice(y0 - valid.y0, y1 - valid.y0), slice(x0 - valid.x0, x1 - valid.x0))
