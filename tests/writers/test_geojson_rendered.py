"""Features rendered before their ids are known (pass 1), ids filled in later: same bytes as write_rings."""

from __future__ import annotations

import gzip
import uuid

import numpy as np
import pytest
from test_geojson_rings import _blob_rings, _columns, _degenerate_rings, _pack, _star_rings

from wsinuc.writers.geojson import GeoJSONWriter, render_features
from wsinuc.writers.geojson_fast import patch_ids
from wsinuc.writers.json_text import uuid_bytes


def _read(path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.read()


def _chunks():
    """Packed ring chunks with degenerate rows, an empty chunk and measurements."""
    chunks = []
    for rings in (_blob_rings(seed=4), _degenerate_rings(), [], _star_rings(count=40)):
        coords, starts = _pack(rings) if rings else (np.zeros((0, 2)), np.zeros(1, np.int64))
        chunks.append((coords, starts, _columns(len(rings))))
    return chunks


def test_uuid_bytes_are_the_uuid_strings_of_the_ids():
    ids = np.array([0, 1, 42, 65535, 65536, 2**31 - 1, 2**48 + 17, 2**63 - 1], np.int64)
    ids = np.concatenate([ids, np.random.default_rng(0).integers(1, 2**62, 200)])
    got = [bytes(row).decode() for row in uuid_bytes(ids)]
    assert got == [str(uuid.UUID(int=int(i))) for i in ids]
    with pytest.raises(ValueError, match="non-negative"):
        uuid_bytes(np.array([-1]))


@pytest.mark.parametrize("name", ["n.geojson", "n.geojson.gz"])
@pytest.mark.parametrize("decimals", [2, 0, 3])
def test_rendered_features_with_ids_are_the_bytes_write_rings_writes(tmp_path, name, decimals):
    chunks, first_id = _chunks(), 1
    (tmp_path / "rings").mkdir()
    (tmp_path / "rendered").mkdir()
    with GeoJSONWriter(tmp_path / "rings" / name, decimals=decimals) as rings, \
            GeoJSONWriter(tmp_path / "rendered" / name, decimals=decimals) as rendered:  # fmt: skip
        for coords, starts, columns in chunks:
            ids = first_id + np.arange(len(starts) - 1, dtype=np.int64) * 7919
            keep = rings.write_rings(ids, coords, starts, columns)
            features = render_features(coords, starts, columns, decimals=decimals)
            np.testing.assert_array_equal(features.keep, keep)
            rendered.write_rendered(features, ids[features.keep])
            first_id = int(ids[-1]) + 1 if len(ids) else first_id
        assert rendered.feature_count == rings.feature_count > 0
    assert _read(tmp_path / "rendered" / name) == _read(tmp_path / "rings" / name)


def test_rendered_and_ring_chunks_share_one_collection(tmp_path):
    (a, sa, ca), (b, sb, cb) = _chunks()[0], _chunks()[3]
    ids_a, ids_b = np.arange(1, len(sa)), np.arange(len(sa), len(sa) + len(sb) - 1)
    with GeoJSONWriter(tmp_path / "ref.geojson") as ref:
        ref.write_rings(ids_a, a, sa, ca)
        ref.write_rings(ids_b, b, sb, cb)
    with GeoJSONWriter(tmp_path / "mixed.geojson") as mixed:
        mixed.write_rings(ids_a, a, sa, ca)
        mixed.write_rendered(render_features(b, sb, cb), ids_b)
    assert _read(tmp_path / "mixed.geojson") == _read(tmp_path / "ref.geojson")


def test_rendering_leaves_placeholders_and_patching_does_not_change_the_rendered_text():
    coords, starts, columns = _chunks()[0]
    features = render_features(coords, starts, columns)
    before = features.text.copy()
    ids = np.arange(1, features.keep.sum() + 1) * 3
    patched = patch_ids(features.text, features.id_offsets, ids)
    np.testing.assert_array_equal(features.text, before)
    for offset, label in zip(features.id_offsets[[0, -1]], ids[[0, -1]]):
        assert bytes(patched[offset : offset + 36]).decode() == str(uuid.UUID(int=int(label)))
        assert bytes(before[offset : offset + 36]).decode() == str(uuid.UUID(int=1))


def test_bad_rendered_writes_are_refused(tmp_path):
    coords, starts, columns = _chunks()[0]
    features = render_features(coords, starts, columns)
    kept = int(features.keep.sum())
    with pytest.raises(RuntimeError, match="outside"):
        GeoJSONWriter(tmp_path / "a.geojson").write_rendered(features, np.arange(1, kept + 1))
    with GeoJSONWriter(tmp_path / "b.geojson", decimals=3) as writer:
        with pytest.raises(ValueError, match="rendered with"):
            writer.write_rendered(features, np.arange(1, kept + 1))
    with GeoJSONWriter(tmp_path / "c.geojson", color=(1, 2, 3)) as writer:
        with pytest.raises(ValueError, match="rendered with"):
            writer.write_rendered(features, np.arange(1, kept + 1))
    with GeoJSONWriter(tmp_path / "d.geojson") as writer:
        with pytest.raises(ValueError, match="one id per offset"):
            writer.write_rendered(features, np.arange(1, kept))
        with pytest.raises(ValueError, match="positive"):
            writer.write_rendered(features, np.arange(kept))
    with pytest.raises(ValueError, match="do not fit"):
        patch_ids(features.text[:100], features.id_offsets, np.arange(1, kept + 1))
