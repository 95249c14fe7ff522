"""GeoJSONWriter.write_rings: a whole chunk at once, feature for feature equal to write()."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import shapely
from scipy import ndimage

from wsinuc.instances.polygons import label_rings
from wsinuc.writers.geojson import GeoJSONWriter, build_feature, prepare_rings
from wsinuc.writers.geojson_fast import kept_rings
from wsinuc.writers.geojson_rings import _rounding_keeps_validity, prepare_packed_rings
from wsinuc.writers.json_text import number_bytes
from wsinuc.writers.qupath_schema import validate_qupath_feature

SLIT = [(0, 0), (3, 0), (3, 2), (1.502, 2), (1.502, 1), (1.498, 1), (1.498, 2), (0, 2)]


def _pack(rings):
    starts = np.concatenate([[0], np.cumsum([len(r) for r in rings])]).astype(np.int64)
    coords = np.concatenate([np.asarray(r, float).reshape(-1, 2) for r in rings])
    return coords, starts


def _blob_rings(seed=0, size=300, scale=1.0, offset=(0.0, 0.0), tolerance=0.0):
    rng = np.random.default_rng(seed)
    labels, _ = ndimage.label(ndimage.gaussian_filter(rng.random((size, size)), 3) > 0.52)
    rings = label_rings(labels, scale=scale, offset=offset, simplify_tolerance=tolerance)
    return [rings.ring(i) for i in range(len(rings))]


def _star_rings(seed=1, count=60):
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (count, 12)), axis=1)
    radii = rng.uniform(1.0, 9.0, (count, 12))
    centres = rng.uniform(0, 5000, (count, 1, 2))
    return list(centres + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=2))


def _degenerate_rings():
    return [
        [(0, 0), (5, 0), (10, 0)],  # collinear: no area
        [(1, 1), (1.001, 1), (1.001, 1.001), (1, 1.001)],  # one point after rounding
        [(0, 0), (1, 1)],  # too few vertices
        [(0, 0), (1, 1), (0, 0)],  # closed by mistake, 2 corners
        [(0, 0), (0, 0), (4, 0), (4, 0), (4, 4), (0, 4), (0, 0)],  # repeated vertices
        [(0, 0), (0, 4), (4, 4), (4, 0)],  # clockwise
        SLIT,  # self-touches once rounded
        [(-3.25, -1.5), (2.0, -1.5), (2.0, 7.125), (-3.25, 7.125)],  # negative coordinates
        [(0.004, 0), (2, 0), (2, 2), (0.004, 2), (0.004, 1.003), (0.001, 1.003), (0.001, 1), (0.004, 1)],
    ]


def _columns(count, seed=2):
    rng = np.random.default_rng(seed)
    columns = {
        "Area µm^2": rng.uniform(0, 500, count),
        'Odd "name"': np.round(rng.normal(0, 1e3, count)),
        "Tiny": rng.normal(0, 1e-9, count) * 10.0 ** rng.integers(-300, 300, count),
        "Solidity": rng.uniform(0, 1, count),
    }
    columns["Solidity"][::3] = np.nan
    columns["Area µm^2"][1::4] = np.inf
    columns["Tiny"][::5] = 0.0
    if count > 2:
        columns["Tiny"][2] = -0.0
    return columns


def _write_both(tmp_path, rings, columns, decimals=2, name="n.geojson", **kwargs):
    """Write with write_rings and with write(); return both parsed feature lists and keep."""
    coords, starts = _pack(rings)
    ids = np.arange(1, len(rings) + 1) * 7919
    with GeoJSONWriter(tmp_path / name, decimals=decimals) as writer:
        keep = writer.write_rings(ids, coords, starts, columns, **kwargs)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(tmp_path / name, "rt", encoding="utf-8") as handle:
        fast = json.load(handle)["features"]
    reference = []
    for row, ring in enumerate(rings):
        if len(set(map(tuple, np.round(np.asarray(ring, float), decimals)))) < 3:
            continue
        if prepare_rings(np.asarray(ring, float), decimals) is None:
            continue
        measurements = {key: values[row] for key, values in columns.items()}
        reference.append(build_feature(int(ids[row]), np.asarray(ring, float), measurements,
                                       classification=writer.classification, decimals=decimals))  # fmt: skip
    assert writer.feature_count == len(fast) == int(keep.sum())
    return fast, reference, keep


def _assert_same_features(fast, reference):
    assert len(fast) == len(reference)
    for got, want in zip(fast, reference):
        assert got == want, (got["id"], got["geometry"], want["geometry"])
        assert validate_qupath_feature(got) == []
        measurements = got["properties"].get("measurements", {})
        assert all(isinstance(v, float) for v in measurements.values())


@pytest.mark.parametrize(
    ("scale", "offset", "tolerance"),
    [(1.0, (0.0, 0.0), 0.0), (1.0108, (1234.5, 77.25), 0.0), (0.5, (3.0, 0.0), 0.0), (1.37, (9.1, 2.2), 0.7)],
)
def test_staircase_rings_match_build_feature(tmp_path, scale, offset, tolerance):
    rings = _blob_rings(scale=scale, offset=offset, tolerance=tolerance)
    fast, reference, keep = _write_both(tmp_path, rings, _columns(len(rings)))
    assert keep.all() and len(fast) > 50
    _assert_same_features(fast, reference)


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 6])
def test_random_float_rings_match_build_feature(tmp_path, decimals):
    rings = _star_rings() + _degenerate_rings()
    fast, reference, _ = _write_both(tmp_path, rings, _columns(len(rings)), decimals=decimals)
    _assert_same_features(fast, reference)


def test_kept_rings_tells_the_table_which_rows_the_geojson_holds(tmp_path):
    rings = _degenerate_rings() + _blob_rings(seed=9, size=60)
    coords, starts = _pack(rings)
    _, _, keep = _write_both(tmp_path, rings, {})
    np.testing.assert_array_equal(kept_rings(coords, starts, 2), keep)


def test_clockwise_chunk_is_turned_ring_by_ring(tmp_path):
    rings = [ring[::-1] for ring in _blob_rings(seed=8, size=150, scale=1.0108)]
    fast, reference, keep = _write_both(tmp_path, rings, _columns(len(rings)))
    assert keep.all()
    _assert_same_features(fast, reference)


def test_degenerate_and_clockwise_rings(tmp_path):
    rings = _degenerate_rings()
    fast, reference, keep = _write_both(tmp_path, rings, _columns(len(rings)))
    assert keep.tolist() == [False, False, False, False, True, True, True, True, True]
    _assert_same_features(fast, reference)
    assert shapely.Polygon(fast[1]["geometry"]["coordinates"][0]).exterior.is_ccw
    assert fast[0]["geometry"]["coordinates"] == [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]


def test_gzip_output_and_no_measurements(tmp_path):
    rings = _blob_rings(seed=3)
    fast, reference, _ = _write_both(tmp_path, rings, {}, name="n.geojson.gz")
    _assert_same_features(fast, reference)
    assert all("measurements" not in f["properties"] for f in fast)


def test_check_valid_repairs_an_invalid_input_ring(tmp_path):
    bowtie = [(0, 0), (10, 10), (10, 0), (0, 10)]
    rings = [bowtie, *_blob_rings(seed=4, size=80)]
    fast, reference, keep = _write_both(tmp_path, rings, {}, check_valid=True)
    assert keep.all()
    _assert_same_features(fast, reference)


def test_chunks_and_single_features_share_one_collection(tmp_path):
    rings = _blob_rings(seed=5, size=120)
    coords, starts = _pack(rings)
    half = len(rings) // 2
    path = tmp_path / "n.geojson"
    with GeoJSONWriter(path) as writer:
        writer.write_rings(np.arange(1, half + 1), coords[: starts[half]], starts[: half + 1], None)
        writer.write_rings(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(1, np.int64), {})
        writer.write(10_000, rings[half])
        rest = starts[half + 1 :] - starts[half + 1]
        writer.write_rings(np.arange(half + 2, len(rings) + 1), coords[starts[half + 1] :], rest, {})
    features = json.loads(path.read_text())["features"]
    assert len(features) == writer.feature_count == len(rings)
    assert features[half]["id"] == "00000000-0000-0000-0000-000000002710"


def test_empty_chunk_as_the_only_write_gives_an_empty_collection(tmp_path):
    path = tmp_path / "n.geojson"
    with GeoJSONWriter(path) as writer:
        keep = writer.write_rings(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(1, np.int64))
    assert keep.shape == (0,)
    assert json.loads(path.read_text()) == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize(
    ("ids", "starts", "columns", "match"),
    [
        ([1, 0], [0, 4, 8], {}, "positive"),
        ([1, 2], [0, 4], {}, "len\\(ids\\) \\+ 1"),
        ([1, 2], [0, 5, 4], {}, "rise from 0"),
        ([1, 2], [0, 4, 8], {"a": [1.0]}, "'a'"),
        ([1, 2], [0, 4, 8], {"a": ["x", "y"]}, "numeric"),
    ],
)
def test_bad_chunks_are_refused(tmp_path, ids, starts, columns, match):
    coords, _ = _pack([[(0, 0), (1, 0), (1, 1), (0, 1)]] * 2)
    with GeoJSONWriter(tmp_path / "n.geojson") as writer:
        with pytest.raises(ValueError, match=match):
            writer.write_rings(np.array(ids), coords, np.array(starts), columns)


def test_write_rings_outside_the_with_block_is_an_error(tmp_path):
    coords, starts = _pack([[(0, 0), (1, 0), (1, 1)]])
    with pytest.raises(RuntimeError, match="outside"):
        GeoJSONWriter(tmp_path / "n.geojson").write_rings(np.array([1]), coords, starts)


@pytest.mark.parametrize("decimals", [0, 1, 2, 4, 6])
def test_number_text_parses_back_to_the_rounded_value(decimals):
    rng = np.random.default_rng(decimals)
    scaled = np.concatenate([rng.integers(-(10**9), 10**9, 2000), [0, 1, -1, 10, 10**decimals]])
    matrix, lengths = number_bytes(scaled, decimals)
    texts = [bytes(row[row != 0]).decode() for row in matrix]
    assert lengths.tolist() == [len(t) for t in texts]
    assert [json.loads(t) for t in texts] == (scaled / 10.0**decimals).tolist()
    assert all(t == "0" or not t.rstrip("0").endswith(".") for t in texts)


def test_grid_screen_only_passes_rings_that_stay_valid_when_rounded():
    rings = _blob_rings(seed=6, scale=0.0137, offset=(0.3, 0.7)) + _blob_rings(seed=7, scale=0.0071)
    coords, starts = _pack(rings)
    passed = _rounding_keeps_validity(coords, starts, decimals=2)
    rounded = [shapely.Polygon(np.round(ring, 2)) for ring in rings]
    assert 0 < passed.sum() < len(rings)
    assert all(polygon.is_valid for polygon, ok in zip(rounded, passed) if ok)
    keep, fast, slow = prepare_packed_rings(coords, starts, 2)
    assert len(fast.rows) + len(slow.rows) == keep.sum()
