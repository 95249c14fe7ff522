"""Pixel size (microns per pixel) and objective power from slide metadata.

All parsers are pure: strings and numbers in, ``(mpp_x, mpp_y)`` or None
out. A pixel size is only trusted when it could come from a microscope:
TIFF resolutions of 600 pixels per inch or less (72 and 96 dpi are what
image editors write by default, and the MoNuSeg tiles say 72 dpi) and
resolution unit NONE count as *missing*, never as 350 um/px.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Protocol

import defusedxml.ElementTree as SafeElementTree
import numpy as np

from wsinuc.errors import MissingMppError, OptionError

logger = logging.getLogger(__name__)

MICRONS_PER_INCH = 25_400.0
MICRONS_PER_CM = 10_000.0
MAX_SCREEN_PPI = 600.0
"""Resolutions at or below this many pixels per inch are screen/placeholder values."""
MAX_MICROSCOPE_MPP = MICRONS_PER_INCH / MAX_SCREEN_PPI
"""About 42.3 um/px: no brightfield scanner writes a larger pixel size."""
MPP_OVERRIDE_RANGE = (0.0, 100.0)

TIFF_UNIT_NONE, TIFF_UNIT_INCH, TIFF_UNIT_CM = 1, 2, 3
OME_UNIT_TO_MICRONS = {
    "pm": 1e-6, "nm": 1e-3, "µm": 1.0, "um": 1.0, "μm": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6,
}
_APERIO_FIELD = re.compile(r"\|\s*([A-Za-z0-9_ ]+?)\s*=\s*([^|\r\n]*)")

Mpp = tuple[float, float]


class HasMpp(Protocol):
    """Anything with a ``path`` and an optional ``mpp`` pair (a Slide)."""

    path: object
    mpp: Mpp | None


def plausible_mpp(mpp_x: float | None, mpp_y: float | None) -> Mpp | None:
    """Return ``(mpp_x, mpp_y)`` when both could come from a microscope, else None.

    Parameters
    ----------
    mpp_x, mpp_y : float or None
        Candidate pixel sizes in um/px.

    Returns
    -------
    tuple of float or None
        None when either value is missing, not finite, not positive, or at
        least :data:`MAX_MICROSCOPE_MPP` (a placeholder screen resolution).
    """
    if mpp_x is None or mpp_y is None:
        return None
    values = (float(mpp_x), float(mpp_y))
    if not all(math.isfinite(v) and 0.0 < v < MAX_MICROSCOPE_MPP for v in values):
        logger.info("ignoring implausible pixel size %s um/px (placeholder resolution)", values)
        return None
    return values


def _to_float(text: object) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


def parse_aperio_description(description: str) -> dict[str, str]:
    """Parse the ``|key = value`` fields of an Aperio ImageDescription.

    Parameters
    ----------
    description : str
        E.g. ``"Aperio Image Library v12 ... |AppMag = 20|MPP = 0.499"``.

    Returns
    -------
    dict of str to str
        Keys and values with surrounding whitespace removed.
    """
    return {key.strip(): value.strip() for key, value in _APERIO_FIELD.findall(description)}


def mpp_from_aperio_description(description: str) -> Mpp | None:
    """Return the square pixel size of an Aperio ImageDescription (``MPP = 0.499``)."""
    value = _to_float(parse_aperio_description(description).get("MPP"))
    return plausible_mpp(value, value)


def objective_from_aperio_description(description: str) -> float | None:
    """Return the objective power of an Aperio ImageDescription (``AppMag = 20``)."""
    value = _to_float(parse_aperio_description(description).get("AppMag"))
    return value if value is not None and value > 0 else None


def mpp_from_openslide_properties(properties: Mapping[str, str]) -> Mpp | None:
    """Return ``openslide.mpp-x`` / ``openslide.mpp-y`` when present and plausible."""
    return plausible_mpp(
        _to_float(properties.get("openslide.mpp-x")), _to_float(properties.get("openslide.mpp-y"))
    )


def objective_from_openslide_properties(properties: Mapping[str, str]) -> float | None:
    """Return ``openslide.objective-power`` (falling back to ``aperio.AppMag``)."""
    for key in ("openslide.objective-power", "aperio.AppMag"):
        value = _to_float(properties.get(key))
        if value is not None and value > 0:
            return value
    return None


def _rational(value: object) -> float | None:
    """A TIFF RATIONAL as float: accepts a number or a ``(numerator, denominator)`` pair."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        numerator, denominator = (_to_float(v) for v in value)
        if numerator is None or not denominator:
            return None
        return numerator / denominator
    return _to_float(value)


def mpp_from_tiff_resolution(
    x_resolution: object, y_resolution: object, resolution_unit: int | None
) -> Mpp | None:
    """Return the pixel size given by TIFF XResolution/YResolution/ResolutionUnit.

    Parameters
    ----------
    x_resolution, y_resolution : float or (int, int)
        Pixels per resolution unit (TIFF RATIONAL or number).
    resolution_unit : int or None
        1 NONE, 2 INCH (the TIFF default when absent), 3 CENTIMETER.

    Returns
    -------
    tuple of float or None
        None when a resolution is missing, the unit is NONE or unknown, or
        the value is a screen placeholder (<= 600 pixels per inch).
    """
    unit = TIFF_UNIT_INCH if resolution_unit is None else int(resolution_unit)
    microns_per_unit = {TIFF_UNIT_INCH: MICRONS_PER_INCH, TIFF_UNIT_CM: MICRONS_PER_CM}.get(unit)
    x_ppu, y_ppu = _rational(x_resolution), _rational(y_resolution)
    if microns_per_unit is None or not x_ppu or not y_ppu:
        return None
    return plausible_mpp(microns_per_unit / x_ppu, microns_per_unit / y_ppu)


def mpp_from_ome_xml(ome_xml: str) -> Mpp | None:
    """Return PhysicalSizeX/Y of the first OME ``Pixels`` element, converted to um.

    Parameters
    ----------
    ome_xml : str
        OME-XML metadata; ``PhysicalSizeXUnit`` defaults to um.

    Returns
    -------
    tuple of float or None
        None when the XML is unreadable, a size is missing or the unit unknown.
    """
    try:
        root = SafeElementTree.fromstring(ome_xml)
    except Exception as error:  # noqa: BLE001 - any parse failure means "no mpp"
        logger.info("cannot parse OME-XML metadata: %s", error)
        return None
    pixels = next((node for node in root.iter() if node.tag.rpartition("}")[2] == "Pixels"), None)
    if pixels is None:
        return None
    sizes = []
    for axis in ("X", "Y"):
        value = _to_float(pixels.get(f"PhysicalSize{axis}"))
        scale = OME_UNIT_TO_MICRONS.get(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        if value is None or scale is None:
            return None
        sizes.append(value * scale)
    return plausible_mpp(*sizes)


def objective_from_ome_xml(ome_xml: str) -> float | None:
    """Return the ``NominalMagnification`` of the first OME ``Objective``, if any."""
    try:
        root = SafeElementTree.fromstring(ome_xml)
    except Exception:  # noqa: BLE001 - any parse failure means "unknown"
        return None
    for node in root.iter():
        if node.tag.rpartition("}")[2] == "Objective":
            value = _to_float(node.get("NominalMagnification"))
            if value is not None and value > 0:
                return value
    return None


def validate_mpp_override(mpp: float | tuple[float, float] | None) -> Mpp | None:
    """Check a user-given pixel size and return it as ``(mpp_x, mpp_y)``.

    Parameters
    ----------
    mpp : float, pair of float or None
        Microns per pixel; a scalar means square pixels.

    Returns
    -------
    tuple of float or None
        None when ``mpp`` is None.

    Raises
    ------
    OptionError
        When a value is not a number in the open interval (0, 100).
    """
    if mpp is None:
        return None
    low, high = MPP_OVERRIDE_RANGE
    try:
        values = (mpp, mpp) if np.ndim(mpp) == 0 and not isinstance(mpp, str) else tuple(mpp)
        pair = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise OptionError("mpp", f"expected a number or an (x, y) pair in um/px, got {mpp!r}") from None
    if len(pair) != 2 or not all(math.isfinite(v) and low < v < high for v in pair):
        raise OptionError("mpp", f"expected a pixel size in um/px with {low} < mpp < {high}, got {mpp!r}")
    return pair


def require_mpp(slide: HasMpp) -> Mpp:
    """Return the slide's ``(mpp_x, mpp_y)``.

    Raises
    ------
    MissingMppError
        When the slide records no usable pixel size; the message tells the
        user to pass ``--mpp``.
    """
    if slide.mpp is None:
        raise MissingMppError(slide.path)
    return slide.mpp


def magnification_from_mpp(mpp: Mpp | None) -> float | None:
    """Estimate the objective magnification from the pixel size (40x ~ 0.25 um/px)."""
    if mpp is None:
        return None
    return round(10.0 / ((mpp[0] + mpp[1]) / 2.0), 1)
