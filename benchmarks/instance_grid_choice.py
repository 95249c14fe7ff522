"""Where a coarse model's nuclei are made: on level 0 or on its working grid. Validation AJI and cost.

A model whose card pixel size is coarser than the slide's (e.g. a 0.5 um/px
model on the 0.25 um/px MoNuSeg images) predicts on its working grid. The
nuclei can then be made in two places:

* ``level0`` (what the engine does, :func:`wsinuc.engine.nuclei.chunk_labels`):
  the probabilities are resampled bilinearly to level 0 and the card's rule
  runs there, its lengths converted;
* ``working``: the rule runs on the working grid with its own lengths, and
  the labels go to level 0 by nearest neighbour (each object kept as its
  largest 4-connected piece).

Each of the 6 MoNuSeg validation images (the card's patient split; the test
images are not touched) is predicted once; both ways are scored against the
XML (mean per-image AJI / object F1) and timed (seconds of the rule and the
resampling per level-0 Mpx, same process, same maps). Written to
``results/instance_grid_choice-<device>-<date>-<model>.json``.

Example::

    python benchmarks/instance_grid_choice.py --model training-runs/run/cascade-ib-lite.safetensors
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from common import device_info, print_table, versions, write_result

from wsinuc.benchmark.level0_maps import image_scale, working_image
from wsinuc.benchmark.monuseg import MONUSEG_MPP, split_ids
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.engine.nuclei import labels_on_level0, labels_on_working_grid
from wsinuc.inference.model_cache import cached_predictor, load_card_and_model
from wsinuc.instances import InstanceRule
from wsinuc.metrics import evaluate_instances, mean_metrics
from wsinuc.models.cards import card_mpp
from wsinuc.slide.resample import working_box


def level0_nuclei(rule: InstanceRule, prob: np.ndarray, scale: float, shape: tuple[int, int]) -> np.ndarray:
    """The engine's way for a coarse model (:func:`wsinuc.engine.nuclei.labels_on_level0`), on a whole image."""
    return labels_on_level0(rule, prob, *_whole_image(scale, shape))


def working_nuclei(rule: InstanceRule, prob: np.ndarray, scale: float, shape: tuple[int, int]) -> np.ndarray:
    """The engine's way for a fine model (:func:`wsinuc.engine.nuclei.labels_on_working_grid`), on a whole image."""
    return labels_on_working_grid(rule, prob, *_whole_image(scale, shape))


def _whole_image(scale: float, shape: tuple[int, int]) -> tuple[tuple[int, int], float, tuple[int, int, int, int]]:
    """``(working origin, scale, level-0 box)`` of a whole image of ``shape``."""
    wx0, wy0, _, _ = working_box(0, 0, shape[1], shape[0], scale)
    return (wx0, wy0), scale, (0, 0, shape[1], shape[0])


WAYS = {"level0": level0_nuclei, "working": working_nuclei}


def main(argv: list[str] | None = None) -> None:
    """Predict the validation images once, make and score the nuclei both ways."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto", help="bundled model name or weights path")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: $WSINUC_DATA/monuseg)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    root = args.data or default_data_root() / "monuseg"
    _, card = load_card_and_model(args.model, "cpu")
    scale = image_scale(card, MONUSEG_MPP)
    if scale >= 1.0:
        raise SystemExit(f"{args.model}: works at {card_mpp(card)} um/px, not coarser than the images")
    rule = InstanceRule.from_card(card)
    predictor = cached_predictor(args.model, "cpu", 1, args.precision, False)
    rows, seconds, pixels = {way: [] for way in WAYS}, dict.fromkeys(WAYS, 0.0), 0
    for image_id in split_ids(root, "val"):
        sample = load_monuseg_image(root, "train", image_id)
        shape = sample.image.shape[:2]
        prob = predictor.predict_image(working_image(sample.image, scale))
        pixels += shape[0] * shape[1]
        for way, make in WAYS.items():
            start = time.perf_counter()
            labels = make(rule, prob, scale, shape)
            seconds[way] += time.perf_counter() - start
            rows[way].append(evaluate_instances(sample.instances.astype(np.int64), labels.astype(np.int64)))
    result = {way: {**{k: round(v, 4) for k, v in mean_metrics(rows[way]).items()},
                    "seconds_per_mpx": round(seconds[way] / (pixels / 1e6), 4)} for way in WAYS}
    print_table("nuclei made on level 0 vs on the working grid (validation)",
                [(way, f"AJI {m['aji']:.4f}  F1 {m['f1']:.4f}  {m['seconds_per_mpx']:.3f} s/Mpx")
                 for way, m in result.items()])
    record = {"kind": "instance_grid_choice", "model": args.model, "rule": dataclasses.asdict(rule),
              "working_scale": scale, "split": "val", "device": device_info("cpu"), "versions": versions(), "result": result}
    print(write_result(record, args.results, "instance_grid_choice", Path(args.model).name))


if __name__ == "__main__":
    main()
