"""Many images in one ``wsinuc segment`` call: threads vs 2 worker processes vs a local cluster, and before/after.

Each variant runs the real command in a fresh process (``python -m wsinuc
segment <images> --out <tmp> --quiet``) and the whole-process wall time is
measured, start-up included. Variants:

* ``before`` - the code at ``--code-before`` (e.g. the main branch), threads scheduler;
* ``threads`` - this checkout, threads scheduler (the CPU default);
* ``processes-2`` - this checkout, ``--scheduler processes --workers 2``;
* ``cluster-2`` - this checkout on ``dask scheduler`` + ``dask worker --nworkers 2
  --nthreads 1`` started on 127.0.0.1 in another folder (cluster start-up not timed).

Run the timed part under ``flock /tmp/wsinuc-timing.lock`` on a shared machine::

    flock /tmp/wsinuc-timing.lock python benchmarks/cohort_scaling.py \\
        ../shared/data/monuseg/test/images --mpp 0.25 --variants before,threads --repeats 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import console, device_info, print_table, versions, write_result

REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("before", "threads", "processes-2", "cluster-2")


def main() -> None:
    args = _parser().parse_args()
    images = _images(args.images)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    runs = []
    for repeat in range(args.repeats):
        for variant in variants:
            seconds = run_variant(variant, images, args)
            runs.append({"variant": variant, "repeat": repeat, "wall_s": seconds})
            console.print(f"{variant} run {repeat + 1}: {seconds:.1f} s")
    best = {v: min(r["wall_s"] for r in runs if r["variant"] == v) for v in variants}
    base = best.get("threads", next(iter(best.values())))
    rows = [(f"{v} (best of {args.repeats})", f"{s:.1f} s, {s / len(images):.2f} s/image, x{base / s:.2f} vs threads")
            for v, s in best.items()]
    print_table(f"{len(images)} images in one call ({device_info('cpu')['device_name']})", rows)
    record = {"kind": "cohort_scaling", "device": device_info("cpu"), "versions": versions(),
              "images": [str(p) for p in images], "mpp": args.mpp, "model": args.model, "runs": runs,
              "best_s": best, "code_before": str(args.code_before) if args.code_before else None}
    console.print(f"wrote {write_result(record, Path(args.results), 'cohort_scaling', args.label)}")


def run_variant(variant: str, images: list[Path], args: argparse.Namespace) -> float:
    """Whole-process seconds of one ``wsinuc segment`` call over ``images``."""
    code = Path(args.code_before) if variant == "before" else REPO_ROOT
    extra = {"before": [], "threads": ["--scheduler", "threads"],
             "processes-2": ["--scheduler", "processes", "--workers", "2"]}.get(variant)
    with tempfile.TemporaryDirectory(prefix="wsinuc-cohort-") as folder, _cluster(variant, Path(folder)) as address:
        command = [sys.executable, "-m", "wsinuc", "segment", *map(str, images), "--out", str(Path(folder) / "out"),
                   "--model", args.model, "--quiet", *(["--mpp", str(args.mpp)] if args.mpp else []),
                   *(extra if extra is not None else ["--scheduler", address])]
        started = time.perf_counter()
        subprocess.run(command, check=True, env=_env(code), stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


@contextlib.contextmanager
def _cluster(variant: str, folder: Path):
    """For ``cluster-2``: a scheduler and 2 single-thread worker processes in ``folder``; their address."""
    if variant != "cluster-2":
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address, env = f"tcp://127.0.0.1:{port}", _env(REPO_ROOT)
    dask = [sys.executable, "-m", "dask"]
    processes = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                  cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    processes.append(subprocess.Popen([*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host",
                                       "127.0.0.1", "--no-dashboard"], cwd=folder, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)


def _env(code: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(code), HF_HUB_OFFLINE="1")


def _images(paths: list[str]) -> list[Path]:
    found = []
    for path in map(Path, paths):
        found.extend(sorted(path.glob("*.tif")) if path.is_dir() else [path])
    if not found:
        raise SystemExit("no images given")
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="Image files, or folders of .tif files.")
    parser.add_argument("--mpp", type=float, default=None, help="Pixel size of the images (MoNuSeg: 0.25).")
    parser.add_argument("--model", default="auto")
    parser.add_argument("--variants", default="threads,processes-2,cluster-2", help=f"Comma list of {VARIANTS}.")
    parser.add_argument("--code-before", default=None, help="Repository root of the code to time as 'before'.")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--results", default=str(REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--label", default="monuseg-test")
    return parser


if __name__ == "__main__":
    main()
