"""Speed of the second-pass writers: GeoJSON features + table rows per second on one core.

Times :meth:`GeoJSONWriter.write_rings` (a whole chunk of packed rings at
once) followed by :meth:`TableWriter.write` of the same rows, against the
old per-nucleus path (``prepare_polygon`` + ``GeoJSONWriter.write`` per
nucleus), on ~10,000 synthetic staircase rings (random blobs traced by
``label_rings``) at scale 1 and at a non-integer scale, and reports the
GeoJSON size per nucleus (plain and ``--gzip``) on the ground-truth nuclei of
the MoNuSeg test images when the data folder is there.

Usage::

    python benchmarks/writer_speed.py [--count 10000] [--repeat 3] [--old-count 1000]

Writes ``benchmarks/results/writer_speed-cpu-<date>.json``.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from common import _cpu_name, console  # noqa: E402
from scipy import ndimage  # noqa: E402

from wsinuc.instances.polygons import label_rings  # noqa: E402
from wsinuc.writers.geojson import GeoJSONWriter, prepare_polygon  # noqa: E402
from wsinuc.writers.table import TableWriter  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
COLUMNS = ("centroid_x", "centroid_y", "area_um2", "perimeter_um", "eccentricity", "solidity",
           "major_axis_length_um", "minor_axis_length_um", "orientation", "mean_hematoxylin_od",
           "mean_eosin_od", "mean_red", "mean_green", "mean_blue")  # fmt: skip


def synthetic_rings(count: int, scale: float, seed: int = 0):
    """About ``count`` staircase rings of nucleus-sized blobs (40-60 vertices), at ``scale``."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(count / 1.6e-3))
    labels, _ = ndimage.label(ndimage.gaussian_filter(rng.random((side, side)), 3.2) > 0.515)
    return label_rings(labels, scale=scale, offset=(4096.0, 8192.0))


def measurement_columns(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float columns like the engine's measurements (a few NaN)."""
    rng = np.random.default_rng(seed)
    columns = {name: rng.uniform(0, 200, count) for name in COLUMNS}
    columns["solidity"][::50] = np.nan
    return columns


def _best(function, repeat: int) -> dict:
    """Best CPU time (this process: user + system) and best wall time of ``repeat`` calls.

    CPU time is the per-core figure: other processes sharing the cores
    stretch the wall time but not it.
    """
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return {"cpu_seconds": min(cpu), "wall_seconds": min(wall)}


def time_fast(rings, columns, folder: Path, repeat: int, suffix: str = ".geojson") -> dict:
    """Seconds for write_rings alone and write_rings + table (parquet and csv)."""

    def geojson_only():
        with GeoJSONWriter(folder / f"fast{suffix}") as writer:
            writer.write_rings(rings.ids, rings.coords, rings.starts, columns)

    def with_table(table_suffix):
        with GeoJSONWriter(folder / f"fast{suffix}") as writer, TableWriter(folder / f"t{table_suffix}") as table:
            keep = writer.write_rings(rings.ids, rings.coords, rings.starts, columns)
            table.write({"label": rings.ids[keep], **{n: v[keep] for n, v in columns.items()}})

    geojson_only()  # warm-up: first-call costs of numpy/arrow kernels
    times = {
        "geojson": _best(geojson_only, repeat),
        "geojson+parquet": _best(lambda: with_table(".parquet"), repeat),
        "geojson+csv": _best(lambda: with_table(".csv"), repeat),
    }
    for entry in times.values():
        entry["nuclei_per_cpu_s"] = len(rings) / entry["cpu_seconds"]
        entry["nuclei_per_wall_s"] = len(rings) / entry["wall_seconds"]
    return times


def time_old(rings, columns, folder: Path, count: int) -> dict:
    """CPU seconds of the old path (prepare_polygon + write per nucleus, one table batch)."""
    count = min(count, len(rings))
    start = time.process_time()
    with GeoJSONWriter(folder / "old.geojson") as writer, TableWriter(folder / "old.parquet") as table:
        polygons = [prepare_polygon(rings.ring(i)) for i in range(count)]
        keep = np.array([p is not None for p in polygons])
        table.write({"label": rings.ids[:count][keep], **{n: v[:count][keep] for n, v in columns.items()}})
        for row in np.flatnonzero(keep):
            writer.write(int(rings.ids[row]), polygons[row], {n: float(v[row]) for n, v in columns.items()})
    seconds = time.process_time() - start
    return {"nuclei": count, "cpu_seconds": seconds, "nuclei_per_cpu_s": count / seconds}


def size_report(rings, columns, folder: Path) -> dict:
    """GeoJSON bytes per nucleus at decimals=2, plain and gzip, and mean ring vertices."""
    sizes = {}
    for suffix in (".geojson", ".geojson.gz"):
        with GeoJSONWriter(folder / f"size{suffix}") as writer:
            writer.write_rings(rings.ids, rings.coords, rings.starts, columns)
        sizes[suffix] = (folder / f"size{suffix}").stat().st_size / len(rings)
    return {
        "nuclei": len(rings),
        "mean_vertices": float(np.mean(rings.counts)),
        "bytes_per_nucleus": sizes[".geojson"],
        "gzip_bytes_per_nucleus": sizes[".geojson.gz"],
        "gzip_ratio": sizes[".geojson"] / sizes[".geojson.gz"],
    }


def monuseg_rings(root: Path):
    """Ground-truth rings of the MoNuSeg test images, packed into one chunk, or None."""
    from wsinuc.datasets.monuseg import iter_monuseg

    if not (root / "monuseg").is_dir():
        return None
    parts = [label_rings(image.instances) for image in iter_monuseg(root / "monuseg", "test")]
    coords = np.concatenate([p.coords for p in parts])
    counts = np.concatenate([p.counts for p in parts])
    starts = np.concatenate([[0], np.cumsum(counts)])
    return type(parts[0])(np.arange(1, len(counts) + 1), coords, starts)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="synthetic rings per chunk (about)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per case; the best is kept")
    parser.add_argument("--old-count", type=int, default=1_000, help="rings timed on the old path")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("WSINUC_DATA", "../shared/data")))
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    record = {
        "kind": "writer_speed",
        "threads": 1,
        "timing": "best of --repeat; nuclei_per_cpu_s uses this process's CPU time (shared cores)",
        "cpu": _cpu_name(),
        "versions": {"numpy": np.__version__, "pyarrow": pa.__version__},
        "cases": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for scale in (1.0, 1.0108):
            rings = synthetic_rings(args.count, scale)
            columns = measurement_columns(len(rings))
            record["cases"][f"synthetic scale {scale}"] = {
                "nuclei": len(rings),
                "mean_vertices": float(np.mean(rings.counts)),
                "fast": time_fast(rings, columns, folder, args.repeat),
                "fast_gzip": time_fast(rings, columns, folder, args.repeat, ".geojson.gz"),
                "old": time_old(rings, columns, folder, args.old_count),
                "size": size_report(rings, columns, folder),
            }
        real = monuseg_rings(args.data)
        if real is not None:
            record["cases"]["monuseg test ground truth"] = {
                "size": size_report(real, measurement_columns(len(real)), folder)
            }
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"writer_speed-cpu-{time.strftime('%Y-%m-%d')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    console.print_json(json.dumps(record))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
