"""Every bundled model gives the same pixel classes under OpenVINO f32 as under torch fp32, on a real tile.

The lite models' OpenVINO graph is built from their weights (openvino_graph), the paper-width ``cascade``'s
is converted from torch: this checks both ways.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino")

from wsinuc.datasets import list_monuseg_ids, load_monuseg_image  # noqa: E402
from wsinuc.inference.model_cache import cached_predictor, load_card  # noqa: E402
from wsinuc.inference.openvino_backend import OpenVinoBackend  # noqa: E402
from wsinuc.inference.openvino_cache import openvino_model_path  # noqa: E402
from wsinuc.inference.openvino_graph import can_build_directly  # noqa: E402
from wsinuc.inference.predictor import Predictor  # noqa: E402
from wsinuc.instances import InstanceRule  # noqa: E402
from wsinuc.models import list_bundled_weights  # noqa: E402

SIDE = 384
WHEEL_MODELS = ("cascade-ib-lite-20x", "cascade-ib-lite", "cascade-lite")


def _pixel_classes(maps: np.ndarray, threshold: float) -> np.ndarray:
    """What the engine thresholds: nucleus (and for two maps, interior) per pixel, as one class code."""
    if maps.ndim == 3:
        return maps > threshold
    return (maps[..., 0] > threshold).astype(np.uint8) + 2 * (maps[..., 1] > threshold)


@pytest.mark.parametrize("name", [*WHEEL_MODELS, pytest.param("cascade", marks=pytest.mark.slow)])
def test_openvino_f32_agrees_with_torch_fp32_on_a_monuseg_crop(monuseg_root, name):
    if name not in list_bundled_weights():
        pytest.skip(f"{name} is not installed")
    assert can_build_directly(load_card(name)) == (name in WHEEL_MODELS)
    image_id = list_monuseg_ids(monuseg_root, "test")[0]
    tiles = load_monuseg_image(monuseg_root, "test", image_id).image[None, :SIDE, :SIDE]
    reference = cached_predictor(name, "cpu", 1, "fp32").predict(tiles)
    converted = Predictor(OpenVinoBackend(openvino_model_path(name), "fp32")).predict(tiles)
    threshold = InstanceRule.from_card(load_card(name), "auto").threshold
    agree = np.mean(_pixel_classes(converted, threshold) == _pixel_classes(reference, threshold))
    assert agree >= 0.999
    assert np.abs(converted - reference).max() < 1e-3
