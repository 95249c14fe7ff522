"""What a run records: the resume fingerprint and ``run.json`` (pure)."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from wsinuc import __version__
from wsinuc.config import SegmentConfig
from wsinuc.models.cards import weights_sha256

log = logging.getLogger(__name__)

_NOT_IN_FINGERPRINT = ("work_dir", "device", "batch_size", "runtime")


def fingerprint(plan, config: SegmentConfig) -> dict:
    """Everything that changes the chunk results; ``--resume`` refuses a run whose fingerprint differs."""
    runtime = plan.context.resolved_runtime()
    return {
        "slide": str(Path(plan.context.slide_path).resolve()),
        "runtime": {"backend": runtime.backend, "precision": runtime.precision},
        "slide_shape": list(plan.slide_shape),
        "weights_sha256": weights_sha256(plan.card),
        "context": {k: v for k, v in plan.context.__dict__.items() if k not in _NOT_IN_FINGERPRINT}
        | {"rule": dataclasses.asdict(plan.context.rule)},
        "tiling": config.tiling.__dict__ | {"region": list(config.tiling.region or [])},
        "chunks": len(plan.tiles),
    }


def output_names(config: SegmentConfig) -> dict[str, str]:
    """File name of each requested output."""
    out = config.output
    names = {
        "geojson": "nuclei.geojson.gz" if out.gzip else "nuclei.geojson",
        "table": f"nuclei.{out.table_format}",
        "zarr": "labels.ome.zarr",
        "overlay": "overlay.jpg",
    }
    return {key: names[key] for key in out.outputs}


def run_record(plan, config: SegmentConfig, summaries: list, counts: dict, walls: dict) -> dict:
    """The content of ``run.json``: versions, weights, parameters, counts and timings per stage.

    ``walls`` holds the wall times ``pass1_chunks``, ``pass2_outputs``, ``total``
    and the seconds of each part of pass 2 (``pass2_parts``).
    """
    too_large = sum(summary.get("too_large", 0) for summary in summaries)
    runtime = plan.context.resolved_runtime()
    if too_large:
        log.warning("%d objects wider than --halo=%d px were dropped as not single nuclei; "
                    "raise --halo to keep them", too_large, config.tiling.halo)
    stages: dict[str, float] = {}
    for summary in summaries:
        for stage, seconds in summary["seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    megapixels = sum(t.core_box.shape[0] * t.core_box.shape[1] for t in plan.tiles) / 1e6
    pixels = {name: sum(summary.get(name, 0.0) for summary in summaries)
              for name in ("valid_megapixels", "working_megapixels")}
    return {
        "wsinuc_version": __version__,
        "slide": plan.context.slide_path,
        "out_dir": str(plan.out_dir),
        "slide_shape_hw": list(plan.slide_shape),
        "mpp": list(plan.mpp),
        "model": plan.context.model,
        "weights_sha256": weights_sha256(plan.card),
        "working_mpp": plan.context.level0_mpp / plan.context.scale,
        "postprocess": plan.context.rule.method,
        "threshold": plan.context.rule.threshold,
        "postprocess_parameters": plan.context.rule.parameters(),
        "level0_chunk_size": plan.chunk_size,
        "level0_halo": plan.halo,
        "precision": runtime.precision,
        "runtime": dataclasses.asdict(runtime) | {"summary": runtime.describe()},
        "config": config.to_dict(),
        "counts": counts | {"chunks_run_now": len(summaries), "megapixels": megapixels,
                            "objects_wider_than_halo_dropped": too_large} | pixels,
        "timings_s": walls | {"stage_sums": stages},
        "outputs": output_names(config),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
