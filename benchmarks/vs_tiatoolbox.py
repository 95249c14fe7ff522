"""wsinuc's engine against TIAToolbox's engine, same network, same slide, same settings.

In one run: wsinuc's ``segment_slide`` (instances, GeoJSON, OME-Zarr labels
and table), then TIAToolbox 2.x's ``SemanticSegmentor`` on the same slide,
device, batch size, tissue mask and patch geometry (a ``chunk + 2 * halo``
patch read, its centre ``chunk`` kept), with the same network and
predictor (see :mod:`wsinuc.benchmark.tiatoolbox_engine`). Reports wall time
and peak RSS of each engine and their ratio, then turns TIAToolbox's
probability map into nuclei with wsinuc's own post-processing and matches
them to wsinuc's labels at IoU > 0.5, block by block. Writes
``results/vs_tiatoolbox-<device>-<date>-<label>.json``.

Example (GPU machine)::

    python benchmarks/vs_tiatoolbox.py --size 20000 --device cuda --model cascade --batch-size 16 --workers 4
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import (
    choose_model,
    save_result,
    TreeRssSampler,
    add_engine_arguments,
    base_record,
    current_rss_mib,
    device_info,
    engine_config,
    ensure_slide,
    peak_rss_mib,
    print_table,
    reset_peak_rss,
    synchronize,
    timed_segment,
    versions,
)

OUTPUTS = ("geojson", "zarr", "table")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_arguments(parser, size=20000)
    parser.add_argument("--tia-loader-workers", type=int, default=-1,
                        help="TIAToolbox data-loader processes (-1: same as wsinuc's workers, 0 on CPU)")
    parser.add_argument("--quality-block", type=int, default=4096, help="block side of the nucleus matching, px")
    args = parser.parse_args(argv)
    if not args.batch_size:
        from wsinuc.engine.plan import auto_batch_size

        args.batch_size = auto_batch_size(args.device)  # chunks per forward = TIAToolbox patches per batch
    return args


def tissue_of(slide: Path):
    """wsinuc's tissue mask of the slide (given to both engines)."""
    from wsinuc.engine.plan import THUMBNAIL_SIZE
    from wsinuc.slide import open_slide, tissue_mask

    with open_slide(slide) as handle:
        return tissue_mask(handle.thumbnail(THUMBNAIL_SIZE))


def warm_up(args: argparse.Namespace, model: str) -> None:
    """Load the shared network and run it once, so neither engine pays the cold start."""
    import numpy as np

    from wsinuc.inference.model_cache import cached_predictor

    side = -(-(args.chunk_size + 2 * args.halo) // 32) * 32
    cached_predictor(model, args.device, args.batch_size).predict(np.full((1, side, side, 3), 200, np.uint8))


def run_wsinuc(args: argparse.Namespace, slide: Path, model: str) -> dict:
    """Time wsinuc's engine; return its numbers and the labels zarr path."""
    before, rss_reset = current_rss_mib(), reset_peak_rss()
    with TreeRssSampler() as sampler:
        record, wall = timed_segment(slide, Path(args.work) / "out-vs-tiatoolbox", engine_config(args, model, OUTPUTS))
    return {"wall_s": wall, "chunks": record["counts"]["chunks"], "nuclei": record["counts"]["nuclei"],
            "timings_s": record["timings_s"], "working_mpp": record["working_mpp"],
            "threshold": record["threshold"],
            "peak_rss_mib": peak_rss_mib() | {"process_tree_sampled": round(sampler.peak_mib, 1),
                                              "reset_before_run": rss_reset, "before_run": before},
            "labels": str(Path(args.work) / "out-vs-tiatoolbox" / slide.stem / record["outputs"]["zarr"])}


def run_tia(args: argparse.Namespace, slide: Path, model: str, wsinuc_run: dict, tissue) -> dict:
    """Time TIAToolbox's engine on the same network; return its numbers and its zarr path.

    The engine runs in a worker thread, as wsinuc's Dask threads do: on a
    busy CPU, torch called from the main thread can be much slower, which
    would measure the machine rather than the engines.
    """
    from wsinuc.benchmark.tiatoolbox_engine import TiaRunConfig, run_tiatoolbox
    from wsinuc.inference.model_cache import load_card_and_model
    from wsinuc.device import resolve_device

    network, _ = load_card_and_model(model, args.device)
    on_cuda = resolve_device(args.device).type == "cuda"
    loaders = args.tia_loader_workers if args.tia_loader_workers >= 0 else (args.workers or 4) if on_cuda else 0
    config = TiaRunConfig(chunk_size=args.chunk_size, halo=args.halo, mpp=wsinuc_run["working_mpp"],
                          device=args.device, batch_size=args.batch_size, num_workers=loaders,
                          threshold=wsinuc_run["threshold"])
    before, rss_reset = current_rss_mib(), reset_peak_rss()
    with TreeRssSampler() as sampler:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1) as pool:
            zarr_path, patches = pool.submit(run_tiatoolbox, slide, network, config,
                                             Path(args.work) / "out-tiatoolbox", tissue).result()
        synchronize(str(resolve_device(args.device)))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "patches": patches, "loader_workers": loaders, "zarr": str(zarr_path),
            "peak_rss_mib": peak_rss_mib() | {"process_tree_sampled": round(sampler.peak_mib, 1),
                                              "reset_before_run": rss_reset, "before_run": before}}


def compare(args: argparse.Namespace, wsinuc_run: dict, tia_run: dict) -> dict:
    """Nuclei agreement between the two outputs, and how long computing it took.

    The synthetic slides are at the working resolution (0.25 um/px), so
    wsinuc's level-0 labels and TIAToolbox's map share one pixel grid and the
    opening kernel is the paper's 5 px.
    """
    import zarr

    from wsinuc.benchmark.tiatoolbox_engine import PROBABILITY_KEY, agreement_with_labels
    from wsinuc.engine.nuclei import opening_kernel

    labels = zarr.open_group(wsinuc_run["labels"], mode="r")["0"]
    probabilities = zarr.open_group(tia_run["zarr"], mode="r")[PROBABILITY_KEY]
    started = time.perf_counter()
    quality = agreement_with_labels(labels, probabilities, threshold=wsinuc_run["threshold"],
                                    kernel_size=opening_kernel(1.0),
                                    max_size=args.halo, block=args.quality_block)
    return quality | {"seconds": time.perf_counter() - started, "iou": 0.5}


def report(result: dict) -> None:
    """Print the comparison."""
    ours, theirs, quality = result["wsinuc"], result["tiatoolbox"], result["agreement"]
    rss = "{self:.0f} MiB (tree {process_tree_sampled:.0f}, start {before_run:.0f})"
    rows = [
        ("device", result["device"]["device_name"]),
        ("model", f"{result['model']['argument']} ({result['model']['source']})"),
        ("wsinuc wall", f"{ours['wall_s']:.2f} s ({ours['chunks']} chunks, {ours['nuclei']} nuclei)"),
        ("  of which wsinuc pass 1 / pass 2",
         "{pass1_chunks:.2f} s / {pass2_outputs:.2f} s".format(**ours["timings_s"])),
        ("TIAToolbox wall", f"{theirs['wall_s']:.2f} s ({theirs['patches']} patches)"),
        ("TIAToolbox / wsinuc wall", f"{result['wall_ratio_tiatoolbox_to_wsinuc']:.2f}"),
        ("wsinuc peak RSS", rss.format(**ours["peak_rss_mib"])),
        ("TIAToolbox peak RSS", rss.format(**theirs["peak_rss_mib"])),
        ("wsinuc nuclei matched (IoU > 0.5)",
         f"{_fraction(quality['matched_fraction_of_reference'])} of {quality['reference_nuclei']}"),
        ("TIAToolbox nuclei matched",
         f"{_fraction(quality['matched_fraction_of_other'])} of {quality['other_nuclei']}"),
    ]
    print_table("wsinuc vs TIAToolbox (same network, slide, device, batch, patch)", rows)


def _fraction(value: float | None) -> str:
    return "n/a (no nuclei)" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return the process exit code."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tiatoolbox").setLevel(logging.WARNING)
    args = parse_args(argv)
    choice = choose_model(args.model, args.work)
    if choice is None:
        return 2
    device = device_info(args.device)
    slide = ensure_slide(args.work, args.size, args.seed)
    warm_up(args, choice.argument)
    wsinuc_run = run_wsinuc(args, slide, choice.argument)
    tia_run = run_tia(args, slide, choice.argument, wsinuc_run, tissue_of(slide))
    result = base_record("vs_tiatoolbox", args, device, choice) | {
        "slide": str(slide), "versions": versions(), "wsinuc": wsinuc_run, "tiatoolbox": tia_run,
        "wall_ratio_tiatoolbox_to_wsinuc": tia_run["wall_s"] / wsinuc_run["wall_s"],
        "agreement": compare(args, wsinuc_run, tia_run),
    }
    report(result)
    save_result(result, args, "vs_tiatoolbox", str(args.size), choice)
    return 0


if __name__ == "__main__":
    sys.exit(main())
