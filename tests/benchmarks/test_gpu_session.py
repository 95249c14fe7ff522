"""benchmarks/gpu/session.sh end to end on the CPU, at toy size, as a lent GPU would run it.

Call 1 (``train``, with the model check of ``check_cuda.py``) and call 2 (``collect``) run with their own ``$OUT``
folders on fake MoNuSeg/TNBC data, with the packages the GPU image lacks
(dask, zarr, openslide, imagecodecs, geojson) made unimportable; then the
parts come back through ``ship.py receive`` and ``assemble.py`` builds a
loadable cascade from the two stages.

``WSINUC_DEVICE_PYTHON=/path/to/python`` runs the two calls with another
interpreter and installs the carried wheels (``.whl``) the way the device
does, e.g. a Python 3.12 venv with the device's torch 2.11 and numpy 2.5
(``benchmarks/gpu/README.md``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from wsinuc.models import load_model

GPU = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu"
ABSENT_ON_DEVICE = ("dask", "distributed", "zarr", "openslide", "imagecodecs", "geojson")
BLOCKER = f"""
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT_ON_DEVICE!r}:
            raise ImportError("not on the GPU image: " + name)
sys.meta_path.insert(0, _Absent())
"""


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, GPU / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tile(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.full((size, size, 3), (225, 175, 205), np.uint8)
    labels = np.zeros((size, size), np.uint16)
    for label, (top, left) in enumerate(rng.integers(4, size - 20, size=(size // 20, 2)), start=1):
        labels[top : top + 12, left : left + 12] = label
    image[labels > 0] = (70, 40, 120)
    return image, labels


def _fake_data(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 5), ("test", 2)):
        for folder in ("images", "instance_masks"):
            (root / "monuseg" / split / folder).mkdir(parents=True)
        for i in range(count):
            image_id = f"TCGA-{split[:2].upper()}-{i:04d}-01Z-00-DX1"
            image, labels = _tile(rng, 520)  # > 1024 - 520: reflect-padded like a MoNuSeg tile
            tifffile.imwrite(root / "monuseg" / split / "images" / f"{image_id}.tif", image)
            Image.fromarray(labels).save(root / "monuseg" / split / "instance_masks" / f"{image_id}.png")
    for folder in ("images", "instance_masks"):
        (root / "tnbc" / folder).mkdir(parents=True)
    image, labels = _tile(rng, 256)
    Image.fromarray(image).save(root / "tnbc" / "images" / "01_1.png")
    Image.fromarray(labels).save(root / "tnbc" / "instance_masks" / "01_1.png")


def _run_step(step: str, tmp_path: Path, out: Path, **changes: str) -> subprocess.CompletedProcess:
    (tmp_path / "blocker").mkdir(exist_ok=True)
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    device_python = os.environ.get("WSINUC_DEVICE_PYTHON")
    env = {
        **os.environ, "OUT": str(out), "RUNS": str(tmp_path / "runs"),
        "PY": device_python or sys.executable,
        "DATA": str(tmp_path / "data"), "TESTDATA": str(tmp_path / "testdata"),
        "WHEELS": str(GPU.parents[1] / ".whl") if device_python else str(tmp_path / "no-wheels"),
        "SITE": str(tmp_path / "site"),
        "PYTHONPATH": str(tmp_path / "blocker"), "DEVICE": "cpu", "PRESET": "cascade-lite",
        "BASELINES": "unet-lite", "MINUTES": "3", "BASELINE_MINUTES": "3", "PRETRAIN": "1",
        "EPOCHS": "2", "FOLDS": "2", "BATCH": "4", "THREADS": "1",
        "EXTRA_TRAIN_ARGS": "--max-steps 1", "CHECK_MODELS": "cascade-lite", **changes,
    }
    out.mkdir()
    return subprocess.run(
        ["bash", str(GPU / "session.sh"), step], env=env, capture_output=True, text=True,
        timeout=400,
    )


def test_both_calls_bring_back_a_cascade_that_assembles_and_loads(tmp_path):
    _fake_data(tmp_path / "data")
    _fake_data(tmp_path / "testdata")
    first = _run_step("train", tmp_path, tmp_path / "out1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "out1" / "stage1.manifest.json").is_file()
    assert len(list((tmp_path / "out1").iterdir())) <= 8
    second = _run_step("collect", tmp_path, tmp_path / "out2")
    assert second.returncode == 0, second.stdout + second.stderr

    back = tmp_path / "back"
    ship = _script("ship")
    assert ship.main(["receive", str(tmp_path / "out1"), str(tmp_path / "out2"), "--into", str(back)]) == 0
    table = json.loads((back / "table1" / "table1.json").read_text())
    assert "cascade-lite" in json.dumps(table) and "unet-lite" in json.dumps(table)
    assert (back / "logs" / "unet-lite" / "unet-lite.json").is_file()
    check = json.loads((back / "logs" / "cuda_check.json").read_text())
    assert [row["ok"] for row in check["models"]] == [True]

    assemble = _script("assemble")
    assert assemble.main([str(back), "--preset", "cascade-lite", "--out", str(tmp_path / "w" / "cl")]) == 0
    card = json.loads((tmp_path / "w" / "cl.json").read_text())
    assert card["name"] == "cascade-lite" and card["epochs"]["finetune"] == 2
    assert "device_table1" in card and card["mpp"] == 0.25
    assert {"val", "test", "val_watershed", "test_watershed"} <= set(card["metrics"])
    assert card["metrics"]["test"]["images"] == 2 and card["postprocess"] in ("opening", "watershed")
    assert "paper protocol" in card["metrics"]["protocol"]
    model = load_model(tmp_path / "w" / "cl")
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1, 64, 64)


def test_collect_without_the_runs_of_call_1_says_the_machine_was_given_back(tmp_path):
    result = _run_step("collect", tmp_path, tmp_path / "out")
    assert result.returncode == 2
    assert "given back" in result.stdout


@pytest.mark.parametrize("step", ["", "evaluate"])
def test_an_unknown_step_is_refused(tmp_path, step):
    result = _run_step(step, tmp_path, tmp_path / "out")
    assert result.returncode == 2 and "usage" in result.stderr


def test_a_failed_training_still_sends_its_logs_back(tmp_path):
    _fake_data(tmp_path / "data")
    result = _run_step("train", tmp_path, tmp_path / "out", PRESET="no-such-preset", BASELINES="")
    assert result.returncode == 1
    assert "sending the logs only" in result.stdout
    back = tmp_path / "back"
    assert _script("ship").main(["receive", str(tmp_path / "out"), "--into", str(back)]) == 0
    assert "--preset" in (back / "logs" / "no-such-preset.log").read_text()


def test_a_run_trained_here_assembles_with_its_card_and_an_engine_table(tmp_path):
    from wsinuc.models import save_weights
    from wsinuc.training.cascade import assemble_cascade, build_stage, stage_configs

    stage1, stage2 = (build_stage(config, seed=3) for config in stage_configs("cascade-lite"))
    cascade = assemble_cascade("cascade-lite", stage1, stage2)
    run = tmp_path / "run"
    save_weights(stage1, run / "stage1", {"name": "stage1"})
    save_weights(stage2, run / "stage2", {"name": "stage2"})
    (run / "cascade-lite.json").write_text(json.dumps({"name": "cascade-lite", "metrics": {"val_aji": 0.4}}))
    rows = [{"model": "cascade-lite", "postprocess": post, "val_aji": aji, "val_f1": 0.5, "val_images": 6,
             "test_aji": 0.6, "test_f1": 0.7, "test_images": 14, "train_aji": 0.5, "train_f1": 0.6,
             "train_images": 24}
            for post, aji in (("opening", 0.45), ("watershed", 0.41))]
    table = {"meta": {"protocol": "engine", "precision": "fp32", "environment": {"device": "x86_64"}},
             "table": rows}
    (tmp_path / "table1.json").write_text(json.dumps(table))
    out = tmp_path / "w" / "cl"
    args = [str(run), "--card", str(run / "cascade-lite.json"), "--table", str(tmp_path / "table1.json"),
            "--preset", "cascade-lite", "--out", str(out)]
    assert _script("assemble").main(args) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["postprocess"] == "opening" and card["metrics"]["val"]["aji"] == 0.45
    assert card["metrics"]["test"] == {"aji": 0.6, "f1": 0.7, "images": 14}
    assert card["metrics"]["train"] == {"aji": 0.5, "f1": 0.6, "images": 24}
    assert card["metrics"]["training_validation"] == {"val_aji": 0.4}
    assert card["table1"] == table and "device_table1" not in card  # no device table came back
    assert "engine protocol" in card["metrics"]["protocol"] and "fp32" in card["metrics"]["protocol"]
    loaded = load_model(out).state_dict()
    assert all(torch.equal(loaded[k], v.half().float()) for k, v in cascade.state_dict().items())

    device_table = {**table, "meta": {**table["meta"], "protocol": "paper"}}  # the device's own, kept beside
    (run / "table1").mkdir()
    (run / "table1" / "table1.json").write_text(json.dumps(device_table))
    assert _script("assemble").main([*args[:-1], str(tmp_path / "w" / "cl2")]) == 0
    card = json.loads((tmp_path / "w" / "cl2.json").read_text())
    assert card["table1"] == table and card["device_table1"] == device_table
    assert "engine protocol" in card["metrics"]["protocol"]  # the metrics come from --table


def test_assemble_with_a_missing_card_is_a_one_line_error(tmp_path, capsys):
    args = [str(tmp_path), "--card", str(tmp_path / "none.json"), "--out", str(tmp_path / "w")]
    assert _script("assemble").main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("assemble.py: error:") and "\n" not in err
