"""The lite cascades' OpenVINO graph, built from safetensors without torch, gives torch's maps."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("openvino")

import openvino  # noqa: E402

from wsinuc.errors import WsinucError  # noqa: E402
from wsinuc.inference import openvino_cache, openvino_graph  # noqa: E402
from wsinuc.inference.openvino_graph import build_openvino_model, can_build_directly  # noqa: E402
from wsinuc.inference.openvino_graph import OPTIONAL_KEYS, lite_cascade_layout  # noqa: E402
from wsinuc.inference.torch_backend import MapsModule  # noqa: E402
from wsinuc.models import create_model, load_weights, save_weights  # noqa: E402
from wsinuc.models.registry import PRESETS, _build_cascade  # noqa: E402

LITE = {"stage2_encoder": "vgg16_lite", "stage1_width": 4, "stage2_width": 4}
TINY_CASCADES = {"depth2-one-class": {**LITE, "stage1_depth": 2, "stage2_decoder_channels": [8, 8, 4, 4, 4]},
                 "depth4-three-classes": {**LITE, "stage1_depth": 4, "stage2_decoder_channels": [16, 8, 8, 4, 4],
                                          "classes": 3}}


def _randomise_batch_norms(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial BN statistics and affine parameters, so that folding them is actually tested."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                size = layer.num_features
                layer.running_mean.copy_(torch.randn(size, generator=generator) * 0.5)
                layer.running_var.copy_(torch.rand(size, generator=generator) * 1.5 + 0.25)
                layer.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                layer.bias.copy_(torch.randn(size, generator=generator) * 0.2)
    return model.eval()


@pytest.fixture(scope="module", params=sorted(TINY_CASCADES))
def tiny_cascade(request, tmp_path_factory) -> str:
    """A saved tiny lite cascade (fp16 safetensors + card, as training saves it); its stem."""
    torch.manual_seed(0)
    model = _randomise_batch_norms(create_model("cascade", **TINY_CASCADES[request.param]), seed=1)
    stem = tmp_path_factory.mktemp("tiny") / request.param
    save_weights(model, stem, {"name": request.param})
    return str(stem)


def _maps(model: openvino.Model, x: np.ndarray) -> np.ndarray:
    compiled = openvino.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(x)[0]


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (2, 3, 96, 32)])
def test_the_direct_graph_gives_the_maps_of_torch_fp32(tiny_cascade, shape):
    network, _ = load_weights(tiny_cascade)
    x = np.random.default_rng(shape[0]).random(shape, dtype=np.float32)
    with torch.no_grad():
        expected = MapsModule(network)(torch.from_numpy(x)).numpy()
    built = _maps(build_openvino_model(tiny_cascade), x)
    assert built.shape == expected.shape and built.dtype == np.float32
    assert np.abs(built - expected).max() < 1e-4


def test_the_cache_builds_a_lite_cascade_without_converting_from_torch(tiny_cascade, monkeypatch, tmp_path):
    monkeypatch.setenv("WSINUC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(openvino_cache, "convert_torch_model", lambda *a: pytest.fail("converted from torch"))
    xml = openvino_cache.openvino_model_path(tiny_cascade)
    assert openvino_cache.entry_problem(xml.parent) is None
    inputs = openvino.Core().read_model(xml).inputs
    assert len(inputs) == 1 and inputs[0].get_partial_shape() == openvino.PartialShape([-1, 3, -1, -1])


def test_other_networks_are_still_converted_from_torch(tmp_path, monkeypatch):
    stem = tmp_path / "unet"
    save_weights(create_model("unet", width=4, depth=2).eval(), stem)
    monkeypatch.setattr(openvino_graph, "build_openvino_model", lambda *a: pytest.fail("built directly"))
    calls = []
    monkeypatch.setattr(openvino_cache, "convert_torch_model", lambda model: calls.append(model) or _one_relu())
    openvino_cache.write_openvino_model(str(stem), tmp_path / "model.xml")
    assert calls == [str(stem)] and (tmp_path / "model.bin").is_file()


def _one_relu() -> openvino.Model:
    x = openvino.opset13.parameter([1, 3, 2, 2], np.float32)
    return openvino.Model([openvino.opset13.relu(x)], [x])


@pytest.mark.parametrize("config, direct", [
    (PRESETS["cascade-ib-lite"], True),
    ({k: v for k, v in PRESETS["cascade-lite"].items() if k != "classes"}, True),  # cards older than `classes`
    (PRESETS["cascade"], False),  # smp vgg16 stage 2
    ({**PRESETS["cascade-lite"], "stage2_encoder": "resnet18"}, False),
    ({"name": "unet", "in_channels": 3, "width": 4, "depth": 2}, False),
    ({"name": "attention_unet", "in_channels": 3, "width": 4, "depth": 2}, False),
    ({"name": "vgg16_unet", "encoder": "vgg16_lite", "width": 4}, False),
    ({**PRESETS["cascade-lite"], "stage1_kernel": 5}, False),  # unknown option: torch names the problem
    ({k: v for k, v in PRESETS["cascade-lite"].items() if k != "stage2_width"}, False),
    ({**PRESETS["cascade-lite"], "stage2_decoder_channels": [16, 16, 16, 16]}, False),
    ({**PRESETS["cascade-lite"], "stage1_depth": 7}, False),
    ({**PRESETS["cascade-lite"], "stage1_width": True}, False),
    ({**PRESETS["cascade-lite"], "classes": 2}, False),
])
def test_which_cards_are_built_directly(config, direct):
    assert can_build_directly({"config": config}) is direct


def test_a_card_without_classes_means_one_class_as_in_the_registry():
    assert OPTIONAL_KEYS["classes"] == inspect.signature(_build_cascade).parameters["classes"].default
    layout = lite_cascade_layout({"config": {k: v for k, v in PRESETS["cascade-lite"].items() if k != "classes"}})
    assert layout is not None and layout.classes == 1


def test_weights_that_do_not_fit_the_card_raise_naming_the_card(tiny_cascade, tmp_path):
    card = json.loads(Path(tiny_cascade + ".json").read_text())
    card["config"]["stage2_width"] = 8
    stem = tmp_path / "edited"
    (tmp_path / "edited.json").write_text(json.dumps(card))
    (tmp_path / "edited.safetensors").write_bytes(Path(tiny_cascade + ".safetensors").read_bytes())
    with pytest.raises(WsinucError, match=r"edited\.json: cannot load into the card's config: .*stage2"):
        build_openvino_model(str(stem))


_NO_TORCH_SCRIPT = """
import sys
import numpy as np
from wsinuc.inference.openvino_backend import OpenVinoBackend
from wsinuc.inference.openvino_cache import openvino_model_path
backend = OpenVinoBackend(openvino_model_path(sys.argv[1]), "fp32")
maps = backend.forward_maps(np.zeros((1, 64, 64, 3), dtype=np.uint8))
heavy = sorted(set(m.split('.')[0] for m in sys.modules) & {'torch', 'timm', 'segmentation_models_pytorch'})
print('SHAPE=' + repr(maps.shape) + ' HEAVY=' + repr(heavy))
"""


def test_building_and_running_a_lite_cascade_imports_no_torch(tiny_cascade, tmp_path):
    env = {**os.environ, "WSINUC_CACHE_DIR": str(tmp_path / "fresh-cache")}
    result = subprocess.run([sys.executable, "-c", _NO_TORCH_SCRIPT, tiny_cascade], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "HEAVY=[]" in result.stdout and (tmp_path / "fresh-cache" / "openvino").is_dir()
