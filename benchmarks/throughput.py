"""End-to-end whole-slide throughput against model-only throughput.

Builds (or reuses) a synthetic slide, runs ``segment_slide`` on it (GeoJSON,
OME-Zarr labels and the measurement table, tissue detection on), then times
the same predictor (model, dtype, batch size, tile size) on tiles already in
memory. Reports megapixels per second at 0.25 um/px for both, their ratio,
where the end-to-end time goes (read/decode, inference, post-processing,
polygons, measurements, chunk files, pass-2 outputs) and peak RSS, and
writes ``results/throughput-<device>-<date>-<label>.json``.

Example (GPU machine)::

    python benchmarks/throughput.py --size 40000 --device cuda --model cascade --batch-size 16 --workers 4

``--precision bf16`` times both runs in bf16 (on the CPU too).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from common import (
    choose_model,
    TreeRssSampler,
    add_engine_arguments,
    base_record,
    console,
    default_label,
    device_info,
    engine_config,
    ensure_slide,
    megapixels_at_reference,
    model_only,
    peak_rss_mib,
    print_table,
    rate,
    read_tiles,
    reset_peak_rss,
    timed_segment,
    write_result,
)

STAGES = (("read", "read/decode"), ("inference", "inference"), ("postprocess", "post-process"),
          ("polygons", "polygons"), ("measure", "measure"), ("write", "chunk results"))
OUTPUTS = ("geojson", "zarr", "table")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_arguments(parser, size=40000)
    parser.add_argument("--model-batches", type=int, default=8,
                        help="timed batches of the model-only run (after one warm-up batch)")
    args = parser.parse_args(argv)
    if args.model_batches < 1:
        parser.error(f"--model-batches must be >= 1, got {args.model_batches}")
    return args


def stage_split(record: dict) -> dict:
    """Seconds per stage (summed over workers) and pass-2 / total wall times."""
    timings = record["timings_s"]
    sums = timings["stage_sums"]
    split = {key: float(sums.get(key, 0.0)) for key, _ in STAGES}
    split["pass2_outputs"] = float(timings["pass2_outputs"])
    split["other"] = max(0.0, float(timings["total"] - timings["pass1_chunks"] - timings["pass2_outputs"]))
    return {"stage_seconds": split, "pass1_wall_s": float(timings["pass1_chunks"]),
            "total_wall_s": float(timings["total"])}


def measure(args: argparse.Namespace, slide: Path, model: str, device: dict) -> dict:
    """Run end-to-end then model-only; return the measured numbers."""
    import torch

    rss_reset = reset_peak_rss()
    if device["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    config = engine_config(args, model, OUTPUTS)
    with TreeRssSampler() as sampler:
        record, wall = timed_segment(slide, Path(args.work) / "out-throughput", config)
    rss = peak_rss_mib() | {"process_tree_sampled": round(sampler.peak_mib, 1)}
    level0_mpp = float(np.mean(record["mpp"]))
    e2e_mpx = megapixels_at_reference(record["counts"]["megapixels"], level0_mpp)
    from wsinuc.engine.plan import auto_batch_size

    side = -(-(args.chunk_size + 2 * args.halo) // 32) * 32
    batch = args.batch_size or auto_batch_size(args.device)
    tiles = read_tiles(slide, side, batch * (args.model_batches + 1), args.seed)
    only = model_only(model, args.device, batch, tiles, args.precision)
    only_mpx = megapixels_at_reference(only["tiles"] * args.chunk_size**2 / 1e6, level0_mpp)
    e2e_rate, only_rate = rate(e2e_mpx, wall), rate(only_mpx, only["seconds"])
    return {
        "end_to_end": {"wall_s": wall, "megapixels_at_0.25": e2e_mpx, "mpx_per_s": e2e_rate,
                       "nuclei": record["counts"]["nuclei"], "chunks": record["counts"]["chunks"],
                       **stage_split(record)},
        "model_only": {**only, "megapixels_at_0.25": only_mpx, "mpx_per_s": only_rate,
                       "input_mpx_per_s": rate(only["tiles"] * side**2 / 1e6, only["seconds"])},
        "ratio_end_to_end_to_model_only": rate(e2e_rate, only_rate),
        "peak_rss_mib": {"end_to_end": rss, "after_model_only": peak_rss_mib(), "reset_before_run": rss_reset},
        "gpu_peak_allocated_mib": (torch.cuda.max_memory_allocated() / 2**20
                                   if device["device"].startswith("cuda") else None),
        "run_json": record,
    }


def report(result: dict) -> None:
    """Print the summary and the stage split."""
    e2e, only = result["end_to_end"], result["model_only"]
    rows = [
        ("slide", f"{result['parameters']['size']} px square, {e2e['megapixels_at_0.25']:.1f} Mpx tissue chunks"),
        ("device", result["device"]["device_name"]),
        ("model", f"{result['model']['argument']} ({result['model']['source']})"),
        ("end-to-end", f"{e2e['mpx_per_s']:.3f} Mpx/s ({e2e['wall_s']:.1f} s, {e2e['nuclei']} nuclei)"),
        ("model only", f"{only['mpx_per_s']:.3f} Mpx/s ({only['tiles']} tiles of {only['tile_side']} px)"),
        ("end-to-end / model only", f"{result['ratio_end_to_end_to_model_only']:.2f}"),
        ("peak RSS end-to-end: self / children / process tree",
         "{self:.0f} / {children:.0f} / {process_tree_sampled:.0f} MiB".format(**result["peak_rss_mib"]["end_to_end"])),
    ]
    print_table("wsinuc throughput (Mpx at 0.25 um/px)", rows)
    seconds = e2e["stage_seconds"]
    total = sum(seconds.values()) or 1.0
    labels = dict(STAGES) | {"pass2_outputs": "pass-2 outputs (wall)",
                             "other": "plan, tissue mask, Dask start-up (wall)"}
    print_table("where the time goes (stage sums over workers)",
                [(labels[key], f"{value:.2f} s  {100 * value / total:5.1f} %") for key, value in seconds.items()])
    if result["model"]["note"]:
        console.print(f"[yellow]note:[/yellow] {result['model']['note']}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    choice = choose_model(args.model, args.work)
    if choice is None:
        return 2
    device = device_info(args.device)
    slide = ensure_slide(args.work, args.size, args.seed)
    result = base_record("throughput", args, device, choice) | {"slide": str(slide)}
    result |= measure(args, slide, choice.argument, device)
    report(result)
    path = write_result(result, args.results, "throughput", default_label(args, str(args.size)))
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
