"""``segment_slide``: one slide through the engine, from plan to outputs.

A run has two passes. Pass 1 runs the chunk tasks (batches of chunks) on Dask
and leaves one result per chunk in ``<out>/<stem>/.work/`` (a
:class:`~wsinuc.engine.store.ChunkStore`); those results make the run
resumable. Pass 2 (:mod:`wsinuc.engine.merge`) numbers the nuclei and streams
them into the outputs, each written under a temporary name and renamed when
complete.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from wsinuc.config import SegmentConfig
from wsinuc.engine.chunk_task import run_batch
from wsinuc.engine.dask_glue import collect_tasks, dask_client, submit_tasks
from wsinuc.engine.execution import resolve_run
from wsinuc.engine.merge import build_lookup, write_labels, write_vectors
from wsinuc.engine.nuclei import lap
from wsinuc.engine.paths import absolute, absolute_config
from wsinuc.engine.pipeline import overlapped
from wsinuc.engine.plan import THUMBNAIL_SIZE, RunPlan, batches, plan_run
from wsinuc.engine.record import fingerprint, output_names, run_record
from wsinuc.engine.store import ChunkStore
from wsinuc.errors import OptionError, WsinucError
from wsinuc.instances import MEASUREMENT_COLUMNS
from wsinuc.slide import open_slide
from wsinuc.tiling import Tile
from wsinuc.writers.atomic import atomic_file, markers_dir_path, partial_dir_path, partial_file_path


class Reporter:
    """Progress hooks; the CLI subclasses this with a progress bar."""

    def start(self, slide: Path, total: int, done: int) -> None:
        """Called once before pass 1 with the chunk counts."""

    def advance(self, summary: dict) -> None:
        """Called after every finished chunk."""

    def stop(self) -> None:
        """Called after pass 1."""


@dataclass(frozen=True)
class StartedSlide:
    """A slide whose chunk tasks are submitted (:func:`start_slide`) but not yet collected."""

    plan: RunPlan
    futures: list
    done_before: int
    started: float
    submitted: float


def segment_slide(
    slide_path: str | Path, out_dir: str | Path, config: SegmentConfig = SegmentConfig(),
    reporter: Reporter | None = None, *, client=None,
) -> dict:
    """Segment every nucleus of one slide and write the outputs.

    1. Plan: pixel size, model, working scale, chunks (``--region``, tissue).
    2. Prepare ``<out_dir>/<slide stem>/`` (refuse to clobber; check a resume).
    3. Pass 1: run the batches of unfinished chunks on Dask.
    4. Pass 2: number the nuclei and write GeoJSON, table, OME-Zarr, overlay.
    5. Write ``run.json`` and remove the work folder.

    Parameters
    ----------
    slide_path, out_dir : str or Path
        The slide, and the folder that receives ``<slide stem>/`` (both made absolute).
    config : SegmentConfig
        Every option of the run.
    reporter : Reporter, optional
        Progress hooks.
    client : distributed.Client, optional
        A Dask client to reuse (:func:`engine_client`); one is started otherwise.

    Returns
    -------
    dict
        The content of ``run.json``.
    """
    if client is None:
        with engine_client(config) as own_client:
            return segment_slide(slide_path, out_dir, config, reporter, client=own_client)
    return finish_slide(start_slide(slide_path, out_dir, config, client), config, client, reporter)


def start_slide(slide_path: str | Path, out_dir: str | Path, config: SegmentConfig, client) -> StartedSlide:
    """Steps 1-2 of :func:`segment_slide`, then submit pass 1's chunk tasks without waiting for them."""
    started = time.perf_counter()
    config = absolute_config(config)
    plan = plan_run(absolute(slide_path), absolute(out_dir), config)
    pending = _prepare_out_dir(plan, config)
    groups = batches(pending, plan.context.batch_size, plan.context.scale)
    futures = submit_tasks(client, run_batch, plan.context, groups)
    return StartedSlide(plan, futures, len(plan.tiles) - len(pending), started, time.perf_counter())


def finish_slide(started: StartedSlide, config: SegmentConfig, client, reporter: Reporter | None = None) -> dict:
    """Steps 3-5 of :func:`segment_slide`: collect pass 1, write the outputs and ``run.json``."""
    reporter, plan = reporter or Reporter(), started.plan
    config = absolute_config(config)
    reporter.start(Path(plan.context.slide_path), len(plan.tiles), started.done_before)
    summaries = collect_tasks(client, started.futures, lambda done: [reporter.advance(s) for s in done])
    summaries = [summary for done in summaries for summary in done]
    reporter.stop()
    pass1 = time.perf_counter() - started.submitted
    pass2 = time.perf_counter()
    counts, pass2_parts = _write_outputs(plan, config)
    pass2 = time.perf_counter() - pass2
    walls = {"pass1_chunks": pass1, "pass2_outputs": pass2, "total": time.perf_counter() - started.started,
             "pass2_parts": pass2_parts}
    record = run_record(plan, config, summaries, counts, walls)
    with atomic_file(plan.out_dir / "run.json", "w") as handle:
        json.dump(record, handle, indent=2, default=str)
    shutil.rmtree(Path(plan.context.work_dir), ignore_errors=True)
    return record


def segment_slides(
    slide_paths: Sequence[str | Path], out_dir: str | Path, config: SegmentConfig = SegmentConfig(),
    reporter: Reporter | None = None,
) -> Iterator[dict]:
    """Segment several slides with one Dask client; yield each ``run.json``, stop at the first failure.

    The chunks of each slide start while the previous slide's outputs are
    written (:func:`~wsinuc.engine.pipeline.overlapped`). For a cohort that
    goes on past a failing slide, see :func:`wsinuc.engine.cohort.segment_cohort`.
    """
    with engine_client(config) as client:
        outcomes = overlapped(slide_paths, lambda path: start_slide(path, out_dir, config, client),
                              lambda started: finish_slide(started, config, client, reporter),
                              lambda started: client.cancel(started.futures))
        with contextlib.closing(outcomes):
            for outcome in outcomes:
                if outcome.error is not None:
                    raise outcome.error
                yield outcome.value


@contextlib.contextmanager
def engine_client(config: SegmentConfig) -> Iterator:
    """The client of ``config.run``, ``auto`` resolved by :func:`~wsinuc.engine.execution.resolve_run`."""
    with dask_client(resolve_run(config)[0]) as client:
        yield client


def _prepare_out_dir(plan: RunPlan, config: SegmentConfig) -> list[Tile]:
    """Create or check the output folder; return the chunks still to run."""
    out, work = plan.out_dir, Path(plan.context.work_dir)
    stamp_content = fingerprint(plan, config)
    existing = out.exists() and any(out.iterdir())
    if config.output.overwrite and out.exists():
        shutil.rmtree(out)
    elif existing and not config.output.resume:
        raise WsinucError(f"{out}: output folder is not empty; pass --resume to continue or --overwrite to replace it")
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "plan.json"
    if config.output.resume and stamp.is_file():
        if json.loads(stamp.read_text()) != json.loads(json.dumps(stamp_content)):
            raise OptionError("--resume", f"{out}: the earlier run used other settings or another slide; use --overwrite")
    elif config.output.resume and (out / "run.json").is_file():
        raise OptionError("--resume", f"{out}: this run already finished; use --overwrite to redo it")
    for name in output_names(config).values():
        for path in (out / name, partial_file_path(out / name), partial_dir_path(out / name),
                     markers_dir_path(out / name)):
            _remove(path)
    with atomic_file(stamp, "w") as handle:
        json.dump(stamp_content, handle)
    store = ChunkStore(work)
    return [tile for tile in plan.tiles if not store.is_done(tile)]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _write_outputs(plan: RunPlan, config: SegmentConfig) -> tuple[dict, dict]:
    """Write the requested outputs; return the counts and the seconds each part took."""
    from wsinuc.writers import GeoJSONWriter, LabelsZarrWriter, TableWriter  # pass 2 only: not before the first chunk

    store, names, out, tiles = ChunkStore(plan.context.work_dir), output_names(config), plan.out_dir, plan.tiles
    parts: dict[str, float] = {}
    clock = time.perf_counter()
    lookup = build_lookup(store, tiles)
    parts["ids"], clock = lap(clock)
    if "geojson" in names or "table" in names:
        geojson = GeoJSONWriter(out / names["geojson"]) if "geojson" in names else None
        columns = ["label", *(c for c in MEASUREMENT_COLUMNS if c != "id")]
        table = TableWriter(out / names["table"], columns=columns) if "table" in names else None
        with geojson or nullcontext(), table or nullcontext():
            write_vectors(store, tiles, lookup, geojson, table)
    parts["vectors"], clock = lap(clock)
    if "zarr" in names or "overlay" in names:
        zarr_path = out / names.get("zarr", "labels.ome.zarr")
        chunk = (plan.chunk_size, plan.chunk_size)
        labels = LabelsZarrWriter.create(zarr_path, plan.slide_shape, mpp=plan.mpp, chunk=chunk)
        write_labels(store, tiles, lookup, labels, plan.chunk_size)
        labels.finalize()
        parts["label_image"], clock = lap(clock)
        if "overlay" in names:
            _write_overlay(plan, zarr_path, out / names["overlay"])
            parts["overlay"], clock = lap(clock)
        if "zarr" not in names:
            shutil.rmtree(zarr_path)
    return {"nuclei": len(lookup), "chunks": len(tiles)}, parts


def _write_overlay(plan: RunPlan, zarr_path: Path, path: Path) -> None:
    import zarr

    from wsinuc.writers.overlay import draw_overlay, save_image
    from wsinuc.writers.zarr_pyramid import read_region

    thumbnail = plan.thumbnail
    if thumbnail is None:
        with open_slide(plan.context.slide_path, mpp=plan.context.mpp_override) as slide:
            thumbnail = slide.thumbnail(THUMBNAIL_SIZE)
    group = zarr.open_group(zarr_path, mode="r")
    levels = sorted(group.array_keys(), key=int)
    scale = thumbnail.shape[1] / plan.slide_shape[1]
    level = max((lv for lv in levels if 2 ** int(lv) <= max(1.0, 1 / scale)), key=int)
    labels = group[level]
    save_image(path, draw_overlay(thumbnail, read_region(labels, slice(0, labels.shape[0]), slice(0, labels.shape[1]))))
