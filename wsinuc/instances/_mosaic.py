"""Pack many small crops into one canvas so that one filter call serves them all (private).

A label image of a dense chunk holds hundreds of small objects on a mostly
empty background. Filters whose cost grows with the number of pixels
(distance transform, grey reconstruction, watershed) run much faster on a
*mosaic*: every object's bounding box, with a one-pixel background ring, is
copied into a compact canvas of shelves, the filter runs once on the canvas,
and the values are read back at each object pixel. Objects never touch in the
canvas (their rings keep them two pixels apart), so any filter whose result
at an object pixel depends only on that object and the background is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SHELF_WIDTH = 1024


@dataclass(frozen=True)
class Mosaic:
    """Where each object pixel lies in a packed canvas.

    Attributes
    ----------
    shape : tuple of int
        Canvas shape.
    index : np.ndarray
        Flat canvas index of each listed pixel (int64, ``(m,)``).
    """

    shape: tuple[int, int]
    index: np.ndarray

    def scatter(self, values: np.ndarray, fill: float | int | bool = 0) -> np.ndarray:
        """Canvas filled with ``fill`` and ``values`` (one per listed pixel) at their places."""
        values = np.asarray(values)
        canvas = np.full(self.shape[0] * self.shape[1], fill, dtype=values.dtype)
        canvas[self.index] = values
        return canvas.reshape(self.shape)

    def gather(self, canvas: np.ndarray) -> np.ndarray:
        """Values of ``canvas`` at the listed pixels."""
        return canvas.reshape(-1)[self.index]


def object_boxes(labels: np.ndarray, count: int) -> np.ndarray:
    """Bounding boxes ``(count, 4)`` int64 rows ``r0, r1, c0, c1`` (stops exclusive) of ids ``1..count``."""
    boxes = np.zeros((count, 4), dtype=np.int64)
    found = ndimage.find_objects(labels, max_label=count)
    present = np.fromiter((box is not None for box in found), dtype=bool, count=count)
    starts = np.array([(box[0].start, box[0].stop, box[1].start, box[1].stop)
                       for box in found if box is not None], dtype=np.int64)
    if starts.size:
        boxes[present] = starts
    return boxes


def pack_boxes(boxes: np.ndarray, shelf_width: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Top-left canvas corners ``(n, 2)`` of boxes ``(n, 4)`` packed in shelves, and the canvas shape.

    Boxes are sorted by height (tallest first) and laid left to right on
    shelves about ``shelf_width`` wide (default: the side of a square of the
    boxes' total area, at most :data:`SHELF_WIDTH`); a shelf is as tall as
    its first box.
    """
    heights = boxes[:, 1] - boxes[:, 0]
    widths = boxes[:, 3] - boxes[:, 2]
    if heights.size == 0:
        return np.zeros((0, 2), dtype=np.int64), (1, 1)
    if shelf_width is None:
        shelf_width = min(SHELF_WIDTH, int(np.sqrt(float((heights * widths).sum()))) + 1)
    order = np.argsort(-heights, kind="stable")
    ends = np.cumsum(widths[order])
    starts = ends - widths[order]
    shelf = starts // shelf_width
    first = np.flatnonzero(np.r_[True, shelf[1:] != shelf[:-1]])
    shelf_heights = heights[order][first]
    shelf_tops = np.cumsum(shelf_heights) - shelf_heights
    shelf_number = np.cumsum(np.r_[True, shelf[1:] != shelf[:-1]]) - 1
    corners = np.empty((heights.size, 2), dtype=np.int64)
    corners[order, 0] = shelf_tops[shelf_number]
    corners[order, 1] = starts - shelf[first][shelf_number] * shelf_width
    shape = (int(shelf_heights.sum()), int((corners[:, 1] + widths).max()))
    return corners, shape


def build_mosaic(
    rows: np.ndarray, cols: np.ndarray, ids: np.ndarray, boxes: np.ndarray
) -> Mosaic:
    """Mosaic of pixels ``(rows, cols)`` of objects ``ids`` (1-based) with boxes ``(n, 4)``.

    ``boxes`` are the canvas windows of the objects in image coordinates
    (they may reach outside the image, e.g. for mirrored pixels); every
    listed pixel must lie inside its object's window.
    """
    corners, shape = pack_boxes(boxes)
    top = corners[:, 0] - boxes[:, 0]
    left = corners[:, 1] - boxes[:, 2]
    index = (rows + top[ids - 1]) * shape[1] + (cols + left[ids - 1])
    return Mosaic(shape, index)


def object_pixels(labels: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Rows, columns and ids (int64) of the pixels of ``labels > 0`` (of ids with ``keep[id]`` if given)."""
    flat = labels.reshape(-1)
    where = np.flatnonzero(flat)
    ids = flat[where].astype(np.int64)
    if keep is not None:
        chosen = keep[ids]
        where, ids = where[chosen], ids[chosen]
    rows, cols = np.divmod(where, labels.shape[1])
    return rows, cols, ids
