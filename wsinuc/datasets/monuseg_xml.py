"""Aperio ImageScope XML (the MoNuSeg annotation format) to polygons.

The file looks like::

    <Annotations MicronsPerPixel="0.252000">
      <Annotation ...><Regions>
        <Region Id="1" ...><Vertices>
          <Vertex X="114.4" Y="109.2"/> ...
        </Vertices></Region> ...

Parsing goes through :mod:`defusedxml`, which refuses entity expansion and
external references. Coordinates are returned exactly as written; see
:mod:`wsinuc.datasets.rasterize` for how they map to pixels.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse, parse

from wsinuc.errors import DatasetError

logger = logging.getLogger(__name__)


def read_monuseg_xml(path: str | Path) -> tuple[list[np.ndarray], float | None]:
    """Read every ``<Region>`` polygon and the pixel size of an ImageScope XML file.

    Parameters
    ----------
    path : str or Path
        The ``.xml`` annotation file.

    Returns
    -------
    polygons : list of np.ndarray
        One float64 ``(n, 2)`` array of ``(x, y)`` vertices per region, in file order.
    mpp : float or None
        The root's ``MicronsPerPixel`` attribute, None when absent or unusable.

    Raises
    ------
    DatasetError
        The file is missing, not well-formed XML, uses forbidden XML
        constructs, has a vertex without numeric X/Y, or has no region.
    """
    path = Path(path)
    root = _parse_root(path)
    polygons = [_region_vertices(path, region) for region in root.iter("Region")]
    if not polygons:
        raise DatasetError(path, "no <Region> polygons found (not an ImageScope annotation file?)")
    return polygons, _microns_per_pixel(path, root)


def read_monuseg_mpp(path: str | Path) -> float | None:
    """Read only the ``MicronsPerPixel`` of an ImageScope XML file (stops after the root tag).

    Raises
    ------
    DatasetError
        The file is missing or does not start with well-formed XML.
    """
    path = Path(path)
    _require_file(path)
    try:
        with path.open("rb") as stream:
            _, root = next(iterparse(stream, events=("start",)))
    except (ParseError, DefusedXmlException, StopIteration, OSError) as exc:
        raise DatasetError(path, f"not a readable XML file ({_describe(exc)})") from exc
    return _microns_per_pixel(path, root)


def _parse_root(path: Path) -> Element:
    _require_file(path)
    try:
        return parse(path).getroot()
    except ParseError as exc:
        raise DatasetError(path, f"corrupt or truncated XML ({_describe(exc)})") from exc
    except DefusedXmlException as exc:
        raise DatasetError(path, f"XML refused for safety ({_describe(exc)})") from exc
    except OSError as exc:
        raise DatasetError(path, f"cannot read file ({_describe(exc)})") from exc


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(path, "annotation XML not found")


def _region_vertices(path: Path, region: Element) -> np.ndarray:
    vertices = []
    for vertex in region.iter("Vertex"):
        x, y = vertex.get("X"), vertex.get("Y")
        try:
            point = (float(x), float(y))
        except (TypeError, ValueError):
            point = (math.nan, math.nan)
        if not all(math.isfinite(v) for v in point):
            raise DatasetError(
                path, f"region {region.get('Id')!r} has a vertex with X={x!r}, Y={y!r}"
            )
        vertices.append(point)
    return np.array(vertices, dtype=np.float64).reshape(-1, 2)


def _microns_per_pixel(path: Path, root: Element) -> float | None:
    text = root.get("MicronsPerPixel")
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        logger.warning("%s: ignoring unusable MicronsPerPixel=%r", path, text)
        return None
    return value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
