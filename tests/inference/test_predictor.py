"""Predictor: channels-last inference gives the probabilities of a plain NCHW forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsinuc.errors import OptionError
from wsinuc.inference.predictor import Predictor
from wsinuc.models import create_model


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("unet", width=4, depth=2).eval()


def test_channels_last_probabilities_match_a_plain_forward_pass():
    tiles = np.random.default_rng(0).integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    reference = _model()
    with torch.inference_mode():
        x = torch.from_numpy(tiles).permute(0, 3, 1, 2).float().contiguous() / 255.0
        expected = torch.sigmoid(reference(x))[:, 0].numpy()
    predictor = Predictor(_model(), torch.device("cpu"), batch_size=1)
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in predictor.model.parameters() if p.dim() == 4)
    np.testing.assert_allclose(predictor.predict(tiles), expected, atol=1e-5)


def test_tiles_not_a_multiple_of_the_stride_keep_their_size():
    tiles = np.zeros((1, 50, 70, 3), np.uint8)
    assert Predictor(_model(), torch.device("cpu")).predict(tiles).shape == (1, 50, 70)


def test_a_zero_batch_size_names_the_option():
    with pytest.raises(OptionError, match="--batch-size"):
        Predictor(_model(), torch.device("cpu"), batch_size=0)


def test_bf16_probabilities_stay_close_to_float32():
    tiles = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    fp32 = Predictor(_model(), torch.device("cpu"), precision="fp32").predict(tiles)
    bf16 = Predictor(_model(), torch.device("cpu"), precision="bf16").predict(tiles)
    assert bf16.dtype == np.float32
    assert not np.array_equal(bf16, fp32)  # the bf16 path really ran
    np.testing.assert_allclose(bf16, fp32, atol=0.02)


def test_auto_precision_on_the_cpu_is_float32():
    tiles = np.random.default_rng(2).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    auto = Predictor(_model(), torch.device("cpu")).predict(tiles)
    np.testing.assert_array_equal(auto, Predictor(_model(), torch.device("cpu"), precision="fp32").predict(tiles))


def test_an_unknown_precision_names_the_option():
    with pytest.raises(OptionError, match="--precision"):
        Predictor(_model(), torch.device("cpu"), precision="fp16")
