"""The training curve: ``log.csv`` drawn as loss, Dice and AJI against the optimiser step.

:func:`plot_log` needs matplotlib (the ``plots`` extra); :func:`write_curve`
is what the training loop calls after each log write, and does nothing
(logged once at debug level) where matplotlib is not installed.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

CURVE_NAME = "curve.png"
PANELS = (("loss", ("train_loss", "val_loss")), ("Dice", ("train_dice", "val_dice")),
          ("AJI / F1", ("val_aji", "val_f1")))


def read_log(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Column -> [(step, value)] of a ``log.csv``, blank cells skipped."""
    series: dict[str, list[tuple[int, float]]] = {}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row["step"]))
            for key, value in row.items():
                if key != "step" and value not in ("", None):
                    series.setdefault(key, []).append((step, float(value)))
    return series


def plot_log(log_path: Path, png_path: Path, title: str | None = None) -> Path:
    """Draw ``log_path`` into ``png_path`` (written to a temporary name, then renamed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    series = read_log(log_path)
    figure, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.4), constrained_layout=True)
    for axis, (label, columns) in zip(axes, PANELS):
        for column in columns:
            points = series.get(column, [])
            if points:
                steps, values = zip(*points)
                axis.plot(steps, values, marker="." if len(points) < 50 else None, label=column)
        axis.set_xlabel("optimiser step")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    figure.suptitle(title or str(Path(log_path).parent.name))
    tmp = Path(png_path).with_name(Path(png_path).name + ".tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    os.replace(tmp, png_path)
    return Path(png_path)


def write_curve(out_dir: Path, log_name: str = "log.csv") -> Path | None:
    """``out_dir/curve.png`` from ``out_dir/log.csv``; None where matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        logger.debug("matplotlib is not installed: no %s (pip install 'wsinuc[plots]')", CURVE_NAME)
        return None
    return plot_log(Path(out_dir) / log_name, Path(out_dir) / CURVE_NAME)
