"""One owner per nucleus: decide, per tile, which objects it keeps (pure).

Rule
----
Every object has an **anchor**: its first pixel in raster order (smallest
row, then smallest column), in global working-resolution coordinates. The
anchor is a pixel of the object, so two objects never share one, and it
does not depend on where the tile boundaries fall. The tile whose core
holds the anchor **owns** the object; cores partition the image, so each
object has exactly one owner. Each object's id is its **key**,
``anchor_y * image_width + anchor_x + 1`` (int64), the same in every tile
that sees it.

Seams
-----
A tile sees every object that reaches its core *complete* as long as the
halo exceeds the object's extent (plus the model's receptive-field radius,
which the code cannot check). An object that touches an edge of the tile's
valid block that is not an image border is **cut**; if a cut object also
reaches the core, the halo was too small and :func:`own_objects` raises a
``ValueError`` naming ``halo`` (like stardist's ``filter_objects``).

Label image
-----------
Each owner keeps the full masks of its objects on its valid block; the
label image is painted from them (:mod:`wsinuc.stitching.paint`), so the
masks and the polygons of a nucleus always come from the same chunk.
:mod:`wsinuc.stitching.relabel` turns keys into sequential ids.

Blocks
------
Functions here take labels computed on the tile's **valid block**
(``prob[tile.valid_crop]`` post-processed), not on the padded read block,
so that pixels outside the image never form objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wsinuc.tiling.plan import Box, Tile

LOGGER = logging.getLogger(__name__)

ON_CUT_CHOICES = ("raise", "drop")


@dataclass(frozen=True, eq=False)
class OwnedObjects:
    """The objects one tile keeps, plus what it writes to the label image.

    Attributes
    ----------
    labels : np.ndarray
        ``int32``, shape of the tile's valid block: owned objects with their
        full masks (also where they extend beyond the core), numbered
        ``1..k`` in increasing key order; 0 elsewhere.
    keys : np.ndarray
        ``int64`` key of object ``i + 1`` at position ``i``, shape ``(k,)``.
    bboxes : np.ndarray
        ``int64`` ``(k, 4)`` global ``(y0, x0, y1, x1)`` of each owned object.
    """

    labels: np.ndarray
    keys: np.ndarray
    bboxes: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.size)


def anchor_keys(anchors: np.ndarray, image_width: int) -> np.ndarray:
    """Keys ``y * image_width + x + 1`` (int64) of ``(n, 2)`` global ``(y, x)`` anchors."""
    anchors = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)
    return anchors[:, 0] * np.int64(image_width) + anchors[:, 1] + 1


def key_anchors(keys: np.ndarray, image_width: int) -> np.ndarray:
    """Inverse of :func:`anchor_keys`: ``(n, 2)`` global ``(y, x)`` anchors."""
    rows, cols = np.divmod(np.asarray(keys, dtype=np.int64) - 1, np.int64(image_width))
    return np.stack([rows, cols], axis=1)


def own_objects(labels: np.ndarray, tile: Tile, *, on_cut: str = "raise") -> OwnedObjects:
    """Keep the objects whose anchor lies in ``tile``'s core.

    Parameters
    ----------
    labels : np.ndarray
        Non-negative integer labels of the tile's valid block
        (shape ``tile.valid_box.shape``); any ids, each id one object.
    tile : Tile
        The tile the labels were predicted on.
    on_cut : {"raise", "drop"}, optional
        What to do with an object cut by an inner edge of the block that
        also reaches the core (the halo was too small): ``"raise"`` a
        ``ValueError``, or ``"drop"`` it here with a logged warning (the
        label image then has a hole where it was cut).

    Returns
    -------
    OwnedObjects
        Owned objects relabelled ``1..k``, their keys and global boxes.

    Raises
    ------
    ValueError
        If ``labels`` has the wrong shape, dtype or negative values, or an
        object is cut and reaches the core with ``on_cut="raise"``.
    """
    _validate_block(labels, tile)
    if on_cut not in ON_CUT_CHOICES:
        raise ValueError(f"on_cut must be one of {ON_CUT_CHOICES}, got {on_cut!r}")
    sequential, count = _sequential_labels(np.asarray(labels))
    anchors, bboxes = _object_geometry(sequential, count, tile.valid_box)
    reaches_core = _boxes_intersect(bboxes, tile.core_box)
    broken = _is_cut(bboxes, tile) & reaches_core
    if broken.any():
        _handle_broken(bboxes[broken], tile, on_cut)
    owned = _points_inside(anchors, tile.core_box) & ~broken
    keys = anchor_keys(anchors, tile.image_shape[1])
    owned_index = np.flatnonzero(owned)
    owned_index = owned_index[np.argsort(keys[owned_index], kind="stable")]
    new_id = np.zeros(count + 1, dtype=np.int32)
    new_id[owned_index + 1] = np.arange(1, owned_index.size + 1, dtype=np.int32)
    return OwnedObjects(
        labels=new_id[sequential],
        keys=keys[owned_index],
        bboxes=bboxes[owned_index],
    )


def _sequential_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels ``1..count`` without gaps (engine labels already are: then no copy is made)."""
    largest = int(labels.max(initial=0))
    present = np.zeros(largest + 1, dtype=bool)
    present[labels.ravel()] = True
    present[0] = False
    count = int(present.sum())
    if count == largest:
        return labels, count
    new_id = np.zeros(largest + 1, dtype=np.int64)
    new_id[present] = np.arange(1, count + 1)
    return new_id[labels], count


def _object_geometry(
    sequential: np.ndarray, count: int, origin: Box
) -> tuple[np.ndarray, np.ndarray]:
    """Global ``(y, x)`` anchors and ``(y0, x0, y1, x1)`` boxes of labels ``1..count``.

    The anchor is the first pixel in raster order: on the top row of the
    object's box, the leftmost pixel of the object. All objects are
    handled at once by gathering their top rows into one ``(count, width)``
    array.
    """
    if count == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros((0, 4), dtype=np.int64)
    slices = ndimage.find_objects(sequential, max_label=count)
    bboxes = np.array([[rs.start, cs.start, rs.stop, cs.stop] for rs, cs in slices], dtype=np.int64)
    widest = int((bboxes[:, 3] - bboxes[:, 1]).max())
    cols = bboxes[:, 1:2] + np.arange(widest)
    inside = cols < bboxes[:, 3:4]
    top_rows = sequential[bboxes[:, 0:1], np.minimum(cols, sequential.shape[1] - 1)]
    hits = inside & (top_rows == np.arange(1, count + 1)[:, None])
    anchor_cols = bboxes[:, 1] + np.argmax(hits, axis=1)
    anchors = np.stack([bboxes[:, 0] + origin.y0, anchor_cols + origin.x0], axis=1).astype(np.int64)
    bboxes += np.array([origin.y0, origin.x0, origin.y0, origin.x0], dtype=np.int64)
    return anchors, bboxes


def _is_cut(bboxes: np.ndarray, tile: Tile) -> np.ndarray:
    """Objects touching an edge of the valid block that is not an image border."""
    valid, (height, width) = tile.valid_box, tile.image_shape
    return (
        ((bboxes[:, 0] == valid.y0) & (valid.y0 > 0))
        | ((bboxes[:, 1] == valid.x0) & (valid.x0 > 0))
        | ((bboxes[:, 2] == valid.y1) & (valid.y1 < height))
        | ((bboxes[:, 3] == valid.x1) & (valid.x1 < width))
    )


def _boxes_intersect(bboxes: np.ndarray, box: Box) -> np.ndarray:
    return (
        (bboxes[:, 0] < box.y1)
        & (bboxes[:, 2] > box.y0)
        & (bboxes[:, 1] < box.x1)
        & (bboxes[:, 3] > box.x0)
    )


def _points_inside(points: np.ndarray, box: Box) -> np.ndarray:
    return (
        (points[:, 0] >= box.y0)
        & (points[:, 0] < box.y1)
        & (points[:, 1] >= box.x0)
        & (points[:, 1] < box.x1)
    )


def _handle_broken(broken_boxes: np.ndarray, tile: Tile, on_cut: str) -> None:
    first = tuple(int(v) for v in broken_boxes[0])
    extent = int(max(first[2] - first[0], first[3] - first[1]))
    message = (
        f"tile {tile.index}: {len(broken_boxes)} object(s) reach the core but are cut by the "
        f"tile's read border, e.g. global box (y0, x0, y1, x1)={first} (>= {extent} px wide); "
        f"halo={tile.halo} is too small: raise halo above the largest nucleus diameter "
        f"plus the model's receptive-field radius"
    )
    if on_cut == "raise":
        raise ValueError(message)
    LOGGER.warning("%s; dropping them here", message)


def _validate_block(labels: object, tile: Tile) -> None:
    array = np.asarray(labels)
    expected = tile.valid_box.shape
    if array.shape != expected:
        hint = (
            "; crop read-shaped arrays with tile.valid_crop first"
            if array.shape == tile.read_shape
            else ""
        )
        raise ValueError(
            f"labels must have the tile's valid shape {expected}, got {array.shape}{hint}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must have an integer dtype, got {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"labels must be >= 0, got minimum {array.min()}")
