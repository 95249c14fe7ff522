"""Tests for wsinuc.engine.store: chunk result files round-trip exactly, and each pass reads only its part."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.engine.store import ChunkResult, ChunkStore, decode_labels, encode_labels
from wsinuc.tiling import plan_tiles


def _result(count: int, fractional: bool = False, seed: int = 0, shape=(40, 56)) -> ChunkResult:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, count + 1, shape).astype(np.int32)
    coords = rng.integers(0, 500, (3 * count, 2)).astype(np.float64) + (0.5 if fractional else 0.0)
    columns = {"area_um2": rng.random(count), "solidity": rng.random(count)}
    return ChunkResult(np.arange(count, dtype=np.int64) * 7, labels, coords, np.arange(count + 1) * 3, columns)


def _assert_same(got: ChunkResult, want: ChunkResult, labels: bool = True) -> None:
    np.testing.assert_array_equal(got.keys, want.keys)
    assert got.ring_coords.dtype == np.float64
    np.testing.assert_array_equal(got.ring_coords, want.ring_coords)
    np.testing.assert_array_equal(got.ring_starts, want.ring_starts)
    assert list(got.columns) == list(want.columns)
    for name, values in want.columns.items():
        np.testing.assert_array_equal(got.columns[name], values)
    if labels:
        np.testing.assert_array_equal(got.labels, want.labels)


@pytest.mark.parametrize("fractional", [False, True])
def test_a_saved_result_loads_back_exactly(tmp_path, fractional):
    tile = plan_tiles((64, 128), 64, 16).tiles[1]
    store, result = ChunkStore(tmp_path), _result(25, fractional, shape=tile.valid_box.shape)
    assert not store.is_done(tile)
    store.save(tile, result)
    assert store.is_done(tile)
    _assert_same(store.load(tile), result)
    vectors = store.vectors(tile)
    assert vectors.labels is None
    _assert_same(vectors, result, labels=False)
    keys, labels = store.masks(tile)
    np.testing.assert_array_equal(keys, result.keys)
    np.testing.assert_array_equal(labels, result.labels)
    np.testing.assert_array_equal(store.keys(tile), result.keys)


def test_the_vector_pass_does_not_decode_labels(tmp_path, monkeypatch):
    tile = plan_tiles((64, 64), 64, 16).tiles[0]
    store = ChunkStore(tmp_path)
    store.save(tile, _result(5, shape=tile.valid_box.shape))
    monkeypatch.setattr("wsinuc.engine.store.decode_labels", lambda *a: pytest.fail("labels decoded"))
    assert len(store.vectors(tile)) == 5


def test_many_nuclei_keep_wide_labels_and_mixed_columns_round_trip(tmp_path):
    tile = plan_tiles((300, 300), 320, 16).tiles[0]
    result = _result(3)
    labels = np.zeros((300, 300), np.int32)
    labels.flat[: 70_000] = np.arange(70_000)
    wide = ChunkResult(np.arange(70_000, dtype=np.int64), labels, result.ring_coords, result.ring_starts,
                       {"n": np.arange(70_000, dtype=np.int32), "x": np.linspace(0, 1, 70_000)})
    ChunkStore(tmp_path).save(tile, wide)
    _assert_same(ChunkStore(tmp_path).load(tile), wide)


def test_an_empty_chunk_round_trips(tmp_path):
    tile = plan_tiles((64, 64), 64, 16).tiles[0]
    empty = ChunkResult(np.zeros(0, np.int64), np.zeros(tile.valid_box.shape, np.int32), np.zeros((0, 2)),
                        np.zeros(1, np.int64), {"area_um2": np.zeros(0)})
    ChunkStore(tmp_path).save(tile, empty)
    loaded = ChunkStore(tmp_path).load(tile)
    assert len(loaded) == 0 and loaded.labels.shape == tile.valid_box.shape and not loaded.labels.any()


def test_label_codec_round_trips_and_refuses_bad_metadata():
    labels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    encoded = encode_labels(labels)
    assert encoded.dtype == np.uint8
    np.testing.assert_array_equal(decode_labels(encoded, np.array([3, 4, 2])), labels)
    with pytest.raises(ValueError, match="itemsize"):
        decode_labels(encoded, np.array([3, 2, 8]))


def test_save_refuses_a_result_without_labels(tmp_path):
    tile = plan_tiles((64, 64), 64, 16).tiles[0]
    result = _result(2)
    with pytest.raises(ValueError, match="labels"):
        ChunkStore(tmp_path).save(tile, ChunkResult(result.keys, None, result.ring_coords, result.ring_starts, {}))


def _paint_all(pieces, valid_box):
    canvas = np.zeros(valid_box.shape, np.int64)
    for box, labels in pieces:
        canvas[box.y0 - valid_box.y0 : box.y1 - valid_box.y0, box.x0 - valid_box.x0 : box.x1 - valid_box.x0] = labels
    return canvas


def test_overhang_pieces_hold_every_labelled_pixel_outside_the_core(tmp_path):
    plan = plan_tiles((96, 96), 32, 16)
    tile = next(t for t in plan.tiles if t.index == (1, 1))
    result = _result(9, shape=tile.valid_box.shape, seed=4)
    result.labels[result.labels > 0] *= np.random.default_rng(1).random(int((result.labels > 0).sum())) < 0.2
    want = result.labels.copy()
    want[tile.core_box.relative_to(tile.valid_box)] = 0
    ChunkStore(tmp_path).save(tile, result)
    keys, pieces = ChunkStore(tmp_path).overhang(tile)
    np.testing.assert_array_equal(keys, result.keys)
    assert len(pieces) <= 4 and all(labels.any() for _, labels in pieces)
    np.testing.assert_array_equal(_paint_all(pieces, tile.valid_box), want)
    assert sum(labels.size for _, labels in pieces) < result.labels.size


def test_a_chunk_with_nothing_outside_its_core_has_no_overhang(tmp_path):
    tile = next(t for t in plan_tiles((96, 96), 32, 16).tiles if t.index == (1, 1))
    result = _result(2, shape=tile.valid_box.shape)
    result.labels[:] = 0
    result.labels[tile.core_box.relative_to(tile.valid_box)] = 1
    ChunkStore(tmp_path).save(tile, result)
    assert ChunkStore(tmp_path).overhang(tile)[1] == []


def test_rendered_features_round_trip_and_older_files_have_none(tmp_path):
    from wsinuc.writers.geojson import render_features

    tile = plan_tiles((64, 128), 64, 16).tiles[1]
    store, result = ChunkStore(tmp_path), _result(6, shape=tile.valid_box.shape)
    store.save(tile, result)
    assert store.vectors(tile).features is None
    squares = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], np.float64)
    coords = np.concatenate([squares + 10 * i for i in range(6)])
    features = render_features(coords, np.arange(7) * 4, result.columns)
    store.save(tile, ChunkResult(result.keys, result.labels, coords, np.arange(7) * 4, result.columns, features))
    for got in (store.vectors(tile).features, store.load(tile).features):
        np.testing.assert_array_equal(got.text, features.text)
        np.testing.assert_array_equal(got.keep, features.keep)
        np.testing.assert_array_equal(got.id_offsets, features.id_offsets)
        assert got.style == features.style and got.decimals == 2
    bad = ChunkResult(result.keys[:5], result.labels.clip(0, 5), coords, np.arange(6) * 4, result.columns, features)
    with pytest.raises(ValueError, match="one flag per nucleus"):
        store.save(tile, bad)
