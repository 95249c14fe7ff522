"""Nucleus instance labels as a multiscale OME-Zarr 0.5 label image.

Layout (validated by ``ome_zarr_models`` as a v0.5 ``ImageLabel`` and read
by ``ome_zarr.reader.Reader`` as a ``Label`` node)::

    labels.ome.zarr/            zarr v3 group; attributes["ome"] holds
        zarr.json               version "0.5", "multiscales" and "image-label"
        0/                      uint32 (y, x) on the slide's level-0 pixel grid
        1/                      level0[::2, ::2]   (nearest neighbour)
        ...

Axes are ``y, x`` of type space in micrometres; dataset ``k`` has the scale
``[mpp_y * 2**k, mpp_x * 2**k]`` and no translation (striding keeps pixel
``i`` of level ``k`` centred on pixel ``i * 2**k`` of level 0). The
``image-label`` block has no ``source`` because the source image is the
slide file, not a Zarr group.

The store is built in ``labels.ome.zarr.partial/``. Blocks are written whole
write-units at a time (a unit is a shard when sharding is on, else a chunk),
so no two workers ever touch one chunk file; after each block a marker file
per unit goes to ``labels.ome.zarr.partial-blocks/``. After an error both
folders stay: :meth:`LabelsZarrWriter.open_existing` resumes, and
:meth:`LabelsZarrWriter.completed_blocks` says which units are done.
:meth:`LabelsZarrWriter.finalize` builds the pyramid, drops the markers and
renames the folder to ``labels.ome.zarr``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import zarr

from wsinuc.writers.atomic import (
    OutputError,
    commit_dir,
    disk_full_guard,
    markers_dir_path,
    partial_dir_path,
    remove_quietly,
)
from wsinuc.writers.zarr_pyramid import StreamingPyramid, direct_codec, read_region, write_region

logger = logging.getLogger(__name__)

NGFF_VERSION = "0.5"
LABEL_DTYPE = np.dtype("uint32")
_MAX_LABEL = int(np.iinfo(LABEL_DTYPE).max)


def default_level_count(shape: tuple[int, int], chunk: tuple[int, int]) -> int:
    """Return how many 2x levels it takes until the image fits in one chunk.

    >>> default_level_count((10_000, 6_000), (1024, 1024))
    5
    """
    ratio = max(shape[0] / chunk[0], shape[1] / chunk[1], 1.0)
    return 1 + math.ceil(math.log2(ratio))


def level_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    """Return the shape of pyramid level ``level`` (ceil-halved ``level`` times)."""
    factor = 2**level
    return (-(-shape[0] // factor), -(-shape[1] // factor))


def ngff_attributes(mpp: tuple[float, float], levels: int, name: str = "nuclei") -> dict:
    """Return the ``"ome"`` attributes of a 2-D multiscale label image.

    Parameters
    ----------
    mpp : tuple of float
        Level-0 pixel size ``(x, y)`` in micrometres.
    levels : int
        Number of pyramid levels (dataset paths ``"0"``, ``"1"``, ...).
    name : str
        Name of the multiscale.
    """
    mpp_x, mpp_y = mpp
    datasets = [
        {
            "path": str(level),
            "coordinateTransformations": [
                {"type": "scale", "scale": [mpp_y * 2**level, mpp_x * 2**level]}
            ],
        }
        for level in range(levels)
    ]
    axes = [{"name": axis, "type": "space", "unit": "micrometer"} for axis in ("y", "x")]
    return {
        "version": NGFF_VERSION,
        "multiscales": [{"name": name, "axes": axes, "datasets": datasets}],
        "image-label": {"version": NGFF_VERSION},
    }


def _validate_create(shape, chunk, mpp, levels, shard) -> None:
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (height, width) >= 1, got {shape}")
    if len(chunk) != 2 or min(chunk) < 1:
        raise ValueError(f"chunk must be (height, width) >= 1, got {chunk}")
    if len(mpp) != 2 or not all(math.isfinite(m) and m > 0 for m in mpp):
        raise ValueError(f"mpp must be (x, y) positive micrometres per pixel, got {mpp}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    if shard is not None and (len(shard) != 2 or any(s % c for s, c in zip(shard, chunk))):
        raise ValueError(f"shard must be (height, width) multiples of chunk {chunk}, got {shard}")


def _as_labels(block: np.ndarray) -> np.ndarray:
    """Return ``block`` as uint32, refusing values that do not fit."""
    block = np.asarray(block)
    if block.ndim != 2 or not np.issubdtype(block.dtype, np.integer):
        raise ValueError(f"block must be a 2-D integer array, got {block.dtype} {block.shape}")
    if block.dtype in (np.uint8, np.uint16, np.uint32) or block.size == 0:
        return block.astype(LABEL_DTYPE, copy=False)
    low, high = int(block.min()), int(block.max())
    if low < 0 or high > _MAX_LABEL:
        raise ValueError(f"label values must be in 0..{_MAX_LABEL}, got {low}..{high}")
    return block.astype(LABEL_DTYPE)


class LabelsZarrWriter:
    """Write a slide-sized uint32 label image block by block, resumably.

    Build with :meth:`create` or :meth:`open_existing`, not the constructor.
    Used as a context manager, a clean exit calls :meth:`finalize`; an error
    leaves the partial store in place for resuming.
    """

    def __init__(self, path: Path, group: zarr.Group) -> None:
        self.path = Path(path)
        self._group = group
        datasets = group.attrs["ome"]["multiscales"][0]["datasets"]
        self.levels = len(datasets)
        self._arrays = [group[str(level)] for level in range(self.levels)]
        direct = all(direct_codec(array) is not None for array in self._arrays)
        self._pyramid = StreamingPyramid(self._arrays) if direct else None
        scale = datasets[0]["coordinateTransformations"][0]["scale"]
        self.mpp = (float(scale[1]), float(scale[0]))
        array = self.level(0)
        self.shape: tuple[int, int] = tuple(array.shape)
        self.chunk: tuple[int, int] = tuple(array.chunks)
        self.write_unit: tuple[int, int] = tuple(array.shards or array.chunks)

    @classmethod
    def create(
        cls,
        path: str | Path,
        shape: tuple[int, int],
        *,
        mpp: tuple[float, float],
        chunk: tuple[int, int] = (1024, 1024),
        levels: int | None = None,
        shard: tuple[int, int] | None = None,
    ) -> LabelsZarrWriter:
        """Create an empty (all-zero) label store in ``<path>.partial/``.

        Parameters
        ----------
        path : str or Path
            Final folder, e.g. ``out/labels.ome.zarr``.
        shape : tuple of int
            ``(height, width)`` of the slide at level 0.
        mpp : tuple of float
            Level-0 pixel size ``(x, y)`` in micrometres.
        chunk : tuple of int
            Zarr chunk ``(height, width)``.
        levels : int, optional
            Pyramid levels; default :func:`default_level_count`.
        shard : tuple of int, optional
            Shard ``(height, width)`` (multiples of ``chunk``); blocks must
            then align to shards.

        Raises
        ------
        OutputError
            The final folder exists, or an interrupted run left a partial one
            (resume with :meth:`open_existing` or delete it).
        """
        shape, chunk = (int(shape[0]), int(shape[1])), tuple(chunk)
        _validate_create(shape, chunk, tuple(mpp), 1 if levels is None else levels, shard)
        levels = default_level_count(shape, chunk) if levels is None else int(levels)
        path, partial = Path(path), partial_dir_path(path)
        if path.exists():
            raise OutputError(path, "already exists; delete it or ask to overwrite")
        if partial.exists():
            raise OutputError(partial, "an interrupted run left this folder; resume or delete it")
        remove_quietly(markers_dir_path(path))
        with disk_full_guard(path):
            group = zarr.open_group(partial, mode="w-", zarr_format=3)
            for level in range(levels):
                group.create_array(
                    str(level),
                    shape=level_shape(shape, level),
                    chunks=chunk,
                    shards=None if shard is None else tuple(shard),
                    dtype=LABEL_DTYPE,
                    fill_value=0,
                    dimension_names=("y", "x"),
                )
            group.attrs["ome"] = ngff_attributes((float(mpp[0]), float(mpp[1])), levels)
            markers_dir_path(path).mkdir(parents=True, exist_ok=True)
        return cls(path, group)

    @classmethod
    def open_existing(cls, path: str | Path) -> LabelsZarrWriter:
        """Reopen the partial store an interrupted run left for ``path`` (the final name)."""
        partial = partial_dir_path(path)
        if not partial.is_dir():
            raise OutputError(partial, "no interrupted run to resume (folder missing)")
        try:
            group = zarr.open_group(partial, mode="r+", zarr_format=3)
            writer = cls(Path(path), group)
        except (KeyError, IndexError, ValueError, FileNotFoundError) as error:
            raise OutputError(partial, f"not a labels store written by wsinuc ({error})") from error
        markers_dir_path(path).mkdir(parents=True, exist_ok=True)
        return writer

    def __enter__(self) -> LabelsZarrWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is None:
            self.finalize()
        else:
            logger.warning("kept %s for resuming after an error", partial_dir_path(self.path))
        return False

    def level(self, level: int) -> zarr.Array:
        """Return pyramid level ``level`` as a zarr array (level 0 is full size)."""
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in 0..{self.levels - 1}, got {level}")
        if self._arrays is None:
            self._group = zarr.open_group(self.path, mode="r", zarr_format=3)
            self._arrays = [self._group[str(index)] for index in range(self.levels)]
        return self._arrays[level]

    def unit_indices(self, y0: int, x0: int, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """Return the ``(row, col)`` write-unit indices a block covers."""
        uy, ux = self.write_unit
        rows = range(y0 // uy, -(-(y0 + shape[0]) // uy))
        cols = range(x0 // ux, -(-(x0 + shape[1]) // ux))
        return [(row, col) for row in rows for col in cols]

    def _validate_block(self, y0: int, x0: int, shape: tuple[int, int]) -> None:
        height, width = self.shape
        uy, ux = self.write_unit
        inside = 0 <= y0 and 0 <= x0 and y0 + shape[0] <= height and x0 + shape[1] <= width
        aligned = (
            y0 % uy == 0
            and x0 % ux == 0
            and (shape[0] % uy == 0 or y0 + shape[0] == height)
            and (shape[1] % ux == 0 or x0 + shape[1] == width)
        )
        if not (inside and aligned and min(shape) > 0):
            raise ValueError(
                f"block at (y0={y0}, x0={x0}) of shape {shape} must lie inside {self.shape} "
                f"and cover whole write units {self.write_unit} (edges excepted)"
            )

    def write_block(self, y0: int, x0: int, block: np.ndarray) -> None:
        """Write a block of level-0 labels whose corners sit on write-unit boundaries.

        The block's units are marked done only after the data is written.

        Parameters
        ----------
        y0, x0 : int
            Top-left corner in level-0 pixels; multiples of :attr:`write_unit`.
        block : ndarray
            2-D non-negative integers (stored as uint32); its height and width
            are multiples of the unit unless the block ends at the image edge.

        Raises
        ------
        ValueError
            Misaligned, outside the image, or values that do not fit uint32.
        """
        labels = _as_labels(block)
        y0, x0 = int(y0), int(x0)
        self._validate_block(y0, x0, labels.shape)
        with disk_full_guard(self.path):
            write_region(self.level(0), y0, x0, labels)
            if self._pyramid is not None:
                self._pyramid.wrote(0, y0, x0, labels)
            for row, col in self.unit_indices(y0, x0, labels.shape):
                (markers_dir_path(self.path) / f"{row}.{col}").touch()

    def completed_blocks(self) -> set[tuple[int, int]]:
        """Return the ``(row, col)`` write-unit indices already written (for resuming)."""
        done = set()
        markers = markers_dir_path(self.path)
        for marker in markers.iterdir() if markers.is_dir() else ():
            row, _, col = marker.name.partition(".")
            if row.isdigit() and col.isdigit():
                done.add((int(row), int(col)))
        return done

    def is_block_done(self, y0: int, x0: int, shape: tuple[int, int]) -> bool:
        """Return whether every write unit of a block is already written."""
        markers = markers_dir_path(self.path)
        units = self.unit_indices(y0, x0, shape)
        return all((markers / f"{row}.{col}").exists() for row, col in units)

    def _unit_slices(self, shape: tuple[int, int]) -> Iterator[tuple[slice, slice]]:
        """Yield the write-unit windows tiling an array of ``shape``."""
        uy, ux = self.write_unit
        for y0 in range(0, shape[0], uy):
            for x0 in range(0, shape[1], ux):
                yield slice(y0, min(y0 + uy, shape[0])), slice(x0, min(x0 + ux, shape[1]))

    def build_pyramid(self) -> None:
        """Fill levels 1.. by 2x nearest-neighbour striding: level ``k`` equals ``level(k - 1)[::2, ::2]``.

        Chunk-file stores (no shards) were mostly filled while level 0 was
        written (:class:`~wsinuc.writers.zarr_pyramid.StreamingPyramid`);
        what is left is completed from disk. Otherwise one write unit at a
        time is read back from the level below (memory: one destination
        unit and four of the source).
        """
        with disk_full_guard(self.path):
            if self._pyramid is not None:
                self._pyramid.finish()
            else:
                for level in range(1, self.levels):
                    source, target = self.level(level - 1), self.level(level)
                    for rows, cols in self._unit_slices(target.shape):
                        window = (slice(2 * rows.start, 2 * rows.stop), slice(2 * cols.start, 2 * cols.stop))
                        write_region(target, rows.start, cols.start, read_region(source, *window)[::2, ::2])
        logger.info("built %d pyramid levels in %s", self.levels, partial_dir_path(self.path))

    def finalize(self, *, build_pyramid: bool = True, overwrite: bool = False) -> Path:
        """Build the pyramid, drop the markers and rename the store to its final name.

        Parameters
        ----------
        build_pyramid : bool
            Fill levels 1.. from level 0 first (skip only if already done).
        overwrite : bool
            Replace an existing final folder instead of raising OutputError.

        Returns
        -------
        Path
            The final folder.
        """
        if build_pyramid:
            self.build_pyramid()
        final = commit_dir(partial_dir_path(self.path), self.path, overwrite=overwrite)
        remove_quietly(markers_dir_path(self.path))
        self._group = self._arrays = None  # reopened read-only on first use (most callers never do)
        return final

