"""Opt-in TIAToolbox backend (``backend="tiatoolbox"``).

TIAToolbox is heavy to import, so it is imported only when this backend is
asked for. It reads what its ``WSIReader.open`` reads (OpenSlide formats,
OME-TIFF, DICOM, JP2, NGFF zarr).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from wsinuc.errors import SlideError
from wsinuc.slide.base import Slide, SlideMetadata, snap_to_level, with_mpp
from wsinuc.slide.mpp import Mpp, plausible_mpp
from wsinuc.slide.pixels import to_rgb_uint8

BACKEND = "tiatoolbox"
WHITE = 255


def _wsireader_class() -> Any:
    try:
        module = importlib.import_module("tiatoolbox.wsicore.wsireader")
    except ImportError as error:
        raise SlideError(
            "tiatoolbox", f"backend 'tiatoolbox' needs the tiatoolbox package ({error})"
        ) from error
    return module.WSIReader


class TiatoolboxSlide(Slide):
    """A slide read through a TIAToolbox ``WSIReader``."""

    def __init__(self, reader: Any, metadata: SlideMetadata) -> None:
        super().__init__(metadata)
        self._reader = reader

    def _read(self, x: int, y: int, w: int, h: int, level: int) -> np.ndarray:
        x, y = snap_to_level(x, y, self._metadata.level_downsamples[level])
        try:
            region = self._reader.read_rect(
                (x, y), (w, h), resolution=level, units="level", pad_constant_values=WHITE
            )
        except Exception as error:  # noqa: BLE001 - TIAToolbox raises many unrelated types
            raise SlideError(self.path, f"cannot read region at ({x}, {y}) level {level}: {error}") from error
        return to_rgb_uint8(np.asarray(region))

    def close(self) -> None:
        closer = getattr(getattr(self._reader, "openslide_wsi", None), "close", None)
        if closer is not None:
            closer()


def _metadata(path: Path, info: Any) -> SlideMetadata:
    mpp = None if info.mpp is None else plausible_mpp(*(float(v) for v in info.mpp))
    return SlideMetadata(
        path=Path(path),
        backend=BACKEND,
        vendor=str(info.vendor or "unknown"),
        level_dimensions=tuple((int(w), int(h)) for w, h in info.level_dimensions),
        level_downsamples=tuple(float(d) for d in info.level_downsamples),
        mpp=mpp,
        objective_power=None if info.objective_power is None else float(info.objective_power),
    )


def open_tiatoolbox(path: Path, mpp: Mpp | None = None) -> TiatoolboxSlide:
    """Open ``path`` with TIAToolbox's ``WSIReader.open``.

    Raises
    ------
    SlideError
        When tiatoolbox is not installed or cannot open the file.
    """
    reader_class = _wsireader_class()
    try:
        reader = reader_class.open(Path(path))
        metadata = _metadata(path, reader.info)
    except Exception as error:  # noqa: BLE001 - TIAToolbox raises many unrelated types
        raise SlideError(path, f"TIAToolbox cannot open it: {error}") from error
    return TiatoolboxSlide(reader, with_mpp(metadata, mpp))
