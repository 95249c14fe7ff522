"""Write benchmark results: per-image CSV, summary JSON + markdown, match figures."""

from __future__ import annotations

import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries

from wsinuc import __version__
from wsinuc.metrics import match_instances
from wsinuc.writers.overlay import save_png
from wsinuc.writers.atomic import atomic_file

SUMMARY_COLUMNS = ("aji", "f1", "aji_plus", "pq", "dq", "sq", "dice", "aji_true_identities", "aji_true_foreground")
#: Headers of the summary table where the key is not clear enough (see :mod:`wsinuc.metrics.error_budget`).
COLUMN_TITLES = {"aji_true_identities": "AJI, true parting", "aji_true_foreground": "AJI, true mask"}
TP_COLOUR, FP_COLOUR, FN_COLOUR = (0, 200, 0), (230, 0, 0), (0, 90, 255)


def environment() -> dict:
    """Versions, device and date recorded with every result."""
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    return {"wsinuc": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": device, "cpu_count": __import__("os").cpu_count(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_rows_csv(path: Path, rows: list[dict]) -> None:
    """Per-image rows as CSV (columns from the first row)."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def summary_markdown(summary: list[dict], title: str) -> str:
    """A markdown table: our mean per-image metrics, the paper's AJI / F1 beside them.

    The AJI ceilings (:func:`wsinuc.metrics.aji_ceilings`) are columns when
    every row has them (summaries written before them do not).
    """
    columns = [c for c in SUMMARY_COLUMNS if all(c in row for row in summary)]
    header = "| model | images | " + " | ".join(COLUMN_TITLES.get(c, c) for c in columns) + " | paper AJI | paper F1 |"
    lines = [f"### {title}", "", header, "|" + "---|" * (len(columns) + 4)]
    for row in summary:
        ours = " | ".join(f"{row[c]:.3f}" for c in columns)
        paper = " | ".join("-" if row.get(k) is None else f"{row[k]:.2f}" for k in ("paper_aji", "paper_f1"))
        lines.append(f"| {Path(row['model']).name} | {row['images']} | {ours} | {paper} |")
    return "\n".join(lines) + "\n"


def write_summary(out_dir: Path, summary: list[dict], meta: dict) -> Path:
    """``summary.json`` (with environment and settings) and ``summary.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_file(out_dir / "summary.json", "w") as handle:
        json.dump({"meta": meta | {"environment": environment()}, "summary": summary}, handle, indent=2)
    title = f"MoNuSeg {meta.get('split')} ({meta.get('protocol')} protocol)"
    with atomic_file(out_dir / "summary.md", "w") as handle:
        handle.write(summary_markdown(summary, title))
    return out_dir / "summary.md"


def write_table_one(out_dir: Path, table: list[dict], meta: dict) -> str:
    """``table1.json`` (with environment and settings) and ``table1.md``; returns the markdown."""
    from wsinuc.benchmark.table_one import table_one_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"MoNuSeg Table I ({meta.get('protocol')} protocol, mean per-image)"
    markdown = table_one_markdown(table, title)
    with atomic_file(out_dir / "table1.json", "w") as handle:
        json.dump({"meta": meta | {"environment": environment()}, "table": table}, handle, indent=2)
    with atomic_file(out_dir / "table1.md", "w") as handle:
        handle.write(markdown)
    return markdown


def match_figure(image: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Image | ground truth | prediction coloured TP (green), FP (red), FN (blue) at IoU > 0.5."""
    match = match_instances(gt, pred, iou=0.5)
    gt_panel, pred_panel = image.copy(), image.copy()
    gt_panel[find_boundaries(gt, mode="inner")] = (255, 255, 0)
    colours = np.zeros((int(pred.max()) + 1, 3), np.uint8)
    colours[match.pred_ids] = TP_COLOUR
    colours[match.unmatched_pred_ids] = FP_COLOUR
    edges = find_boundaries(pred, mode="inner")
    pred_panel[edges] = colours[pred[edges]]
    missed = np.isin(gt, match.unmatched_gt_ids) & find_boundaries(gt, mode="inner")
    pred_panel[missed] = FN_COLOUR
    gap = np.full((image.shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([image, gap, gt_panel, gap, pred_panel], axis=1)


def save_match_figure(path: Path, image: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> None:
    """Write :func:`match_figure` as PNG (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(path, match_figure(image, gt.astype(np.int64), pred.astype(np.int64)))
