"""Every model shipped in the package segments a real MoNuSeg tile from the command line, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tifffile
from engine_files import read_labels

from wsinuc.datasets import list_monuseg_ids, load_monuseg_image
from wsinuc.metrics import aggregated_jaccard_index
from wsinuc.models import list_bundled_weights
from wsinuc.models.weights import bundled_weights_dir, weights_sha256

SIDE = 384  # a corner of a 1000 px test image: ~100 nuclei, a few seconds for the paper-width cascade on 2 cores


@pytest.mark.parametrize("name", list_bundled_weights())
def test_shipped_model_finds_the_nuclei_of_a_test_tile_offline(tmp_path, monuseg_root, name):
    image_id = list_monuseg_ids(monuseg_root, "test")[0]
    sample = load_monuseg_image(monuseg_root, "test", image_id)
    tile = tmp_path / "tile.tif"
    tifffile.imwrite(tile, sample.image[:SIDE, :SIDE])
    dead = "http://127.0.0.1:9"  # any attempt to reach the network through a proxy-aware client fails
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HTTPS_PROXY": dead, "HTTP_PROXY": dead, "https_proxy": dead,
           "http_proxy": dead, "NO_PROXY": "", "no_proxy": ""}
    command = [sys.executable, "-m", "wsinuc", "segment", str(tile), "--mpp", "0.25", "--no-tissue",
               "--model", name, "--device", "cpu", "--out", str(tmp_path / "out"), "--outputs", "zarr", "--quiet"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr

    record = json.loads((tmp_path / "out" / "tile" / "run.json").read_text())
    card = json.loads((bundled_weights_dir() / f"{name}.json").read_text())
    assert record["model"] == name and record["weights_sha256"] == weights_sha256(card) is not None
    labels = read_labels(tmp_path / "out" / "tile" / "labels.ome.zarr")
    assert labels.shape == (SIDE, SIDE) and labels.max() > 20
    # An untrained or broken network scores near 0; the shipped ones score 0.5-0.6 on whole test images.
    assert aggregated_jaccard_index(sample.instances[:SIDE, :SIDE], labels) > 0.35
