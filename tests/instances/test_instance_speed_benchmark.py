"""Smoke run of benchmarks/instance_speed.py on two small synthetic probability maps."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_instance_speed_writes_rates_for_every_rule(tmp_path):
    folder = tmp_path / "work" / "probabilities" / "toy"
    folder.mkdir(parents=True)
    rows, cols = np.mgrid[:96, :96]
    for index in range(2):
        prob = (((rows - 30 - index) ** 2 + (cols - 40) ** 2) <= 150).astype(np.float32)
        np.savez(folder / f"map{index}.npz", prob=prob, image=np.zeros((96, 96, 3), np.uint8))
    sys.path.insert(0, str(BENCHMARKS))
    try:
        script = importlib.import_module("instance_speed")
    finally:
        sys.path.remove(str(BENCHMARKS))
    path = script.main(["--model", "toy", "--work", str(tmp_path / "work"), "--results",
                        str(tmp_path / "results"), "--repeat", "1"])
    record = json.loads(Path(path).read_text())
    assert record["maps"] == ["map0", "map1"]
    for name in ("opening", "watershed", "seeded", "seeded-card"):
        row = record["rules"][name]
        assert row["megapixels"] == 2 * 96 * 96 / 1e6
        assert row["mpx_per_s"] > 0
    assert record["rules"]["opening"]["nuclei"] == 2
