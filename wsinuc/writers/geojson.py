"""Stream nucleus outlines to a GeoJSON FeatureCollection that QuPath imports.

The writer puts the collection header on disk, then one feature at a time,
so memory stays flat however many nuclei a slide holds. QuPath (>= 0.4)
conventions, as read by ``qupath.lib.io.PathObjectTypeAdapters``:

- ``"id"``: a UUID string; QuPath keeps it as the object id. It is built from
  the label id, ``uuid.UUID(int=label_id)``, so ``uuid.UUID(id).int`` gives
  the label id back (see :func:`feature_id` / :func:`label_id_from_feature_id`).
- ``"geometry"``: a Polygon in level-0 pixel coordinates (x right, y down),
  rings closed, valid, exterior counter-clockwise and holes clockwise in
  coordinate order as RFC 7946 asks (QuPath ignores ring order),
  coordinates rounded to ``decimals`` places.
- ``"properties"``: ``objectType: "detection"``,
  ``classification: {"name": "Nucleus", "color": [r, g, b]}`` and
  ``measurements`` as a ``{name: number}`` object, the form QuPath >= 0.4
  writes and reads (it also still reads the older
  ``[{"name": ..., "value": ...}]`` list). QuPath before 0.4 wrote the list
  form and a packed ``colorRGB`` integer, so these files target QuPath >= 0.4.
  Non-finite measurement values are left out of the feature (JSON has no
  NaN; QuPath shows a missing measurement as NaN).

QuPath puts (0, 0) at the top-left corner of the top-left pixel, so an
outline traced through pixel centres (``skimage.measure.find_contours``)
should be shifted by +0.5 before it is written.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from wsinuc.writers.atomic import atomic_file, disk_full_guard
from wsinuc.writers.qupath_schema import validate_qupath_feature

__all__ = [
    "GeoJSONWriter",
    "build_feature",
    "feature_id",
    "label_id_from_feature_id",
    "prepare_polygon",
    "prepare_rings",
    "validate_qupath_feature",
]

logger = logging.getLogger(__name__)

DEFAULT_CLASS_NAME = "Nucleus"
DEFAULT_CLASS_COLOR = (0, 160, 255)
_HEADER = b'{"type":"FeatureCollection","features":[\n'
_FOOTER = b"\n]}\n"
_SEPARATOR = b",\n"


def feature_id(label_id: int) -> str:
    """Return the QuPath object id (a UUID string) of a nucleus label id.

    >>> feature_id(42)
    '00000000-0000-0000-0000-00000000002a'
    """
    return str(uuid.UUID(int=int(label_id)))


def label_id_from_feature_id(text: str) -> int:
    """Return the label id encoded in a feature id written by :func:`feature_id`."""
    return uuid.UUID(text).int


def _largest_polygon(geometry: shapely.Geometry) -> Polygon | None:
    """Return the largest-area Polygon inside any geometry, or None if it has none."""
    polygons = shapely.get_parts(geometry)
    while any(hasattr(part, "geoms") for part in polygons):
        polygons = shapely.get_parts(polygons)
    polygons = [p for p in polygons if isinstance(p, Polygon) and p.area > 0]
    return max(polygons, key=lambda p: p.area) if polygons else None


def _as_polygon(polygon: Polygon | np.ndarray) -> Polygon:
    """Return a shapely Polygon from a Polygon or an (n, 2) array of x, y vertices."""
    if isinstance(polygon, Polygon):
        return polygon
    vertices = np.asarray(polygon, dtype=float)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
        raise ValueError(
            f"polygon must be a shapely Polygon or an (n >= 3, 2) array of x, y; "
            f"got array of shape {vertices.shape}"
        )
    return shapely.polygons(vertices)


def _signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a closed ring; positive when counter-clockwise (x right, y up)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _oriented_rings(polygon: Polygon, decimals: int) -> list[np.ndarray]:
    """Return rounded closed rings: exterior counter-clockwise, holes clockwise."""
    rings = [polygon.exterior, *polygon.interiors]
    rounded = [np.round(shapely.get_coordinates(ring), decimals) for ring in rings]
    wanted_sign = [1.0] + [-1.0] * (len(rounded) - 1)
    return [r if _signed_area(r) * sign > 0 else r[::-1] for r, sign in zip(rounded, wanted_sign)]


def _simple_rings(geometry: Polygon, decimals: int) -> list[np.ndarray] | None:
    """Fast path for a hole-free polygon that stays valid after rounding, else None."""
    if shapely.get_num_interior_rings(geometry) != 0:
        return None
    ring = shapely.get_coordinates(geometry)
    rounded = np.round(ring, decimals)
    same = np.array_equal(rounded, ring)
    area = _signed_area(rounded) if len(rounded) >= 4 else 0.0
    if area == 0.0 or not shapely.is_valid(geometry if same else shapely.polygons(rounded)):
        return None
    return [rounded if area > 0 else rounded[::-1]]


def prepare_rings(polygon: Polygon | np.ndarray, decimals: int = 2) -> list[np.ndarray] | None:
    """Return the rings exactly as they will be written, or None if nothing is left.

    A valid polygon is rounded to ``decimals`` places; one that is invalid
    (before or after rounding) is repaired, keeping its largest part, and
    snapped to a ``10**-decimals`` grid, which keeps it valid. Rings are
    closed, the exterior counter-clockwise and holes clockwise (RFC 7946).

    Parameters
    ----------
    polygon : shapely.Polygon or ndarray
        Outline in level-0 pixel coordinates; an array is ``(n, 2)`` x, y.
    decimals : int
        Decimal places kept in coordinates.

    Returns
    -------
    list of ndarray or None
        Closed ``(m, 2)`` rings, exterior first; None when the outline has no
        area after repair and rounding.
    """
    geometry = _as_polygon(polygon)
    if geometry.is_empty:
        return None
    rings = _simple_rings(geometry, decimals)
    if rings is not None:
        return rings
    if not geometry.is_valid:
        geometry = _largest_polygon(shapely.make_valid(geometry))
    if geometry is not None:
        geometry = _largest_polygon(shapely.set_precision(geometry, 10.0**-decimals))
    return None if geometry is None else _oriented_rings(geometry, decimals)


def prepare_polygon(polygon: Polygon | np.ndarray, decimals: int = 2) -> Polygon | None:
    """Return the outline as :class:`GeoJSONWriter` will write it, or None if degenerate.

    The engine can call this first to drop degenerate outlines from every
    output alike; see :func:`prepare_rings` for the steps.
    """
    rings = prepare_rings(polygon, decimals)
    return None if rings is None else Polygon(rings[0], rings[1:])


def _finite_measurements(measurements: Mapping[str, Any] | None) -> dict[str, float]:
    """Return measurements as name -> float, without non-finite values."""
    if not measurements:
        return {}
    kept = {}
    for name, value in measurements.items():
        if not isinstance(name, str) or isinstance(value, (bool, np.bool_)):
            raise ValueError(f"measurement {name!r}={value!r}: names must be str, values numbers")
        number = float(value)
        if math.isfinite(number):
            kept[name] = number
    return kept


def build_feature(
    label_id: int,
    polygon: Polygon | np.ndarray,
    measurements: Mapping[str, Any] | None = None,
    *,
    classification: Mapping[str, Any] | None = None,
    decimals: int = 2,
) -> dict[str, Any]:
    """Return one QuPath detection Feature as a dict.

    Parameters
    ----------
    label_id : int
        Positive nucleus id (the value in the label image).
    polygon : shapely.Polygon or ndarray
        Outline in level-0 pixel coordinates; an array is ``(n, 2)`` x, y.
    measurements : mapping of str to number, optional
        Per-nucleus measurements; non-finite values are left out.
    classification : mapping, optional
        ``{"name": str, "color": [r, g, b]}``; the default is Nucleus.
    decimals : int
        Decimal places kept in coordinates.

    Raises
    ------
    ValueError
        Bad label id or measurement, or an outline with no area left after
        repair and rounding (:func:`prepare_polygon` returns None for those).
    """
    label_id = _validate_label_id(label_id)
    rings = prepare_rings(polygon, decimals)
    if rings is None:
        raise ValueError(f"label {label_id}: outline has no area after repair/rounding")
    properties: dict[str, Any] = {
        "objectType": "detection",
        "classification": dict(
            classification or _classification(DEFAULT_CLASS_NAME, DEFAULT_CLASS_COLOR)
        ),
    }
    kept = _finite_measurements(measurements)
    if kept:
        properties["measurements"] = kept
    return {
        "type": "Feature",
        "id": feature_id(label_id),
        "geometry": {"type": "Polygon", "coordinates": [ring.tolist() for ring in rings]},
        "properties": properties,
    }


def _classification(name: str, color: Iterable[int]) -> dict[str, Any]:
    """Return a validated QuPath classification object."""
    rgb = [int(c) for c in color]
    if not name or len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"classification needs a name and 3 ints in 0..255; got {name!r}, {rgb}")
    return {"name": name, "color": rgb}


def _validate_label_id(label_id: int) -> int:
    if isinstance(label_id, (bool, np.bool_)) or not isinstance(label_id, (int, np.integer)):
        raise ValueError(f"label_id must be a positive int, got {label_id!r}")
    if label_id <= 0:
        raise ValueError(f"label_id must be a positive int, got {label_id}")
    return int(label_id)


def _resolve_gzip(path: Path, gzip: bool | None) -> bool:
    """Return whether to compress, checking the name agrees with ``gzip``."""
    named_gz = path.suffix == ".gz"
    if gzip is None:
        return named_gz
    if gzip != named_gz:
        raise ValueError(
            f"gzip={gzip} but the output name {path.name!r} "
            f"{'ends' if named_gz else 'does not end'} in '.gz'; name it '*.geojson.gz' to compress"
        )
    return gzip


class GeoJSONWriter:
    """Stream QuPath detections to ``path`` (``.geojson`` or ``.geojson.gz``).

    Use as a context manager. Features go to a hidden ``.partial`` file, which
    is moved onto ``path`` only when the ``with`` block ends without error;
    after an error no file exists under ``path``.

    Parameters
    ----------
    path : str or Path
        Final output path.
    gzip : bool, optional
        Compress with gzip. None (default) infers it from a ``.gz`` suffix; a
        value that contradicts the suffix raises ValueError.
    class_name : str
        QuPath classification name of every feature.
    color : tuple of 3 int
        Classification colour (r, g, b) in 0..255.
    decimals : int
        Decimal places kept in pixel coordinates (2 keeps files small).

    Attributes
    ----------
    feature_count : int
        Features written so far.

    Examples
    --------
    >>> with GeoJSONWriter(out / "nuclei.geojson") as writer:  # doctest: +SKIP
    ...     writer.write(7, polygon, {"Area um^2": 31.5})
    """

    def __init__(
        self,
        path: str | Path,
        *,
        gzip: bool | None = None,
        class_name: str = DEFAULT_CLASS_NAME,
        color: tuple[int, int, int] = DEFAULT_CLASS_COLOR,
        decimals: int = 2,
    ) -> None:
        self.path = Path(path)
        self.gzip = _resolve_gzip(self.path, gzip)
        if not 0 <= int(decimals) <= 6:
            raise ValueError(f"decimals must be in 0..6, got {decimals}")
        self.decimals = int(decimals)
        self.classification = _classification(class_name, color)
        self.feature_count = 0
        self._stack: contextlib.ExitStack | None = None
        self._stream: IO[bytes] | None = None

    def __enter__(self) -> GeoJSONWriter:
        stack = contextlib.ExitStack()
        raw = stack.enter_context(atomic_file(self.path, "wb"))
        if self.gzip:
            raw = stack.enter_context(gzip_module.GzipFile(fileobj=raw, mode="wb", mtime=0))
        self._stack, self._stream = stack, raw
        self.feature_count = 0
        with disk_full_guard(self.path):
            raw.write(_HEADER)
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, stream = self._stack, self._stream
        self._stack = self._stream = None
        if exc_type is not None:
            stack.__exit__(exc_type, exc, traceback)
            return False
        with stack, disk_full_guard(self.path):
            stream.write(_FOOTER)
        logger.info("wrote %d nuclei to %s", self.feature_count, self.path)
        return False

    def write(
        self,
        label_id: int,
        polygon: Polygon | np.ndarray,
        measurements: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one nucleus.

        Parameters
        ----------
        label_id : int
            Positive id of the nucleus (its value in the label image).
        polygon : shapely.Polygon or ndarray
            Outline in level-0 pixel coordinates; an array is ``(n, 2)`` x, y.
        measurements : mapping of str to number, optional
            Per-nucleus measurements (the same columns as the table output).

        Raises
        ------
        ValueError
            Bad label id or measurement, or an outline with no area left after
            rounding (call :func:`prepare_polygon` first to filter those).
        """
        if self._stream is None:
            raise RuntimeError("GeoJSONWriter.write called outside its 'with' block")
        feature = build_feature(
            label_id,
            polygon,
            measurements,
            classification=self.classification,
            decimals=self.decimals,
        )
        text = json.dumps(feature, separators=(",", ":"), allow_nan=False).encode("utf-8")
        with disk_full_guard(self.path):
            if self.feature_count:
                self._stream.write(_SEPARATOR)
            self._stream.write(text)
        self.feature_count += 1

    def write_many(
        self, items: Iterable[tuple[int, Polygon | np.ndarray, Mapping[str, Any] | None]]
    ) -> int:
        """Append ``(label_id, polygon, measurements)`` items one by one; return how many."""
        count = 0
        for label_id, polygon, measurements in items:
            self.write(label_id, polygon, measurements)
            count += 1
        return count

