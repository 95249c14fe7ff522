"""The same region from an Aperio .svs and from a plain tiled TIFF copy: do the nuclei agree?

A user may convert a slide (e.g. with ``vips`` or ``tifffile``) before
segmenting it, and the two files must give the same nuclei. This script

1. copies level 0 of ``--slide`` into a plain tiled TIFF (256 x 256 tiles,
   deflate, no Aperio description: the pixel size only in the TIFF
   resolution tags, so wsinuc reads it with its tifffile backend instead of
   OpenSlide), same pixels and same pixel size;
2. runs ``wsinuc segment --region`` on both files as a user does (one whole
   process each, default model and options);
3. matches the two label images inside the region at IoU 0.5, leaving out
   ``--margin`` pixels along the region's border (chunks there see a
   different context only through the region cut), and reports object F1,
   the nucleus counts and each run's wall time.

Writes ``results/svs_vs_tiff-cpu-<date>-<slide>.json``.

Example::

    python benchmarks/svs_vs_tiff.py --region 1000,1000,1000,1000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import RESULTS_DIR, device_info, print_table, read_labels, shift_counts, versions, write_result

from wsinuc.benchmark.working_slide import write_tiled_tiff
from wsinuc.datasets import default_data_root
from wsinuc.slide import open_slide


def plain_tiff_copy(slide_path: Path, folder: Path) -> tuple[Path, float]:
    """Level 0 of ``slide_path`` as a plain tiled TIFF in ``folder``; returns its path and pixel size."""
    with open_slide(slide_path) as slide:
        width, height = slide.dimensions
        pixels = slide.read_region(0, 0, width, height, 0)
        mpp = float(np.mean(slide.mpp))
    path = folder / f"{slide_path.stem}-plain.tif"
    write_tiled_tiff(path, pixels, mpp)
    return path, mpp


def segment(path: Path, out: Path, region: str, extra: list[str]) -> tuple[np.ndarray, float]:
    """Level-0 labels of one ``wsinuc segment --region`` process, and its wall seconds."""
    command = [sys.executable, "-m", "wsinuc", "segment", str(path), "--region", region, "--out", str(out),
               "--outputs", "zarr", "--quiet", *extra]
    clock = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - clock
    if result.returncode:
        raise RuntimeError(f"{path}: {result.stderr.strip()}")
    return read_labels(out / path.stem / "labels.ome.zarr"), seconds


def agreement(first: np.ndarray, second: np.ndarray, box: tuple[int, int, int, int], margin: int) -> dict:
    """Object F1 (IoU 0.5) between two label images inside ``box``, ``margin`` px from its border left out."""
    x, y, width, height = box
    crop = (slice(y, y + height), slice(x, x + width))
    doubled, total = shift_counts(first[crop], second[crop], (0, 0), margin)
    return {"f1": doubled / total if total else 1.0, "nuclei_first": int(len(np.unique(first[crop])) - 1),
            "nuclei_second": int(len(np.unique(second[crop])) - 1), "margin": margin}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", type=Path, default=None, help="default: <data root>/slides/CMU-1-Small-Region.svs")
    parser.add_argument("--region", default="1000,1000,1000,1000", help="x,y,width,height in level-0 pixels")
    parser.add_argument("--margin", type=int, default=32, help="pixels along the region border left out")
    parser.add_argument("--model", default="auto")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    slide = args.slide or default_data_root() / "slides" / "CMU-1-Small-Region.svs"
    box = tuple(int(v) for v in args.region.split(","))
    extra = ["--model", args.model]
    with tempfile.TemporaryDirectory(prefix="wsinuc-svs-tiff-") as tmp:
        copy, mpp = plain_tiff_copy(slide, Path(tmp))
        svs_labels, svs_s = segment(slide, Path(tmp) / "svs", args.region, extra)
        tiff_labels, tiff_s = segment(copy, Path(tmp) / "tiff", args.region, extra)
    found = agreement(svs_labels, tiff_labels, box, args.margin)
    print_table(f"{slide.name} region {args.region}: .svs vs plain tiled TIFF ({mpp:.4f} um/px)", [
        (".svs: nuclei / wall", f"{found['nuclei_first']} / {svs_s:.1f} s"),
        ("TIFF: nuclei / wall", f"{found['nuclei_second']} / {tiff_s:.1f} s"),
        (f"object F1 (IoU 0.5, {args.margin} px from the border left out)", f"{found['f1']:.4f}")])
    record = {"kind": "svs_vs_tiff", "slide": str(slide), "region": box, "mpp": mpp, "model": args.model,
              "device": device_info("cpu") | {"device_slug": "cpu"}, "versions": versions(),
              "walls_s": {"svs": svs_s, "tiff": tiff_s}, **found}
    print(write_result(record, args.results, "svs_vs_tiff", slide.stem))


if __name__ == "__main__":
    main()
