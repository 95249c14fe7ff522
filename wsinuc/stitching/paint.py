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


def paint_block(box: Box, owners: Iterable[OwnerMasks], dtype: type = np.uint32) -> np.ndarray:
    """The labels of ``box``, painted by ``owners`` in order (first painter wins).

    Parameters
    ----------
    box : Box
        The block of the label image, in level-0 pixels.
    owners : iterable of OwnerMasks
        The chunks whose owned nuclei may reach ``box``, in priority order.
    dtype : numpy dtype, optional
        Of the result; wide enough for every global id.

    Returns
    -------
    np.ndarray
        Array of ``box.shape``; 0 where no owner paints.
    """
    block = np.zeros(box.shape, dtype=dtype)
    for owner in owners:
        valid = owner.valid_box
        y0, x0 = max(box.y0, valid.y0), max(box.x0, valid.x0)
        y1, x1 = min(box.y1, valid.y1), min(box.x1, valid.x1)
        if y0 >= y1 or x0 >= x1:
            continue
        local = owner.labels[y0 - valid.y0 : y1 - valid.y0, x0 - valid.x0 : x1 - valid.x0]
        source = owner.global_ids[local]
        target = block[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0]
        free = target == 0
        target[free] = source[free]
    return block
