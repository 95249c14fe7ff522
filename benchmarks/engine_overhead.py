"""What the engine costs besides the network: per-stage speed per core, and segment vs model-only.

Part 1, **replay** (one core): real probability maps of the bundled CPU model
are recorded once per input, then the engine runs again (``--repeat`` times;
each stage's best rate is kept) with a predictor that replays them, so the
network costs nothing and every other stage is timed:
reading + resampling (Mpx/s of working pixels), the instance step (Mpx/s of
working pixels, the unit of the network's rate that the budgets follow; on a
20x slide nuclei are labelled on the working grid, 4x the level-0 pixels;
``instances_level0_mpx_s`` gives the level-0 rate too), outlines +
measurements (nuclei/s) and the second pass (ids, GeoJSON, table, label
image: nuclei/s). Inputs: the 14 MoNuSeg 2018 test
tiles (dense tissue, 0.25 um/px) as 14 slides, the same tiles twice as one
4000 x 7000 mosaic slide (the per-nucleus rates of a whole slide, where per-slide
costs are spread thin), and the sample Aperio slide (20x, resampled to
0.25 um/px). Threads are limited to one (torch, OpenMP, BLAS).

Part 2, **ratio** (all cores; run first, on a quiet machine): the model's bare forward pass over the 14 test
tiles (each reflect-padded to 1024 and cut into four 512 px tiles, batch 4)
against the wall time of ``wsinuc segment <14 tiles> --mpp 0.25`` in a fresh
process (start-up, model load and every output included), in the same run.

Example::

    python benchmarks/engine_overhead.py --parts replay,ratio
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DEFAULT_WORK, RESULTS_DIR, console, device_info, print_table, rate, versions, write_result

BUDGETS = {"read_resample_mpx_s": 50.0, "instances_mpx_s": 20.0, "polygons_measure_nuclei_s": 20000.0,
           "pass2_nuclei_s": 100000.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $WSINUC_DATA)")
    parser.add_argument("--model", default="cascade-ib-lite-20x", help="bundled model name or weights stem")
    parser.add_argument("--parts", default="replay,ratio", help="comma list of replay, ratio")
    parser.add_argument("--inputs", default=None,
                        help="comma list of replay inputs to run (default: all; e.g. monuseg-mosaic-2x7)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache and scratch folder")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--repeat", type=int, default=3, help="replay runs per input; each stage's best is kept")
    parser.add_argument("--label", default="cascade-ib-lite-20x")
    return parser.parse_args(argv)


class RecordingPredictor:
    """Wraps the real predictor; remembers each input block's probabilities by content hash."""

    def __init__(self, predictor) -> None:
        self.predictor, self.table = predictor, {}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        prob = self.predictor.predict(batch)
        for block, map_ in zip(batch, prob):
            self.table[_digest(block)] = map_
        return prob


class ReplayPredictor:
    """Returns the recorded probabilities of each input block (the network costs nothing)."""

    def __init__(self, table: dict) -> None:
        self.table = table

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.stack([self.table[_digest(block)] for block in batch])


def _digest(block: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(block).tobytes(), digest_size=16).hexdigest()


def _inputs(data_root: Path, work: Path) -> dict[str, tuple[list[Path], float | None]]:
    tiles = sorted((data_root / "monuseg" / "test" / "images").glob("*.tif"))
    slide = data_root / "slides" / "CMU-1-Small-Region.svs"
    if len(tiles) != 14 or not slide.is_file():
        raise SystemExit(f"{data_root}: expected monuseg/test/images/*.tif (14) and slides/{slide.name}; "
                         "pass --data or set WSINUC_DATA")
    return {"monuseg-test-14": (tiles, 0.25), "monuseg-mosaic-4x7": ([_mosaic(tiles, work)], 0.25),
            "sample-slide-20x": ([slide], None)}


def _mosaic(tiles: list[Path], work: Path) -> Path:
    """The 14 test tiles side by side, twice (4 x 7, 4000 x 7000 px, tiled TIFF): one dense slide of 28 Mpx.

    One slide, so that the fixed cost of a slide's outputs (opening, renaming
    and syncing files, creating the label store) is spread over its ~16,000
    nuclei as on a real whole slide, where the per-nucleus rates are what
    matter. The second copy of the tiles is mirrored left to right.
    """
    import tifffile

    from wsinuc.datasets.image_io import read_rgb

    path = work / "monuseg-test-mosaic-4x7.tif"
    if not path.is_file():
        images = [read_rgb(tile)[:1000, :1000] for tile in tiles]
        rows = [np.concatenate(images[row * 7 : row * 7 + 7], axis=1) for row in range(2)]
        mosaic = np.concatenate(rows + [row[:, ::-1] for row in rows], axis=0)
        partial = path.with_suffix(".partial.tif")
        tifffile.imwrite(partial, mosaic, tile=(256, 256), photometric="rgb")
        partial.replace(path)
    return path


def _config(model: str, mpp: float | None):
    from wsinuc.config import InferenceConfig, OutputConfig, RunConfig, SegmentConfig, TilingConfig

    return SegmentConfig(tiling=TilingConfig(tissue=mpp is None),
                         inference=InferenceConfig(model=model, device="cpu", mpp=mpp),
                         output=OutputConfig(overwrite=True, outputs=("geojson", "zarr", "table")),
                         run=RunConfig(progress=False))


def _run_all(slides: list[Path], out: Path, config, predictor) -> list[dict]:
    from wsinuc.engine import chunk_task, segment_slides

    original = chunk_task.cached_predictor
    chunk_task.cached_predictor = lambda *args, **kwargs: predictor
    try:
        return list(segment_slides(slides, out, config))
    finally:
        chunk_task.cached_predictor = original


def replay(args: argparse.Namespace, data_root: Path) -> dict:
    """Part 1: per-stage rates on one core, with recorded probabilities replayed."""
    import torch
    from threadpoolctl import threadpool_limits

    from wsinuc.inference.model_cache import cached_predictor

    inputs = _inputs(data_root, args.work)
    chosen = [n.strip() for n in args.inputs.split(",") if n.strip()] if args.inputs else list(inputs)
    unknown = sorted(set(chosen) - set(inputs))
    if unknown:
        raise SystemExit(f"--inputs: unknown {', '.join(unknown)}; choose from {', '.join(inputs)}")
    results = {}
    for name in chosen:
        slides, mpp = inputs[name]
        config = _config(args.model, mpp)
        with tempfile.TemporaryDirectory(dir=args.work) as scratch:
            recorder = RecordingPredictor(cached_predictor(args.model, "cpu", 1))
            _run_all(slides, Path(scratch) / "record", config, recorder)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            with threadpool_limits(1):
                runs = [_stage_rates(_run_all(slides, Path(scratch) / f"replay{repeat}", config,
                                              ReplayPredictor(recorder.table)))
                        for repeat in range(args.repeat)]
            torch.set_num_threads(threads)
        results[name] = _best(runs)
    return results


def _best(runs: list[dict]) -> dict:
    """The best rate of each stage over repeated runs (timings on a shared machine only ever err slow)."""
    best = dict(runs[0])
    for key in (k for k in runs[0] if k.endswith("_s") and k != "pass2_seconds"):
        best[key] = max(run[key] for run in runs)
    best["repeats"] = len(runs)
    best["all_runs"] = runs
    return best


def _stage_rates(records: list[dict]) -> dict:
    sums: dict[str, float] = {}
    for record in records:
        for stage, seconds in record["timings_s"]["stage_sums"].items():
            sums[stage] = sums.get(stage, 0.0) + seconds
        for stage, seconds in record["timings_s"].get("pass2_parts", {}).items():
            sums["pass2_" + stage] = sums.get("pass2_" + stage, 0.0) + seconds
    nuclei = sum(r["counts"]["nuclei"] for r in records)
    level0_mpx = sum(r["counts"]["valid_megapixels"] for r in records)
    working_mpx = sum(r["counts"]["working_megapixels"] for r in records)
    pass2 = sum(r["timings_s"]["pass2_outputs"] for r in records)
    return {
        "slides": len(records), "nuclei": nuclei, "level0_megapixels": level0_mpx,
        "working_megapixels": working_mpx, "stage_seconds": sums, "pass2_seconds": pass2,
        "read_resample_mpx_s": rate(working_mpx, sums.get("read", 0.0)),
        "instances_mpx_s": rate(working_mpx, sums.get("postprocess", 0.0)),
        "instances_level0_mpx_s": rate(level0_mpx, sums.get("postprocess", 0.0)),
        "polygons_measure_nuclei_s": rate(nuclei, sums.get("polygons", 0.0) + sums.get("measure", 0.0)),
        "chunk_write_nuclei_s": rate(nuclei, sums.get("write", 0.0) + sums.get("features", 0.0)),
        "pass2_nuclei_s": rate(nuclei, pass2),
    }


def ratio(args: argparse.Namespace, data_root: Path) -> dict:
    """Part 2: bare forward pass (512 px tiles, batch 4) vs ``wsinuc segment`` wall, all cores."""
    from wsinuc.datasets.image_io import read_rgb
    from wsinuc.inference.model_cache import cached_predictor

    slides, _ = _inputs(data_root, args.work)["monuseg-test-14"]
    with tempfile.TemporaryDirectory(dir=args.work) as scratch:
        command = [str(Path(sys.executable).with_name("wsinuc")), "segment", *map(str, slides), "--mpp", "0.25",
                   "--out", str(Path(scratch) / "out"), "--quiet", "--model", args.model, "--device", "cpu"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        segment_s = time.perf_counter() - started
    tiles = np.concatenate([_quarter(read_rgb(path)) for path in slides])
    predictor = cached_predictor(args.model, "cpu", 4)
    predictor.predict(tiles[:4])
    started = time.perf_counter()
    predictor.predict(tiles)
    model_s = time.perf_counter() - started
    return {"tiles": len(tiles), "tile_side": 512, "batch_size": 4, "model_only_s": model_s,
            "segment_wall_s": segment_s, "model_share_of_segment": model_s / segment_s,
            "command": " ".join(["wsinuc", *command[1:]])}


def _quarter(image: np.ndarray) -> np.ndarray:
    padded = np.pad(image, ((0, 1024 - image.shape[0]), (0, 1024 - image.shape[1]), (0, 0)), mode="reflect")
    return np.stack([padded[y : y + 512, x : x + 512] for y in (0, 512) for x in (0, 512)])


def main(argv: list[str] | None = None) -> int:
    from wsinuc.datasets.paths import default_data_root

    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data_root = Path(args.data or default_data_root())
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    record = {"benchmark": "engine_overhead", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "device": device_info("cpu"), "versions": versions(), "budgets_per_core": BUDGETS}
    if "ratio" in parts:
        record["ratio"] = result = ratio(args, data_root)
        print_table("bare forward vs wsinuc segment (all cores)", [
            ("model only (56 x 512 px, batch 4)", f"{result['model_only_s']:.1f} s"),
            ("wsinuc segment, wall", f"{result['segment_wall_s']:.1f} s"),
            ("model share of segment wall", f"{result['model_share_of_segment']:.2f} (target >= 0.7)")])
    if "replay" in parts:
        record["replay_one_core"] = replay(args, data_root)
        for name, rates in record["replay_one_core"].items():
            print_table(f"{name}: one core, network replayed", _rows(rates))
    console.print(f"wrote {write_result(record, args.results, 'engine_overhead', args.label)}")
    return 0


def _rows(rates: dict) -> list[tuple[str, str]]:
    rows = [("slides / nuclei", f"{rates['slides']} / {rates['nuclei']}")]
    for key, budget in BUDGETS.items():
        unit = "Mpx/s" if key.endswith("mpx_s") else "nuclei/s"
        rows.append((key.replace("_", " "), f"{rates[key]:,.1f} {unit} (budget {budget:,.0f})"))
    rows.append(("features rendered + chunk files written", f"{rates['chunk_write_nuclei_s']:,.0f} nuclei/s"))
    rows.extend((f"  {stage} s", f"{seconds:.3f}") for stage, seconds in sorted(rates["stage_seconds"].items()))
    return rows


if __name__ == "__main__":
    sys.exit(main())
