"""Predictor: channels-last inference gives the probabilities of a plain NCHW forward pass; TTA averages D4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsinuc.errors import OptionError
from wsinuc.inference.predictor import Predictor, d4_inverse, d4_transform
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


# ---------------------------------------------------------------- test-time augmentation


def _explicit_tta_mean(model: torch.nn.Module, tiles: np.ndarray) -> np.ndarray:
    """Oracle: predict each of the 8 transformed stacks without TTA, map back, average in float64."""
    plain = Predictor(model, torch.device("cpu"), batch_size=2)
    maps = []
    for turns in range(4):
        for mirror in (False, True):
            moved = np.rot90(tiles[:, :, ::-1] if mirror else tiles, turns, axes=(1, 2))
            back = np.rot90(plain.predict(np.ascontiguousarray(moved)), -turns, axes=(1, 2))
            maps.append(back[:, :, ::-1] if mirror else back)
    return np.mean(np.stack(maps).astype(np.float64), axis=0)


def _pointwise_model() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Conv2d(3, 1, kernel_size=1).eval()


@pytest.mark.parametrize("k", range(8))
def test_each_d4_inverse_undoes_its_transform(k):
    tiles = np.arange(2 * 5 * 7).reshape(2, 5, 7)
    moved = d4_transform(tiles, k)
    assert moved.shape == ((2, 7, 5) if k % 2 else (2, 5, 7))
    np.testing.assert_array_equal(d4_inverse(moved, k), tiles)


def test_the_eight_d4_transforms_are_distinct():
    tile = np.arange(16).reshape(1, 4, 4)
    assert len({d4_transform(tile, k).tobytes() for k in range(8)}) == 8


def test_an_unknown_d4_element_is_rejected():
    with pytest.raises(ValueError, match="got 8"):
        d4_transform(np.zeros((1, 2, 2)), 8)
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        d4_inverse(np.zeros((4, 4)), 1)


@pytest.mark.parametrize("shape", [(2, 64, 64), (3, 50, 70), (1, 96, 33)])
def test_tta_of_a_pointwise_model_equals_no_tta(shape):
    tiles = np.random.default_rng(4).integers(0, 256, (*shape, 3), dtype=np.uint8)
    plain = Predictor(_pointwise_model(), torch.device("cpu")).predict(tiles)
    tta = Predictor(_pointwise_model(), torch.device("cpu"), tta=True).predict(tiles)
    assert tta.shape == shape and tta.dtype == np.float32
    np.testing.assert_allclose(tta, plain, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 64, 64), (3, 50, 70), (2, 64, 96)])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_tta_equals_the_explicit_mean_of_the_eight_transforms(shape, batch_size):
    tiles = np.random.default_rng(5).integers(0, 256, (*shape, 3), dtype=np.uint8)
    tta = Predictor(_model(), torch.device("cpu"), batch_size=batch_size, tta=True).predict(tiles)
    expected = _explicit_tta_mean(_model(), tiles)
    assert tta.shape == shape
    assert np.abs(tta - Predictor(_model(), torch.device("cpu")).predict(tiles)).max() > 1e-3  # TTA changed it
    np.testing.assert_allclose(tta, expected, atol=2e-6)


def test_tta_keeps_the_size_of_an_image_not_a_multiple_of_the_stride():
    image = np.random.default_rng(6).integers(0, 256, (45, 77, 3), dtype=np.uint8)
    prob = Predictor(_model(), torch.device("cpu"), tta=True).predict_image(image)
    assert prob.shape == (45, 77)
    assert np.all((prob >= 0) & (prob <= 1))


def test_a_non_boolean_tta_names_the_option():
    with pytest.raises(OptionError, match="--tta"):
        Predictor(_model(), torch.device("cpu"), tta="yes")


class _ThreeClass(torch.nn.Module):
    """Background / interior / boundary logits from the colour channels (a fixed toy network)."""

    def forward(self, x):
        return torch.stack([x[:, 0] * 4 - 2, x[:, 1] * 3, x[:, 2] * 2 - 1], dim=1)


@pytest.mark.parametrize("tta", [False, True])
def test_three_class_models_give_interior_and_nucleus_probabilities(tta):
    tiles = np.random.default_rng(3).integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    maps = Predictor(_ThreeClass(), torch.device("cpu"), batch_size=1, tta=tta).predict(tiles)
    assert maps.shape == (2, 40, 48, 2) and maps.dtype == np.float32
    x = tiles.astype(np.float64) / 255.0
    logits = np.stack([x[..., 0] * 4 - 2, x[..., 1] * 3, x[..., 2] * 2 - 1], axis=-1)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(maps[..., 0], probs[..., 1], atol=1e-5)
    np.testing.assert_allclose(maps[..., 1], probs[..., 1] + probs[..., 2], atol=1e-5)


def test_a_model_with_two_channels_is_refused():
    from wsinuc.inference.predictor import probability_maps

    with pytest.raises(ValueError, match="1 .* or 3"):
        probability_maps(torch.zeros(1, 2, 4, 4))
