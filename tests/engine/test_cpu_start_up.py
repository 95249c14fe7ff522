"""A CPU run served from the OpenVINO cache imports neither torch nor the model code (nor Dask's distributed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("openvino")

HEAVY = ("torch", "timm", "segmentation_models_pytorch", "torchvision")

_SCRIPT = """
import json, sys
from wsinuc.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    loaded = sorted(set(m.split('.')[0] for m in sys.modules) & set(HEAVY_NAMES))
    print('HEAVY=' + json.dumps(loaded))
"""


def test_a_cached_openvino_cpu_run_imports_no_torch_and_no_distributed(tmp_path, small_slide, colour_model):
    from wsinuc.inference.openvino_cache import openvino_model_path

    openvino_model_path(str(colour_model))  # the cache of this session's WSINUC_CACHE_DIR
    out = tmp_path / "out"
    script = _SCRIPT.replace("HEAVY_NAMES", repr((*HEAVY, "distributed")))
    command = [sys.executable, "-c", script, "segment", str(small_slide), "--model", str(colour_model),
               "--device", "cpu", "--region", "0,0,300,300", "--no-tissue", "--out", str(out), "--quiet"]
    result = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    heavy = json.loads(result.stdout.rsplit("HEAVY=", 1)[1])
    assert heavy == []
    record = json.loads((out / "small" / "run.json").read_text())
    assert record["runtime"]["backend"] == "openvino" and record["counts"]["chunks_run_now"] >= 1


@pytest.mark.timeout(240)
def test_worker_processes_of_a_cached_openvino_cpu_run_import_no_torch(tmp_path, small_slide, colour_model):
    from distributed import Client
    from local_cluster import local_cluster
    from typer.testing import CliRunner

    from wsinuc.cli.app import app
    from wsinuc.inference.openvino_cache import openvino_model_path

    openvino_model_path(str(colour_model))
    with local_cluster(tmp_path / "dask-cwd", workers=1) as cluster:
        result = CliRunner().invoke(app, ["segment", str(small_slide), "--model", str(colour_model), "--device", "cpu",
                                          "--backend", "openvino", "--region", "0,0,300,300", "--no-tissue", "--out",
                                          str(tmp_path / "out"), "--scheduler", cluster.address, "--quiet"])
        assert result.exit_code == 0, result.output
        with Client(cluster.address, timeout="30s") as client:
            heavy = set(HEAVY)  # a lambda travels by value (this test module is not importable there)
            loaded = client.run(lambda: sorted({name.split(".")[0] for name in __import__("sys").modules} & heavy))
    assert len(loaded) == 1 and list(loaded.values()) == [[]]
    assert json.loads((tmp_path / "out" / "small" / "run.json").read_text())["counts"]["chunks_run_now"] >= 1
