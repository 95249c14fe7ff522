"""Per-core speed of the instance rules (probability map -> labelled nuclei) on dense tissue.

Replays the stored real probability maps of the 14 MoNuSeg test images
(``benchmarks/stored_probabilities.py``; 1000 x 1000 at 0.25 um/px, about
600 nuclei each) through each rule in one process with one thread, and
reports megapixels and nuclei per second (CPU time of the process, best of
``--repeat`` runs per image, so that other processes on a shared machine
count less):

* ``opening``: :func:`wsinuc.instances.probability_to_instances`;
* ``watershed``: :func:`wsinuc.instances.watershed_instances` (the bundled
  CPU default model's rule);
* ``seeded``: :func:`wsinuc.instances.seeded.seeded_instances` on a proxy
  3-class output (interior = the map eroded by a 5 x 5 minimum filter,
  computed before the timing; nucleus = the map);
* ``seeded-card``: the same with the default model card's parameters
  (seed peak and merge dip included);
* ``opening-scipy``, ``watershed-scipy``: the same rules with OpenCV
  switched off (only when ``cv2`` imports, to show the SciPy-only speed).

Example::

    python benchmarks/instance_speed.py --repeat 3
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread per process, set before NumPy loads its libraries
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from wsinuc.instances import postprocess  # noqa: E402
from wsinuc.instances._fastmorph import cv2, has_cv2, open_square  # noqa: E402
from wsinuc.instances._split import FOUR_CONNECTED, split_foreground  # noqa: E402
from wsinuc.instances.seeded import seeded_instances  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_WORK = Path(os.environ.get("WSINUC_BENCH_WORK", Path.home() / ".cache" / "wsinuc-bench"))


def _watershed_scipy(prob: np.ndarray) -> np.ndarray:
    foreground = open_square(prob > 0.5, 5, use_cv2=False)
    return split_foreground(foreground, 2.0, parts_eight_connected=False, use_cv2=False)


def _opening_scipy(prob: np.ndarray) -> np.ndarray:
    return ndimage.label(open_square(prob > 0.5, 5, use_cv2=False), structure=FOUR_CONNECTED)[0]


def _default_card_rule():
    from wsinuc.inference.model_cache import load_card, resolve_model_name
    from wsinuc.instances import InstanceRule

    return InstanceRule.from_card(load_card(resolve_model_name("auto", "cpu")), "seeded")


def rules() -> dict:
    """Name -> (function of the inputs, whether it takes the proxy interior map first)."""
    found = {
        "opening": (postprocess.probability_to_instances, False),
        "watershed": (postprocess.watershed_instances, False),
        "seeded": (seeded_instances, True),
        "seeded-card": (functools.partial(seeded_instances, **_default_card_rule().parameters()), True),
    }
    if has_cv2():
        found["opening-scipy"] = (_opening_scipy, False)
        found["watershed-scipy"] = (_watershed_scipy, False)
    return found


def time_rule(function, inputs: list[tuple[np.ndarray, ...]], repeat: int) -> dict:
    """Best-of-``repeat`` CPU seconds per map, summed; megapixels, nuclei and rates."""
    seconds, nuclei = 0.0, 0
    for arguments in inputs:
        best = np.inf
        for _ in range(repeat):
            started = time.process_time()
            labels = function(*arguments)
            best = min(best, time.process_time() - started)
        seconds += best
        nuclei += int(labels.max())
    megapixels = sum(arguments[0].size for arguments in inputs) / 1e6
    return {"seconds": round(seconds, 4), "megapixels": megapixels, "nuclei": nuclei,
            "mpx_per_s": round(megapixels / max(seconds, 1e-9), 2),
            "nuclei_per_s": round(nuclei / max(seconds, 1e-9), 1),
            "ms_per_map": round(1e3 * seconds / len(inputs), 2)}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cascade-lite", help="folder name of the stored maps")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N maps (0: all)")
    args = parser.parse_args(argv)
    files = sorted((args.work / "probabilities" / args.model).glob("*.npz"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        parser.error(f"no maps under {args.work / 'probabilities' / args.model}; "
                     "run benchmarks/stored_probabilities.py first")
    if cv2 is not None:
        cv2.setNumThreads(1)
    probs = [np.load(path)["prob"] for path in files]
    plain = [(prob,) for prob in probs]
    seeded = [(ndimage.minimum_filter(prob, 5), prob) for prob in probs]
    results = {name: time_rule(function, seeded if interior else plain, args.repeat)
               for name, (function, interior) in rules().items()}
    record = {"benchmark": "instance_speed", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "maps": [path.stem for path in files], "model": args.model, "repeat": args.repeat,
              "timer": "process CPU time, one thread, best of repeat per map",
              "cpu": _cpu_name(), "opencv": has_cv2(),
              "rules": results}
    _print_table(results)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"instance_speed-cpu-{time.strftime('%Y-%m-%d')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")  # noqa: T201 - a script's report
    return path


def _cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def _print_table(results: dict) -> None:
    header = f"{'rule':<16}{'ms/map':>9}{'Mpx/s':>9}{'nuclei/s':>11}{'nuclei':>8}"
    lines = [header] + [f"{name:<16}{row['ms_per_map']:>9.1f}{row['mpx_per_s']:>9.1f}"
                        f"{row['nuclei_per_s']:>11.0f}{row['nuclei']:>8d}" for name, row in results.items()]
    print("\n".join(lines))  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
