"""A CPU run served from the OpenVINO cache imports neither torch nor the model code."""

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


def test_a_cached_openvino_cpu_run_imports_no_torch(tmp_path, small_slide, colour_model):
    from wsinuc.inference.openvino_cache import openvino_model_path

    openvino_model_path(str(colour_model))  # the cache of this session's WSINUC_CACHE_DIR
    out = tmp_path / "out"
    command = [sys.executable, "-c", _SCRIPT.replace("HEAVY_NAMES", repr(HEAVY)), "segment", str(small_slide),
               "--model", str(colour_model), "--device", "cpu", "--region", "0,0,300,300", "--out", str(out),
               "--quiet"]
    result = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    heavy = json.loads(result.stdout.rsplit("HEAVY=", 1)[1])
    assert heavy == []
    record = json.loads((out / "small" / "run.json").read_text())
    assert record["runtime"]["backend"] == "openvino"
