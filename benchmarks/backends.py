"""Backends on the CPU: accuracy and speed of torch fp32 / bf16 and OpenVINO f32 / bf16.

Three parts (``--part``, default all):

``accuracy``
    MoNuSeg validation and test AJI / F1 of each backend and precision
    through the engine (:func:`wsinuc.benchmark.monuseg.evaluate_model`,
    as ``wsinuc benchmark monuseg``), with the seconds each took, and each
    AJI's difference to torch fp32 (the check: within 0.003).
``speed``
    ``wsinuc segment`` of the 14 MoNuSeg test tiles as a user runs it (one
    whole process, ``--mpp 0.25``, default options) against the same command
    with ``--backend torch --precision fp32``, timed in the same run; the AJI
    of both outputs; and the bare forward of the default runtime over the
    same pixels (one 1000 x 1000 chunk per tile), to give the model's share
    of the end-to-end time. Each ``--speed-extra "OPTIONS"`` adds a run of the
    same command with those options (e.g. ``"--model cascade-ib-lite"``, the
    previous default) to the same run, with its wall time over the default's.
    The commands take turns for ``--repeats`` rounds; walls and ratios are
    medians over the rounds.
``region``
    A 300 x 300 region of the sample slide from the command line: wall time of
    whole processes with an empty OpenVINO cache (the first run converts
    the model) and with the converted model cached; medians of ``--repeats``.

Time the ``speed`` and ``region`` parts alone on the machine, e.g. under
``flock /tmp/wsinuc-timing.lock``. Prints a table per part and writes
``results/backends-cpu-<date>-<part>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import RESULTS_DIR, console, device_info, print_table, versions, write_result

from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image

COMBOS = (("torch", "fp32"), ("torch", "bf16"), ("openvino", "fp32"), ("openvino", "bf16"))
AJI_TOLERANCE = 0.003


def accuracy(root: Path, model: str) -> dict:
    """Validation and test AJI / F1 (means over images) of every backend and precision."""
    from wsinuc.benchmark.monuseg import MonusegConfig, evaluate_model
    from wsinuc.metrics import mean_metrics

    rows = {}
    for backend, precision in COMBOS:
        for split in ("val", "test"):
            clock = time.perf_counter()
            scored = evaluate_model(root, model, MonusegConfig(split=split, device="cpu", backend=backend,
                                                              precision=precision))
            means = mean_metrics([{k: r[k] for k in ("aji", "f1")} for r in scored])
            rows[f"{backend} {precision} {split}"] = {"aji": means["aji"], "f1": means["f1"], "images": len(scored),
                                                      "seconds": time.perf_counter() - clock}
            console.print(f"{backend} {precision} {split}: {rows[f'{backend} {precision} {split}']}")
    for key, row in rows.items():
        reference = rows[f"torch fp32 {key.split()[-1]}"]["aji"]
        row["aji_minus_torch_fp32"] = row["aji"] - reference
        row["within_tolerance"] = abs(row["aji"] - reference) <= AJI_TOLERANCE
    print_table("MoNuSeg through the engine, per backend", [
        (key, f"AJI {r['aji']:.4f} ({r['aji_minus_torch_fp32']:+.4f})  F1 {r['f1']:.4f}  {r['seconds']:.0f} s")
        for key, r in rows.items()])
    return {"model": model, "rows": rows, "tolerance": AJI_TOLERANCE}


def _segment(paths: list[Path], out: Path, extra: list[str]) -> float:
    """Wall seconds of one ``python -m wsinuc segment`` process."""
    command = [sys.executable, "-m", "wsinuc", "segment", *map(str, paths), "--out", str(out), "--quiet", *extra]
    clock = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - clock
    if result.returncode:
        raise RuntimeError(result.stderr.strip().splitlines()[-1])
    return seconds


def _scores(root: Path, out: Path, ids: list[str]) -> dict:
    """Mean AJI / F1 of the label images ``segment`` wrote for the test tiles, and the inference seconds."""
    import zarr

    from wsinuc.metrics import evaluate_instances, mean_metrics

    rows, inference = [], 0.0
    for image_id in ids:
        labels = zarr.open_group(out / image_id / "labels.ome.zarr", mode="r")["0"][...].astype(np.int64)
        truth = load_monuseg_image(root, "test", image_id).instances
        rows.append({k: v for k, v in evaluate_instances(truth, labels).items() if k in ("aji", "f1")})
        record = json.loads((out / image_id / "run.json").read_text())
        inference += record["timings_s"]["stage_sums"]["inference"]
    runtime = record["runtime"]["summary"]
    return mean_metrics(rows) | {"inference_stage_s": inference, "runtime": runtime}


def _bare_forward(root: Path, ids: list[str]) -> dict:
    """Seconds of the default runtime's forward over one chunk per tile (warmed up), at the model's pixel size."""
    from wsinuc.benchmark.level0_maps import image_scale, working_image
    from wsinuc.benchmark.monuseg import MONUSEG_MPP
    from wsinuc.inference.model_cache import load_card, resolve_model_name, runtime_predictor
    from wsinuc.inference.runtime import resolve_runtime

    model = resolve_model_name("auto", "cpu")
    runtime = resolve_runtime("cpu", "auto", "auto", model)
    predictor = runtime_predictor(model, runtime, 1)
    scale = image_scale(load_card(model), MONUSEG_MPP)
    images = [working_image(load_monuseg_image(root, "test", image_id).image, scale) for image_id in ids]
    predictor.predict(images[0][None])
    clock = time.perf_counter()
    for image in images:
        predictor.predict(image[None])
    return {"seconds": time.perf_counter() - clock, "runtime": runtime.describe()}


def speed(root: Path, extras: tuple[str, ...] = (), repeats: int = 1) -> dict:
    """Default options vs ``--backend torch --precision fp32`` (and vs each of ``extras``' options), same run.

    The commands run in turn, ``repeats`` rounds of each, so that a slower
    spell of a shared machine touches every command alike; walls and ratios
    are medians over the rounds (each round's ratio is also kept).
    """
    ids = list_monuseg_ids(root, "test")
    paths = [root / "test" / "images" / f"{image_id}.tif" for image_id in ids]
    commands = [("default", []), ("torch fp32", ["--backend", "torch", "--precision", "fp32"]),
                *((extra, shlex.split(extra)) for extra in extras)]
    walls: dict[str, list[float]] = {name: [] for name, _ in commands}
    runs = {}
    with tempfile.TemporaryDirectory(prefix="wsinuc-backends-") as tmp:
        for repeat in range(repeats):
            for index, (name, extra) in enumerate(commands):
                out = Path(tmp) / f"run{repeat}-{index}"
                walls[name].append(_segment(paths, out, ["--mpp", "0.25", *extra]))
                if repeat == 0:
                    runs[name] = _scores(root, out, ids)
                shutil.rmtree(out)
    for name, values in walls.items():
        runs[name] |= {"wall_s": statistics.median(values), "walls_s": values}
    bare = _bare_forward(root, ids)
    rounds = {name: [w / d for w, d in zip(values, walls["default"], strict=True)] for name, values in walls.items()}
    result = {"tiles": len(ids), "repeats": repeats, "runs": runs, "bare_forward_default": bare,
              "speedup": statistics.median(rounds["torch fp32"]), "speedup_per_round": rounds["torch fp32"],
              "model_share": bare["seconds"] / runs["default"]["wall_s"],
              "aji_difference": runs["default"]["aji"] - runs["torch fp32"]["aji"],
              "wall_over_default": {name: statistics.median(values) for name, values in rounds.items()},
              "wall_over_default_per_round": rounds}
    print_table(f"wsinuc segment, 14 MoNuSeg test tiles (whole process, median of {repeats})", [
        *((f"{k}: wall / AJI / F1", f"{r['wall_s']:.1f} s / {r['aji']:.4f} / {r['f1']:.4f}") for k, r in runs.items()),
        ("default runtime", runs["default"]["runtime"]),
        ("speed-up of the default", f"{result['speedup']:.2f}x (rounds: {_ratios(rounds['torch fp32'])})"),
        ("bare forward of the default", f"{bare['seconds']:.1f} s ({result['model_share']:.2f} of end to end)"),
        ("AJI default - torch fp32", f"{result['aji_difference']:+.4f}"),
        *((f"{name}: wall / default's", f"{result['wall_over_default'][name]:.2f} (rounds: {_ratios(ratios)})")
          for name, ratios in rounds.items() if name not in ("default", "torch fp32"))])
    return result


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def region(slide: Path, repeats: int) -> dict:
    """Whole-process wall time of a 300 x 300 region: empty OpenVINO cache, then cached."""
    walls: dict[str, list[float]] = {"first run (empty cache)": [], "cached": []}
    base = os.environ.get("WSINUC_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="wsinuc-region-") as tmp:
        for repeat in range(repeats):
            os.environ["WSINUC_CACHE_DIR"] = str(Path(tmp) / f"cache{repeat}")
            for key in walls:
                out = Path(tmp) / f"out-{repeat}-{key[:5]}"
                walls[key].append(_segment([slide], out, ["--region", "1000,1000,300,300"]))
    if base is None:
        os.environ.pop("WSINUC_CACHE_DIR")
    else:
        os.environ["WSINUC_CACHE_DIR"] = base
    result = {key: {"walls_s": values, "median_s": statistics.median(values)} for key, values in walls.items()}
    print_table("300 x 300 region of the sample slide (whole process)",
                [(key, f"median {r['median_s']:.2f} s of {r['walls_s']}") for key, r in result.items()])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("accuracy", "speed", "region", "all"), default="all")
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: <data root>/monuseg)")
    parser.add_argument("--slide", type=Path, default=None, help="sample slide (default: CMU-1-Small-Region.svs)")
    parser.add_argument("--model", default="cascade-ib-lite-20x", help="model of the accuracy part (default: the default model)")
    parser.add_argument("--speed-extra", action="append", default=[],
                        help='speed part: also time the command with these options, e.g. "--model cascade-ib-lite"')
    parser.add_argument("--repeats", type=int, default=3,
                        help="whole-process runs of each timing (speed: rounds of all its commands in turn)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    root = args.data or default_data_root() / "monuseg"
    slide = args.slide or default_data_root() / "slides" / "CMU-1-Small-Region.svs"
    parts = ("accuracy", "speed", "region") if args.part == "all" else (args.part,)
    device = device_info("cpu") | {"device_slug": "cpu"}
    for part in parts:
        found = {"accuracy": lambda: accuracy(root, args.model),
                 "speed": lambda: speed(root, tuple(args.speed_extra), args.repeats),
                 "region": lambda: region(slide, args.repeats)}[part]()
        record = {"kind": "backends", "part": part, "device": device, "versions": versions(), "result": found}
        console.print(f"wrote {write_result(record, args.results, 'backends', part)}")


if __name__ == "__main__":
    main()
