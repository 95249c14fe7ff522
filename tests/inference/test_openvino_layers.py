"""OpenVINO layer nodes from numpy weights: batch-norm folding, shape checks, up-sampling, maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("openvino")

import openvino  # noqa: E402
from openvino import opset13 as ops  # noqa: E402

from wsinuc.inference.openvino_layers import StateView, fold_batch_norm, nearest_up2, probability_maps  # noqa: E402


def _run(build, x: np.ndarray) -> np.ndarray:
    parameter = ops.parameter(x.shape, np.float32)
    compiled = openvino.Core().compile_model(openvino.Model([build(parameter)], [parameter]), "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(x)[0]


def test_a_folded_batch_norm_equals_torch_conv_then_eval_batch_norm():
    torch.manual_seed(0)
    conv, norm = torch.nn.Conv2d(3, 5, 3, padding=1, bias=False), torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.1, 3)
        norm.weight.uniform_(0.5, 2), norm.bias.uniform_(-1, 1)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        expected = norm.eval()(conv(x))
    stats = {name: getattr(norm, name).detach().numpy() for name in ("weight", "bias", "running_mean", "running_var")}
    weight, bias = fold_batch_norm(conv.weight.detach().numpy(), stats)
    assert weight.dtype == bias.dtype == np.float32
    folded = F.conv2d(x, torch.from_numpy(weight), torch.from_numpy(bias), padding=1)
    assert torch.allclose(folded, expected, atol=1e-5)


def test_nearest_up2_copies_each_pixel_to_a_2x2_block_like_torch():
    x = np.random.default_rng(0).random((1, 2, 3, 5), dtype=np.float32)
    expected = F.interpolate(torch.from_numpy(x), scale_factor=2.0, mode="nearest").numpy()
    np.testing.assert_array_equal(_run(lambda p: nearest_up2(p, "up"), x), expected)


def test_the_state_view_checks_names_and_shapes_and_reports_untaken_tensors():
    view = StateView({"a.weight": np.zeros((2, 3)), "a.bias": np.zeros(2), "extra": np.zeros(1)})
    assert view.take("a.weight", (2, 3)).dtype == np.float64
    with pytest.raises(ValueError, match=r"'a.bias' has shape \(2,\), the config needs \(4,\)"):
        view.take("a.bias", (4,))
    with pytest.raises(ValueError, match="missing tensor 'b.weight'"):
        view.take("b.weight", (1,))
    assert view.untaken() == ["a.bias", "extra"]


def test_three_class_maps_are_interior_and_interior_plus_boundary():
    logits = np.random.default_rng(1).normal(size=(2, 3, 4, 6)).astype(np.float32)
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    maps = _run(lambda p: probability_maps(p, 3), logits)
    assert maps.shape == (2, 4, 6, 2)
    np.testing.assert_allclose(maps[..., 0], probabilities[:, 1], atol=1e-6)
    np.testing.assert_allclose(maps[..., 1], probabilities[:, 1] + probabilities[:, 2], atol=1e-6)
    with pytest.raises(ValueError, match="1 or 3 channels, got 2"):
        probability_maps(ops.parameter([1, 2, 4, 4], np.float32), 2)
