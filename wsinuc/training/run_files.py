"""What a training run shows and writes besides its checkpoint: progress bar, log.csv, card fields.

Every run of :func:`wsinuc.training.loop.train_model` with an ``out_dir``
keeps ``log.csv`` (one row per epoch, columns :data:`LOG_COLUMNS`, rewritten
atomically after each epoch), ``best.safetensors`` with its card, and the
checkpoint of :mod:`wsinuc.training.checkpoint`.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wsinuc.training.config import TrainConfig

LOG_COLUMNS = ("epoch", "step", "train_loss", "train_dice", "val_loss", "val_dice", "val_aji",
               "val_f1", "lr", "seconds", "steps_per_s", "outside_share")
LOG_NAME = "log.csv"
BEST_NAME = "best.safetensors"


def write_log(path: Path, rows: list[dict]) -> None:
    """Write the log rows as CSV (columns :data:`LOG_COLUMNS`), replacing the file atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in LOG_COLUMNS})
    os.replace(tmp, path)


def config_card(config: TrainConfig) -> dict:
    """The training settings as a JSON-serialisable dict (for weight cards)."""
    values = dataclasses.asdict(config)
    values["out_dir"] = None if config.out_dir is None else str(config.out_dir)
    return values


def progress_bar(enabled: bool) -> Progress:
    """A transient rich bar per epoch: steps done, running loss, time left."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(),
        disable=not enabled, transient=True,
    )
