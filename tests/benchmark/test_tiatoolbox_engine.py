"""The wsinuc network as a TIAToolbox model: every map it predicts, halo cropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

engine = pytest.importorskip("wsinuc.benchmark.tiatoolbox_engine")


def _network(classes: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Conv2d(3, classes, kernel_size=1)


@pytest.mark.parametrize(("classes", "maps"), [(1, 1), (3, 2)])
def test_infer_batch_returns_every_map_of_the_centre(classes, maps):
    model = engine.TiaNucleusModel(_network(classes), "cpu", batch_size=2, halo=16)
    batch = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8))
    out = engine.TiaNucleusModel.infer_batch(model, batch, device="cpu")
    assert out.shape == (3, 32, 32, maps) and out.dtype == np.float32
    whole = model.predictor.predict(batch.numpy())
    whole = whole[..., None] if whole.ndim == 3 else whole
    np.testing.assert_array_equal(out, whole[:, 16:-16, 16:-16])


def test_postproc_thresholds_the_nucleus_map_the_last_one():
    model = engine.TiaNucleusModel(_network(3), "cpu", batch_size=1, halo=0, threshold=0.5)
    maps = np.zeros((4, 4, 2), np.float32)
    maps[0, 0] = (0.9, 0.2)   # interior high, nucleus low: not nucleus
    maps[1, 1] = (0.1, 0.8)
    mask = model.postproc(maps)
    assert mask[1, 1] and not mask[0, 0] and mask.sum() == 1


def test_patch_geometry_is_a_chunk_plus_its_halo():
    config = engine.TiaRunConfig(chunk_size=256, halo=64, mpp=0.25, precision="bf16")
    io = engine.io_config(config)
    assert tuple(io.patch_input_shape) == (384, 384) and tuple(io.patch_output_shape) == (256, 256)
    with pytest.raises(ValueError, match="halo"):
        engine.TiaRunConfig(chunk_size=256, halo=10, mpp=0.25)
