"""Cut an image into tiles with a halo: pure geometry, no I/O.

Conventions
-----------
* Coordinates are integer pixels at the *working resolution* (the
  resolution the model runs at), ordered ``(y, x)``; a box is
  ``(y0, x0, y1, x1)`` with exclusive ends, like Python slices.
* The image is partitioned into non-overlapping **cores** of
  ``tile_size x tile_size`` pixels (the last row / column of cores is
  smaller when the image size is not a multiple of ``tile_size``). Each core
  is the area its tile is responsible for; cores cover every pixel exactly
  once, so a rule "the tile whose core holds the nucleus' anchor pixel owns
  it" gives every nucleus exactly one owner.
* The **read box** is the core grown by ``halo`` on every side, then grown
  at the bottom and right so its height and width are a multiple of
  ``stride_multiple`` (what the network needs). Every tile has the *same*
  read shape, ``(read_size, read_size)``, so tiles batch without extra
  padding. Read boxes are stored **unclipped**: near the image border they
  extend outside the image, and the slide reader fills those pixels white
  (``Slide.read_region`` does). ``valid_box`` is the read box clipped to the
  image.

Slices on a :class:`Tile`:

* ``crop`` cuts the core out of a read-shaped block,
* ``valid_crop`` cuts the in-image part out of a read-shaped block,
* ``core_in_valid`` cuts the core out of a valid-shaped block,
* ``write`` places the core in a full-image output array.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Box(NamedTuple):
    """Axis-aligned integer box ``(y0, x0, y1, x1)``, ends exclusive."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the box."""
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def xywh(self) -> tuple[int, int, int, int]:
        """``(x0, y0, width, height)``, as slide reads and resampling take a box."""
        return self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices selecting the box in a full-image array."""
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    def relative_to(self, origin: Box) -> tuple[slice, slice]:
        """Slices selecting this box inside an array whose pixel (0, 0) is ``origin``'s corner."""
        return (
            slice(self.y0 - origin.y0, self.y1 - origin.y0),
            slice(self.x0 - origin.x0, self.x1 - origin.x0),
        )

    def clip(self, shape: tuple[int, int]) -> Box:
        """The part of the box inside an image of ``shape`` ``(height, width)``."""
        return Box(max(self.y0, 0), max(self.x0, 0), min(self.y1, shape[0]), min(self.x1, shape[1]))


@dataclass(frozen=True)
class Tile:
    """One tile of a :class:`TilePlan`.

    Attributes
    ----------
    index : tuple[int, int]
        ``(row, col)`` position of the tile in the plan's grid.
    read_box : Box
        Region the model sees, unclipped (may extend outside the image).
    valid_box : Box
        ``read_box`` clipped to the image.
    core_box : Box
        Region this tile is responsible for; cores partition the image.
    image_shape : tuple[int, int]
        ``(height, width)`` of the whole image at the working resolution.
    """

    index: tuple[int, int]
    read_box: Box
    valid_box: Box
    core_box: Box
    image_shape: tuple[int, int]

    @property
    def read_shape(self) -> tuple[int, int]:
        """Shape of the block the model sees."""
        return self.read_box.shape

    @property
    def halo(self) -> int:
        """Context added on the top/left of the core (bottom/right get at least as much)."""
        return self.core_box.y0 - self.read_box.y0

    @property
    def crop(self) -> tuple[slice, slice]:
        """Slices cutting the core out of a read-shaped block."""
        return self.core_box.relative_to(self.read_box)

    @property
    def valid_crop(self) -> tuple[slice, slice]:
        """Slices cutting the in-image part out of a read-shaped block."""
        return self.valid_box.relative_to(self.read_box)

    @property
    def core_in_valid(self) -> tuple[slice, slice]:
        """Slices cutting the core out of a valid-shaped block."""
        return self.core_box.relative_to(self.valid_box)

    @property
    def write(self) -> tuple[slice, slice]:
        """Slices placing the core in a full-image output array."""
        return self.core_box.slices


@dataclass(frozen=True)
class TilePlan:
    """All tiles covering an image, in row-major order.

    Attributes
    ----------
    image_shape : tuple[int, int]
        ``(height, width)`` at the working resolution.
    tile_size, halo, stride_multiple : int
        The parameters the plan was built from.
    read_size : int
        Height and width of every read box (a multiple of ``stride_multiple``).
    grid_shape : tuple[int, int]
        Number of tile rows and columns.
    tiles : tuple[Tile, ...]
        The tiles, row-major.
    """

    image_shape: tuple[int, int]
    tile_size: int
    halo: int
    stride_multiple: int
    read_size: int
    grid_shape: tuple[int, int]
    tiles: tuple[Tile, ...]

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, position: int) -> Tile:
        return self.tiles[position]


def plan_tiles(
    shape: tuple[int, int], tile_size: int, halo: int, *, stride_multiple: int = 32
) -> TilePlan:
    """Partition an image into cores and give each a halo-grown read box.

    Parameters
    ----------
    shape : tuple[int, int]
        ``(height, width)`` of the image at the working resolution.
    tile_size : int
        Side of a core in pixels; a positive multiple of ``stride_multiple``.
    halo : int
        Context in pixels added around each core (>= 0). It must exceed the
        largest nucleus diameter plus the model's receptive-field radius for
        stitching to be exact; :func:`wsinuc.stitching.own_objects` raises
        when it sees that it was too small.
    stride_multiple : int, optional
        The model's total stride; read boxes are padded at the bottom/right
        so their sides are multiples of it.

    Returns
    -------
    TilePlan
        Row-major tiles; ``len(plan) == grid_shape[0] * grid_shape[1]``.

    Raises
    ------
    ValueError
        If the shape is not two positive integers, ``tile_size`` is not a
        positive multiple of ``stride_multiple``, or ``halo`` is negative.
    """
    _validate_plan_args(shape, tile_size, halo, stride_multiple)
    height, width = int(shape[0]), int(shape[1])
    tile_size, halo, stride_multiple = int(tile_size), int(halo), int(stride_multiple)
    read_size = math.ceil((tile_size + 2 * halo) / stride_multiple) * stride_multiple
    grid_shape = (math.ceil(height / tile_size), math.ceil(width / tile_size))
    tiles = tuple(
        _make_tile((row, col), (height, width), tile_size, halo, read_size)
        for row in range(grid_shape[0])
        for col in range(grid_shape[1])
    )
    return TilePlan(
        image_shape=(height, width),
        tile_size=tile_size,
        halo=halo,
        stride_multiple=stride_multiple,
        read_size=read_size,
        grid_shape=grid_shape,
        tiles=tiles,
    )


def grid_cell(index: tuple[int, int], tile_size: int, image_shape: tuple[int, int]) -> Box:
    """The cell ``index`` of the full grid of ``tile_size`` squares (the core before any region crop)."""
    y0, x0 = index[0] * tile_size, index[1] * tile_size
    return Box(y0, x0, min(y0 + tile_size, image_shape[0]), min(x0 + tile_size, image_shape[1]))


def _make_tile(
    index: tuple[int, int], image_shape: tuple[int, int], tile_size: int, halo: int, read_size: int
) -> Tile:
    core = grid_cell(index, tile_size, image_shape)
    y0, x0 = core.y0, core.x0
    read = Box(y0 - halo, x0 - halo, y0 - halo + read_size, x0 - halo + read_size)
    return Tile(
        index=index,
        read_box=read,
        valid_box=read.clip(image_shape),
        core_box=core,
        image_shape=image_shape,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _validate_plan_args(shape: object, tile_size: object, halo: object, stride: object) -> None:
    if not (isinstance(shape, tuple | list) and len(shape) == 2):
        raise ValueError(f"shape must be (height, width), got {shape!r}")
    if not all(_is_int(side) and side > 0 for side in shape):
        raise ValueError(f"shape must hold two positive integers, got {tuple(shape)!r}")
    if not (_is_int(stride) and stride > 0):
        raise ValueError(f"stride_multiple must be a positive integer, got {stride!r}")
    if not (_is_int(tile_size) and tile_size > 0 and tile_size % stride == 0):
        raise ValueError(
            f"tile_size must be a positive multiple of stride_multiple={stride}, got {tile_size!r}"
        )
    if not (_is_int(halo) and halo >= 0):
        raise ValueError(f"halo must be a non-negative integer, got {halo!r}")
