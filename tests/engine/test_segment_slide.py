"""The whole-slide engine: seamless nuclei, consistent outputs, safe reruns."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from engine_files import read_labels

from wsinuc.config import InferenceConfig, OutputConfig, RunConfig, SegmentConfig, TilingConfig
from wsinuc.errors import OptionError, WsinucError
from wsinuc.metrics import match_instances
from wsinuc.engine import segment_slide
from wsinuc.writers.qupath_schema import validate_qupath_feature


def _config(model: Path, chunk: int = 256, **output) -> SegmentConfig:
    return SegmentConfig(
        tiling=TilingConfig(chunk_size=chunk, halo=96),
        inference=InferenceConfig(model=str(model), device="cpu"),
        output=OutputConfig(**output),
        run=RunConfig(progress=False),
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, small_slide, colour_model) -> dict[int, Path]:
    """The small slide segmented with 256 px and with 512 px chunks."""
    folders = {}
    for chunk in (256, 512):
        out = tmp_path_factory.mktemp(f"chunk{chunk}")
        segment_slide(small_slide, out, _config(colour_model, chunk))
        folders[chunk] = out / small_slide.stem
    return folders


def test_chunk_size_does_not_change_the_nuclei(two_runs):
    small, large = read_labels(two_runs[256] / "labels.ome.zarr"), read_labels(two_runs[512] / "labels.ome.zarr")
    match = match_instances(small, large, iou=0.9)
    n_small, n_large = len(np.unique(small)) - 1, len(np.unique(large)) - 1
    assert n_small > 50
    assert match.tp >= 0.99 * max(n_small, n_large)


def test_every_nucleus_once_with_one_id(two_runs):
    out = two_runs[256]
    labels = read_labels(out / "labels.ome.zarr")
    features = json.loads((out / "nuclei.geojson").read_text())["features"]
    table = pq.read_table(out / "nuclei.parquet").to_pydict()
    label_ids = set(np.unique(labels)) - {0}
    assert len(features) == len(table["label"]) == len(label_ids)
    assert len(set(table["label"])) == len(table["label"])
    assert set(table["label"]) == label_ids


def test_geojson_follows_qupath_conventions(two_runs):
    collection = json.loads((two_runs[512] / "nuclei.geojson").read_text())
    assert collection["type"] == "FeatureCollection"
    problems = [p for feature in collection["features"] for p in validate_qupath_feature(feature)]
    assert problems == []
    props = collection["features"][0]["properties"]
    assert props["objectType"] == "detection" and props["classification"]["name"] == "Nucleus"
    assert {"area_um2", "mean_hematoxylin_od", "solidity"} <= set(props["measurements"])


def test_polygons_lie_on_their_labels(two_runs):
    out = two_runs[512]
    labels = read_labels(out / "labels.ome.zarr")
    table = pq.read_table(out / "nuclei.parquet").to_pydict()
    for label, x, y in list(zip(table["label"], table["centroid_x"], table["centroid_y"]))[:40]:
        rows, cols = np.nonzero(labels == label)
        assert abs(cols.mean() + 0.5 - x) < 1.0 and abs(rows.mean() + 0.5 - y) < 1.0


def test_labels_zarr_validates_as_ome_ngff(two_runs):
    import ome_zarr_models
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = two_runs[256] / "labels.ome.zarr"
    model = ome_zarr_models.open_ome_zarr(path)
    assert type(model).__name__ == "ImageLabel"
    nodes = list(Reader(parse_url(str(path)))())
    level0 = np.asarray(nodes[0].data[0])
    np.testing.assert_array_equal(level0, read_labels(path))


def test_run_record_and_overlay(two_runs):
    record = json.loads((two_runs[256] / "run.json").read_text())
    assert record["counts"]["chunks_run_now"] == record["counts"]["chunks"] > 0
    assert len(record["weights_sha256"]) == 64
    assert (two_runs[256] / "overlay.jpg").stat().st_size > 0
    assert not (two_runs[256] / ".work").exists()


def test_existing_output_is_not_overwritten_without_asking(tmp_path, small_slide, colour_model):
    config = _config(colour_model, 512, outputs=("table",))
    segment_slide(small_slide, tmp_path, config)
    with pytest.raises(WsinucError, match="--overwrite"):
        segment_slide(small_slide, tmp_path, config)
    again = replace(config, output=OutputConfig(outputs=("table",), overwrite=True))
    assert segment_slide(small_slide, tmp_path, again)["counts"]["nuclei"] > 0


def test_resume_with_other_settings_is_refused(tmp_path, small_slide, colour_model):
    config = _config(colour_model, 512, outputs=("table",))
    work = tmp_path / small_slide.stem / ".work"
    work.mkdir(parents=True)
    (work / "plan.json").write_text(json.dumps({"other": "settings"}))
    resume = replace(config, output=OutputConfig(outputs=("table",), resume=True))
    with pytest.raises(OptionError, match="--resume"):
        segment_slide(small_slide, tmp_path, resume)


def test_region_limits_the_chunks(tmp_path, small_slide, colour_model):
    config = _config(colour_model, 256, outputs=("table",))
    config = replace(config, tiling=replace(config.tiling, region=(300, 300, 100, 100)))
    record = segment_slide(small_slide, tmp_path, config)
    assert record["counts"]["chunks"] == 1
    assert record["counts"]["valid_megapixels"] <= (100 + 2 * 96 + 32) ** 2 / 1e6


def _anchors(labels: np.ndarray) -> dict[int, tuple[int, int]]:
    """First pixel (row, col) in raster order of every labelled object."""
    ids, first = np.unique(labels.ravel(), return_index=True)
    return {int(i): divmod(int(f), labels.shape[1]) for i, f in zip(ids, first) if i}


def test_region_keeps_exactly_the_nuclei_anchored_inside_it(tmp_path, two_runs, small_slide, colour_model):
    x, y, w, h = 290, 330, 300, 200
    config = _config(colour_model, 256, outputs=("zarr", "table"))
    record = segment_slide(small_slide, tmp_path, replace(config, tiling=replace(config.tiling, region=(x, y, w, h))))
    part = read_labels(tmp_path / small_slide.stem / "labels.ome.zarr")
    whole = read_labels(two_runs[256] / "labels.ome.zarr")
    inside = {i for i, (r, c) in _anchors(whole).items() if y <= r < y + h and x <= c < x + w}
    assert len(inside) > 10
    assert all(y <= r < y + h and x <= c < x + w for r, c in _anchors(part).values())
    expected = np.where(np.isin(whole, list(inside)), whole, 0)
    match = match_instances(expected, part, iou=0.9)
    assert match.tp == len(inside) == record["counts"]["nuclei"]


def test_objects_wider_than_the_halo_are_dropped_and_counted(tmp_path, small_slide, colour_model):
    from scipy import ndimage

    config = _config(colour_model, 256, outputs=("zarr",))
    config = replace(config, tiling=replace(config.tiling, halo=32))
    record = segment_slide(small_slide, tmp_path, config)
    labels = read_labels(tmp_path / small_slide.stem / "labels.ome.zarr")
    extents = [max(b[0].stop - b[0].start, b[1].stop - b[1].start)
               for b in ndimage.find_objects(labels) if b is not None]
    assert record["counts"]["objects_wider_than_halo_dropped"] > 0
    assert extents and max(extents) <= 32



def test_a_slide_without_nuclei_gives_empty_but_complete_outputs(tmp_path, colour_model):
    from wsinuc.slide import write_tiff_image

    blank = write_tiff_image(tmp_path / "glass.tif", np.full((300, 300, 3), 240, np.uint8))
    config = replace(_config(colour_model, 256), inference=InferenceConfig(model=str(colour_model), mpp=0.25))
    config = replace(config, tiling=replace(config.tiling, tissue=False))
    record = segment_slide(blank, tmp_path, config)
    out = tmp_path / "glass"
    assert record["counts"]["nuclei"] == 0
    assert json.loads((out / "nuclei.geojson").read_text())["features"] == []
    assert "area_um2" in pq.read_table(out / "nuclei.parquet").column_names


def test_bf16_finds_the_nuclei_of_float32_and_is_recorded(tmp_path, small_slide, colour_model):
    records = {}
    for precision in ("fp32", "bf16"):
        config = _config(colour_model, 512, outputs=("zarr",))
        config = replace(config, inference=replace(config.inference, precision=precision))
        records[precision] = segment_slide(small_slide, tmp_path / precision, config)
    assert records["fp32"]["precision"] == "fp32" and records["bf16"]["precision"] == "bf16"
    assert records["bf16"]["config"]["inference"]["precision"] == "bf16"
    fp32 = read_labels(tmp_path / "fp32" / small_slide.stem / "labels.ome.zarr") > 0
    bf16 = read_labels(tmp_path / "bf16" / small_slide.stem / "labels.ome.zarr") > 0
    assert fp32.mean() > 0.01
    assert (fp32 != bf16).mean() < 0.01


def test_resume_with_another_precision_is_refused(tmp_path, small_slide, colour_model):
    config = _config(colour_model, 512, outputs=("table",))
    work = tmp_path / small_slide.stem / ".work"
    segment_slide(small_slide, tmp_path, replace(config, output=OutputConfig(outputs=("table",))))
    work.mkdir(parents=True, exist_ok=True)
    other = replace(config, inference=replace(config.inference, precision="bf16"),
                    output=OutputConfig(outputs=("table",), resume=True))
    with pytest.raises(OptionError, match="--resume"):
        segment_slide(small_slide, tmp_path, other)


def test_seeded_post_processing_needs_an_interior_boundary_model(tmp_path, small_slide, colour_model):
    config = _config(colour_model, 512, outputs=("table",))
    config = replace(config, inference=replace(config.inference, postprocess="seeded"))
    with pytest.raises(OptionError, match="--postprocess"):
        segment_slide(small_slide, tmp_path, config)


def test_an_interior_boundary_model_runs_through_the_engine_with_seeded_instances(tmp_path, small_slide):
    from wsinuc.models import create_model, save_weights

    stem = tmp_path / "ib"
    card = {"name": "ib", "mpp": 0.25, "postprocess": "seeded", "seeded": {"min_seed_size": 8, "max_expansion": 4}}
    save_weights(create_model("cascade-ib-lite"), stem, card)
    config = replace(_config(stem, 512, outputs=("zarr", "table")),
                     tiling=TilingConfig(chunk_size=512, halo=96, region=(0, 0, 512, 512)))
    record = segment_slide(small_slide, tmp_path / "out", config)
    assert record["counts"]["chunks"] == 1
    assert (tmp_path / "out" / small_slide.stem / "labels.ome.zarr").is_dir()
    assert record["config"]["inference"]["postprocess"] == "auto"
    assert record["postprocess"] == "seeded"


def test_simplified_outlines_are_valid_smaller_and_the_measurements_unchanged(tmp_path, small_slide, colour_model):
    import shapely

    runs = {}
    for tolerance in (0.0, 1.0):
        config = replace(_config(colour_model, 512, outputs=("geojson", "table")),
                         output=OutputConfig(outputs=("geojson", "table"), simplify=tolerance))
        segment_slide(small_slide, tmp_path / str(tolerance), config)
        out = tmp_path / str(tolerance) / small_slide.stem
        features = json.loads((out / "nuclei.geojson").read_text())["features"]
        runs[tolerance] = (features, pq.read_table(out / "nuclei.parquet"), (out / "nuclei.geojson").stat().st_size)
    exact, simple = runs[0.0], runs[1.0]
    assert len(exact[0]) == len(simple[0]) > 50
    assert simple[2] < 0.8 * exact[2]
    assert simple[1].equals(exact[1])
    for feature in simple[0]:
        assert shapely.geometry.shape(feature["geometry"]).is_valid
