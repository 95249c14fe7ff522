"""OpenSlide backend: Aperio SVS, Hamamatsu NDPI, MIRAX, Leica SCN, generic tiled TIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide

from wsinuc.errors import SlideError
from wsinuc.slide.base import Slide, SlideMetadata, snap_to_level, with_mpp
from wsinuc.slide.mpp import Mpp, mpp_from_openslide_properties, objective_from_openslide_properties
from wsinuc.slide.pixels import is_opaque, to_rgb_uint8

BACKEND = "openslide"


def can_open(path: Path) -> bool:
    """True when OpenSlide recognises the file's format."""
    try:
        return openslide.OpenSlide.detect_format(str(path)) is not None
    except (openslide.OpenSlideError, OSError, ValueError):
        return False


class OpenSlideSlide(Slide):
    """A slide read through ``openslide.OpenSlide``."""

    def __init__(self, handle: openslide.OpenSlide, metadata: SlideMetadata) -> None:
        super().__init__(metadata)
        self._handle = handle

    def _read(self, x: int, y: int, w: int, h: int, level: int) -> np.ndarray:
        # Snap to the level's pixel grid: OpenSlide interpolates at fractional level positions.
        x, y = snap_to_level(x, y, self._metadata.level_downsamples[level])
        try:
            region = self._handle.read_region((x, y), level, (w, h))
        except (openslide.OpenSlideError, OSError, ValueError) as error:
            raise SlideError(self.path, f"cannot read region at ({x}, {y}) level {level}: {error}") from error
        # OpenSlide returns un-premultiplied RGBA; transparent pixels lie outside the scan.
        rgba = np.asarray(region)
        if is_opaque(rgba):  # the common case: PIL drops alpha in C, 15x faster than compositing
            return np.array(region.convert("RGB"))
        return to_rgb_uint8(rgba)

    def close(self) -> None:
        self._handle.close()


def open_openslide(path: Path, mpp: Mpp | None = None) -> OpenSlideSlide:
    """Open ``path`` with OpenSlide.

    Parameters
    ----------
    path : Path
        Slide file.
    mpp : tuple of float or None
        Pixel size overriding the slide's own.

    Raises
    ------
    SlideError
        When OpenSlide cannot open the file.
    """
    try:
        handle = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, OSError, ValueError) as error:
        raise SlideError(path, f"OpenSlide cannot open it: {error}") from error
    properties = handle.properties
    metadata = SlideMetadata(
        path=Path(path),
        backend=BACKEND,
        vendor=str(properties.get(openslide.PROPERTY_NAME_VENDOR) or "unknown"),
        level_dimensions=tuple((int(w), int(h)) for w, h in handle.level_dimensions),
        level_downsamples=tuple(float(d) for d in handle.level_downsamples),
        mpp=mpp_from_openslide_properties(properties),
        objective_power=objective_from_openslide_properties(properties),
    )
    return OpenSlideSlide(handle, with_mpp(metadata, mpp))
