"""Same tissue, same nuclei? Object F1 between two copies of an image one pixel apart, through the engine.

A slide's pixels fall on the model's working grid (its card's pixel size) at a phase
that depends on where the scan started; moving the scan by one pixel must not
change the nuclei. For each MoNuSeg image of ``--split`` and each pixel size
of ``--mpps`` (the 40x image reduced to that size with PIL's bilinear
filter), this script writes two plain tiled TIFFs, the image without its last
column and without its first one, segments both with ``segment_slides`` at
that ``--mpp``, undoes the one-pixel shift and matches the nuclei away from
the borders (IoU 0.5, objects touching the compared window left out). All
images of a pixel size are pooled: object F1 = 2 x matched / (n1 + n2).

For a 0.25 um/px model, one pixel at 0.25 um/px is one working pixel (the
network's own shift equivariance); at 0.5 um/px two (integer again); at 0.4
um/px 1.6 (a fractional phase: the resampled pixels differ too). For a 0.5
um/px model the same shifts are 0.5, 0.8 and 1 working pixel. Written to
``results/phase_stability-<device>-<date>-<model>-<split>.json``.

Example::

    python benchmarks/phase_stability.py --split test --mpps 0.25,0.4,0.5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from common import device_info, print_table, read_labels, shift_counts, versions, write_result
from monuseg_20x import reduce_image

from wsinuc.benchmark.monuseg import MONUSEG_MPP, split_folder, split_ids, tile_segment_config
from wsinuc.config import InferenceConfig
from wsinuc.datasets import default_data_root, load_monuseg_image
from wsinuc.engine import segment_slides
from wsinuc.inference.model_cache import load_card, resolve_model_name
from wsinuc.models.cards import card_mpp


def shifted_pair_counts(left: np.ndarray, right: np.ndarray, margin: int) -> tuple[int, int]:
    """``(2 x matched, n1 + n2)`` of the labels of ``image[:, :-1]`` and of ``image[:, 1:]``.

    ``right[r, c]`` shows the pixel ``left[r, c + 1]``; the last column of
    ``right`` has no counterpart in ``left``.
    """
    return shift_counts(left, right[:, :-1], (0, 1), margin)


def measure(root: Path, split: str, mpps: list[float], model: str, device: str, margin_um: float,
            limit: int | None) -> dict[str, dict]:
    """Pooled object F1 and counts per pixel size."""
    ids = split_ids(root, split)[: limit or None]
    folder = split_folder(split)
    images = {image_id: load_monuseg_image(root, folder, image_id).image for image_id in ids}
    model_mpp = card_mpp(load_card(resolve_model_name(model, device)))
    results = {}
    for mpp in mpps:
        config = tile_segment_config(InferenceConfig(model=model, device=device, mpp=mpp))
        margin = max(2, round(margin_um / mpp))
        matched = total = 0
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="wsinuc-phase-") as tmp:
            paths = []
            for image_id, image in images.items():
                reduced = reduce_image(image, mpp / MONUSEG_MPP)
                for side, crop in (("left", reduced[:, :-1]), ("right", reduced[:, 1:])):
                    path = Path(tmp) / f"{image_id}-{side}.tif"
                    tifffile.imwrite(path, np.ascontiguousarray(crop), photometric="rgb", tile=(256, 256))
                    paths.append(path)
            list(segment_slides(paths, Path(tmp) / "out", config))
            for image_id in images:
                left, right = (read_labels(Path(tmp) / "out" / f"{image_id}-{side}" / "labels.ome.zarr")
                               for side in ("left", "right"))
                pair = shifted_pair_counts(left, right, margin)
                matched, total = matched + pair[0], total + pair[1]
        results[f"{mpp:g}"] = {"mpp": mpp, "working_pixels_per_shift": round(mpp / model_mpp, 4),
                               "object_f1": round(matched / total, 4) if total else None,
                               "nuclei_compared": total, "margin_px": margin,
                               "seconds": round(time.perf_counter() - start, 1)}
    return results


def main(argv: list[str] | None = None) -> Path:
    """Measure every pixel size, print the table and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: $WSINUC_DATA/monuseg)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--mpps", default="0.25,0.4,0.5", help="pixel sizes to reduce the images to (um/px)")
    parser.add_argument("--margin-um", type=float, default=12.0, help="border left out of the comparison")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (smoke runs)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    root = args.data or default_data_root() / "monuseg"
    mpps = [float(part) for part in args.mpps.split(",") if part.strip()]
    results = measure(root, args.split, mpps, args.model, args.device, args.margin_um, args.limit)
    print_table(f"object F1 between copies one pixel apart, MoNuSeg {args.split}",
                [(f"{row['mpp']:g} um/px ({row['working_pixels_per_shift']:g} working px)",
                  f"{row['object_f1']}  ({row['nuclei_compared']} nuclei)") for row in results.values()])
    record = {"kind": "phase_stability", "model": args.model, "split": args.split, "device": device_info(args.device),
              "versions": versions(), "protocol": "image reduced to each mpp (PIL bilinear), copies without the "
              "last / first column, engine at that --mpp, IoU 0.5 away from the borders, pooled",
              "results": results}
    path = write_result(record, args.results, "phase_stability", f"{Path(args.model).name}-{args.split}")
    print(path)
    return path


if __name__ == "__main__":
    main()
