"""tifffile backend: OME-TIFF, Aperio SVS, pyramidal and plain TIFF.

A region read goes through a zarr array over tifffile's store, so it
decodes only the tiles or strips it touches; the whole slide is never
loaded. A read of a whole level (a single-level slide's thumbnail), or of
any part of a small level (a 1000 x 1000 tile), is decoded by tifffile
directly, without zarr's per-call cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tifffile

from wsinuc.errors import SlideError
from wsinuc.slide.base import Slide, SlideMetadata, with_mpp
from wsinuc.slide.mpp import (
    Mpp,
    mpp_from_aperio_description,
    mpp_from_ome_xml,
    mpp_from_tiff_resolution,
    objective_from_aperio_description,
    objective_from_ome_xml,
)
from wsinuc.slide.pixels import read_window, to_rgb_uint8

if TYPE_CHECKING:
    import zarr

BACKEND = "tifffile"
READ_ERRORS = (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError, RuntimeError)
ASSOCIATED_ALPHA = 1
#: A level of at most this many pixels is decoded whole by tifffile for any window (a few ms for a
#: 1000 x 1000 tile, less than zarr's cost per call); larger levels are read window by window.
WHOLE_LEVEL_PIXELS = 2**21


class TiffLevel:
    """One pyramid level: where its Y, X and sample axes are, read whole or through a lazy zarr array.

    A window covering the whole level, or any window of a level of at most
    :data:`WHOLE_LEVEL_PIXELS`, is decoded by tifffile at once; any other
    window goes through a zarr array over tifffile's store (opened on the
    first such read), which decodes only the tiles or strips it touches.
    """

    def __init__(self, tiff: tifffile.TiffFile, index: int, shape: tuple[int, ...], axes: str) -> None:
        if "Y" not in axes or "X" not in axes:
            raise ValueError(f"series axes {axes!r} have no Y and X")
        self.axes = axes
        self.sample_axis = "S" if "S" in axes else ("C" if "C" in axes else None)
        self._tiff, self._index, self._shape = tiff, index, tuple(int(n) for n in shape)
        self._array: zarr.Array | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the level."""
        shape = dict(zip(self.axes, self._shape, strict=True))
        return int(shape["X"]), int(shape["Y"])

    @property
    def array(self) -> zarr.Array:
        """The level as a read-only zarr array (opened on first use)."""
        if self._array is None:
            import zarr  # only windowed reads need it

            self._array = zarr.open(self._tiff.aszarr(series=0, level=self._index), mode="r")
        return self._array

    def read(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Pixels of the in-range window as ``(y1 - y0, x1 - x0[, samples])``."""
        selection, kept = [], []
        for axis in self.axes:
            if axis == "Y":
                selection.append(slice(y0, y1))
            elif axis == "X":
                selection.append(slice(x0, x1))
            elif axis == self.sample_axis:
                selection.append(slice(None))
            else:
                selection.append(0)
                continue
            kept.append(axis)
        width, height = self.size
        if (x0, y0, x1, y1) == (0, 0, width, height) or width * height <= WHOLE_LEVEL_PIXELS:
            pixels = np.asarray(self._tiff.series[0].levels[self._index].asarray())[tuple(selection)]
        else:
            pixels = np.asarray(self.array[tuple(selection)])
        order = [kept.index(axis) for axis in ("Y", "X", self.sample_axis) if axis in kept]
        return np.transpose(pixels, order)


class TifffileSlide(Slide):
    """A slide read through ``tifffile.TiffFile`` (and zarr for windows)."""

    def __init__(
        self, tiff: tifffile.TiffFile, levels: list[TiffLevel], metadata: SlideMetadata, premultiplied: bool
    ) -> None:
        super().__init__(metadata)
        self._tiff = tiff
        self._levels = levels
        self._premultiplied = premultiplied

    def _read(self, x: int, y: int, w: int, h: int, level: int) -> np.ndarray:
        tiff_level = self._levels[level]
        downsample = self._metadata.level_downsamples[level]

        def read_inside(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
            return to_rgb_uint8(tiff_level.read(x0, y0, x1, y1), premultiplied=self._premultiplied)

        try:
            return read_window(
                read_inside, int(x // downsample), int(y // downsample), w, h, tiff_level.size
            )
        except READ_ERRORS as error:
            raise SlideError(self.path, f"cannot read region at ({x}, {y}) level {level}: {error}") from error

    def close(self) -> None:
        self._tiff.close()


def _vendor(tiff: tifffile.TiffFile) -> str:
    if tiff.is_svs:
        return "aperio"
    if tiff.is_ome:
        return "ome"
    return "generic-tiff" if tiff.pages.first.is_tiled else "tiff"


def _tag_value(page: tifffile.TiffPage, name: str) -> object:
    tag = page.tags.get(name)
    return None if tag is None else tag.value


def tiff_mpp(tiff: tifffile.TiffFile) -> Mpp | None:
    """Pixel size from Aperio description, OME-XML or resolution tags, in that order."""
    page = tiff.pages.first
    if tiff.is_svs and (mpp := mpp_from_aperio_description(page.description)) is not None:
        return mpp
    if tiff.is_ome and (mpp := mpp_from_ome_xml(tiff.ome_metadata or "")) is not None:
        return mpp
    unit = _tag_value(page, "ResolutionUnit")
    return mpp_from_tiff_resolution(
        _tag_value(page, "XResolution"), _tag_value(page, "YResolution"), None if unit is None else int(unit)
    )


def tiff_objective_power(tiff: tifffile.TiffFile) -> float | None:
    """Objective power from the Aperio ``AppMag`` field or OME ``NominalMagnification``."""
    if tiff.is_svs:
        return objective_from_aperio_description(tiff.pages.first.description)
    if tiff.is_ome:
        return objective_from_ome_xml(tiff.ome_metadata or "")
    return None


def _open_levels(tiff: tifffile.TiffFile) -> list[TiffLevel]:
    series = tiff.series[0]
    return [TiffLevel(tiff, index, level.shape, level.axes) for index, level in enumerate(series.levels)]


def _metadata(path: Path, tiff: tifffile.TiffFile, levels: list[TiffLevel]) -> SlideMetadata:
    sizes = tuple(level.size for level in levels)
    base_w, base_h = sizes[0]
    return SlideMetadata(
        path=Path(path),
        backend=BACKEND,
        vendor=_vendor(tiff),
        level_dimensions=sizes,
        level_downsamples=tuple((base_w / w + base_h / h) / 2.0 for w, h in sizes),
        mpp=tiff_mpp(tiff),
        objective_power=tiff_objective_power(tiff),
    )


def open_tifffile(path: Path, mpp: Mpp | None = None) -> TifffileSlide:
    """Open a TIFF with tifffile, reading levels lazily.

    Parameters
    ----------
    path : Path
        TIFF file (OME-TIFF, SVS, pyramidal or plain).
    mpp : tuple of float or None
        Pixel size overriding the file's own.

    Raises
    ------
    SlideError
        When the file is not a TIFF tifffile can read as an image.
    """
    try:
        tiff = tifffile.TiffFile(str(path))
    except READ_ERRORS as error:
        raise SlideError(path, f"tifffile cannot open it: {error}") from error
    try:
        levels = _open_levels(tiff)
        metadata = _metadata(path, tiff, levels)
        extrasamples = tuple(tiff.pages.first.extrasamples or ())
    except READ_ERRORS as error:
        tiff.close()
        raise SlideError(path, f"tifffile cannot read its image layout: {error}") from error
    premultiplied = ASSOCIATED_ALPHA in extrasamples
    return TifffileSlide(tiff, levels, with_mpp(metadata, mpp), premultiplied)
