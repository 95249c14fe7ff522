"""Weights I/O: safetensors + JSON card, sha256 check, bundled names."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors import safe_open

from wsinuc.errors import WsinucError
from wsinuc.models import (
    WeightsError,
    create_model,
    list_bundled_weights,
    load_model,
    load_weights,
    save_weights,
    saved_weights_exist,
)
from wsinuc.models.weights import weights_sha256


def tiny_unet() -> torch.nn.Module:
    """Tiny U-Net with non-trivial BN statistics, in eval mode."""
    torch.manual_seed(0)
    model = create_model("unet", width=4, depth=2)
    with torch.no_grad():
        model.train()(torch.rand(2, 3, 32, 32))
    return model.eval()


def round_to_fp16(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return model


def test_round_trip_of_fp16_representable_weights_gives_identical_outputs(tmp_path):
    model = round_to_fp16(tiny_unet())
    save_weights(model, tmp_path / "tiny", {"epochs": 3})
    loaded, card = load_weights(tmp_path / "tiny")
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    assert not loaded.training
    assert card["epochs"] == 3


def test_round_trip_is_within_fp16_precision(tmp_path):
    model = tiny_unet()
    save_weights(model, tmp_path / "tiny")
    loaded, _ = load_weights(tmp_path / "tiny.safetensors")
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x), atol=2e-2, rtol=1e-2)


def test_file_holds_fp16_tensors_and_the_config_in_its_metadata(tmp_path):
    model = tiny_unet()
    weights_path, _ = save_weights(model, tmp_path / "tiny")
    with safe_open(str(weights_path), framework="pt") as handle:
        assert json.loads(handle.metadata()["wsinuc_config"]) == model.wsinuc_config
        dtypes = {handle.get_tensor(key).dtype for key in handle.keys()}
    assert dtypes == {torch.float16, torch.int64}  # int64: BN num_batches_tracked


def test_tensors_beyond_the_fp16_range_are_kept_in_float32_and_listed(tmp_path):
    model = tiny_unet()
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        bn.running_var.mul_(1e6)  # like the VGG16 U-Net decoder's running variances (> 65504)
        bn.running_mean.add_(7e4)
    weights_path, card_path = save_weights(model, tmp_path / "big")
    card = json.loads(card_path.read_text())
    names = {id(t): k for k, t in model.state_dict(keep_vars=True).items()}
    expected = sorted([names[id(bn.running_mean)], names[id(bn.running_var)]])
    assert card["float32_tensors"] == expected and card["dtype"] == "float16"
    with safe_open(str(weights_path), framework="pt") as handle:
        stored = {key: handle.get_tensor(key).dtype for key in handle.keys()}
    assert {stored[key] for key in expected} == {torch.float32}
    assert {d for k, d in stored.items() if k not in expected} == {torch.float16, torch.int64}
    loaded, _ = load_weights(tmp_path / "big")
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.isfinite(loaded(x)).all()
        torch.testing.assert_close(loaded(x), model(x), atol=2e-2, rtol=1e-2)


def test_weights_holding_infinite_values_are_refused_when_loaded(tmp_path):
    from safetensors.torch import load_file, save_file

    weights_path, _ = save_weights(tiny_unet(), tmp_path / "tiny")
    tensors = load_file(str(weights_path))
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key][0] = float("inf")
    with safe_open(str(weights_path), framework="pt") as handle:
        metadata = handle.metadata()
    save_file(tensors, str(weights_path), metadata=metadata)
    card_path = tmp_path / "tiny.json"
    card = json.loads(card_path.read_text())
    card["sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=r"tiny.safetensors.*NaN or infinite values"):
        load_weights(tmp_path / "tiny")


def test_card_records_config_hash_and_parameter_count(tmp_path):
    model = tiny_unet()
    weights_path, card_path = save_weights(
        model, tmp_path / "tiny.json", {"metrics": {"aji": 0.6}, "sha256": "forged"}
    )
    card = json.loads(card_path.read_text())
    assert card["sha256"] == hashlib.sha256(weights_path.read_bytes()).hexdigest()
    assert card["config"] == model.wsinuc_config
    assert card["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert card["name"] == "unet"
    assert card["metrics"] == {"aji": 0.6}


def test_sha256_mismatch_raises_naming_the_file(tmp_path):
    weights_path, _ = save_weights(tiny_unet(), tmp_path / "tiny")
    data = bytearray(weights_path.read_bytes())
    data[-1] ^= 0xFF
    weights_path.write_bytes(bytes(data))
    with pytest.raises(WsinucError, match=r"tiny\.safetensors.*sha256"):
        load_weights(tmp_path / "tiny")


def test_missing_card_raises_weights_error(tmp_path):
    with pytest.raises(WeightsError, match=r"nothing\.json.*not found"):
        load_weights(tmp_path / "nothing")


def test_tensors_that_do_not_fit_the_config_raise(tmp_path):
    _, card_path = save_weights(tiny_unet(), tmp_path / "tiny")
    card = json.loads(card_path.read_text())
    card["config"]["width"] = 8
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="cannot load"):
        load_weights(tmp_path / "tiny")


def test_load_weights_casts_to_the_requested_dtype(tmp_path):
    save_weights(tiny_unet(), tmp_path / "tiny")
    loaded, _ = load_weights(tmp_path / "tiny", dtype=torch.bfloat16)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}


def test_load_model_finds_bundled_names_and_paths(tmp_path):
    model = round_to_fp16(tiny_unet())
    save_weights(model, tmp_path / "cascade-lite")
    assert list_bundled_weights(tmp_path) == ["cascade-lite"]
    x = torch.rand(1, 3, 32, 32)
    by_name = load_model("cascade-lite", weights_dir=tmp_path)
    by_path = load_model(tmp_path / "cascade-lite.safetensors")
    with torch.inference_mode():
        assert torch.equal(by_name(x), model(x))
        assert torch.equal(by_path(x), model(x))


def test_load_model_of_an_unknown_name_lists_the_bundled_names(tmp_path):
    save_weights(tiny_unet(), tmp_path / "cascade")
    with pytest.raises(WeightsError, match="no-such-model.*no bundled model.*bundled: cascade$"):
        load_model("no-such-model", weights_dir=tmp_path)


def test_a_preset_without_shipped_weights_says_how_to_train_it(tmp_path):
    save_weights(tiny_unet(), tmp_path / "cascade-lite")
    with pytest.raises(WeightsError, match=r"cascade: no trained weights.*bundled: cascade-lite.*--preset cascade"):
        load_model("cascade", weights_dir=tmp_path)


def test_load_model_with_no_bundled_weights_says_none_installed(tmp_path):
    with pytest.raises(WeightsError, match="none installed"):
        load_model("cascade", weights_dir=tmp_path / "absent")


def test_a_model_larger_than_the_shard_limit_is_split_and_loads_back(tmp_path):
    model = create_model("unet", width=8, depth=2)
    weights_path, card_path = save_weights(model, tmp_path / "big", {"sha256": "forged"}, max_shard_bytes=20_000)
    card = json.loads(card_path.read_text())
    files = sorted(tmp_path.glob("big-*-of-*.safetensors"))
    assert len(files) >= 3 and weights_path == files[0] and not (tmp_path / "big.safetensors").exists()
    assert "sha256" not in card
    assert [s["file"] for s in card["shards"]] == [f.name for f in files]
    for shard, file in zip(card["shards"], files):
        assert shard["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert shard["bytes"] == file.stat().st_size
    loaded, _ = load_weights(tmp_path / "big")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.half().float()), key
    assert saved_weights_exist(tmp_path / "big.json")
    assert list_bundled_weights(tmp_path) == ["big"]
    assert weights_sha256(card) == [s["sha256"] for s in card["shards"]]  # what run.json records


def test_weights_sha256_of_a_single_file_and_of_a_card_without_one(tmp_path):
    _, card_path = save_weights(tiny_unet(), tmp_path / "one")
    card = json.loads(card_path.read_text())
    assert weights_sha256(card) == hashlib.sha256((tmp_path / "one.safetensors").read_bytes()).hexdigest()
    assert weights_sha256({"name": "untrained"}) is None


def test_a_corrupt_or_missing_shard_is_named(tmp_path):
    save_weights(create_model("unet", width=8, depth=2), tmp_path / "big", max_shard_bytes=20_000)
    second = sorted(tmp_path.glob("big-*-of-*.safetensors"))[1]
    second.write_bytes(second.read_bytes()[:-1] + b"\0")
    with pytest.raises(WsinucError, match=rf"{second.name}.*sha256"):
        load_weights(tmp_path / "big")
    second.unlink()
    with pytest.raises(WsinucError, match=rf"{second.name}: weights file not found"):
        load_weights(tmp_path / "big")
    assert not saved_weights_exist(tmp_path / "big") and list_bundled_weights(tmp_path) == []


def test_saving_again_replaces_old_shards(tmp_path):
    model = create_model("unet", width=8, depth=2)
    save_weights(model, tmp_path / "m", max_shard_bytes=20_000)
    save_weights(model, tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    assert load_weights(tmp_path / "m")[0] is not None


def test_a_shard_name_may_not_leave_the_folder(tmp_path):
    save_weights(create_model("unet", width=8, depth=2), tmp_path / "m", max_shard_bytes=20_000)
    card = json.loads((tmp_path / "m.json").read_text())
    card["shards"][0]["file"] = "../elsewhere.safetensors"
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(WsinucError, match="lacks"):
        load_weights(tmp_path / "m")
