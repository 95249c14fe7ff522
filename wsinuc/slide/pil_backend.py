"""PIL backend for small PNG and JPEG images (held in memory, one level)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from wsinuc.errors import SlideError
from wsinuc.slide.base import Slide, SlideMetadata, with_mpp
from wsinuc.slide.mpp import MICRONS_PER_INCH, Mpp, plausible_mpp
from wsinuc.slide.pixels import read_window, to_rgb_uint8

BACKEND = "pil"
SUPPORTED_FORMATS = ("PNG", "JPEG")
READ_ERRORS = (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


class PilSlide(Slide):
    """A PNG or JPEG image decoded once into an RGB array."""

    def __init__(self, rgb: np.ndarray, metadata: SlideMetadata) -> None:
        super().__init__(metadata)
        self._rgb = rgb

    def _read(self, x: int, y: int, w: int, h: int, level: int) -> np.ndarray:
        return read_window(
            lambda x0, y0, x1, y1: self._rgb[y0:y1, x0:x1], x, y, w, h, self.dimensions
        )


def mpp_from_dpi(dpi: object) -> Mpp | None:
    """Pixel size from PIL's ``info["dpi"]`` pair; screen values (<= 600 dpi) mean unknown."""
    if not isinstance(dpi, (tuple, list)) or len(dpi) != 2:
        return None
    try:
        x_dpi, y_dpi = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    if x_dpi <= 0 or y_dpi <= 0:
        return None
    return plausible_mpp(MICRONS_PER_INCH / x_dpi, MICRONS_PER_INCH / y_dpi)


def _decode(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return to_rgb_uint8(np.asarray(image.convert("RGBA")))
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return to_rgb_uint8(np.asarray(image).astype(np.uint16))
    return np.asarray(image.convert("RGB"))


def open_pil(path: Path, mpp: Mpp | None = None) -> PilSlide:
    """Open a PNG or JPEG image with PIL.

    Parameters
    ----------
    path : Path
        Image file.
    mpp : tuple of float or None
        Pixel size overriding the file's own (PNG pHYs / JPEG JFIF density).

    Raises
    ------
    SlideError
        When PIL cannot decode it or it is not PNG/JPEG.
    """
    try:
        with Image.open(path) as image:
            if image.format not in SUPPORTED_FORMATS:
                raise SlideError(path, f"PIL reads it as {image.format}, expected one of {SUPPORTED_FORMATS}")
            rgb = _decode(image)
            vendor, dpi = str(image.format).lower(), image.info.get("dpi")
    except READ_ERRORS as error:
        raise SlideError(path, f"PIL cannot read it: {error}") from error
    height, width = rgb.shape[:2]
    metadata = SlideMetadata(
        path=Path(path),
        backend=BACKEND,
        vendor=vendor,
        level_dimensions=((width, height),),
        level_downsamples=(1.0,),
        mpp=mpp_from_dpi(dpi),
        objective_power=None,
    )
    return PilSlide(rgb, with_mpp(metadata, mpp))
