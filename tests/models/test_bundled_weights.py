"""The weights shipped inside the package load offline and carry a complete card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from wsinuc.instances.rules import SEEDED_PARAMETERS
from wsinuc.models import list_bundled_weights, load_model
from wsinuc.models.weights import bundled_weights_dir, weight_files

BUNDLED = list_bundled_weights()
MAX_BYTES = 100 * 1024 * 1024


def test_at_least_one_model_ships_with_the_package():
    assert "cascade-lite" in BUNDLED


def _files(name: str) -> list[tuple]:
    """(weights file, recorded sha256) of a bundled model: one file, or its shards."""
    card_path = bundled_weights_dir() / f"{name}.json"
    return weight_files(json.loads(card_path.read_text()), card_path)


@pytest.mark.parametrize("name", BUNDLED)
def test_card_records_hash_training_and_metrics(name):
    card = json.loads((bundled_weights_dir() / f"{name}.json").read_text())
    for weights, sha256 in _files(name):
        assert weights.stat().st_size < MAX_BYTES, weights
        assert sha256 == hashlib.sha256(weights.read_bytes()).hexdigest(), weights
    for key in ("config", "training", "metrics", "device", "date", "mpp"):
        assert key in card, key
    assert {"val", "test"} <= set(card["metrics"])
    # every post-processing parameter in the card is one the rule reads
    assert set(card.get("seeded", {})) <= set(SEEDED_PARAMETERS)


@pytest.mark.parametrize("name", BUNDLED)
def test_tensors_are_fp16_and_the_model_loads_offline(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    kept_float32 = set(json.loads((bundled_weights_dir() / f"{name}.json").read_text()).get("float32_tensors", []))
    dtypes = set()
    for weights, _ in _files(name):
        with safe_open(str(weights), framework="pt") as handle:
            dtypes |= {handle.get_tensor(key).dtype for key in handle.keys() if key not in kept_float32}
            assert {handle.get_tensor(key).dtype for key in kept_float32 & set(handle.keys())} <= {torch.float32}
    assert dtypes <= {torch.float16, torch.int64}  # float32 only where float16 would overflow
    model = load_model(name)
    out = model(torch.rand(1, 3, 64, 64))
    classes = json.loads((bundled_weights_dir() / f"{name}.json").read_text())["config"].get("classes", 1)
    assert out.shape == (1, classes, 64, 64) and torch.isfinite(out).all()


def test_the_wheel_carries_weights_under_the_package_index_limit():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    included = {p for pattern in setuptools["package-data"]["wsinuc"] for p in (root / "wsinuc").glob(pattern)}
    excluded = {p for pattern in setuptools["exclude-package-data"]["wsinuc"] for p in (root / "wsinuc").glob(pattern)}
    shipped = included - excluded
    assert {p.name for p in shipped} >= {"cascade-lite.safetensors", "cascade-lite.json",
                                         "cascade-ib-lite.safetensors", "cascade-ib-lite.json",
                                         "cascade-ib-lite-20x.safetensors", "cascade-ib-lite-20x.json"}
    assert sum(p.stat().st_size for p in shipped) < 100 * 2**20 * 0.9  # the whole wheel must stay under 100 MB


def test_the_built_source_distribution_leaves_the_paper_width_shards_out(tmp_path, monkeypatch):
    # the real build backend, not a reading of pyproject.toml: pip builds the wheel from this sdist
    import tarfile

    build_meta = pytest.importorskip("setuptools.build_meta")
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    archive = tmp_path / build_meta.build_sdist(str(tmp_path))
    with tarfile.open(archive) as tar:
        weights = {Path(m.name).name: m.size for m in tar.getmembers() if "/wsinuc/weights/" in m.name}
    assert {"cascade-lite.safetensors", "cascade-ib-lite.safetensors", "cascade-ib-lite-20x.safetensors"} <= set(weights)
    assert not [name for name in weights if name.startswith("cascade-0000")]
    assert archive.stat().st_size < 100 * 2**20 * 0.9


def test_a_missing_paper_width_cascade_says_where_its_weights_are():
    from wsinuc.models.weights import weights_not_found

    message = str(weights_not_found("cascade", ["cascade-lite"]))
    assert "source tree" in message and "110 MB" in message and "\n" not in message
