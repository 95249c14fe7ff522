"""Test-time augmentation on or off: validation AJI and cost per Mpx, through the predictor.

Each of the 6 MoNuSeg validation images (the patient split of the model
card, seed 0) is predicted whole by :class:`wsinuc.inference.Predictor`
with and without ``tta`` (the 8 flips / rotations, probabilities
averaged), turned into nuclei with the card's post-processing (and, for
reference, the other one), and scored against the XML with
:func:`wsinuc.metrics.evaluate_instances`. The engine is not involved: at
``--mpp 0.25`` a 1000 x 1000 tile is one chunk, i.e. this same forward pass.

Cost = seconds of ``predict_image`` per Mpx, in one process with torch
limited to ``--threads`` threads (1 = per core), best of ``--repeat`` runs on
the first image, plus the total over all images. Each image is one tile
(padded to 1024 x 1024); with ``--batch-size 8`` its 8 transforms share one
forward pass, with 1 (the default, fastest on the CPU) they run one by one.

Example::

    OMP_NUM_THREADS=1 python benchmarks/tta_choice.py --model cascade-lite --threads 1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import device_info, versions, write_result

from wsinuc.benchmark.level0_maps import image_scale, level0_probabilities
from wsinuc.benchmark.monuseg import MONUSEG_MPP, split_ids
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.inference.model_cache import cached_predictor, load_card_and_model
from wsinuc.instances import METHODS, InstanceRule
from wsinuc.metrics import evaluate_instances, mean_metrics

#: Each method with the parameters of the model being scored (its card's), set by :func:`main`.
RULES: dict[str, InstanceRule] = {method: InstanceRule(method=method) for method in METHODS}


def timed_probabilities(predictor, image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, float]:
    """``(probability map, seconds)`` of one whole-image prediction at ``scale`` working pixels per pixel."""
    start = time.perf_counter()
    prob = level0_probabilities(predictor, image, scale)
    return prob, time.perf_counter() - start


def score_image(sample, prob: np.ndarray) -> dict[str, dict[str, float]]:
    """Metrics of one probability map under each post-processing (:data:`RULES`).

    ``opening`` and ``watershed`` use the nucleus probability; a background /
    interior / boundary model's ``(H, W, 2)`` maps are also scored with
    ``seeded``.
    """
    gt = sample.instances.astype(np.int64)
    return {name: evaluate_instances(gt, rule(prob).astype(np.int64)) for name, rule in RULES.items()
            if name != "seeded" or prob.ndim == 3}


def evaluate(root: Path, ids: list[str], model: str, device: str, precision: str, batch_size: int,
             scale: float = 1.0) -> dict:
    """Per-image metrics and seconds of every validation image, TTA off and on."""
    rows = {"off": [], "on": []}
    for image_id in ids:
        sample = load_monuseg_image(root, "train", image_id)
        for label, tta in (("off", False), ("on", True)):
            predictor = cached_predictor(model, device, batch_size, precision, tta)
            prob, seconds = timed_probabilities(predictor, sample.image, scale)
            megapixels = sample.image.shape[0] * sample.image.shape[1] / 1e6
            rows[label].append({"image_id": image_id, "seconds": seconds, "megapixels": megapixels,
                                **score_image(sample, prob)})
    return rows


def summary(rows: list[dict]) -> dict:
    """Mean metrics per post-processing and the total seconds per Mpx."""
    names = [name for name in METHODS if name in rows[0]]
    means = {name: {k: round(v, 4) for k, v in mean_metrics([row[name] for row in rows]).items()}
             for name in names}
    seconds = sum(row["seconds"] for row in rows)
    megapixels = sum(row["megapixels"] for row in rows)
    return {**means, "seconds_per_mpx_all_images": round(seconds / megapixels, 3)}


def best_seconds_per_mpx(image: np.ndarray, model: str, device: str, precision: str, batch_size: int,
                         repeat: int, scale: float = 1.0) -> dict:
    """Best-of-``repeat`` seconds per Mpx of one image, TTA off and on."""
    megapixels = image.shape[0] * image.shape[1] / 1e6
    best = {}
    for label, tta in (("off", False), ("on", True)):
        predictor = cached_predictor(model, device, batch_size, precision, tta)
        runs = [timed_probabilities(predictor, image, scale)[1] for _ in range(repeat)]
        best[label] = round(min(runs) / megapixels, 3)
    return best


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and write ``results/tta_choice-<device>-<date>-<model>.json``."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cascade-lite")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: $WSINUC_DATA/monuseg)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 = per core)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="tiles per forward pass; with TTA the 8 transforms of an image fill it "
                             "(on the CPU 1 was fastest: 14.4 s vs 23.1 s for 8 on a 1000 x 1000 image)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs of the first image (best kept)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = args.data or default_data_root() / "monuseg"
    _, card = load_card_and_model(args.model, args.device)
    scale = image_scale(card, MONUSEG_MPP)  # a 0.5 um/px model: predicted at 0.5, scored at 0.25 as the engine does
    RULES.update({method: InstanceRule.from_card(card, method).at_scale(scale) for method in METHODS})
    ids = split_ids(root, "val")
    if card.get("split", {}).get("val_ids") not in (None, ids):
        raise ValueError(f"validation ids {ids} differ from the card's {card['split']['val_ids']}")
    rows = evaluate(root, ids, args.model, args.device, args.precision, args.batch_size, scale)
    first = load_monuseg_image(root, "train", ids[0]).image
    record = {
        "kind": "tta_choice", "model": args.model, "precision": args.precision, "threads": args.threads,
        "batch_size": args.batch_size, "working_scale": scale,
        "card_postprocess": card.get("postprocess"), "split": "val", "images": ids,
        "rules": {name: rule.parameters() for name, rule in RULES.items()},
        "device": device_info(args.device), "versions": versions(),
        "tta_off": summary(rows["off"]), "tta_on": summary(rows["on"]),
        "seconds_per_mpx_best": best_seconds_per_mpx(first, args.model, args.device, args.precision,
                                                     args.batch_size, args.repeat, scale),
        "per_image": rows,
    }
    print(write_result(record, args.results, "tta_choice", Path(args.model).name))


if __name__ == "__main__":
    main()
