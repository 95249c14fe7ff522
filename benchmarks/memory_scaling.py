"""Peak memory and wall time of ``segment_slide`` at several slide sizes.

Each size runs in a fresh Python process, so that ``ru_maxrss`` is that
size's own peak. The engine streams chunks from the slide to per-chunk
result files and then into the outputs, so wall time should grow with the
tissue area while peak RSS stays nearly flat. Writes
``results/memory_scaling-<device>-<date>-<label>.json``.

Example (GPU machine)::

    python benchmarks/memory_scaling.py --sizes 10000,20000,40000 --device cuda --model cascade \
        --batch-size 16 --workers 4
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from common import (
    choose_model,
    save_result,
    TreeRssSampler,
    add_engine_arguments,
    base_record,
    device_info,
    engine_config,
    ensure_slide,
    megapixels_at_reference,
    peak_rss_mib,
    print_table,
    timed_segment,
)

OUTPUTS = ("geojson", "zarr", "table")
ENGINE_OPTIONS = ("work", "model", "device", "chunk_size", "halo", "batch_size", "precision", "workers", "scheduler",
                  "seed")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_arguments(parser, size=None)
    parser.add_argument("--sizes", default="10000,20000,40000", help="comma-separated slide sides, px")
    parser.add_argument("--child-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if len(args.sizes) < 2 and args.child_size is None:
        parser.error(f"--sizes needs at least two sizes, got {args.sizes}")
    return args


def run_child(args: argparse.Namespace) -> int:
    """In the fresh process: segment one slide and write wall time and peak RSS as JSON."""
    slide = ensure_slide(args.work, args.child_size, args.seed)
    baseline = peak_rss_mib()["self"]
    config = engine_config(args, args.model, OUTPUTS)
    with TreeRssSampler() as sampler:
        record, wall = timed_segment(slide, Path(args.work) / f"out-memory-{args.child_size}", config)
    rss = peak_rss_mib()
    level0_mpp = float(np.mean(record["mpp"]))
    result = {
        "size": args.child_size,
        "slide_megapixels_at_0.25": megapixels_at_reference(args.child_size**2 / 1e6, level0_mpp),
        "tissue_megapixels_at_0.25": megapixels_at_reference(record["counts"]["megapixels"], level0_mpp),
        "chunks": record["counts"]["chunks"],
        "nuclei": record["counts"]["nuclei"],
        "wall_s": wall,
        "timings_s": record["timings_s"],
        "rss_before_run_mib": baseline,
        "peak_rss_mib": rss | {"process_tree_sampled": round(sampler.peak_mib, 1)},
    }
    args.child_out.write_text(json.dumps(result, indent=2))
    return 0


def child_command(args: argparse.Namespace, size: int, out: Path) -> list[str]:
    """Command line re-running this script for one size."""
    command = [sys.executable, str(Path(__file__).resolve()), "--sizes", str(size),
               "--child-size", str(size), "--child-out", str(out)]
    for name in ENGINE_OPTIONS:
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return command


def run_sizes(args: argparse.Namespace) -> list[dict]:
    """Write the slides first (outside the timed processes), then run one process per size."""
    rows = []
    for size in args.sizes:
        ensure_slide(args.work, size, args.seed)
    for size in args.sizes:
        out = Path(args.work) / f"memory-scaling-{size}.json"
        out.unlink(missing_ok=True)
        done = subprocess.run(child_command(args, size, out), capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"size {size}: child process failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        rows.append(json.loads(out.read_text()))
    return rows


def growth(rows: list[dict]) -> dict:
    """Largest over smallest slide: tissue area, wall time and peak RSS ratios."""
    first, last = rows[0], rows[-1]

    def ratio(key: str, sub: str | None = None) -> float:
        low = first[key] if sub is None else first[key][sub]
        high = last[key] if sub is None else last[key][sub]
        return high / low if low else 0.0

    return {"tissue_area": ratio("tissue_megapixels_at_0.25"), "wall_time": ratio("wall_s"),
            "peak_rss_self": ratio("peak_rss_mib", "self"),
            "peak_rss_process_tree": ratio("peak_rss_mib", "process_tree_sampled")}


def report(rows: list[dict], ratios: dict) -> None:
    """Print one row per size and the growth ratios."""
    table = [(f"{row['size']} px ({row['tissue_megapixels_at_0.25']:.1f} Mpx tissue)",
              f"{row['wall_s']:.1f} s, RSS self {row['peak_rss_mib']['self']:.0f} MiB, "
              f"tree {row['peak_rss_mib']['process_tree_sampled']:.0f} MiB") for row in rows]
    table += [(f"growth largest/smallest: {name}", f"x{value:.2f}") for name, value in ratios.items()]
    print_table("wsinuc memory scaling", table)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the hidden child options, one size); return the exit code."""
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    if args.child_size is not None:
        return run_child(args)
    choice = choose_model(args.model, args.work)
    if choice is None:
        return 2
    args.model = choice.argument
    device = device_info(args.device)
    rows = run_sizes(args)
    ratios = growth(rows)
    report(rows, ratios)
    result = base_record("memory_scaling", args, device, choice) | {"runs": rows, "growth": ratios}
    save_result(result, args, "memory_scaling", "-".join(map(str, args.sizes)), choice)
    return 0


if __name__ == "__main__":
    sys.exit(main())
