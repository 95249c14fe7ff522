"""OpenVINO conversion of tiny models: same maps as torch, cached once, rebuilt when corrupt or stale."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("openvino")

from wsinuc.inference import openvino_cache  # noqa: E402
from wsinuc.inference.model_cache import load_card_and_model  # noqa: E402
from wsinuc.inference.openvino_backend import OpenVinoBackend  # noqa: E402
from wsinuc.inference.openvino_cache import cache_dir, entry_dir, openvino_model_path  # noqa: E402
from wsinuc.inference.predictor import Predictor  # noqa: E402
from wsinuc.models import create_model, save_weights  # noqa: E402

TINY = {"one_map": ("unet", {"width": 4, "depth": 2}),
        "two_maps": ("vgg16_unet", {"encoder": "vgg16_lite", "width": 4, "decoder_channels": [8, 8, 8, 8, 8],
                                    "classes": 3})}


@pytest.fixture(scope="module", autouse=True)
def _own_cache(tmp_path_factory):
    """One cache folder for this module (each tiny model is converted once, in a second or two)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WSINUC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def _save(kind: str, folder) -> str:
    name, config = TINY[kind]
    stem = folder / kind
    save_weights(create_model(name, **config).eval(), stem, {"name": kind})
    return str(stem)


@pytest.fixture(scope="module", params=sorted(TINY))
def any_tiny_model(request, tmp_path_factory):
    return _save(request.param, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return _save("one_map", tmp_path_factory.mktemp("tiny"))


def _tiles(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (2, 50, 70, 3), dtype=np.uint8)


def test_openvino_f32_returns_the_maps_of_torch_fp32(any_tiny_model):
    network, _ = load_card_and_model(any_tiny_model, "cpu")
    expected = Predictor(network, "cpu", precision="fp32").predict(_tiles())
    converted = Predictor(OpenVinoBackend(openvino_model_path(any_tiny_model), "fp32")).predict(_tiles())
    assert converted.shape == expected.shape and converted.dtype == np.float32
    np.testing.assert_allclose(converted, expected, atol=2e-5)


def test_the_conversion_is_cached_and_reused(tiny_model, monkeypatch):
    xml = openvino_model_path(tiny_model)
    assert xml.parent.parent == cache_dir() / "openvino" and (xml.parent / "meta.json").is_file()
    monkeypatch.setattr(openvino_cache, "write_openvino_model", lambda *a: pytest.fail("converted again"))
    assert openvino_model_path(tiny_model) == xml
    assert not [p for p in xml.parent.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_corrupt_cache_is_rebuilt_with_a_warning_never_used(tiny_model, caplog):
    xml = openvino_model_path(tiny_model)
    weights = xml.with_name("model.bin")
    weights.write_bytes(weights.read_bytes()[:-16] + b"\0" * 16)
    with caplog.at_level(logging.WARNING, logger="wsinuc.inference.openvino_cache"):
        assert openvino_model_path(tiny_model) == xml
    assert "model.bin does not match its SHA-256" in caplog.text
    assert openvino_cache.entry_problem(xml.parent) is None


def test_another_openvino_version_uses_another_entry(tiny_model, monkeypatch):
    import openvino

    first = entry_dir(tiny_model)
    monkeypatch.setattr(openvino, "get_version", lambda: "1999.1.0-other")
    assert entry_dir(tiny_model) != first and entry_dir(tiny_model).parent == first.parent


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("WSINUC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if cache_dir().parent == tmp_path / "xdg":
        assert cache_dir() == tmp_path / "xdg" / "wsinuc"
    monkeypatch.setenv("WSINUC_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_two_streams_called_from_two_threads_give_the_maps_of_one_stream(tiny_model):
    from concurrent.futures import ThreadPoolExecutor

    one = Predictor(OpenVinoBackend(openvino_model_path(tiny_model), "fp32"))
    two = Predictor(OpenVinoBackend(openvino_model_path(tiny_model), "fp32", streams=2))
    with ThreadPoolExecutor(2) as pool:
        maps = list(pool.map(two.predict, [_tiles(seed) for seed in range(4)]))
    for seed, got in enumerate(maps):
        np.testing.assert_allclose(got, one.predict(_tiles(seed)), atol=1e-5)
    with pytest.raises(ValueError, match="streams must be at least 1"):
        OpenVinoBackend(openvino_model_path(tiny_model), "fp32", streams=0)
