"""Choose the post-processing of a model and its parameters on validation AJI and stability.

Each of the 6 MoNuSeg validation images (the patient split of the model
card, seed 0; the test images are not touched) is predicted whole, once, by
:class:`wsinuc.inference.Predictor` (at ``--mpp 0.25`` a 1000 x 1000 tile is
one engine chunk, i.e. this same forward pass), and once more shifted by
``--shift`` pixels (row, column), which puts the network's pooling grid at
another phase. The probability maps are then turned into nuclei under every
candidate (:class:`wsinuc.instances.InstanceRule`) and scored:

* validation AJI / object F1 against the XML
  (:func:`wsinuc.metrics.evaluate_instances`, mean of per-image values);
* shift stability: object F1 between the nuclei of the image and of its
  shifted copy, matched at IoU 0.5 away from the borders, all images pooled.

Candidates are ``opening`` and ``watershed`` on the nucleus probability at
each ``--thresholds`` value and, for a background / interior / boundary
model, ``seeded`` over ``--thresholds`` x ``--min-seed-sizes`` x
``--expansions`` x ``--seed-peaks`` x ``--merge-dips`` (lengths in working
pixels).

The rule (``best_of``): the best candidate is the highest mean AJI; a
candidate within ``--tie`` AJI of it, or at most ``--max-loss`` below it and
trailing it by less than ``--tie-se`` paired standard errors of the per-image
AJIs, cannot be told apart from it on six images, and among those the most
shift-stable one is kept (then the higher object F1): the same tissue should
give the same nuclei. Written to
``results/postprocess_choice-<device>-<date>-<model>.json``.

Example::

    python benchmarks/postprocess_choice.py --model training-runs/ib/cascade-ib-lite --threads 2
"""

from __future__ import annotations

import argparse
import functools
import itertools
import multiprocessing
import time
from pathlib import Path

import numpy as np

from common import console, device_info, print_table, shift_counts, versions, write_result

from wsinuc.benchmark.level0_maps import image_scale, level0_probabilities
from wsinuc.benchmark.monuseg import MONUSEG_MPP, split_ids
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.inference.model_cache import cached_predictor, load_card_and_model
from wsinuc.instances import InstanceRule
from wsinuc.metrics import evaluate_instances, mean_metrics


def parse_numbers(text: str, kind: type) -> list:
    """``"0.4,0.5"`` -> ``[0.4, 0.5]`` (``kind`` float or int); at least one value."""
    values = [kind(part) for part in text.split(",") if part.strip()]
    if not values:
        raise ValueError(f"expected a comma list of numbers, got {text!r}")
    return values


def candidates(two_maps: bool, thresholds: list[float], seed_sizes: list[int], expansions: list[int],
               seed_peaks: tuple[float, ...] = (0.0,), merge_dips: tuple[float, ...] = (0.0,)) -> list[dict]:
    """Every ``{"method": ..., **parameters}`` to score; ``seeded`` only for two maps."""
    found = [{"method": method, "threshold": t} for method in ("opening", "watershed") for t in thresholds]
    if two_maps:
        found += [{"method": "seeded", "threshold": t, "min_seed_size": s, "max_expansion": e, "seed_peak": p,
                   "merge_dip": d}
                  for t, s, e, p, d in itertools.product(thresholds, seed_sizes, expansions, seed_peaks, merge_dips)]
    return found


def instances(prob: np.ndarray, candidate: dict, scale: float = 1.0) -> np.ndarray:
    """Nuclei of one probability map (``(H, W)`` or ``(H, W, 2)``) under ``candidate``.

    ``candidate`` lengths are working pixels; ``scale`` (working pixels per
    map pixel) converts them, as the engine does on level 0.
    """
    return InstanceRule(**candidate).at_scale(scale)(prob)


def score(maps: list[np.ndarray], truths: list[np.ndarray], candidate: dict, shifted: list[np.ndarray] = (),
          shift: tuple[int, int] = (1, 2), margin: int = 32, scale: float = 1.0) -> dict:
    """Mean validation metrics of ``candidate``, its per-image AJI and (with ``shifted``) its shift F1."""
    rows, matched, total = [], 0, 0
    for index, (prob, gt) in enumerate(zip(maps, truths)):
        labels = instances(prob, candidate, scale)
        rows.append(evaluate_instances(gt, labels.astype(np.int64)))
        if index < len(shifted):
            pair = shift_counts(labels, instances(shifted[index], candidate, scale), shift, margin)
            matched, total = matched + pair[0], total + pair[1]
    metrics = {k: round(v, 4) for k, v in mean_metrics(rows).items()}
    metrics["aji_per_image"] = [round(row["aji"], 4) for row in rows]
    if total:
        metrics["shift_f1"] = round(matched / total, 4)
    return metrics


def ties(scored: list[dict], tie: float, tie_se: float = 0.0, max_loss: float = 0.005) -> list[dict]:
    """The candidates that cannot be told apart from the highest-AJI one.

    A candidate ties when its mean AJI is within ``tie`` of the best, or when
    it is at most ``max_loss`` below and its per-image AJIs trail the best's
    by less than ``tie_se`` standard errors of their paired difference (on
    six noisy images that test alone can excuse a large loss).
    """
    top = max(scored, key=lambda row: row["metrics"]["aji"])
    best_images = np.asarray(top["metrics"].get("aji_per_image", []))
    tied = []
    for row in scored:
        gap = top["metrics"]["aji"] - row["metrics"]["aji"]
        images = np.asarray(row["metrics"].get("aji_per_image", []))
        if gap <= tie + 1e-12:
            tied.append(row)
        elif tie_se > 0 and gap <= max_loss + 1e-12 and images.size == best_images.size > 1:
            paired = best_images - images
            if paired.mean() < tie_se * paired.std(ddof=1) / np.sqrt(paired.size):
                tied.append(row)
    return tied


def best_of(scored: list[dict], tie: float, tie_se: float = 0.0, max_loss: float = 0.005) -> dict:
    """Among the :func:`ties` of the best AJI, the most shift-stable candidate, then the higher object F1."""
    return max(ties(scored, tie, tie_se, max_loss),
               key=lambda row: (row["metrics"].get("shift_f1", 0.0), row["metrics"]["f1"], row["metrics"]["aji"]))


def best_per_method(scored: list[dict], tie: float = 0.0, tie_se: float = 0.0,
                    max_loss: float = 0.005) -> dict[str, dict]:
    """:func:`best_of` the candidates of each method."""
    methods = dict.fromkeys(row["candidate"]["method"] for row in scored)
    return {method: best_of([r for r in scored if r["candidate"]["method"] == method], tie, tie_se, max_loss)
            for method in methods}


def parameters(row: dict) -> str:
    """``threshold=0.5 min_seed_size=8 ...`` of a scored candidate."""
    return " ".join(f"{k}={v}" for k, v in row["candidate"].items() if k != "method")


def shifted_image(image: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """``image`` without its first ``shift`` rows and columns (the content moves up and left)."""
    return np.ascontiguousarray(image[shift[0] :, shift[1] :])


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
    parser.add_argument("--min-seed-sizes", default="4,8,16", help="seeded: smallest seed kept, px")
    parser.add_argument("--expansions", default="3,4,5", help="seeded: most rings a seed grows by")
    parser.add_argument("--seed-peaks", default="0,0.6,0.65,0.7", help="seeded: a seed's interior must exceed it")
    parser.add_argument("--merge-dips", default="0,0.2,0.3,0.4",
                        help="seeded: touching objects whose interior dips less than this merge")
    parser.add_argument("--shift", default="1,2", help="row,column shift of the stability copy (pixels)")
    parser.add_argument("--tie", type=float, default=0.002, help="AJIs within this of the best are ties")
    parser.add_argument("--tie-se", type=float, default=2.0,
                        help="so are those trailing the best by under this many paired standard errors")
    parser.add_argument("--max-loss", type=float, default=0.005,
                        help="but never those more than this below the best AJI")
    parser.add_argument("--workers", type=int, default=1, help="processes scoring candidates")
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
    shift = tuple(parse_numbers(args.shift, int)[:2])
    scale = image_scale(card, MONUSEG_MPP)  # a 0.5 um/px model: predicted at 0.5, scored at 0.25 as the engine does
    maps = [level0_probabilities(predictor, sample.image, scale) for sample in samples]
    shifted = [level0_probabilities(predictor, shifted_image(sample.image, shift), scale) for sample in samples]
    predict_s = time.perf_counter() - start
    truths = [sample.instances.astype(np.int64) for sample in samples]
    grid = candidates(maps[0].ndim == 3, parse_numbers(args.thresholds, float),
                      parse_numbers(args.min_seed_sizes, int), parse_numbers(args.expansions, int),
                      parse_numbers(args.seed_peaks, float), parse_numbers(args.merge_dips, float))
    task = functools.partial(score, maps, truths, shifted=shifted, shift=shift, scale=scale)
    if args.workers > 1:
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            metrics = pool.map(task, grid)
    else:
        metrics = [task(candidate) for candidate in grid]
    scored = [{"candidate": candidate, "metrics": m} for candidate, m in zip(grid, metrics)]
    best = best_per_method(scored, args.tie, args.tie_se, args.max_loss)
    overall = best_of(scored, args.tie, args.tie_se, args.max_loss)
    print_table("validation AJI / F1 / shift F1, best per method",
                [(method, f"{parameters(row)}  AJI {row['metrics']['aji']:.4f}  F1 {row['metrics']['f1']:.4f}  "
                          f"shift F1 {row['metrics'].get('shift_f1', float('nan')):.4f}")
                 for method, row in best.items()])
    console.print(f"best: {overall['candidate']} AJI {overall['metrics']['aji']}")
    record = {
        "kind": "postprocess_choice", "model": args.model, "tta": args.tta, "precision": args.precision,
        "split": "val", "images": ids, "card_postprocess": card.get("postprocess"),
        "device": device_info(args.device), "versions": versions(), "predict_seconds": round(predict_s, 1),
        "shift": list(shift), "working_scale": scale,
        "rule": (f"highest mean AJI; candidates within {args.tie} AJI of it, or at most {args.max_loss} below "
                 f"it and trailing it by under {args.tie_se} paired standard errors (6 images), are ties, and "
                 f"among them the highest shift F1, then object F1"),
        "highest_aji": max(scored, key=lambda row: row["metrics"]["aji"]),
        "best": overall, "best_per_method": best, "candidates": scored,
    }
    print(write_result(record, args.results, "postprocess_choice", Path(args.model).name))


if __name__ == "__main__":
    main()
