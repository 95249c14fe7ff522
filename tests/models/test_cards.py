"""Reading saved weights without torch: numpy tensors, the same checks as loading them with torch."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from wsinuc.models import create_model, save_weights
from wsinuc.models.cards import WeightsError, load_numpy_state


def test_the_numpy_state_of_a_sharded_model_is_its_torch_state_as_stored(tmp_path):
    model = create_model("unet", width=4, depth=2).eval()
    _, card_path = save_weights(model, tmp_path / "tiny", max_shard_bytes=4_000)
    state, card = load_numpy_state(card_path)
    assert "shards" in card and set(state) == set(model.state_dict())
    weight = model.state_dict()["head.weight"].half().numpy()
    assert state["head.weight"].dtype == np.float16 and np.array_equal(state["head.weight"], weight)


def test_a_sha256_mismatch_is_named(tmp_path):
    weights_path, card_path = save_weights(create_model("unet", width=4, depth=1), tmp_path / "tiny")
    weights_path.write_bytes(weights_path.read_bytes() + b" ")
    with pytest.raises(WeightsError, match=r"tiny\.safetensors: sha256 .* does not match"):
        load_numpy_state(card_path)


def test_weights_holding_infinite_values_are_refused(tmp_path):
    _, card_path = save_weights(create_model("unet", width=4, depth=1), tmp_path / "tiny")
    weights_path = tmp_path / "tiny.safetensors"
    save_file({"head.weight": np.array([np.inf], dtype=np.float16)}, str(weights_path))
    card = json.loads(card_path.read_text())
    card["sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="NaN or infinite values, e.g. 'head.weight'"):
        load_numpy_state(card_path)
