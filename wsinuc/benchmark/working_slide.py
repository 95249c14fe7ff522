"""A slide resampled once to the model's working resolution, so two engines read the same pixels.

Engines resample differently (wsinuc: its own slide-wide grid; TIAToolbox:
OpenCV per patch), so on a 20x slide read at 0.25 um/px they would compare
two resamplings as well as two engines. Comparing engines, the slide is
first resampled by wsinuc's reader (:func:`wsinuc.slide.resample.to_working`)
and written as a tiled Aperio TIFF at the working pixel size, which both
engines then read at level 0 with no resampling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from wsinuc.slide import open_slide
from wsinuc.slide.resample import grid_scale, to_working
from wsinuc.writers.atomic import atomic_file

TILE = 256


def working_copy(slide_path: str | Path, target_mpp: float, folder: str | Path) -> tuple[Path, dict]:
    """``slide_path`` at ``target_mpp`` as a tiled TIFF under ``folder`` (the slide itself when already there).

    The copy is lossless (deflate), written under a temporary name and
    renamed when complete, and reused when it exists.

    Returns
    -------
    (Path, dict)
        The slide to give both engines, and what was done: ``source``,
        ``source_mpp``, ``scale`` (working pixels per source pixel) and
        ``resampled``.
    """
    slide_path = Path(slide_path)
    with open_slide(slide_path) as slide:
        mpp = slide.mpp
        if mpp is None:
            raise ValueError(f"{slide_path}: no pixel size in the file; cannot resample it to {target_mpp} um/px")
        source_mpp = float(np.mean(mpp))
        scale = source_mpp / target_mpp
        info = {"source": str(slide_path), "source_mpp": source_mpp, "scale": 1.0, "resampled": False}
        if abs(scale - 1.0) < 1e-3:
            return slide_path, info
        scale = grid_scale(scale)
        path = Path(folder) / f"{slide_path.stem}-{target_mpp:g}mpp.svs"
        if not path.is_file():
            _write(path, _resampled(slide, scale), source_mpp / scale)
    return path, info | {"scale": scale, "resampled": True, "working_mpp": source_mpp / scale}


def _resampled(slide, scale: float) -> np.ndarray:
    """The whole of level 0 on wsinuc's working grid."""
    width, height = slide.dimensions
    return to_working(slide.read_region(0, 0, width, height, 0), (0, 0), scale)


def _write(path: Path, pixels: np.ndarray, mpp: float) -> None:
    height, width = pixels.shape[:2]
    description = ("Aperio Image Library v12.0.16 \r\n"
                   f"{width}x{height} [0,0 {width}x{height}] ({TILE}x{TILE}) RGB"
                   f"|AppMag = {round(10.0 / mpp)}|MPP = {mpp:.6g}|Filename = {path.stem}")
    write_tiled_tiff(path, pixels, mpp, description)


def write_tiled_tiff(path: Path, pixels: np.ndarray, mpp: float, description: str | None = None) -> None:
    """RGB ``pixels`` as a lossless tiled TIFF (256 px tiles, deflate) with ``mpp`` in its resolution tags.

    Written under a temporary name and renamed when complete. Without
    ``description`` it is a plain TIFF (no Aperio header), which wsinuc reads
    with its tifffile backend.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        tifffile.imwrite(handle, pixels, photometric="rgb", tile=(TILE, TILE), compression="zlib",
                         description=description, metadata=None,
                         resolution=(1e4 / mpp, 1e4 / mpp), resolutionunit="CENTIMETER")
