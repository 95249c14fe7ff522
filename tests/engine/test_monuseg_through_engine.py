"""A MoNuSeg test tile run through ``segment_slide`` equals direct whole-image prediction."""

from __future__ import annotations

import numpy as np
from engine_files import read_labels

from wsinuc.config import InferenceConfig, OutputConfig, RunConfig, SegmentConfig, TilingConfig
from wsinuc.datasets import list_monuseg_ids, load_monuseg_image
from wsinuc.device import resolve_device
from wsinuc.inference import Predictor
from wsinuc.engine.nuclei import drop_larger_than
from wsinuc.instances import probability_to_instances
from wsinuc.metrics import match_instances
from wsinuc.models import load_weights
from wsinuc.engine import segment_slide


def test_engine_equals_whole_image_prediction(tmp_path, monuseg_root, colour_model):
    image_id = list_monuseg_ids(monuseg_root, "test")[0]
    sample = load_monuseg_image(monuseg_root, "test", image_id)
    config = SegmentConfig(
        tiling=TilingConfig(chunk_size=256, halo=192, tissue=False),
        inference=InferenceConfig(model=str(colour_model), device="cpu", mpp=0.25, backend="torch"),
        output=OutputConfig(outputs=("zarr",)),
        run=RunConfig(progress=False),
    )
    segment_slide(monuseg_root / "test" / "images" / f"{image_id}.tif", tmp_path, config)
    tiled = read_labels(tmp_path / image_id / "labels.ome.zarr")

    model, _ = load_weights(colour_model)
    prob = Predictor(model, resolve_device("cpu")).predict_image(sample.image)
    whole, _ = drop_larger_than(probability_to_instances(prob), config.tiling.halo)

    n_whole = len(np.unique(whole)) - 1
    assert tiled.shape == whole.shape == sample.instances.shape
    assert n_whole > 100
    assert match_instances(whole, tiled.astype(np.int64), iou=0.9).tp >= 0.99 * n_whole
