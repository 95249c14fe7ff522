"""Per-core speed of reading a chunk and resampling it to the working resolution, before and after.

For 1024 x 1024 level-0 chunks of the sample Aperio slide (level 0 ~0.5 um/px,
so ~2x up-sampling to 0.25 um/px) and for a MoNuSeg tile (0.25 um/px, scale
1), times, in one process with one thread:

- ``read``: ``read_region`` (before: OpenSlide RGBA composited on white in
  float32, as the reader did; after: the reader as it is now);
- ``to working``: before ``skimage.transform.resize(order=1)`` as the chunk
  task did, after :func:`wsinuc.slide.resample.to_working`;
- ``to level 0``: the float32 probability back to the level-0 box, before
  ``skimage.transform.resize(order=1)``, after :func:`~wsinuc.slide.resample.to_level0`.

Rates are megapixels per second of **working** pixels (out of ``read + to
working``, into ``to level 0``); each figure is the best of ``--repeats``
passes over all chunks (before and after interleaved), the slide reopened
(cold tile cache) for every pass.
Writes ``results/read_speed-cpu-<date>.json``.

Example::

    python benchmarks/read_speed.py --repeats 5
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import openslide  # noqa: E402
from common import RESULTS_DIR, print_table  # noqa: E402

from wsinuc.slide import open_slide  # noqa: E402
from wsinuc.slide.resample import grid_scale, to_level0, to_working, working_box  # noqa: E402

DATA = Path(os.environ.get("WSINUC_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
TARGET_MPP = 0.25


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slide", type=Path, default=DATA / "slides" / "CMU-1-Small-Region.svs")
    parser.add_argument("--tile", type=Path, default=None, help="MoNuSeg tile (default: first test image)")
    parser.add_argument("--chunk", type=int, default=1024, help="chunk side, level-0 px")
    parser.add_argument("--repeats", type=int, default=5, help="passes; the best is kept")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    return parser.parse_args()


def old_read(handle, box: tuple[int, int, int, int]) -> np.ndarray:
    """The OpenSlide reader before: RGBA composited on white in float32 for every pixel."""
    x, y, w, h = box
    rgba = np.asarray(handle.read_region((x, y), 0, (w, h)))
    colour = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.clip(np.rint(colour * alpha + 255 * (1.0 - alpha)), 0, 255).astype(np.uint8)


def old_to_working(block: np.ndarray, scale: float) -> np.ndarray:
    """The chunk task's resampling before (``wsinuc.inference.chunk._predict``)."""
    from skimage.transform import resize

    height, width = block.shape[:2]
    size = (max(2, round(height * scale)), max(2, round(width * scale)))
    working = resize(block, size, order=1, preserve_range=True, anti_aliasing=scale < 1)
    return working.round().astype(np.uint8)


def old_to_level0(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return resize(prob, shape, order=1, preserve_range=True).astype(np.float32)


def best_passes(
    passes: dict[str, Callable[[], dict[str, float]]], repeats: int
) -> dict[str, dict[str, float]]:
    """Per pass name and stage, the smallest total seconds over ``repeats`` interleaved runs.

    The passes alternate (before, after, before, ...) so that the load of
    other processes on a shared machine affects both alike.
    """
    best: dict[str, dict[str, float]] = {name: {} for name in passes}
    for _ in range(repeats):
        for name, run_pass in passes.items():
            for stage, seconds in run_pass().items():
                best[name][stage] = min(best[name].get(stage, float("inf")), seconds)
    return best


def slide_pass(path: Path, boxes: list, scale: float, after: bool, mpp: float | None) -> dict[str, float]:
    """Read, resample and resample back every box once; seconds per stage."""
    totals = {"read": 0.0, "to working": 0.0, "to level 0": 0.0}
    with open_slide(path, mpp=None if mpp is None else (mpp, mpp)) as slide:
        handle = None if after or slide.backend != "openslide" else openslide.OpenSlide(str(path))
        for box in boxes:
            start = time.perf_counter()
            block = slide.read_region(*box, 0) if handle is None else old_read(handle, box)
            read = time.perf_counter()
            if after:
                wbox = working_box(*box, scale)
                working = to_working(block, box[:2], scale)
            else:
                working = block if abs(scale - 1) < 1e-3 else old_to_working(block, scale)
            resampled = time.perf_counter()
            prob = working[..., 0].astype(np.float32) / 255.0  # any float map of the working shape
            back = time.perf_counter()
            if after:
                to_level0(prob, wbox[:2], scale, box)
            elif abs(scale - 1) >= 1e-3:
                old_to_level0(prob, block.shape[:2])
            end = time.perf_counter()
            totals["read"] += read - start
            totals["to working"] += resampled - read
            totals["to level 0"] += end - back
        if handle is not None:
            handle.close()
    return totals


def chunk_boxes(size: tuple[int, int], chunk: int) -> list[tuple[int, int, int, int]]:
    """Every whole ``chunk`` x ``chunk`` box of a level-0 grid."""
    width, height = size
    return [(x, y, chunk, chunk) for y in range(0, height - chunk + 1, chunk)
            for x in range(0, width - chunk + 1, chunk)]


def measure(name: str, path: Path, chunk: int, repeats: int, mpp: float | None) -> dict:
    with open_slide(path, mpp=None if mpp is None else (mpp, mpp)) as slide:
        level0_mpp = float(slide.mpp[0])
        side = min(chunk, *slide.dimensions)
        boxes = chunk_boxes(slide.dimensions, side)
    scale = level0_mpp / TARGET_MPP
    working = sum(np.prod(working_box(*box, scale)[2:]) for box in boxes) / 1e6
    level0 = len(boxes) * side * side / 1e6
    best = best_passes({"before": lambda: slide_pass(path, boxes, scale, False, mpp),
                        "after": lambda: slide_pass(path, boxes, scale, True, mpp)}, repeats)
    before, after = best["before"], best["after"]
    record = {"name": name, "file": path.name, "chunks": len(boxes), "chunk_side": side,
              "level0_mpp": level0_mpp, "scale": scale, "grid_scale": grid_scale(scale),
              "working_megapixels": round(working, 3), "level0_megapixels": round(level0, 3),
              "seconds": {"before": before, "after": after}}
    resampled = grid_scale(scale) != 1.0
    for label, seconds in (("before", before), ("after", after)):
        record[label] = {
            "ms_per_chunk": {stage: round(1000 * value / len(boxes), 2) for stage, value in seconds.items()},
            "read_to_working_mpx_s": round(working / (seconds["read"] + seconds["to working"]), 1),
            "read_level0_mpx_s": round(level0 / seconds["read"], 1),
            "to_working_mpx_s": round(working / seconds["to working"], 1) if resampled else None,
            "to_level0_mpx_s": round(working / seconds["to level 0"], 1) if resampled else None,
        }
    return record


def table_rows(record: dict) -> list[tuple[str, str]]:
    rows = [(f"{record['name']}: {record['chunks']} chunk(s) of {record['chunk_side']} px, scale "
             f"{record['scale']:.4f}", f"{record['working_megapixels']:.1f} working Mpx")]
    for key, what in (("read_to_working_mpx_s", "read + to working (working Mpx/s out)"),
                      ("read_level0_mpx_s", "read only (level-0 Mpx/s)"),
                      ("to_working_mpx_s", "to working only (working Mpx/s out)"),
                      ("to_level0_mpx_s", "to level 0 (working Mpx/s in)")):
        before, after = record["before"][key], record["after"][key]
        if before is not None:
            rows.append((what, f"{before} -> {after}  (x{after / before:.1f})"))
    for stage, after_ms in record["after"]["ms_per_chunk"].items():
        rows.append((f"{stage}, ms per chunk", f"{record['before']['ms_per_chunk'][stage]} -> {after_ms}"))
    return rows


def main() -> None:
    args = parse_args()
    tile = args.tile or sorted((DATA / "monuseg" / "test" / "images").glob("*.tif"))[0]
    records = [measure("sample slide (OpenSlide)", args.slide, args.chunk, args.repeats, None),
               measure("MoNuSeg tile (tifffile)", tile, args.chunk, args.repeats, TARGET_MPP)]
    for record in records:
        print_table(f"read_speed, before -> after, best of {args.repeats}, 1 thread", table_rows(record))
    result = {"kind": "read_speed", "date": time.strftime("%Y-%m-%d %H:%M:%S"), "threads": 1,
              "repeats": args.repeats, "machine": {"cpu": platform.processor() or platform.machine(),
                                                   "cores": os.cpu_count()},
              "versions": _versions(), "records": records}
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"read_speed-cpu-{time.strftime('%Y-%m-%d')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print_table("result file", [("json", str(path))])


def _versions() -> dict:
    import PIL
    import skimage
    import tifffile

    return {"numpy": np.__version__, "pillow": PIL.__version__, "scikit-image": skimage.__version__,
            "openslide-python": openslide.__version__, "openslide": openslide.__library_version__,
            "tifffile": tifffile.__version__, "python": platform.python_version()}


if __name__ == "__main__":
    main()
