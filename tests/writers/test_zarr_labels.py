"""Multiscale OME-Zarr 0.5 nucleus labels, written block by block and resumable."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.writers.atomic import OutputError, partial_dir_path
from wsinuc.writers.zarr_labels import (
    LabelsZarrWriter,
    default_level_count,
    level_shape,
    markers_dir_path,
)

SHAPE = (300, 500)  # not a multiple of the chunk, so edge blocks are ragged
CHUNK = (128, 128)
MPP = (0.25, 0.5)  # (x, y): y deliberately different to catch swapped axes


@pytest.fixture
def labels_level0():
    rng = np.random.default_rng(0)
    return rng.integers(0, 1000, SHAPE).astype(np.uint32)


def _write_all(writer, labels):
    """Write ``labels`` in chunk-aligned blocks of two chunks by two chunks."""
    step_y, step_x = 2 * CHUNK[0], 2 * CHUNK[1]
    for y0 in range(0, SHAPE[0], step_y):
        for x0 in range(0, SHAPE[1], step_x):
            writer.write_block(y0, x0, labels[y0 : y0 + step_y, x0 : x0 + step_x])


def _finished_store(tmp_path, labels, levels=3):
    path = tmp_path / "labels.ome.zarr"
    with LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK, levels=levels) as writer:
        _write_all(writer, labels)
    return path, writer


def test_finished_store_validates_as_ome_zarr_0_5_image_label(tmp_path, labels_level0):
    ome_zarr_models = pytest.importorskip("ome_zarr_models")
    from ome_zarr_models.v05.image_label import ImageLabel

    path, _ = _finished_store(tmp_path, labels_level0)
    model = ome_zarr_models.open_ome_zarr(path)
    assert isinstance(model, ImageLabel)
    multiscale = model.attributes.ome.multiscales[0]
    assert [axis.name for axis in multiscale.axes] == ["y", "x"]
    assert [axis.unit for axis in multiscale.axes] == ["micrometer", "micrometer"]
    scales = [d.coordinateTransformations[0].scale for d in multiscale.datasets]
    assert scales == [[0.5, 0.25], [1.0, 0.5], [2.0, 1.0]]


def test_finished_store_round_trips_through_the_ome_zarr_reader(tmp_path, labels_level0):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    path, _ = _finished_store(tmp_path, labels_level0)
    nodes = list(Reader(parse_url(str(path)))())
    assert len(nodes) == 1
    node = nodes[0]
    assert any(isinstance(spec, Label) for spec in node.specs)
    assert [tuple(level.shape) for level in node.data] == [(300, 500), (150, 250), (75, 125)]
    np.testing.assert_array_equal(np.asarray(node.data[0]), labels_level0)


def test_pyramid_levels_are_strided_level0(tmp_path, labels_level0):
    _, writer = _finished_store(tmp_path, labels_level0)
    np.testing.assert_array_equal(writer.level(1)[:], labels_level0[::2, ::2])
    np.testing.assert_array_equal(writer.level(2)[:], labels_level0[::4, ::4])


def test_finalize_renames_the_store_and_drops_the_markers(tmp_path, labels_level0):
    path, writer = _finished_store(tmp_path, labels_level0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.ome.zarr"]
    assert writer.level(0).dtype == np.uint32


@pytest.mark.parametrize(
    ("y0", "x0", "shape"),
    [
        (64, 0, (128, 128)),  # corner off the chunk grid
        (0, 0, (128, 100)),  # width not a whole chunk, not at the edge
        (256, 384, (64, 128)),  # runs past the bottom-right corner
        (-128, 0, (128, 128)),  # outside
    ],
)
def test_misaligned_or_outside_blocks_raise(tmp_path, y0, x0, shape):
    writer = LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK)
    with pytest.raises(ValueError, match="write units"):
        writer.write_block(y0, x0, np.ones(shape, dtype=np.uint32))
    assert writer.completed_blocks() == set()


def test_ragged_edge_blocks_are_accepted(tmp_path):
    writer = LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK)
    writer.write_block(256, 384, np.full((44, 116), 7, dtype=np.uint32))
    assert writer.completed_blocks() == {(2, 3)}
    assert int(writer.level(0)[299, 499]) == 7


def test_completed_blocks_survive_an_interruption(tmp_path, labels_level0):
    path = tmp_path / "labels.ome.zarr"
    with pytest.raises(RuntimeError, match="killed"):
        with LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK) as writer:
            writer.write_block(0, 0, labels_level0[:256, :256])
            writer.write_block(0, 256, labels_level0[:128, 256:384])
            raise RuntimeError("killed")
    assert not path.exists()
    assert partial_dir_path(path).is_dir()

    resumed = LabelsZarrWriter.open_existing(path)
    assert resumed.completed_blocks() == {(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)}
    assert resumed.is_block_done(0, 0, (256, 256))
    assert not resumed.is_block_done(0, 256, (256, 128))
    assert (resumed.shape, resumed.chunk, resumed.mpp, resumed.levels) == (SHAPE, CHUNK, MPP, 3)
    np.testing.assert_array_equal(resumed.level(0)[:256, :256], labels_level0[:256, :256])
    _write_all(resumed, labels_level0)
    resumed.finalize()
    np.testing.assert_array_equal(resumed.level(0)[:], labels_level0)
    assert not markers_dir_path(path).exists()


def test_create_refuses_an_existing_output_or_partial(tmp_path):
    path = tmp_path / "labels.ome.zarr"
    LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK)
    with pytest.raises(OutputError, match="interrupted run"):
        LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK)
    path.mkdir()
    with pytest.raises(OutputError, match="already exists"):
        LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK)


def test_open_existing_without_a_partial_store_is_a_user_error(tmp_path):
    with pytest.raises(OutputError, match="no interrupted run"):
        LabelsZarrWriter.open_existing(tmp_path / "labels.ome.zarr")


def test_sharded_store_aligns_writes_to_shards(tmp_path, labels_level0):
    path = tmp_path / "labels.ome.zarr"
    writer = LabelsZarrWriter.create(path, SHAPE, mpp=MPP, chunk=CHUNK, shard=(256, 256), levels=2)
    assert writer.write_unit == (256, 256)
    with pytest.raises(ValueError, match="write units"):
        writer.write_block(0, 128, labels_level0[:256, 128:384])
    writer.write_block(0, 0, labels_level0)
    assert writer.completed_blocks() == {(0, 0), (0, 1), (1, 0), (1, 1)}
    writer.finalize()
    np.testing.assert_array_equal(writer.level(1)[:], labels_level0[::2, ::2])


@pytest.mark.parametrize(
    "bad", [np.full((128, 128), -1), np.full((128, 128), 2**32), np.ones((128, 128))]
)
def test_labels_must_be_integers_that_fit_uint32(tmp_path, bad):
    writer = LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK)
    with pytest.raises(ValueError):
        writer.write_block(0, 0, bad)


def test_int64_labels_that_fit_are_stored_as_uint32(tmp_path):
    writer = LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK)
    writer.write_block(0, 0, np.full((128, 128), 2**32 - 1, dtype=np.int64))
    assert int(writer.level(0)[5, 5]) == 2**32 - 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mpp": (0.0, 0.25)},
        {"mpp": (0.25, 0.25), "levels": 0},
        {"mpp": (0.25, 0.25), "shard": (200, 256)},
    ],
)
def test_create_validates_its_options(tmp_path, kwargs):
    with pytest.raises(ValueError):
        LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, chunk=CHUNK, **kwargs)


def test_level_geometry_helpers():
    assert level_shape((301, 500), 2) == (76, 125)
    assert default_level_count((100, 100), (1024, 1024)) == 1
    assert default_level_count((100_000, 80_000), (1024, 1024)) == 8  # 100000 / 2**7 < 1024


def test_chunk_files_written_directly_read_back_like_zarrs_own(tmp_path, labels_level0):
    import zarr

    labels = labels_level0.copy()
    labels[:128, 128:256] = 0  # an all-zero chunk gets no file, as zarr does
    writer = LabelsZarrWriter.create(tmp_path / "a.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK, levels=1)
    _write_all(writer, labels)
    reference = zarr.open_group(tmp_path / "b.zarr", mode="w", zarr_format=3).create_array(
        "0", shape=SHAPE, chunks=CHUNK, dtype=np.uint32, fill_value=0)
    reference[:] = labels
    mine, theirs = partial_dir_path(tmp_path / "a.ome.zarr") / "0" / "c", tmp_path / "b.zarr" / "0" / "c"
    names = sorted(str(p.relative_to(mine)) for p in mine.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*") if p.is_file())
    assert "0/1" not in names
    np.testing.assert_array_equal(writer.level(0)[:], labels)


def test_rewriting_a_chunk_with_zeros_removes_its_file(tmp_path):
    writer = LabelsZarrWriter.create(tmp_path / "l.ome.zarr", SHAPE, mpp=MPP, chunk=CHUNK, levels=2)
    writer.write_block(0, 0, np.full((128, 128), 5, np.uint32))
    chunk_file = partial_dir_path(tmp_path / "l.ome.zarr") / "0" / "c" / "0" / "0"
    assert chunk_file.is_file()
    writer.write_block(0, 0, np.zeros((128, 128), np.uint32))
    assert not chunk_file.exists()
    writer.finalize()
    assert not writer.level(0)[:].any() and not writer.level(1)[:].any()
