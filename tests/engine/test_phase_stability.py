"""The same tissue must give the same nuclei whatever the phase of the resampling grid.

Two crops of the sample slide (20x, 0.499 um/px) whose origins differ by one
level-0 pixel are saved as plain tiled TIFFs and segmented at 0.25 um/px; the
nuclei of the two results are matched away from the borders, after undoing
the one-pixel shift.
"""

from __future__ import annotations

import numpy as np
import tifffile
from engine_files import read_labels

from wsinuc.benchmark.monuseg import tile_segment_config
from wsinuc.config import InferenceConfig
from wsinuc.engine import segment_slides
from wsinuc.inference.model_cache import resolve_model_name
from wsinuc.metrics import match_instances
from wsinuc.slide import open_slide

ORIGIN, SIDE, MARGIN = (600, 700), 640, 48


def _shifted_crops(sample_svs, folder):
    with open_slide(sample_svs) as slide:
        mpp = float(slide.mpp[0])
        paths = []
        for dx in (0, 1):
            path = folder / f"crop{dx}.tif"
            tifffile.imwrite(path, slide.read_region(ORIGIN[0] + dx, ORIGIN[1], SIDE, SIDE, 0),
                             photometric="rgb", tile=(256, 256))
            paths.append(path)
    return paths, mpp


def _inner(labels):
    """``labels`` without the objects that touch its border."""
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.where(np.isin(labels, border[border > 0]), 0, labels)


def _object_f1(tmp_path, sample_svs, model, postprocess="auto", precision="auto"):
    paths, mpp = _shifted_crops(sample_svs, tmp_path)
    config = tile_segment_config(InferenceConfig(model=str(model), device="cpu", mpp=mpp, postprocess=postprocess,
                                                 precision=precision))
    list(segment_slides(paths, tmp_path / "out", config))
    first, second = (read_labels(tmp_path / "out" / path.stem / "labels.ome.zarr") for path in paths)
    first = _inner(first[MARGIN:-MARGIN, MARGIN + 1 : -MARGIN + 1])   # crop 1 pixel (r, c) = crop 0 (r, c + 1)
    second = _inner(second[MARGIN:-MARGIN, MARGIN:-MARGIN])
    counts = [len(np.unique(labels)) - 1 for labels in (first, second)]
    assert min(counts) > 50
    return 2 * match_instances(first, second, iou=0.5).tp / sum(counts)


def test_the_engine_adds_no_instability_with_a_local_model(tmp_path, sample_svs):
    from wsinuc.models import create_model, save_weights

    stem = tmp_path / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    assert _object_f1(tmp_path, sample_svs, stem, "opening") >= 0.98


def test_the_default_model_gives_the_same_nuclei_at_two_phases(tmp_path, sample_svs):
    """0.960 on a 2-core CPU (OpenVINO bf16 and f32 alike) with the default ``cascade-ib-lite-20x``.

    That model works at 0.5 um/px, so this 20x crop is read on its own grid and
    a one-pixel shift is a one-pixel shift of the network's input: an odd phase
    of its pooling grid. The previous default (0.25 um/px) saw the crop
    upsampled 2x, where the same shift is two working pixels, and kept 0.982
    (next test). No seeded rule on the 0.5 um/px maps is more stable on
    validation (shift F1 at most 0.952 over the whole grid of
    ``benchmarks/postprocess_choice.py``): the network, not the rule, moves.
    """
    assert resolve_model_name("auto", "cpu") == "cascade-ib-lite-20x"
    assert _object_f1(tmp_path, sample_svs, "auto") >= 0.95


def test_the_previous_default_in_float32_keeps_the_earlier_stability_bar(tmp_path, sample_svs):
    """``cascade-ib-lite`` (0.25 um/px) and its card's rule, OpenVINO f32 on the CPU: the 0.98 bar (0.982).

    bf16 rounding moves about 2 of ~250 nuclei between the two phases, hence float32 here.
    """
    assert _object_f1(tmp_path, sample_svs, "cascade-ib-lite", precision="fp32") >= 0.98


def test_the_binary_cascade_lite_with_watershed_is_less_stable_than_the_default(tmp_path, sample_svs):
    """Why the default changed: the binary model's watershed splits flip with the grid's phase."""
    (tmp_path / "ib").mkdir(), (tmp_path / "lite").mkdir()
    assert _object_f1(tmp_path / "ib", sample_svs, "auto") > _object_f1(tmp_path / "lite", sample_svs, "cascade-lite")
