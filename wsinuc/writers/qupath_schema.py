"""Check parsed GeoJSON features against QuPath's detection conventions.

Used by the tests and by the engine's self-check on a written file; the
conventions are described in :mod:`wsinuc.writers.geojson`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import Polygon


def _is_feature_id(identifier: Any) -> bool:
    """Return whether ``identifier`` is a UUID string or an int."""
    if isinstance(identifier, str):
        try:
            uuid.UUID(identifier)
        except ValueError:
            return False
        return True
    return isinstance(identifier, int) and not isinstance(identifier, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ring_problems(ring: Any, index: int) -> list[str]:
    """Return the problems of one GeoJSON linear ring."""
    if not isinstance(ring, list) or len(ring) < 4:
        got = len(ring) if isinstance(ring, list) else repr(ring)
        return [f"ring {index} needs >= 4 positions, got {got}"]
    positions_ok = all(
        isinstance(p, list) and len(p) == 2 and all(_is_number(c) and math.isfinite(c) for c in p)
        for p in ring
    )
    if not positions_ok:
        return [f"ring {index} has a position that is not [x, y] finite numbers"]
    if ring[0] != ring[-1]:
        return [f"ring {index} is not closed (first {ring[0]} != last {ring[-1]})"]
    return []


def _geometry_problems(geometry: Any) -> list[str]:
    """Return the problems of a GeoJSON Polygon geometry."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        kind = geometry.get("type") if isinstance(geometry, dict) else geometry
        return [f"geometry type must be 'Polygon', got {kind!r}"]
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings:
        return ["geometry has no rings"]
    problems = [p for i, ring in enumerate(rings) for p in _ring_problems(ring, i)]
    if not problems:
        polygon = Polygon(rings[0], rings[1:])
        if not polygon.is_valid:
            problems.append(f"polygon is not valid: {shapely.is_valid_reason(polygon)}")
    return problems


def _classification_problems(classification: Any) -> list[str]:
    if not isinstance(classification, dict):
        return [f"classification must be an object, got {classification!r}"]
    problems = []
    if not isinstance(classification.get("name"), str) or not classification.get("name"):
        problems.append(f"classification name missing, got {classification.get('name')!r}")
    color = classification.get("color")
    if not (
        isinstance(color, list)
        and len(color) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
    ):
        problems.append(f"classification color must be [r, g, b] ints in 0..255, got {color!r}")
    return problems


def _measurement_problems(measurements: Any) -> list[str]:
    if measurements is None:
        return []
    if not isinstance(measurements, dict):
        return [f"measurements must be an object name -> number, got {type(measurements).__name__}"]
    return [
        f"measurement {name!r} must be a finite number, got {value!r}"
        for name, value in measurements.items()
        if not (_is_number(value) and math.isfinite(value))
    ]


def validate_qupath_feature(feature: Mapping[str, Any]) -> list[str]:
    """Return the ways a parsed GeoJSON feature breaks the QuPath detection conventions.

    Checks: ``type`` is Feature; ``id`` is a UUID string or an int; geometry
    is a Polygon whose rings are closed, have >= 4 finite ``[x, y]``
    positions and form a shapely-valid polygon; ``objectType`` is
    ``"detection"``; the classification has a name and an ``[r, g, b]``
    colour; measurements (if any) are an object of finite numbers.

    Parameters
    ----------
    feature : mapping
        One feature as loaded by :func:`json.load`.

    Returns
    -------
    list of str
        One line per problem; empty when the feature is fine.
    """
    if not isinstance(feature, Mapping):
        return [f"feature must be an object, got {type(feature).__name__}"]
    problems = []
    if feature.get("type") != "Feature":
        problems.append(f"type must be 'Feature', got {feature.get('type')!r}")
    if not _is_feature_id(feature.get("id")):
        problems.append(f"id must be a UUID string or an int, got {feature.get('id')!r}")
    problems += _geometry_problems(feature.get("geometry"))
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return [*problems, f"properties must be an object, got {properties!r}"]
    if properties.get("objectType") != "detection":
        problems.append(f"objectType must be 'detection', got {properties.get('objectType')!r}")
    problems += _classification_problems(properties.get("classification"))
    problems += _measurement_problems(properties.get("measurements"))
    return problems
