"""Choose the post-processing of a model and its parameters on validation AJI.

Each of the 6 MoNuSeg validation images (the patient split of the model
card, seed 0; the test images are not touched) is predicted whole, once, by
:class:`wsinuc.inference.Predictor` (at ``--mpp 0.25`` a 1000 x 1000 tile is
one engine chunk, i.e. this same forward pass). The probability maps are then
turned into nuclei under every candidate and scored against the XML with
:func:`wsinuc.metrics.evaluate_instances` (mean of per-image values):

* ``opening`` and ``watershed`` on the nucleus probability, at each
  ``--thresholds`` value;
* for a background / interior / boundary model, ``seeded`` over the grid
  ``--thresholds`` x ``--min-seed-sizes`` x ``--expansions``
  (:func:`wsinuc.instances.seeded_instances`, lengths in working pixels).

The record lists every candidate's validation AJI / F1 and the best one per
method (highest AJI; candidates within ``--tie`` AJI of it are ties, broken by
the higher object F1); the best overall is what a model card's ``postprocess`` and
``seeded`` should say. Written to
``results/postprocess_choice-<device>-<date>-<model>.json``.

Example::

    python benchmarks/postprocess_choice.py --model training-runs/ib/cascade-ib-lite --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from common import console, device_info, print_table, versions, write_result

from wsinuc.benchmark.monuseg import split_ids
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.inference.model_cache import cached_predictor, load_card_and_model
from wsinuc.instances import probability_to_instances, seeded_instances, watershed_instances
from wsinuc.metrics import evaluate_instances, mean_metrics


def parse_numbers(text: str, kind: type) -> list:
    """``"0.4,0.5"`` -> ``[0.4, 0.5]`` (``kind`` float or int); at least one value."""
    values = [kind(part) for part in text.split(",") if part.strip()]
    if not values:
        raise ValueError(f"expected a comma list of numbers, got {text!r}")
    return values


def candidates(two_maps: bool, thresholds: list[float], seed_sizes: list[int],
               expansions: list[int]) -> list[dict]:
    """Every ``{"method": ..., **parameters}`` to score; ``seeded`` only for two maps."""
    found = [{"method": method, "threshold": t} for method in ("opening", "watershed") for t in thresholds]
    if two_maps:
        found += [{"method": "seeded", "threshold": t, "min_seed_size": s, "max_expansion": e}
                  for t, s, e in itertools.product(thresholds, seed_sizes, expansions)]
    return found


def instances(prob: np.ndarray, candidate: dict) -> np.ndarray:
    """Nuclei of one probability map (``(H, W)`` or ``(H, W, 2)``) under ``candidate``."""
    parameters = {k: v for k, v in candidate.items() if k != "method"}
    if candidate["method"] == "seeded":
        return seeded_instances(prob[..., 0], prob[..., 1], kernel_size=1, **parameters)
    nucleus = prob[..., 1] if prob.ndim == 3 else prob
    rule = watershed_instances if candidate["method"] == "watershed" else probability_to_instances
    return rule(nucleus, **parameters)


def score(maps: list[np.ndarray], truths: list[np.ndarray], candidate: dict) -> dict:
    """Mean validation metrics of ``candidate`` over all images."""
    rows = [evaluate_instances(gt, instances(prob, candidate).astype(np.int64)) for prob, gt in zip(maps, truths)]
    return {k: round(v, 4) for k, v in mean_metrics(rows).items()}


def best_of(scored: list[dict], tie: float) -> dict:
    """The highest-AJI candidate; those within ``tie`` AJI of it are ties, broken by the higher object F1.

    Six images cannot tell AJI apart to the third decimal: among near-equal
    AJIs the one that finds more nuclei right (F1) is kept.
    """
    top = max(row["metrics"]["aji"] for row in scored)
    tied = [row for row in scored if row["metrics"]["aji"] >= top - tie]
    return max(tied, key=lambda row: (row["metrics"]["f1"], row["metrics"]["aji"]))


def best_per_method(scored: list[dict], tie: float = 0.0) -> dict[str, dict]:
    """:func:`best_of` the candidates of each method."""
    methods = dict.fromkeys(row["candidate"]["method"] for row in scored)
    return {method: best_of([r for r in scored if r["candidate"]["method"] == method], tie) for method in methods}


def parameters(row: dict) -> str:
    """``threshold=0.5 min_seed_size=8 ...`` of a scored candidate."""
    return " ".join(f"{k}={v}" for k, v in row["candidate"].items() if k != "method")


def main(argv: list[str] | None = None) -> None:
    """Predict, score every candidate and write the record."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cascade-lite", help="bundled model name or weights path")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: $WSINUC_DATA/monuseg)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--tta", action="store_true", help="score the TTA probability maps instead")
    parser.add_argument("--thresholds", default="0.4,0.5,0.6")
    parser.add_argument("--min-seed-sizes", default="0,4,8,16,32", help="seeded: smallest seed kept, px")
    parser.add_argument("--expansions", default="2,3,4,5,6,8", help="seeded: most rings a seed grows by")
    parser.add_argument("--tie", type=float, default=0.002,
                        help="AJIs within this of the best are ties, broken by the higher object F1")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = args.data or default_data_root() / "monuseg"
    _, card = load_card_and_model(args.model, args.device)
    ids = split_ids(root, "val")
    if card.get("split", {}).get("val_ids") not in (None, ids):
        raise ValueError(f"validation ids {ids} differ from the card's {card['split']['val_ids']}")
    predictor = cached_predictor(args.model, args.device, 1, args.precision, args.tta)
    start = time.perf_counter()
    samples = [load_monuseg_image(root, "train", image_id) for image_id in ids]
    maps = [predictor.predict_image(sample.image) for sample in samples]
    predict_s = time.perf_counter() - start
    truths = [sample.instances.astype(np.int64) for sample in samples]
    grid = candidates(maps[0].ndim == 3, parse_numbers(args.thresholds, float),
                      parse_numbers(args.min_seed_sizes, int), parse_numbers(args.expansions, int))
    scored = [{"candidate": candidate, "metrics": score(maps, truths, candidate)} for candidate in grid]
    best = best_per_method(scored, args.tie)
    overall = best_of(scored, args.tie)
    print_table("validation AJI / F1, best per method",
                [(method, f"{parameters(row)}  AJI {row['metrics']['aji']:.4f}  F1 {row['metrics']['f1']:.4f}")
                 for method, row in best.items()])
    console.print(f"best: {overall['candidate']} AJI {overall['metrics']['aji']}")
    record = {
        "kind": "postprocess_choice", "model": args.model, "tta": args.tta, "precision": args.precision,
        "split": "val", "images": ids, "card_postprocess": card.get("postprocess"),
        "device": device_info(args.device), "versions": versions(), "predict_seconds": round(predict_s, 1),
        "rule": f"highest mean AJI; within {args.tie} of it, highest object F1",
        "best": overall, "best_per_method": best, "candidates": scored,
    }
    print(write_result(record, args.results, "postprocess_choice", Path(args.model).name))


if __name__ == "__main__":
    main()
