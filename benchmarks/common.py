"""Shared pieces of the benchmark scripts: slide cache, model choice, environment, results.

The scripts in this folder import this module as ``common`` (Python puts the
script's folder first on ``sys.path``). Nothing here prints except
:func:`print_table`, which writes to the shared rich console.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from wsinuc.config import PRECISIONS
from wsinuc.metrics import match_instances

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_WORK = Path(os.environ.get("WSINUC_BENCH_WORK", Path.home() / ".cache" / "wsinuc-bench"))
REFERENCE_MPP = 0.25
UNTRAINED_PRESETS = ("cascade", "cascade-lite", "cascade-ib", "cascade-ib-lite")
console = Console()


@dataclass(frozen=True)
class ModelChoice:
    """The ``--model`` value given to the engine and how it was obtained.

    Attributes
    ----------
    argument : str
        Bundled model name or weights path stem.
    source : str
        ``bundled``, ``weights file`` or ``untrained <preset>``.
    note : str
        One line for the report ("" when nothing to say).
    """

    argument: str
    source: str
    note: str = ""


def add_engine_arguments(parser: argparse.ArgumentParser, *, size: int | None, model: str = "cascade-lite") -> None:
    """Add the options every benchmark shares (slide, model, device, engine settings).

    ``--size`` is added only when ``size`` (its default) is given.
    """
    if size is not None:
        parser.add_argument("--size", type=int, default=size, help="side of the square synthetic slide, px")
    parser.add_argument("--seed", type=int, default=0, help="synthetic slide seed")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="slide cache and scratch folder")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument("--label", default=None, help="suffix of the result file name (default: model)")
    parser.add_argument("--model", default=model, help="bundled model name or weights path stem")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--chunk-size", type=int, default=1024, help="chunk core side, working px (0.25 um/px)")
    parser.add_argument("--halo", type=int, default=128, help="context around each chunk, working px")
    parser.add_argument("--batch-size", type=int, default=0, help="chunks per forward pass (0: 4 on CUDA, 1 on CPU)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto (bf16 on CUDA, fp32 on CPU), fp32 or bf16")
    parser.add_argument("--workers", type=int, default=0, help="Dask workers (0: 4 on CUDA, 1 on CPU)")
    parser.add_argument("--scheduler", default="auto",
                        help="auto (processes on CUDA, threads on CPU), threads, processes or tcp://host:port")


def ensure_slide(work: Path, size: int, seed: int = 0) -> Path:
    """Path of a cached ``size`` x ``size`` synthetic slide at 0.25 um/px, written if missing.

    The slide is written under a temporary name and renamed when complete,
    so an interrupted run never leaves a truncated slide in the cache.
    """
    from wsinuc.slide import write_synthetic_slide

    if size < 256:
        raise ValueError(f"--size must be at least 256 px, got {size}")
    path = Path(work) / f"synthetic-{size}-seed{seed}.svs"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.partial.svs")
        write_synthetic_slide(partial, size, size, mpp=REFERENCE_MPP, seed=seed)
        os.replace(partial, path)
    return path


def resolve_model(model: str, work: Path) -> ModelChoice:
    """Bundled weights, a weights file, or an untrained preset saved under ``work``.

    Raises
    ------
    ValueError
        When ``model`` is none of those.
    """
    from wsinuc.models import create_model, list_bundled_weights, save_weights, saved_weights_exist

    if model in list_bundled_weights():
        return ModelChoice(model, "bundled")
    stem = Path(model).with_suffix("") if Path(model).suffix in (".json", ".safetensors") else Path(model)
    if saved_weights_exist(stem):
        return ModelChoice(str(stem), "weights file")
    if model not in UNTRAINED_PRESETS:
        raise ValueError(f"--model {model!r}: not a bundled model, not a weights file and not one of "
                         f"{UNTRAINED_PRESETS}")
    stem = Path(work) / "weights" / f"untrained-{model}"
    if not saved_weights_exist(stem):
        stem.parent.mkdir(parents=True, exist_ok=True)
        save_weights(create_model(model), stem, {"name": f"untrained-{model}", "mpp": REFERENCE_MPP})
    note = (f"no bundled weights for {model!r}: timing an UNTRAINED {model} (same architecture and cost, "
            "meaningless nuclei)")
    return ModelChoice(str(stem), f"untrained {model}", note)


def device_info(device: str) -> dict:
    """Resolved device, its human name and a file-name slug."""
    import torch

    from wsinuc.device import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        name = torch.cuda.get_device_name(resolved)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    else:
        name, slug = f"CPU: {_cpu_name()} ({os.cpu_count()} logical cores)", "cpu"
    return {"device": str(resolved), "device_name": name, "device_slug": slug,
            "torch_threads": torch.get_num_threads()}


def _cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def versions() -> dict:
    """Versions of wsinuc, torch, CUDA, Python and (when imported) TIAToolbox."""
    import sys

    import numpy
    import torch

    import wsinuc

    found = {"wsinuc": wsinuc.__version__, "torch": torch.__version__, "cuda": torch.version.cuda,
             "python": platform.python_version(), "numpy": numpy.__version__}
    if "tiatoolbox" in sys.modules:
        found["tiatoolbox"] = sys.modules["tiatoolbox"].__version__
    return found


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set size (Linux ``clear_refs``); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def current_rss_mib() -> float:
    """Resident set size of this process now, MiB."""
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def peak_rss_mib() -> dict:
    """Peak RSS in MiB of this process and of its finished child processes (``ru_maxrss``)."""
    scale = 1024 * 1024 if platform.system() == "Darwin" else 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return {"self": round(own, 1), "children": round(children, 1)}


class TreeRssSampler:
    """Peak of the summed RSS of this process and all its descendants, sampled in a thread.

    ``ru_maxrss`` of children counts a forked child's copy of the parent's
    pages and only covers children already reaped; this sampler sees live
    Dask / data-loader worker processes as they run. Shared pages are
    counted once per process, so the sum is an upper bound.

    Examples
    --------
    >>> with TreeRssSampler() as sampler:
    ...     run_something()
    >>> sampler.peak_mib
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mib = max(self.peak_mib, total / 2**20)
            if self._stop.wait(self.interval_s):
                return


def megapixels_at_reference(level0_megapixels: float, level0_mpp: float) -> float:
    """Megapixels of the same area at :data:`REFERENCE_MPP` (0.25 um/px)."""
    return level0_megapixels * (level0_mpp / REFERENCE_MPP) ** 2


def rate(amount: float, seconds: float) -> float:
    """``amount / seconds`` (0 when no time was measured)."""
    return amount / seconds if seconds > 0 else 0.0


def inner_objects(labels: np.ndarray, margin: int) -> np.ndarray:
    """``labels`` cropped by ``margin`` without the objects that touch the crop's border."""
    labels = labels[margin:-margin, margin:-margin]
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.where(np.isin(labels, border[border > 0]), 0, labels)


def shift_counts(labels: np.ndarray, shifted: np.ndarray, shift: tuple[int, int], margin: int) -> tuple[int, int]:
    """``(2 x matched, n1 + n2)`` nuclei of an image and of its copy shifted by ``shift`` (IoU 0.5, inner part).

    Their ratio is the object F1 between the two; pool the pairs of several
    images by summing them.

    ``shifted[r, c]`` shows the pixel ``labels[r + shift[0], c + shift[1]]``.
    """
    dr, dc = shift
    height, width = shifted.shape[:2]
    first = inner_objects(labels[dr : dr + height, dc : dc + width], margin)
    second = inner_objects(shifted, margin)
    total = len(np.unique(first)) + len(np.unique(second)) - 2
    return 2 * match_instances(first, second, iou=0.5).tp, total


def read_labels(zarr_path: Path) -> np.ndarray:
    """Level 0 of a ``labels.ome.zarr`` written by the engine."""
    import zarr

    return zarr.open_group(zarr_path, mode="r")["0"][...]


def write_result(record: dict, results_dir: Path, kind: str, label: str) -> Path:
    """Write ``<kind>-<device slug>-<date>-<label>.json`` and return its path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")
    stamp = time.strftime("%Y-%m-%d")
    path = results_dir / f"{kind}-{record['device']['device_slug']}-{stamp}-{slug}.json"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(partial, path)
    return path


def default_label(args: argparse.Namespace, size: str) -> str:
    """Result-file label: ``--label`` or the model's short name plus the slide size."""
    return args.label or f"{Path(args.model).name}-{size}"


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print two-column ``(quantity, value)`` rows as a rich table."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def engine_config(args: argparse.Namespace, model: str, outputs: tuple[str, ...]):
    """The :class:`~wsinuc.config.SegmentConfig` of a benchmark run (tissue on, overwrite).

    The network runs on the torch backend, as the model-only timings (:func:`model_only`) and
    TIAToolbox do, so every ratio compares the same runtime; ``benchmarks/backends.py`` compares backends.
    """
    from wsinuc.config import InferenceConfig, OutputConfig, RunConfig, SegmentConfig, TilingConfig

    return SegmentConfig(
        tiling=TilingConfig(chunk_size=args.chunk_size, halo=args.halo, tissue=True),
        inference=InferenceConfig(model=model, device=args.device, batch_size=args.batch_size,
                                  precision=args.precision, backend="torch"),
        output=OutputConfig(outputs=outputs, overwrite=True),
        run=RunConfig(scheduler=args.scheduler, workers=args.workers, progress=False),
    )


def timed_segment(slide: Path, out_dir: Path, config) -> tuple[dict, float]:
    """Run :func:`wsinuc.engine.segment_slide`; return ``run.json`` and the wall time."""
    from wsinuc.engine import segment_slide

    started = time.perf_counter()
    record = segment_slide(slide, out_dir, config)
    return record, time.perf_counter() - started


def synchronize(device: str) -> None:
    """Wait for queued CUDA work so that wall clocks are honest."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def base_record(kind: str, args: argparse.Namespace, device: dict, choice: ModelChoice) -> dict:
    """Fields every result file starts with: what ran, where, with which versions and options."""
    return {
        "benchmark": kind,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": device,
        "versions": versions(),
        "parameters": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "model": {"argument": choice.argument, "source": choice.source, "note": choice.note},
    }


def choose_model(model: str, work: Path) -> ModelChoice | None:
    """Resolve a ``--model`` value; print a one-line error and return None when it cannot be used."""
    try:
        return resolve_model(model, work)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        return None


def save_result(result: dict, args: argparse.Namespace, kind: str, size: str, choice: ModelChoice) -> Path:
    """Write the result JSON, say where, and repeat the model note (e.g. untrained weights)."""
    path = write_result(result, args.results, kind, default_label(args, size))
    console.print(f"wrote {path}")
    if choice.note:
        console.print(f"[yellow]note:[/yellow] {choice.note}")
    return path


def read_tiles(slide_path: Path, side: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` real ``side`` x ``side`` RGB tiles from the middle of the slide (mostly tissue)."""
    from wsinuc.slide import open_slide

    rng = np.random.default_rng(seed)
    tiles = np.empty((count, side, side, 3), dtype=np.uint8)
    with open_slide(slide_path) as slide:
        width, height = slide.dimensions
        for index in range(count):
            x = int(rng.uniform(0.3, 0.7) * width) - side // 2
            y = int(rng.uniform(0.3, 0.7) * height) - side // 2
            tiles[index] = slide.read_region(x, y, side, side, 0)
    return tiles


def model_only(model: str, device: str, batch_size: int, tiles: np.ndarray, precision: str = "auto") -> dict:
    """Time the engine's own predictor on in-memory tiles, excluding the first (warm-up) batch.

    The timing runs in a worker thread, as the engine's Dask threads run the
    model (on a busy CPU, torch in the main thread can be much slower).
    """
    from wsinuc.inference.model_cache import cached_predictor

    predictor = cached_predictor(model, device, batch_size, precision)

    def timed() -> float:
        predictor.predict(tiles[:batch_size])
        synchronize(str(predictor.device))
        started = time.perf_counter()
        predictor.predict(tiles[batch_size:])
        synchronize(str(predictor.device))
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=1) as pool:
        seconds = pool.submit(timed).result()
    return {"tiles": len(tiles) - batch_size, "tile_side": int(tiles.shape[1]), "seconds": seconds}
