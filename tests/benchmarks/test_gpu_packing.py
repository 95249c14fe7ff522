"""benchmarks/gpu/pack_data.py: the packed copy reads back as the same data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from wsinuc.datasets import list_monuseg_ids, load_monuseg_image

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "pack_data.py"


def _script():
    spec = importlib.util.spec_from_file_location("pack_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_data(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, ids in (("train", ["TCGA-A", "TCGA-B"]), ("test", ["TCGA-C"])):
        (root / "monuseg" / split / "images").mkdir(parents=True)
        (root / "monuseg" / split / "instance_masks").mkdir(parents=True)
        for image_id in ids:
            image = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
            tifffile.imwrite(root / "monuseg" / split / "images" / f"{image_id}.tif", image)
            labels = np.zeros((96, 80), np.uint16)
            labels[10:30, 5:25], labels[50:70, 40:75] = 1, 300
            Image.fromarray(labels).save(root / "monuseg" / split / "instance_masks" / f"{image_id}.png")
    (root / "tnbc" / "images").mkdir(parents=True)
    (root / "tnbc" / "images" / "01_1.png").write_bytes(b"tnbc stand-in")


def test_pack_then_unpack_gives_the_same_images_and_labels(tmp_path):
    pack_data = _script()
    _fake_data(tmp_path / "data")
    out = tmp_path / "packed"
    pack_data.main(["pack", "--data", str(tmp_path / "data"), "--out", str(out)])
    assert sorted(p.name for p in (out / "monuseg" / "train" / "images").iterdir()) == [
        "TCGA-A.webp", "TCGA-B.webp"]
    assert not (out / "monuseg" / "test").exists()
    assert (out / "tnbc" / "images" / "01_1.png").read_bytes() == b"tnbc stand-in"
    pack_data.main(["unpack", "--out", str(out)])
    source, packed = tmp_path / "data" / "monuseg", out / "monuseg"
    assert list_monuseg_ids(packed, "train") == list_monuseg_ids(source, "train")
    for image_id in list_monuseg_ids(source, "train"):
        original, copy = load_monuseg_image(source, "train", image_id), load_monuseg_image(packed, "train", image_id)
        assert np.array_equal(original.image, copy.image)
        assert np.array_equal(original.instances, copy.instances)
