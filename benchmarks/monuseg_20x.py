"""MoNuSeg at 20x: the images halved to 0.5 um/px, segmented through the engine, scored at 0.5 um/px.

Many slides are scanned at 20x (about 0.5 um/px) while the bundled models
work at 0.25 um/px, so the engine upsamples every chunk 2x, predicts, and
labels nuclei at the working resolution before bringing them back to level 0
(:func:`wsinuc.engine.nuclei.chunk_labels`). This script measures that path
on MoNuSeg, whose 40x images are the only ones with outlines:

1. each image of ``--split`` is halved with PIL's bilinear reduction
   (1000 -> 500 px) and written as a plain tiled TIFF;
2. ``segment_slides`` runs on them with ``--mpp 0.5`` (as a 20x slide);
3. the labels are scored against the ground truth halved by nearest
   neighbour (:func:`wsinuc.metrics.evaluate_instances`, mean of per-image values).

The 40x figures of the same images (Table I) are the reference: the gap is
what halving the pixels costs, through the image and through the coarser
grid the metric is computed on. Written to
``results/monuseg_20x-<device>-<date>-<model>-<split>.json``.

Example::

    python benchmarks/monuseg_20x.py --split val
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from common import device_info, print_table, read_labels, versions, write_result

from wsinuc.benchmark.monuseg import split_folder, split_ids, tile_segment_config
from wsinuc.config import InferenceConfig
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.engine import segment_slides
from wsinuc.metrics import evaluate_instances, mean_metrics

HALF_MPP = 0.5


def halve_image(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB reduced 2x (bilinear with PIL's anti-aliasing)."""
    return reduce_image(image, 2.0)


def reduce_image(image: np.ndarray, factor: float) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB reduced ``factor`` times (bilinear with PIL's anti-aliasing; 1: as is)."""
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (round(width / factor), round(height / factor))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def halve_labels(labels: np.ndarray) -> np.ndarray:
    """Instance labels reduced 2x by nearest neighbour (ids kept)."""
    height, width = labels.shape
    reduced = Image.fromarray(labels.astype(np.int32)).resize((width // 2, height // 2), Image.Resampling.NEAREST)
    return np.asarray(reduced).astype(np.int64)


def evaluate(root: Path, split: str, model: str, device: str, limit: int | None) -> tuple[list[dict], float]:
    """Per-image metrics of the halved images of ``split`` and the engine's seconds."""
    folder = split_folder(split)
    ids = split_ids(root, split)[: limit or None]
    config = tile_segment_config(InferenceConfig(model=model, device=device, mpp=HALF_MPP))
    with tempfile.TemporaryDirectory(prefix="wsinuc-20x-") as tmp:
        samples, paths = {}, []
        for image_id in ids:
            samples[image_id] = load_monuseg_image(root, folder, image_id)
            path = Path(tmp) / f"{image_id}.tif"
            tifffile.imwrite(path, halve_image(samples[image_id].image), photometric="rgb", tile=(256, 256))
            paths.append(path)
        start = time.perf_counter()
        list(segment_slides(paths, Path(tmp) / "out", config))
        seconds = time.perf_counter() - start
        rows = []
        for image_id in ids:
            labels = read_labels(Path(tmp) / "out" / image_id / "labels.ome.zarr").astype(np.int64)
            truth = halve_labels(samples[image_id].instances)
            rows.append({"image_id": image_id, "n_gt": int(len(np.unique(truth)) - 1),
                         "n_pred": int(len(np.unique(labels)) - 1)} | evaluate_instances(truth, labels))
    return rows, seconds


def main(argv: list[str] | None = None) -> Path:
    """Run the halved split through the engine, print the means and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: $WSINUC_DATA/monuseg)")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (smoke runs)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    root = args.data or default_data_root() / "monuseg"
    rows, seconds = evaluate(root, args.split, args.model, args.device, args.limit)
    means = {k: round(v, 4) for k, v in mean_metrics(rows).items()}
    print_table(f"MoNuSeg {args.split} at 0.5 um/px through the engine ({len(rows)} images)",
                [(name, f"{value:.4f}") for name, value in means.items()])
    record = {"kind": "monuseg_20x", "model": args.model, "split": args.split, "mpp": HALF_MPP,
              "device": device_info(args.device), "versions": versions(), "engine_seconds": round(seconds, 1),
              "protocol": "images halved (PIL bilinear), ground truth halved (nearest), engine at --mpp 0.5",
              "mean": means, "per_image": rows}
    path = write_result(record, args.results, "monuseg_20x", f"{Path(args.model).name}-{args.split}")
    print(path)
    return path


if __name__ == "__main__":
    main()
