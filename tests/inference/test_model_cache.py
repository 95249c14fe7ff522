"""Model names, cards and the per-process model cache."""

from __future__ import annotations

import json

import pytest

import wsinuc.inference.model_cache as model_cache
from wsinuc.models import create_model, save_weights
from wsinuc.models.weights import WeightsError


def test_a_card_is_read_without_loading_the_weights(tmp_path, monkeypatch):
    stem = tmp_path / "ib"
    save_weights(create_model("colour_threshold"), stem, {"name": "ib", "mpp": 0.25, "postprocess": "seeded"})
    monkeypatch.setattr(model_cache, "load_weights", lambda *a, **k: pytest.fail("weights loaded"))
    card = model_cache.load_card(str(stem))
    assert card == json.loads(stem.with_suffix(".json").read_text())
    assert card["postprocess"] == "seeded"


def test_the_card_of_a_missing_model_names_it(tmp_path):
    with pytest.raises(WeightsError, match="nothing-here"):
        model_cache.load_card(str(tmp_path / "nothing-here"))


def test_threads_asking_at_once_share_one_compiled_openvino_network(tmp_path, monkeypatch):
    import threading

    from wsinuc.inference.runtime import Runtime

    pytest.importorskip("openvino")
    stem = tmp_path / "tiny"
    save_weights(create_model("colour_threshold"), stem, {"name": "tiny", "mpp": 0.25})
    runtime = Runtime("cpu", "openvino", "fp32", "test", streams=2)
    barrier, networks = threading.Barrier(3, timeout=30), []

    def ask():
        barrier.wait()
        networks.append(model_cache.runtime_predictor(str(stem), runtime, 1).backend)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert len(networks) == 3 and all(n is networks[0] for n in networks)
    model_cache.warm_up(str(stem), runtime)
    assert model_cache.openvino_network(str(stem), runtime) is networks[0]
