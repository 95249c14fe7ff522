"""QuPath-compatible GeoJSON written one feature at a time."""

from __future__ import annotations

import errno
import gzip
import json
import tracemalloc
import uuid

import numpy as np
import pytest
from shapely.geometry import LinearRing, Polygon

from wsinuc.writers.atomic import OutputError, partial_file_path
from wsinuc.writers.geojson import (
    GeoJSONWriter,
    feature_id,
    label_id_from_feature_id,
    prepare_polygon,
    prepare_rings,
    validate_qupath_feature,
)

SQUARE_CW = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)]  # clockwise in x/y maths
SQUARE_CLOSED_CCW = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
BOWTIE = [(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0)]


def _write_sample(path, **kwargs):
    with_hole = Polygon(
        [(100, 100), (140, 100), (140, 140), (100, 140)], [[(110, 110), (110, 120), (120, 120)]]
    )
    with GeoJSONWriter(path, **kwargs) as writer:
        writer.write(5, Polygon(SQUARE_CW), {"Area px": 100.0, "Circularity": 0.785})
        writer.write(6, np.array([(20.123456, 20.0), (30.0, 20.0), (25.0, 29.987654)]), {})
        writer.write(7, with_hole, None)
    return writer


def test_written_file_follows_qupath_detection_conventions(tmp_path):
    path = tmp_path / "nuclei.geojson"
    writer = _write_sample(path)
    collection = json.loads(path.read_text())
    assert collection["type"] == "FeatureCollection"
    assert writer.feature_count == len(collection["features"]) == 3
    for feature in collection["features"]:
        assert validate_qupath_feature(feature) == []
        assert feature["properties"]["objectType"] == "detection"
        assert feature["properties"]["classification"]["name"] == "Nucleus"
    ids = [label_id_from_feature_id(f["id"]) for f in collection["features"]]
    assert ids == [5, 6, 7]
    assert collection["features"][0]["properties"]["measurements"] == {
        "Area px": 100.0,
        "Circularity": 0.785,
    }


def test_rings_are_closed_rfc7946_oriented_and_rounded(tmp_path):
    path = tmp_path / "nuclei.geojson"
    _write_sample(path)
    features = json.loads(path.read_text())["features"]
    for feature in features:
        exterior, *holes = feature["geometry"]["coordinates"]
        assert exterior[0] == exterior[-1]
        assert LinearRing(exterior).is_ccw
        assert all(not LinearRing(hole).is_ccw for hole in holes)
    triangle = features[1]["geometry"]["coordinates"][0]
    assert sorted(map(tuple, triangle[:-1])) == [(20.12, 20.0), (25.0, 29.99), (30.0, 20.0)]
    assert len(features[2]["geometry"]["coordinates"]) == 2


def test_gzip_output_is_readable_with_gzip_open(tmp_path):
    path = tmp_path / "nuclei.geojson.gz"
    _write_sample(path)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        collection = json.load(handle)
    assert [validate_qupath_feature(f) for f in collection["features"]] == [[], [], []]


def test_gzip_flag_must_agree_with_the_file_name(tmp_path):
    with pytest.raises(ValueError, match="nuclei.geojson"):
        GeoJSONWriter(tmp_path / "nuclei.geojson", gzip=True)
    assert GeoJSONWriter(tmp_path / "nuclei.geojson.gz").gzip is True


def test_error_inside_the_writer_leaves_no_file_under_the_final_name(tmp_path):
    path = tmp_path / "nuclei.geojson"
    with pytest.raises(RuntimeError, match="model crashed"):
        with GeoJSONWriter(path) as writer:
            writer.write(1, Polygon(SQUARE_CW))
            raise RuntimeError("model crashed")
    assert not path.exists()
    assert not partial_file_path(path).exists()


def test_disk_full_while_streaming_is_a_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "nuclei.geojson"
    with pytest.raises(OutputError, match="disk full") as caught:
        with GeoJSONWriter(path) as writer:
            writer.write(1, Polygon(SQUARE_CW))
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_empty_collection_is_valid_json(tmp_path):
    path = tmp_path / "nuclei.geojson"
    with GeoJSONWriter(path):
        pass
    assert json.loads(path.read_text()) == {"type": "FeatureCollection", "features": []}


def test_writer_puts_features_on_disk_while_writing(tmp_path):
    path = tmp_path / "many.geojson"
    square = Polygon(SQUARE_CW)
    sizes = []
    with GeoJSONWriter(path) as writer:
        for label in range(1, 20_001):
            writer.write(label, square, {"Area px": 100.0})
            if label % 5_000 == 0:
                sizes.append(partial_file_path(path).stat().st_size)
    file_size = path.stat().st_size
    assert writer.feature_count == 20_000
    assert len(json.loads(path.read_text())["features"]) == 20_000
    # A writer that collected features and dumped them at the end would show
    # an empty partial file until exit.
    assert sizes == sorted(sizes)
    assert sizes[0] > 0.2 * file_size and sizes[-1] > 0.95 * file_size


def test_writer_memory_does_not_grow_with_the_feature_count(tmp_path):
    square = Polygon(SQUARE_CW)
    tracemalloc.start()
    try:
        with GeoJSONWriter(tmp_path / "many.geojson") as writer:
            for label in range(1, 2_001):
                writer.write(label, square, {"Area px": 100.0})
                if label == 200:
                    early, _ = tracemalloc.get_traced_memory()
            late, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 1,800 more features (~400 kB of JSON) must not stay in memory.
    assert late - early < 50_000, f"traced memory grew by {late - early} bytes"
    assert peak < 1_000_000


def test_invalid_outline_is_repaired_to_its_largest_valid_part():
    repaired = prepare_polygon(np.array(BOWTIE))
    assert repaired.is_valid
    assert repaired.area == pytest.approx(25.0)


def test_degenerate_outline_is_refused(tmp_path):
    assert prepare_polygon(np.array([(0, 0), (5, 0), (10, 0)])) is None
    with GeoJSONWriter(tmp_path / "n.geojson") as writer:
        with pytest.raises(ValueError, match="label 3"):
            writer.write(3, np.array([(0, 0), (5, 0), (10, 0)]))


def test_non_finite_measurements_are_left_out(tmp_path):
    path = tmp_path / "n.geojson"
    with GeoJSONWriter(path) as writer:
        writer.write(1, Polygon(SQUARE_CW), {"Area px": 100.0, "Solidity": float("nan")})
    feature = json.loads(path.read_text())["features"][0]
    assert feature["properties"]["measurements"] == {"Area px": 100.0}


@pytest.mark.parametrize("label_id", [0, -3, 2.5, True])
def test_label_ids_must_be_positive_ints(tmp_path, label_id):
    with GeoJSONWriter(tmp_path / "n.geojson") as writer:
        with pytest.raises(ValueError, match="label_id"):
            writer.write(label_id, Polygon(SQUARE_CW))


def test_write_outside_the_with_block_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="outside"):
        GeoJSONWriter(tmp_path / "n.geojson").write(1, Polygon(SQUARE_CW))


def test_write_many_counts_features(tmp_path):
    items = [(label, Polygon(SQUARE_CW), {"Area px": 1.0}) for label in (1, 2, 3)]
    with GeoJSONWriter(tmp_path / "n.geojson") as writer:
        assert writer.write_many(items) == 3
    assert writer.feature_count == 3


def test_feature_id_is_a_uuid_that_encodes_the_label():
    assert feature_id(255) == "00000000-0000-0000-0000-0000000000ff"
    assert uuid.UUID(feature_id(255)).int == 255


def _good_feature():
    return {
        "type": "Feature",
        "id": feature_id(1),
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in SQUARE_CLOSED_CCW]]},
        "properties": {
            "objectType": "detection",
            "classification": {"name": "Nucleus", "color": [255, 0, 0]},
            "measurements": {"Area px": 50.0},
        },
    }


def test_validator_accepts_a_hand_written_feature():
    assert validate_qupath_feature(_good_feature()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f["geometry"].update(type="MultiPolygon"), "geometry type"),
        (lambda f: f["geometry"]["coordinates"][0].pop(), "not closed"),
        (lambda f: f["geometry"].update(coordinates=[[[0, 0], [1, 1], [0, 0]]]), ">= 4 positions"),
        (lambda f: f["geometry"].update(coordinates=[[*map(list, BOWTIE), [0, 0]]]), "not valid"),
        (lambda f: f["properties"].update(objectType="annotation"), "objectType"),
        (lambda f: f["properties"]["classification"].pop("color"), "color"),
        (lambda f: f["properties"]["classification"].pop("name"), "name"),
        (lambda f: f["properties"]["measurements"].update(x=float("nan")), "'x'"),
        (lambda f: f["properties"]["measurements"].update(x="big"), "'x'"),
        (lambda f: f.update(id="nucleus-1"), "id"),
    ],
)
def test_validator_reports_each_broken_convention(change, expected):
    feature = _good_feature()
    change(feature)
    problems = validate_qupath_feature(feature)
    assert len(problems) == 1 and expected in problems[0], problems


def test_rounding_drops_the_repeated_vertices_it_makes():
    (ring,) = prepare_rings(np.array([(0, 0), (0.001, 0), (4, 0), (4, 4), (0, 4), (0, 0.002)]))
    assert ring.tolist() == [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]


def test_gzip_level_is_checked_and_only_changes_the_size(tmp_path):
    with pytest.raises(ValueError, match="compresslevel"):
        GeoJSONWriter(tmp_path / "n.geojson.gz", compresslevel=0)
    texts = []
    for level in (1, 9):
        path = tmp_path / f"n{level}.geojson.gz"
        _write_sample(path, compresslevel=level)
        texts.append(gzip.decompress(path.read_bytes()))
    assert texts[0] == texts[1]
