"""Open a slide with the right backend, and describe it.

``backend="auto"`` tries OpenSlide when it recognises the format, then
tifffile, then PIL (PNG/JPEG); a generic TIFF whose pyramid OpenSlide
cannot see (SubIFDs) goes to tifffile. TIAToolbox is used only when asked
for by name. Every failure becomes one :class:`~wsinuc.errors.SlideError` line
naming the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsinuc.errors import OptionError, SlideError
from wsinuc.slide import openslide_backend, pil_backend, tifffile_backend
from wsinuc.slide.base import Slide
from wsinuc.slide.integrity import check_tiff_complete, probe_read
from wsinuc.slide.mpp import Mpp, magnification_from_mpp, validate_mpp_override

logger = logging.getLogger(__name__)

Opener = Callable[[Path, Mpp | None], Slide]
BACKENDS = ("auto", "openslide", "tifffile", "pil", "tiatoolbox")


def _open_tiatoolbox(path: Path, mpp: Mpp | None) -> Slide:
    from wsinuc.slide.tiatoolbox_backend import open_tiatoolbox  # heavy import, only on request

    return open_tiatoolbox(path, mpp)


OPENERS: dict[str, Opener] = {
    "openslide": openslide_backend.open_openslide,
    "tifffile": tifffile_backend.open_tifffile,
    "pil": pil_backend.open_pil,
    "tiatoolbox": _open_tiatoolbox,
}


def _validate_path(path: Path) -> None:
    if not path.exists():
        raise SlideError(path, "file not found")
    if path.is_dir():
        raise SlideError(path, "is a directory, expected a slide or image file")
    if path.stat().st_size == 0:
        raise SlideError(path, "file is empty")


def _validate_backend(backend: str) -> None:
    if backend not in BACKENDS:
        choices = ", ".join(BACKENDS)
        raise OptionError("backend", f"unknown slide backend {backend!r}; choose one of {choices}")


def _candidates(path: Path, backend: str) -> list[str]:
    if backend != "auto":
        return [backend]
    names = ["openslide"] if openslide_backend.can_open(path) else []
    return [*names, "tifffile", "pil"]


def _open_first(path: Path, names: list[str], mpp: Mpp | None) -> Slide:
    problems = []
    for name in names:
        try:
            return OPENERS[name](path, mpp)
        except SlideError as error:
            logger.debug("backend %s failed on %s: %s", name, path, error)
            problems.append(str(error).removeprefix(f"{path}: "))
    if len(names) == 1:
        raise SlideError(path, problems[0])
    raise SlideError(path, "not a supported slide or image (" + "; ".join(problems) + ")")


def _prefer_more_levels(slide: Slide, mpp: Mpp | None) -> Slide:
    """Swap a generic-TIFF OpenSlide handle for tifffile when tifffile sees more levels.

    OpenSlide's generic-tiff reader ignores pyramids stored as SubIFDs
    (what tifffile and many converters write); tifffile reads them.
    """
    if slide.backend != openslide_backend.BACKEND or slide.vendor != "generic-tiff":
        return slide
    try:
        other = tifffile_backend.open_tifffile(slide.path, mpp)
    except SlideError:
        return slide
    if other.level_count > slide.level_count:
        slide.close()
        return other
    other.close()
    return slide


def open_slide(
    path: str | Path, *, mpp: float | tuple[float, float] | None = None, backend: str = "auto",
    verify: bool = True,
) -> Slide:
    """Open a whole-slide image or a plain image for reading.

    Parameters
    ----------
    path : str or Path
        SVS, NDPI, MRXS, SCN, (OME-)TIFF, PNG or JPEG file.
    mpp : float, (float, float) or None
        Pixel size in um/px overriding the file's own (0 < mpp < 100).
    backend : str
        "auto", "openslide", "tifffile", "pil" or "tiatoolbox".
    verify : bool
        Check that a TIFF is complete and decode a probe region first (the
        default). ``False`` is for a slide opened and checked a moment ago
        (the engine's chunk tasks): a region that cannot be decoded still
        raises :class:`SlideError` when it is read.

    Returns
    -------
    Slide
        An open slide; close it or use it as a context manager.

    Raises
    ------
    SlideError
        When the file is missing, a directory, truncated or unsupported.
    OptionError
        When ``mpp`` or ``backend`` is invalid.
    """
    path = Path(path)
    _validate_backend(backend)
    override = validate_mpp_override(mpp)
    _validate_path(path)
    if verify:
        check_tiff_complete(path)
    slide = _open_first(path, _candidates(path, backend), override)
    if backend == "auto":
        slide = _prefer_more_levels(slide, override)
    try:
        if verify:
            probe_read(slide)
    except SlideError:
        slide.close()
        raise
    logger.debug("opened %r", slide)
    return slide


def describe_slide(slide: Slide) -> dict[str, Any]:
    """Summarise a slide as a JSON-friendly dict (what ``wsinuc info`` prints).

    Returns
    -------
    dict
        Keys: path, backend, vendor, dimensions, level_count, levels (list of
        ``{"level", "dimensions", "downsample"}``), mpp, objective_power,
        magnification_estimate (objective power, else ``10 / mpp``).
    """
    levels = [
        {"level": index, "dimensions": list(dims), "downsample": round(downsample, 4)}
        for index, (dims, downsample) in enumerate(
            zip(slide.level_dimensions, slide.level_downsamples, strict=True)
        )
    ]
    estimate = slide.objective_power
    if estimate is None:
        estimate = magnification_from_mpp(slide.mpp)
    return {
        "path": str(slide.path),
        "backend": slide.backend,
        "vendor": slide.vendor,
        "dimensions": list(slide.dimensions),
        "level_count": slide.level_count,
        "levels": levels,
        "mpp": None if slide.mpp is None else list(slide.mpp),
        "objective_power": slide.objective_power,
        "magnification_estimate": estimate,
    }
