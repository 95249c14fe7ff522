"""The training curve drawn from log.csv."""

from __future__ import annotations

import pytest

from wsinuc.training.plot import plot_log, read_log, write_curve
from wsinuc.training.run_files import write_log


def _log(tmp_path):
    rows = [{"epoch": 1, "step": 4, "train_loss": 0.9, "train_dice": 0.4},
            {"epoch": 2, "step": 8, "train_loss": 0.7, "val_loss": 0.6, "val_aji": 0.3, "val_dice": 0.5}]
    write_log(tmp_path / "log.csv", rows)
    return tmp_path / "log.csv"


def test_read_log_skips_blank_cells(tmp_path):
    series = read_log(_log(tmp_path))
    assert series["train_loss"] == [(4, 0.9), (8, 0.7)] and series["val_aji"] == [(8, 0.3)]


def test_the_curve_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_log(_log(tmp_path), tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert write_curve(tmp_path) == tmp_path / "curve.png"
