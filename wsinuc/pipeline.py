"""``segment_slide``: the one module wiring slide → plan → infer → instances → outputs.

A run has two passes. Pass 1 runs one Dask task per chunk (read, infer,
post-process, keep owned nuclei, polygons, measurements) and leaves one
result file per chunk in ``<out>/<stem>/.work/``; those files make the run
resumable. Pass 2 numbers the nuclei and streams them into the outputs,
each written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from wsinuc import __version__
from wsinuc.config import RunConfig, SegmentConfig
from wsinuc.errors import OptionError, WsinucError
from wsinuc.inference.chunk import ChunkContext, chunk_file, run_chunk
from wsinuc.inference.graph import dask_client, run_tasks
from wsinuc.inference.model_cache import load_card_and_model, resolve_model_name
from wsinuc.inference.predictor import resolve_device
from wsinuc.instances import MEASUREMENT_COLUMNS
from wsinuc.models.precision import precision_label
from wsinuc.models.weights import weights_sha256
from wsinuc.outputs import build_lookup, iter_chunk_nuclei, write_label_chunks, write_vector_outputs
from wsinuc.slide import open_slide, require_mpp, tissue_mask
from wsinuc.tiling import Box, Tile, plan_tiles, select_tiles
from wsinuc.writers import GeoJSONWriter, LabelsZarrWriter, TableWriter, draw_overlay, save_png
from wsinuc.writers.atomic import atomic_file, partial_dir_path, partial_file_path
from wsinuc.writers.zarr_labels import markers_dir_path

log = logging.getLogger(__name__)

DEFAULT_TARGET_MPP = 0.25
THUMBNAIL_SIZE = 2048
WORK_DIR = ".work"


@dataclass(frozen=True)
class RunPlan:
    """What step 1-3 decided: where things go and which chunks to run."""

    out_dir: Path
    context: ChunkContext
    tiles: tuple[Tile, ...]
    slide_shape: tuple[int, int]
    mpp: tuple[float, float]
    card: dict


class Reporter:
    """Progress hooks; the CLI subclasses this with a progress bar."""

    def start(self, slide: Path, total: int, done: int) -> None:
        """Called once before pass 1 with the chunk counts."""

    def advance(self, summary: dict) -> None:
        """Called after every finished chunk."""

    def stop(self) -> None:
        """Called after pass 1."""


def segment_slide(
    slide_path: str | Path, out_dir: str | Path, config: SegmentConfig = SegmentConfig(),
    reporter: Reporter | None = None,
) -> dict:
    """Segment every nucleus of one slide and write the outputs.

    1. Open the slide, resolve its pixel size, the model and the working scale.
    2. Plan the chunk grid; keep chunks in ``--region`` and on tissue.
    3. Prepare ``<out_dir>/<slide stem>/`` (refuse to clobber; check a resume).
    4. Pass 1: run the chunks not yet finished on Dask.
    5. Pass 2: number the nuclei and write GeoJSON, table, OME-Zarr, overlay.
    6. Write ``run.json`` and remove the work folder.

    Returns
    -------
    dict
        The content of ``run.json``.
    """
    reporter = reporter or Reporter()
    started = time.perf_counter()
    plan = _plan_run(Path(slide_path), Path(out_dir), config)
    pending = _prepare_out_dir(plan, config)
    reporter.start(Path(slide_path), len(plan.tiles), len(plan.tiles) - len(pending))
    pass1 = time.perf_counter()
    with dask_client(_resolve_workers(config.run, plan.context.device)) as client:
        summaries = run_tasks(client, run_chunk, plan.context, pending, reporter.advance)
    reporter.stop()
    pass1 = time.perf_counter() - pass1
    pass2 = time.perf_counter()
    counts = _write_outputs(plan, config)
    pass2 = time.perf_counter() - pass2
    record = _run_record(plan, config, summaries, counts, (pass1, pass2, time.perf_counter() - started))
    with atomic_file(plan.out_dir / "run.json", "w") as handle:
        json.dump(record, handle, indent=2, default=str)
    shutil.rmtree(plan.out_dir / WORK_DIR, ignore_errors=True)
    return record


def _resolve_workers(run: RunConfig, device: str) -> RunConfig:
    if run.workers:
        return run
    return replace(run, workers=4 if resolve_device(device).type == "cuda" else 1)


def _plan_run(slide_path: Path, out_dir: Path, config: SegmentConfig) -> RunPlan:
    inference, tiling = config.inference, config.tiling
    with open_slide(slide_path, mpp=inference.mpp) as slide:
        mpp = require_mpp(slide)
        width, height = slide.dimensions
        thumbnail = slide.thumbnail(THUMBNAIL_SIZE) if tiling.tissue else None
    model = resolve_model_name(inference.model, inference.device)
    _, card = load_card_and_model(model, inference.device)
    target = inference.target_mpp or float(card.get("mpp", DEFAULT_TARGET_MPP))
    level0_mpp = float(np.mean(mpp))
    plan = plan_tiles((height, width), tiling.chunk_size, tiling.halo, stride_multiple=32)
    tiles = _select(plan, tiling.region, thumbnail)
    context = ChunkContext(
        slide_path=str(slide_path), mpp_override=inference.mpp, level0_mpp=level0_mpp,
        scale=level0_mpp / target, model=model, device=inference.device,
        batch_size=inference.batch_size, precision=inference.precision,
        postprocess=_postprocess(inference.postprocess, card), threshold=inference.threshold,
        work_dir=str(out_dir / slide_path.stem / WORK_DIR),
    )
    return RunPlan(out_dir / slide_path.stem, context, tuple(tiles), (height, width), mpp, card)


def _postprocess(requested: str, card: dict) -> str:
    if requested != "auto":
        return requested
    return str(card.get("postprocess", "opening"))


def _select(plan, region, thumbnail) -> list[Tile]:
    tiles = list(plan)
    if region is not None:
        x, y, w, h = region
        height, width = plan.image_shape
        if x >= width or y >= height:
            raise OptionError("--region", f"{x},{y},{w},{h} lies outside the slide ({width} x {height})")
        box = Box(y, x, y + h, x + w)
        tiles = [t for t in tiles if _overlaps(t.core_box, box)]
    if thumbnail is not None:
        mask = tissue_mask(thumbnail)
        downsample = plan.image_shape[1] / mask.shape[1]
        keep = {t.index for t in select_tiles(plan, mask, downsample)}
        tiles = [t for t in tiles if t.index in keep]
    return tiles


def _overlaps(a: Box, b: Box) -> bool:
    return a.y0 < b.y1 and b.y0 < a.y1 and a.x0 < b.x1 and b.x0 < a.x1


def _fingerprint(plan: RunPlan, config: SegmentConfig) -> dict:
    return {
        "slide": str(Path(plan.context.slide_path).resolve()),
        "slide_shape": list(plan.slide_shape),
        "weights_sha256": weights_sha256(plan.card),
        "context": {k: v for k, v in plan.context.__dict__.items() if k not in ("work_dir", "device", "batch_size")},
        "tiling": config.tiling.__dict__ | {"region": list(config.tiling.region or [])},
        "chunks": len(plan.tiles),
    }


def _prepare_out_dir(plan: RunPlan, config: SegmentConfig) -> list[Tile]:
    """Create or check the output folder; return the chunks still to run."""
    out, work = plan.out_dir, Path(plan.context.work_dir)
    fingerprint = _fingerprint(plan, config)
    existing = out.exists() and any(out.iterdir())
    if config.output.overwrite and out.exists():
        shutil.rmtree(out)
    elif existing and not config.output.resume:
        raise WsinucError(f"{out}: output folder is not empty; pass --resume to continue or --overwrite to replace it")
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "plan.json"
    if config.output.resume and stamp.is_file():
        previous = json.loads(stamp.read_text())
        if previous != json.loads(json.dumps(fingerprint)):
            raise OptionError("--resume", f"{out}: the earlier run used other settings or another slide; use --overwrite")
    elif config.output.resume and (out / "run.json").is_file():
        raise OptionError("--resume", f"{out}: this run already finished; use --overwrite to redo it")
    for name in _output_names(config).values():
        for path in (out / name, partial_file_path(out / name), partial_dir_path(out / name),
                     markers_dir_path(out / name)):
            _remove(path)
    with atomic_file(stamp, "w") as handle:
        json.dump(fingerprint, handle)
    return [t for t in plan.tiles if not chunk_file(work, t).is_file()]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _output_names(config: SegmentConfig) -> dict[str, str]:
    out = config.output
    names = {
        "geojson": "nuclei.geojson.gz" if out.gzip else "nuclei.geojson",
        "table": f"nuclei.{out.table_format}",
        "zarr": "labels.ome.zarr",
        "overlay": "overlay.png",
    }
    return {key: names[key] for key in out.outputs}


def _write_outputs(plan: RunPlan, config: SegmentConfig) -> dict:
    work, names, out = Path(plan.context.work_dir), _output_names(config), plan.out_dir
    tiles = plan.tiles
    lookup = build_lookup(work, tiles)
    counts = {"nuclei": len(lookup), "chunks": len(tiles)}
    if "geojson" in names or "table" in names:
        geojson = GeoJSONWriter(out / names["geojson"]) if "geojson" in names else None
        columns = ["label", *(c for c in MEASUREMENT_COLUMNS if c != "id")]
        table = TableWriter(out / names["table"], columns=columns) if "table" in names else None
        with geojson or nullcontext(), table or nullcontext():
            write_vector_outputs(iter_chunk_nuclei(work, tiles, lookup), geojson, table)
    if "zarr" in names or "overlay" in names:
        zarr_path = out / names.get("zarr", "labels.ome.zarr")
        chunk = (config.tiling.chunk_size, config.tiling.chunk_size)
        labels = LabelsZarrWriter.create(zarr_path, plan.slide_shape, mpp=plan.mpp, chunk=chunk)
        write_label_chunks(work, tiles, lookup, labels)
        labels.finalize()
        if "overlay" in names:
            _write_overlay(plan, zarr_path, out / names["overlay"])
        if "zarr" not in names:
            shutil.rmtree(zarr_path)
    return counts


def _write_overlay(plan: RunPlan, zarr_path: Path, path: Path) -> None:
    import zarr

    with open_slide(plan.context.slide_path, mpp=plan.context.mpp_override) as slide:
        thumbnail = slide.thumbnail(THUMBNAIL_SIZE)
    group = zarr.open_group(zarr_path, mode="r")
    levels = sorted(group.array_keys(), key=int)
    scale = thumbnail.shape[1] / plan.slide_shape[1]
    level = max((lv for lv in levels if 2 ** int(lv) <= max(1.0, 1 / scale)), key=int)
    save_png(path, draw_overlay(thumbnail, group[level][...]))


def _run_record(plan: RunPlan, config: SegmentConfig, summaries: list, counts: dict, walls) -> dict:
    too_large = sum(summary.get("too_large", 0) for summary in summaries)
    if too_large:
        log.warning("%d objects wider than --halo=%d px were dropped as not single nuclei; "
                    "raise --halo to keep them", too_large, config.tiling.halo)
    stages: dict[str, float] = {}
    for summary in summaries:
        for stage, seconds in summary["seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    megapixels = sum(t.core_box.shape[0] * t.core_box.shape[1] for t in plan.tiles) / 1e6
    return {
        "wsinuc_version": __version__,
        "slide": plan.context.slide_path,
        "slide_shape_hw": list(plan.slide_shape),
        "mpp": list(plan.mpp),
        "model": plan.context.model,
        "weights_sha256": weights_sha256(plan.card),
        "working_mpp": plan.context.level0_mpp / plan.context.scale,
        "precision": precision_label(plan.context.precision, resolve_device(plan.context.device)),
        "config": config.to_dict(),
        "counts": counts | {"chunks_run_now": len(summaries), "megapixels": megapixels,
                            "objects_wider_than_halo_dropped": too_large},
        "timings_s": {"pass1_chunks": walls[0], "pass2_outputs": walls[1], "total": walls[2],
                      "stage_sums": stages},
        "outputs": _output_names(config),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
