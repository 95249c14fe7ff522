"""TNBC reader: ids in slide order, tiles with masks, slide as patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wsinuc.datasets import list_tnbc_ids, load_tnbc_image
from wsinuc.errors import DatasetError


def make_tnbc(root: Path, ids: tuple[str, ...] = ("02_1", "01_10", "01_2")) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "instance_masks").mkdir()
    for k, image_id in enumerate(ids):
        rgb = np.full((16, 16, 3), 200, np.uint8)
        Image.fromarray(rgb).save(root / "images" / f"{image_id}.png")
        mask = np.zeros((16, 16), np.uint16)
        mask[2:5, 2:5] = 1
        mask[8:12, 8:10] = 300 + k  # ids above 255 survive the uint16 round trip
        Image.fromarray(mask).save(root / "instance_masks" / f"{image_id}.png")
    return root


def test_ids_are_in_slide_then_tile_number_order(tmp_path):
    assert list_tnbc_ids(make_tnbc(tmp_path)) == ["01_2", "01_10", "02_1"]


def test_tile_loads_with_mask_and_slide_as_patient(tmp_path):
    sample = load_tnbc_image(make_tnbc(tmp_path), "01_10")
    assert sample.image.shape == (16, 16, 3) and sample.image.dtype == np.uint8
    assert sample.instances.dtype == np.int32
    assert sorted(np.unique(sample.instances)) == [0, 1, 301]
    assert (sample.instances == 301).sum() == 8
    assert sample.patient == "01" and sample.organ == "Breast" and sample.mpp is None
    assert sample.annotation_source == "png"


def test_rgba_image_is_read_as_rgb(tmp_path):
    root = make_tnbc(tmp_path)
    Image.fromarray(np.full((16, 16, 4), 90, np.uint8)).save(root / "images" / "02_1.png")
    assert load_tnbc_image(root, "02_1").image.shape == (16, 16, 3)


def test_missing_mask_and_wrong_size_mask_raise_dataset_error(tmp_path):
    root = make_tnbc(tmp_path)
    (root / "instance_masks" / "02_1.png").unlink()
    with pytest.raises(DatasetError, match="02_1.png: file not found"):
        load_tnbc_image(root, "02_1")
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(root / "instance_masks" / "01_2.png")
    with pytest.raises(DatasetError, match="does not match image shape"):
        load_tnbc_image(root, "01_2")


def test_corrupt_image_raises_dataset_error(tmp_path):
    root = make_tnbc(tmp_path)
    (root / "images" / "01_2.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read image"):
        load_tnbc_image(root, "01_2")


def test_missing_folder_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="TNBC images folder not found"):
        list_tnbc_ids(tmp_path)


def test_real_tnbc_has_50_tiles_from_11_slides(tnbc_root):
    ids = list_tnbc_ids(tnbc_root)
    assert len(ids) == 50
    assert {image_id.split("_")[0] for image_id in ids} == {f"{s:02d}" for s in range(1, 12)}
    sample = load_tnbc_image(tnbc_root, ids[0])
    assert sample.image.shape == (512, 512, 3) and sample.instances.shape == (512, 512)
    assert sample.instances.max() > 0
