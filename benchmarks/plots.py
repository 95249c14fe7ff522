"""Draw the benchmark results as PNG figures.

Reads every ``results/*.json`` written by ``throughput.py``,
``memory_scaling.py`` and ``vs_tiatoolbox.py`` and draws, into the same
folder:

- ``throughput_stages.png``: seconds per megapixel (0.25 um/px) of each
  stage, stacked, for every throughput run, with the model-only time of the
  same megapixels beside it;
- ``memory_scaling.png``: peak RSS and wall time against tissue area;
- ``vs_tiatoolbox.png``: wall time of wsinuc's and TIAToolbox's engines.

Example::

    python benchmarks/plots.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import RESULTS_DIR, console

STAGE_LABELS = {"read": "read/decode", "inference": "inference", "postprocess": "post-process",
                "polygons": "polygons", "measure": "measure", "write": "chunk results",
                "pass2_outputs": "pass-2 outputs", "other": "plan, mask, start-up"}


def load_results(folder: Path) -> dict[str, list[dict]]:
    """Result records of ``folder`` grouped by benchmark, sorted by file name."""
    groups: dict[str, list[dict]] = {"throughput": [], "memory_scaling": [], "vs_tiatoolbox": []}
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("benchmark") in groups:
            groups[record["benchmark"]].append(record | {"file": path.stem})
    return groups


def run_name(record: dict) -> str:
    """Short axis label: device, model and slide size."""
    parameters = record["parameters"]
    size = parameters.get("size") or "-".join(map(str, parameters.get("sizes", [])))
    return f"{record['device']['device_slug']}\n{Path(record['model']['argument']).name}\n{size} px"


def plot_throughput(records: list[dict], path: Path) -> None:
    """Stacked seconds per Mpx of each stage, and model-only seconds per Mpx."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(2.2 + 1.6 * len(records), 4.5))
    for index, record in enumerate(records):
        e2e = record["end_to_end"]
        megapixels = max(e2e["megapixels_at_0.25"], 1e-9)
        bottom = 0.0
        for key, label in STAGE_LABELS.items():
            height = e2e["stage_seconds"].get(key, 0.0) / megapixels
            axis.bar(index - 0.18, height, 0.34, bottom=bottom, color=f"C{list(STAGE_LABELS).index(key)}",
                     label=label if index == 0 else None)
            bottom += height
        only = record["model_only"]["mpx_per_s"]
        axis.bar(index + 0.18, 1 / only if only else 0.0, 0.34, color="0.3", hatch="//",
                 label="model only" if index == 0 else None)
        axis.plot(index - 0.18, e2e["wall_s"] / megapixels, "k_", markersize=22,
                  label="end-to-end wall" if index == 0 else None)
    axis.set_xticks(range(len(records)), [run_name(record) for record in records], fontsize=8)
    axis.set_ylabel("seconds per megapixel at 0.25 um/px\n(stages summed over workers)")
    axis.set_title("wsinuc: where the time goes")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(figure, path)


def plot_memory(records: list[dict], path: Path) -> None:
    """Peak RSS (left axis) and wall time (right axis) against tissue megapixels."""
    import matplotlib.pyplot as plt

    figure, rss_axis = plt.subplots(figsize=(6.5, 4.5))
    time_axis = rss_axis.twinx()
    for index, record in enumerate(records):
        runs = record["runs"]
        area = [run["tissue_megapixels_at_0.25"] for run in runs]
        name = run_name(record).replace("\n", " ")
        rss_axis.plot(area, [run["peak_rss_mib"]["process_tree_sampled"] for run in runs], "o-",
                      color=f"C{index}", label=f"peak RSS, {name}")
        time_axis.plot(area, [run["wall_s"] for run in runs], "s--", color=f"C{index}", alpha=0.6,
                       label=f"wall time, {name}")
    rss_axis.set_xlabel("tissue megapixels at 0.25 um/px")
    rss_axis.set_ylabel("peak RSS, process tree (MiB)")
    highest = max(run["peak_rss_mib"]["process_tree_sampled"] for record in records for run in record["runs"])
    rss_axis.set_ylim(0, 1.25 * highest)
    time_axis.set_ylabel("wall time (s)")
    time_axis.set_ylim(bottom=0)
    handles = rss_axis.get_legend_handles_labels()
    extra = time_axis.get_legend_handles_labels()
    rss_axis.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="lower right")
    rss_axis.set_title("wsinuc: memory stays flat while time follows the tissue")
    _save(figure, path)


def plot_vs_tiatoolbox(records: list[dict], path: Path) -> None:
    """Wall time of both engines per comparison run, with the nucleus agreement on top."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(2.2 + 1.6 * len(records), 4.5))
    for index, record in enumerate(records):
        ours, theirs = record["wsinuc"]["wall_s"], record["tiatoolbox"]["wall_s"]
        axis.bar(index - 0.18, ours, 0.34, color="C0", label="wsinuc" if index == 0 else None)
        axis.bar(index + 0.18, theirs, 0.34, color="C1", label="TIAToolbox" if index == 0 else None)
        agreement = engine_f1(record["agreement"])
        text = "no nuclei" if agreement is None else f"F1 {agreement:.3f}"
        axis.annotate(text, (index, max(ours, theirs)), ha="center", va="bottom", fontsize=8)
    axis.set_xticks(range(len(records)), [run_name(record) for record in records], fontsize=8)
    axis.set_ylabel("wall time (s)")
    axis.set_title("Same network and slide: wsinuc vs TIAToolbox engine")
    axis.legend(fontsize=8)
    _save(figure, path)


def engine_f1(agreement: dict) -> float | None:
    """Nucleus F1 between the two engines (records before issue 22 keep the matched fraction instead)."""
    pair = agreement.get("nuclei_wsinuc_labels_vs_tiatoolbox")
    return pair["all"]["f1"] if pair else agreement.get("matched_fraction_of_reference")


def _save(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Draw every figure for which results exist; return the exit code."""
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of result JSON and figures")
    args = parser.parse_args(argv)
    groups = load_results(args.results)
    drawers = {"throughput": (plot_throughput, "throughput_stages.png"),
               "memory_scaling": (plot_memory, "memory_scaling.png"),
               "vs_tiatoolbox": (plot_vs_tiatoolbox, "vs_tiatoolbox.png")}
    drawn = 0
    for kind, (draw, name) in drawers.items():
        if groups[kind]:
            draw(groups[kind], Path(args.results) / name)
            console.print(f"wrote {Path(args.results) / name} ({len(groups[kind])} runs)")
            drawn += 1
    if not drawn:
        console.print(f"[yellow]no result files in {args.results}[/yellow]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
