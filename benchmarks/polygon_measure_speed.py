"""Per-core speed of outlining and measuring every nucleus of a chunk, before and after.

Labels are ``wsinuc.instances.probability_to_instances(prob)`` of the 14
stored MoNuSeg test probability maps (``benchmarks/stored_probabilities.py``,
1000 x 1000 at 0.25 um/px, a few hundred nuclei each). In one process with
one thread, each figure is the best process CPU time of ``--repeats`` passes
over all images:

- ``rings``: :func:`wsinuc.instances.label_rings` (packed rings);
- ``polygons``: :func:`wsinuc.instances.label_polygons` (rings -> shapely);
- ``measure``: :func:`wsinuc.instances.measure_nuclei` alone;
- ``both``: ``label_rings`` then ``measure_nuclei(..., rings=rings)``, as the
  engine does;
- ``old polygons`` / ``old measure``: the per-object ``find_contours`` +
  shapely outlines and the ``regionprops_table`` measurements the package
  used before (kept as test oracles in ``tests/instances/reference_instances.py``).

Also reports how much ``simplify_tolerance=0.5`` (and 1.0) shrinks the ring
vertex counts. Writes ``results/polygon_measure_speed-cpu-<date>.json``.

Example::

    python benchmarks/polygon_measure_speed.py --repeats 3
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import shapely  # noqa: E402
import skimage  # noqa: E402
from common import RESULTS_DIR, print_table  # noqa: E402
from stored_probabilities import DEFAULT_WORK, load_stored, probability_dir  # noqa: E402

from wsinuc.instances import label_polygons, label_rings, measure_nuclei, probability_to_instances  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "instances"))
from reference_instances import reference_measurements, reference_polygons  # noqa: E402

MPP = 0.25


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cascade-lite", help="model whose stored maps to use")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder of the stored maps")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the best is kept")
    parser.add_argument("--old-repeats", type=int, default=1, help="passes of the old implementations")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    return parser.parse_args()


def load_chunks(folder: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(image id, labels, rgb)`` of every stored map."""
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise SystemExit(f"no stored maps in {folder}: run benchmarks/stored_probabilities.py first")
    chunks = []
    for path in files:
        prob, image = load_stored(path)
        chunks.append((path.stem, probability_to_instances(prob), image))
    return chunks


def best_seconds(task: Callable[[np.ndarray, np.ndarray], object], chunks: list, repeats: int) -> float:
    """Best total CPU time of ``task(labels, rgb)`` over all chunks, of ``repeats`` passes.

    Process CPU time rather than wall time, so that other processes sharing
    the cores inflate the figure less (one thread: the two agree when idle).
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _, labels, image in chunks:
            task(labels, image)
        best = min(best, time.process_time() - start)
    return best


def both(labels: np.ndarray, image: np.ndarray) -> object:
    rings = label_rings(labels)
    return measure_nuclei(labels, image, mpp=MPP, rings=rings)


TASKS = {
    "rings": lambda labels, image: label_rings(labels),
    "polygons": lambda labels, image: label_polygons(labels),
    "measure": lambda labels, image: measure_nuclei(labels, image, mpp=MPP),
    "both": both,
    "old polygons": lambda labels, image: reference_polygons(labels),
    "old measure": lambda labels, image: reference_measurements(labels, image, mpp=MPP, dtype=np.float32),
}


def simplification(chunks: list) -> dict:
    """Ring vertex totals exact and simplified at 0.5 and 1.0 px."""
    exact = sum(label_rings(labels).coords.shape[0] for _, labels, _ in chunks)
    shrink = {"exact_vertices": exact}
    for tolerance in (0.5, 1.0):
        kept = sum(label_rings(labels, simplify_tolerance=tolerance).coords.shape[0] for _, labels, _ in chunks)
        shrink[f"vertices_at_{tolerance}"] = kept
        shrink[f"kept_fraction_at_{tolerance}"] = kept / exact
    return shrink


def main() -> None:
    args = parse_args()
    chunks = load_chunks(probability_dir(args.model, args.work))
    nuclei = int(sum(np.unique(labels).size - 1 for _, labels, _ in chunks))
    records = {}
    for name, task in TASKS.items():
        repeats = args.old_repeats if name.startswith("old") else args.repeats
        seconds = best_seconds(task, chunks, repeats)
        records[name] = {"seconds": seconds, "nuclei_per_second": nuclei / seconds, "repeats": repeats}
    old_both = records["old polygons"]["seconds"] + records["old measure"]["seconds"]
    records["old both"] = {"seconds": old_both, "nuclei_per_second": nuclei / old_both}
    result = {
        "kind": "polygon_measure_speed",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threads": 1,
        "images": len(chunks),
        "nuclei": nuclei,
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "shapely": shapely.__version__,
                     "scikit-image": skimage.__version__, "python": platform.python_version()},
        "records": records,
        "simplification": simplification(chunks),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"polygon_measure_speed-cpu-{time.strftime('%Y-%m-%d')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    rows = [(name, f"{value['nuclei_per_second']:,.0f} nuclei/s ({value['seconds']:.3f} s)")
            for name, value in records.items()]
    rows += [(key, f"{value:.3f}" if isinstance(value, float) else str(value))
             for key, value in result["simplification"].items()]
    print_table(f"{nuclei} nuclei in {len(chunks)} MoNuSeg images, one thread -> {path.name}", rows)


if __name__ == "__main__":
    main()
