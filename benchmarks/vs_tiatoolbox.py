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
    add_engine_arguments(parser, size=20000, model="cascade-ib-lite-20x")
    parser.add_argument("--slide", type=Path, default=None,
                        help="a real slide instead of the synthetic one (resampled once to the model's um/px)")
    parser.add_argument("--oracle-size", type=int, default=2048,
                        help="side of the box compared pixel by pixel with an untiled prediction, px (0: none)")
    parser.add_argument("--border-margin", type=int, default=32,
                        help="nuclei within this many px of a chunk border count as near it")
    parser.add_argument("--tia-loader-workers", type=int, default=-1,
                        help="TIAToolbox data-loader processes (-1: same as wsinuc's workers, 0 on CPU)")
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
                          threshold=wsinuc_run["threshold"], precision=args.precision)
    before, rss_reset = current_rss_mib(), reset_peak_rss()
    with TreeRssSampler() as sampler:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1) as pool:
            zarr_path, patches = pool.submit(run_tiatoolbox, slide, network, config,
                                             Path(args.work) / "out-tiatoolbox" / slide.stem, tissue).result()
        synchronize(str(resolve_device(args.device)))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "patches": patches, "loader_workers": loaders, "zarr": str(zarr_path),
            "peak_rss_mib": peak_rss_mib() | {"process_tree_sampled": round(sampler.peak_mib, 1),
                                              "reset_before_run": rss_reset, "before_run": before}}


def engine_plan(args: argparse.Namespace, slide: Path, model: str):
    """wsinuc's plan of the run (its chunks, their halo, the post-processing rule), without running it."""
    from wsinuc.engine.plan import plan_run

    return plan_run(slide, Path(args.work) / "out-vs-tiatoolbox", engine_config(args, model, OUTPUTS))


def oracle_box(plan, size: int):
    """A box of about ``size`` px on the chunk grid, near the slide's centre, holding chunk borders."""
    from wsinuc.tiling import Box

    height, width = plan.slide_shape
    chunk = plan.chunk_size
    side_y, side_x = (max(chunk, min(size, extent) // chunk * chunk) for extent in (height, width))
    y0 = max(0, (height - side_y) // 2 // chunk * chunk)
    x0 = max(0, (width - side_x) // 2 // chunk * chunk)
    return Box(y0, x0, min(height, y0 + side_y), min(width, x0 + side_x))


def probability_maps(args: argparse.Namespace, slide: Path, plan, tia_map, box) -> dict:
    """TIAToolbox's, wsinuc's (rebuilt chunk by chunk) and the untiled oracle's maps around ``box``.

    The maps cover ``box`` grown by the halo (``grown``), so nuclei at the
    edge of ``box`` are made with context; the oracle runs once on ``box``
    grown by twice the halo, so its own edges lie outside ``grown``.
    """
    import numpy as np

    from wsinuc.benchmark.engine_maps import engine_probabilities, whole_image_probabilities
    from wsinuc.inference.model_cache import cached_predictor
    from wsinuc.slide import open_slide

    predictor = cached_predictor(plan.context.model, args.device, 1, args.precision)
    grown, wider = _grow(box, plan.halo, plan.slide_shape), _grow(box, 2 * plan.halo, plan.slide_shape)
    tiles = [t for t in plan.tiles if _overlaps(t.core_box, grown)]
    with open_slide(slide) as handle:
        ours = engine_probabilities(handle, tiles, predictor, plan.slide_shape)[grown.slices]
        oracle = whole_image_probabilities(handle, wider, predictor)[grown.relative_to(wider)]
    computed = np.zeros(box.shape, dtype=bool)
    for tile in tiles:
        core = tile.core_box
        inside = type(box)(max(core.y0, box.y0), max(core.x0, box.x0), min(core.y1, box.y1), min(core.x1, box.x1))
        if inside.y0 < inside.y1 and inside.x0 < inside.x1:
            computed[inside.relative_to(box)] = True
    return {"tiatoolbox": np.asarray(tia_map[grown.slices], dtype=np.float32), "wsinuc": ours, "oracle": oracle,
            "grown": grown, "computed": computed, "cores": [_shift(t.core_box, box) for t in tiles]}


def _grow(box, pad: int, shape: tuple[int, int]):
    return type(box)(max(0, box.y0 - pad), max(0, box.x0 - pad), min(shape[0], box.y1 + pad),
                     min(shape[1], box.x1 + pad))


def _overlaps(a, b) -> bool:
    return a.y0 < b.y1 and b.y0 < a.y1 and a.x0 < b.x1 and b.x0 < a.x1


def _shift(core, box):
    return type(box)(core.y0 - box.y0, core.x0 - box.x0, core.y1 - box.y0, core.x1 - box.x0)


def compare(args: argparse.Namespace, slide: Path, plan, wsinuc_run: dict, tia_run: dict) -> dict:
    """Probability maps pixel by pixel, then nuclei: engines against each other and against the oracle.

    Both engines' probabilities are turned into nuclei with the model card's
    rule (the engine's :class:`~wsinuc.instances.InstanceRule`); wsinuc's
    own labels are its engine output.
    """
    import zarr

    from wsinuc.benchmark.engine_agreement import AgreementConfig, nucleus_agreement
    from wsinuc.benchmark.map_difference import map_difference
    from wsinuc.benchmark.tiatoolbox_engine import PROBABILITY_KEY

    started = time.perf_counter()
    labels = zarr.open_group(wsinuc_run["labels"], mode="r")["0"]
    tia_map = zarr.open_group(tia_run["zarr"], mode="r")[PROBABILITY_KEY]
    config = AgreementConfig(plan.context.rule, max_size=plan.halo, chunk_size=plan.chunk_size,
                             border_margin=args.border_margin)
    cores = [tile.core_box for tile in plan.tiles]
    result = {"rule": plan.context.rule.method, "rule_parameters": plan.context.rule.parameters(),
              "border_margin_px": args.border_margin, "iou": config.iou,
              "nuclei_wsinuc_labels_vs_tiatoolbox": nucleus_agreement(labels, tia_map, config, cores),
              "tiatoolbox_through_other_rules": other_rules(labels, tia_map, config, cores)}
    if args.oracle_size:
        result |= oracle_comparison(args, slide, plan, labels, tia_map, config)
    return result | {"seconds": time.perf_counter() - started}


def other_rules(labels, tia_map, config, cores) -> dict:
    """F1 of wsinuc's labels against TIAToolbox's map made into nuclei by the other methods.

    Evidence that the rule matters: before issue 22 the harness always used
    ``opening``, whatever the model card named.
    """
    import dataclasses

    from wsinuc.benchmark.engine_agreement import nucleus_agreement
    from wsinuc.instances import InstanceRule

    methods = [m for m in ("opening", "watershed") if m != config.rule.method]
    return {method: nucleus_agreement(labels, tia_map, dataclasses.replace(
        config, rule=InstanceRule(method=method, threshold=config.rule.threshold)), cores)["all"]
        for method in methods}


def oracle_comparison(args: argparse.Namespace, slide: Path, plan, labels, tia_map, config) -> dict:
    """Maps pixel by pixel and nuclei in the oracle box: both engines against the untiled prediction."""
    from wsinuc.benchmark.engine_agreement import nucleus_agreement, rule_labels
    from wsinuc.benchmark.map_difference import map_difference

    box = oracle_box(plan, args.oracle_size)
    maps = probability_maps(args, slide, plan, tia_map, box)
    inner = box.relative_to(maps["grown"])
    nuclei = {name: rule_labels(maps[name], config)[inner] for name in ("tiatoolbox", "wsinuc", "oracle")}
    nuclei["wsinuc_labels"] = labels[box.slices]
    pairs = (("wsinuc_labels", "oracle"), ("tiatoolbox", "oracle"), ("wsinuc_labels", "tiatoolbox"),
             ("wsinuc_labels", "wsinuc"))
    return {
        "oracle_box_yxyx": list(box),
        "maps": {f"{a}_vs_{b}": map_difference(maps[a][inner], maps[b][inner], plan.chunk_size, maps["computed"])
                 for a, b in (("tiatoolbox", "wsinuc"), ("tiatoolbox", "oracle"), ("wsinuc", "oracle"))},
        "nuclei_in_oracle_box": {f"{a}_vs_{b}": nucleus_agreement(nuclei[a], nuclei[b], config, maps["cores"])
                                 for a, b in pairs},
    }


def report(result: dict) -> None:
    """Print the comparison."""
    ours, theirs, quality = result["wsinuc"], result["tiatoolbox"], result["agreement"]
    megapixels = result["slide_megapixels"]
    rss = "{self:.0f} MiB (tree {process_tree_sampled:.0f}, start {before_run:.0f})"
    nuclei = quality["nuclei_wsinuc_labels_vs_tiatoolbox"]
    rows = [
        ("device", result["device"]["device_name"]),
        ("model", f"{result['model']['argument']} ({result['model']['source']}), rule {quality['rule']}"),
        ("slide", f"{Path(result['slide']).name}: {megapixels:.1f} Mpx at {ours['working_mpp']:.4g} um/px"),
        ("wsinuc wall", f"{ours['wall_s']:.2f} s = {megapixels / ours['wall_s']:.2f} Mpx/s "
                        f"({ours['chunks']} chunks, {ours['nuclei']} nuclei; instances, GeoJSON, Zarr, table)"),
        ("TIAToolbox wall", f"{theirs['wall_s']:.2f} s = {megapixels / theirs['wall_s']:.2f} Mpx/s "
                            f"({theirs['patches']} patches; probabilities only)"),
        ("TIAToolbox / wsinuc wall", f"{result['wall_ratio_tiatoolbox_to_wsinuc']:.2f}"),
        ("wsinuc peak RSS", rss.format(**ours["peak_rss_mib"])),
        ("TIAToolbox peak RSS", rss.format(**theirs["peak_rss_mib"])),
        ("nuclei wsinuc / TIAToolbox (+ card rule)", f"{nuclei['all']['first_nuclei']} / {nuclei['all']['second_nuclei']}"),
        ("nucleus F1 between engines, all", _fraction(nuclei["all"]["f1"])),
        ("  away from the slide edge", _fraction(nuclei["away_from_image_edge"]["f1"])),
        (f"  away from chunk borders and slide edge (> {quality['border_margin_px']} px)",
         f"{_fraction(nuclei['away_from_borders']['f1'])} "
         f"({nuclei['away_from_borders']['first_nuclei']} / {nuclei['away_from_borders']['second_nuclei']} nuclei)"),
    ]
    for method, pair in quality.get("tiatoolbox_through_other_rules", {}).items():
        rows.append((f"  if TIAToolbox's map went through {method}",
                     f"{pair['second_nuclei']} nuclei, F1 {_fraction(pair['f1'])}"))
    for name, diff in quality.get("maps", {}).items():
        rows.append((f"map {name}: max |diff|, class differs",
                     f"{diff['max_abs_difference']:.2e}, {diff['class_differs_fraction']:.2e}"))
    for name, pair in quality.get("nuclei_in_oracle_box", {}).items():
        rows.append((f"oracle box F1 {name} (all / away)",
                     f"{_fraction(pair['all']['f1'])} / {_fraction(pair['away_from_borders']['f1'])}"))
    print_table("wsinuc vs TIAToolbox (same network, pixels, device, batch, patch, post-processing)", rows)


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
    slide, source = prepare_slide(args, choice.argument)
    warm_up(args, choice.argument)
    plan = engine_plan(args, slide, choice.argument)
    wsinuc_run = run_wsinuc(args, slide, choice.argument)
    tia_run = run_tia(args, slide, choice.argument, wsinuc_run, tissue_of(slide))
    result = base_record("vs_tiatoolbox", args, device, choice) | {
        "slide": str(slide), "slide_source": source, "slide_shape": list(plan.slide_shape),
        "slide_megapixels": plan.slide_shape[0] * plan.slide_shape[1] / 1e6,
        "chunk_size": plan.chunk_size, "halo": plan.halo, "versions": versions(),
        "wsinuc": wsinuc_run, "tiatoolbox": tia_run,
        "wall_ratio_tiatoolbox_to_wsinuc": tia_run["wall_s"] / wsinuc_run["wall_s"],
        "agreement": compare(args, slide, plan, wsinuc_run, tia_run),
    }
    report(result)
    save_result(result, args, "vs_tiatoolbox", Path(args.slide).stem if args.slide else str(args.size), choice)
    return 0


def prepare_slide(args: argparse.Namespace, model: str) -> tuple[Path, dict]:
    """The slide both engines read: ``--slide``, or a synthetic one, at the model's resolution."""
    from wsinuc.benchmark.working_slide import working_copy
    from wsinuc.inference.model_cache import load_card
    from wsinuc.models.cards import card_mpp

    model_mpp = card_mpp(load_card(model))
    if not args.slide:
        path = ensure_slide(args.work, args.size, args.seed)
        copy, info = working_copy(path, model_mpp, args.work)
        return copy, info | {"source": "synthetic", "size": args.size, "seed": args.seed}
    return working_copy(args.slide, model_mpp, args.work)


if __name__ == "__main__":
    sys.exit(main())
