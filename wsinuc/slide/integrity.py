"""Cheap checks, run at open time, that a slide file is complete and decodable.

A truncated TIFF often opens fine (its first directory is intact) and only
fails when a missing tile is read, deep inside a long run. Checking that
every tile, strip and directory lies inside the file costs one metadata pass and no
decoding, so ``wsinuc info`` and ``wsinuc segment`` fail at once.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import tifffile

from wsinuc.errors import SlideError
from wsinuc.slide.base import Slide, level_to_base

PROBE_SIZE = 256
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_tiff(path: Path) -> bool:
    """True when the file starts with a classic or BigTIFF header."""
    with open(path, "rb") as handle:
        return handle.read(4) in TIFF_MAGICS


def last_segment_end(tiff: tifffile.TiffFile) -> int:
    """Largest ``offset + bytecount`` over every tile/strip of every page."""
    end = 0
    for page in tiff.pages:
        offsets = np.asarray(page.dataoffsets, dtype=np.int64)
        counts = np.asarray(page.databytecounts, dtype=np.int64)
        if offsets.size:
            end = max(end, int((offsets + counts).max()))
    return end


def dangling_ifd_offset(tiff: tifffile.TiffFile) -> int | None:
    """Offset of a next directory that the last parsed page points to past the end of file.

    Returns
    -------
    int or None
        The offending offset, or None when the directory chain ends properly.
    """
    position, size = tiff.pages.next_page_offset, tiff.filehandle.size
    if position is None:
        return None
    if position + tiff.tiff.offsetsize > size:
        return position
    tiff.filehandle.seek(position)
    (offset,) = struct.unpack(tiff.tiff.offsetformat, tiff.filehandle.read(tiff.tiff.offsetsize))
    return int(offset) if offset >= size else None


def check_tiff_complete(path: Path) -> None:
    """Raise when a TIFF's image data reaches past the end of the file.

    Files that are not TIFF (MIRAX, PNG, ...) pass unchecked.

    Raises
    ------
    SlideError
        When the file is truncated or its directories cannot be parsed.
    """
    if not is_tiff(path):
        return
    size = Path(path).stat().st_size
    try:
        with tifffile.TiffFile(str(path)) as tiff:
            end = last_segment_end(tiff)
            dangling = dangling_ifd_offset(tiff)
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError, struct.error) as error:
        raise SlideError(path, f"corrupt or truncated TIFF: {error}") from error
    if dangling is not None:
        raise SlideError(
            path,
            f"truncated TIFF: a directory is expected at byte {dangling} but the file has only {size} bytes",
        )
    if end > size:
        raise SlideError(
            path, f"truncated TIFF: image data ends at byte {end} but the file has only {size} bytes"
        )


def probe_read(slide: Slide) -> None:
    """Decode one small region in the middle of the coarsest level.

    Raises
    ------
    SlideError
        When the backend cannot decode it.
    """
    level = slide.level_count - 1
    level_w, level_h = slide.level_dimensions[level]
    width, height = min(PROBE_SIZE, level_w), min(PROBE_SIZE, level_h)
    downsample = slide.level_downsamples[level]
    x = level_to_base((level_w - width) // 2, downsample)
    y = level_to_base((level_h - height) // 2, downsample)
    slide.read_region(x, y, width, height, level)
