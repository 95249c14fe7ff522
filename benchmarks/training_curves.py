"""Draw the validation curves of a training run folder as one PNG.

``wsinuc train --out RUN`` writes one ``log.csv`` per network it trains
(``stage1_tnbc``, ``stage1``, ``stage1_oof/fold<k>``, ``stage2``, or the
baseline's folder). This script reads every ``RUN/**/log.csv`` and draws,
side by side, the training loss and the validation AJI / object F1 against the
optimiser step of each network, so that one can see whether a run was still
improving when it stopped.

Example::

    python benchmarks/training_curves.py training-runs/ib-lite-cpu \\
        --out benchmarks/results/training_curves-cpu-2026-12-01-cascade-ib-lite.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read_logs(run: Path) -> dict[str, list[dict[str, float]]]:
    """``{network folder relative to run: [row, ...]}``; empty cells become absent keys.

    Raises
    ------
    FileNotFoundError
        If ``run`` holds no ``log.csv``.
    """
    logs = {}
    for path in sorted(Path(run).rglob("log.csv")):
        with path.open(newline="") as handle:
            rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
        logs[str(path.parent.relative_to(run))] = rows
    if not logs:
        raise FileNotFoundError(f"{run}: no log.csv below this folder (is it a `wsinuc train --out` folder?)")
    return logs


def plot_logs(logs: dict[str, list[dict[str, float]]], title: str, out: Path) -> Path:
    """Draw training loss and validation AJI / F1 per network into ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, rows in logs.items():
        steps = [row["step"] for row in rows]
        axes[0].plot(steps, [row.get("train_loss") for row in rows], label=name)
        validated = [row for row in rows if "val_aji" in row]
        axes[1].plot([r["step"] for r in validated], [r["val_aji"] for r in validated], marker=".", label=name)
        axes[2].plot([r["step"] for r in validated], [r["val_f1"] for r in validated], marker=".", label=name)
    for axis, ylabel in zip(axes, ("training loss", "validation AJI", "validation object F1")):
        axis.set_xlabel("optimiser step")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> None:
    """Read the run folder's logs and write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the --out folder of `wsinuc train`")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: RUN/curves.png)")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    out = args.out or args.run / "curves.png"
    print(plot_logs(read_logs(args.run), args.title or str(args.run), out))


if __name__ == "__main__":
    main()
