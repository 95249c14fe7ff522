"""MoNuSeg reader: ImageScope XML parsing, loading tiles, and agreement with the provided PNGs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from wsinuc.datasets import (
    iter_monuseg,
    list_monuseg_ids,
    load_monuseg_image,
    rasterize_polygons,
    read_monuseg_mpp,
    read_monuseg_xml,
)
from wsinuc.datasets.image_io import read_label_map
from wsinuc.errors import DatasetError

TRAIN_ID = "TCGA-AA-0001-01Z-00-DX1"
OTHER_ID = "TCGA-AA-0002-01Z-00-DX1"


def region(region_id: int, points: list[tuple[float, float]]) -> str:
    vertices = "".join(f'<Vertex X="{x}" Y="{y}"/>' for x, y in points)
    return f'<Region Id="{region_id}"><Attributes/><Vertices>{vertices}</Vertices></Region>'


def imagescope_xml(regions: list[str], mpp: str | None = "0.2520") -> str:
    attribute = f' MicronsPerPixel="{mpp}"' if mpp is not None else ""
    return (
        f'<?xml version="1.0"?><Annotations{attribute}><Annotation Id="1"><Regions>'
        + "".join(regions)
        + "</Regions></Annotation></Annotations>"
    )


SQUARE = [(4, 4), (12, 4), (12, 10), (4, 10)]  # columns 4..11, rows 4..9: 48 pixels
TRIANGLE = [(20, 2), (28, 2), (20, 10)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_monuseg(root: Path, size: int = 32) -> Path:
    """A two-image train split: one with XML, one with only a PNG mask, plus counts.csv."""
    images = root / "train" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id in (TRAIN_ID, OTHER_ID):
        pixels = rng.integers(0, 255, (size, size, 3), np.uint8)
        tifffile.imwrite(images / f"{image_id}.tif", pixels)
    write(root / "train" / "annotations" / f"{TRAIN_ID}.xml", imagescope_xml([region(1, SQUARE)]))
    mask = np.zeros((size, size), np.uint16)
    mask[1:4, 1:6] = 7
    (root / "train" / "instance_masks").mkdir()
    Image.fromarray(mask).save(root / "train" / "instance_masks" / f"{OTHER_ID}.png")
    write(
        root / "counts.csv",
        "split,image_id,organ_(train_only),xml_regions\n"
        f"train,{TRAIN_ID},Liver,1\ntrain,{OTHER_ID},,\n",
    )
    return root


# ---------------------------------------------------------------- XML parsing


def test_xml_regions_are_read_in_order_with_their_pixel_size(tmp_path):
    path = write(tmp_path / "a.xml", imagescope_xml([region(1, SQUARE), region(2, TRIANGLE)]))
    polygons, mpp = read_monuseg_xml(path)
    assert mpp == pytest.approx(0.252)
    assert [p.shape for p in polygons] == [(4, 2), (3, 2)]
    np.testing.assert_array_equal(polygons[1], np.array(TRIANGLE, dtype=float))


def test_xml_square_rasterises_to_its_pixel_count(tmp_path):
    path = write(tmp_path / "a.xml", imagescope_xml([region(1, SQUARE)]))
    polygons, _ = read_monuseg_xml(path)
    labels = rasterize_polygons(polygons, (16, 16))
    assert (labels == 1).sum() == 8 * 6
    assert labels[4, 4] == 1 and labels[9, 11] == 1 and labels[10, 12] == 0


def test_xml_without_microns_per_pixel_gives_mpp_none(tmp_path):
    path = write(tmp_path / "a.xml", imagescope_xml([region(1, SQUARE)], mpp=None))
    polygons, mpp = read_monuseg_xml(path)
    assert mpp is None and len(polygons) == 1
    assert read_monuseg_mpp(path) is None


def test_unusable_microns_per_pixel_is_ignored_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "a.xml", imagescope_xml([region(1, SQUARE)], mpp="n/a"))
    with caplog.at_level(logging.WARNING):
        _, mpp = read_monuseg_xml(path)
    assert mpp is None
    assert "MicronsPerPixel" in caplog.text


def test_read_mpp_only_reads_the_root_attribute(tmp_path):
    path = write(tmp_path / "a.xml", imagescope_xml([region(1, SQUARE)], mpp="0.2468")[:-40])
    assert read_monuseg_mpp(path) == pytest.approx(0.2468)  # truncated body is never reached


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (imagescope_xml([region(1, SQUARE)])[:-30], "corrupt or truncated XML"),
        (imagescope_xml([]), "no <Region>"),
        (imagescope_xml([region(1, [(1, 1), ("abc", 2), (3, 3)])]), "vertex with X='abc'"),
        (
            '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "boom">]><Annotations>&e;</Annotations>',
            "refused for safety",
        ),
    ],
)
def test_bad_xml_raises_a_one_line_dataset_error_naming_the_file(tmp_path, text, problem):
    path = write(tmp_path / "broken.xml", text)
    with pytest.raises(DatasetError, match=problem) as caught:
        read_monuseg_xml(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert caught.value.path == path


def test_missing_xml_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_monuseg_xml(tmp_path / "absent.xml")


# ---------------------------------------------------------------- loading a split


def test_ids_are_listed_sorted(tmp_path):
    root = make_monuseg(tmp_path)
    assert list_monuseg_ids(root, "train") == [TRAIN_ID, OTHER_ID]


def test_auto_source_prefers_xml_and_fills_metadata(tmp_path):
    sample = load_monuseg_image(make_monuseg(tmp_path), "train", TRAIN_ID)
    assert sample.annotation_source == "xml"
    assert sample.image.shape == (32, 32, 3) and sample.image.dtype == np.uint8
    assert sample.instances.dtype == np.int32 and (sample.instances == 1).sum() == 48
    assert sample.mpp == pytest.approx(0.252)
    assert sample.organ == "Liver"
    assert sample.patient == "TCGA-AA-0001"


def test_auto_source_falls_back_to_png_without_xml(tmp_path):
    sample = load_monuseg_image(make_monuseg(tmp_path), "train", OTHER_ID)
    assert sample.annotation_source == "png"
    assert sorted(np.unique(sample.instances)) == [0, 7]
    assert (sample.instances == 7).sum() == 15
    assert sample.mpp is None and sample.organ is None


def test_forced_sources(tmp_path):
    root = make_monuseg(tmp_path)
    with pytest.raises(DatasetError, match="XML not found"):
        load_monuseg_image(root, "train", OTHER_ID, source="xml")
    with pytest.raises(DatasetError, match="PNG not found"):
        load_monuseg_image(root, "train", TRAIN_ID, source="png")


def test_mask_of_the_wrong_size_is_rejected(tmp_path):
    root = make_monuseg(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(
        root / "train" / "instance_masks" / f"{OTHER_ID}.png"
    )
    with pytest.raises(DatasetError, match="does not match image shape"):
        load_monuseg_image(root, "train", OTHER_ID)


def test_image_without_any_annotation_is_reported(tmp_path):
    root = make_monuseg(tmp_path)
    (root / "train" / "instance_masks" / f"{OTHER_ID}.png").unlink()
    with pytest.raises(DatasetError, match="no annotation for"):
        load_monuseg_image(root, "train", OTHER_ID)


def test_missing_split_folder_and_bad_arguments(tmp_path):
    root = make_monuseg(tmp_path)
    with pytest.raises(DatasetError, match="MoNuSeg test images folder not found"):
        list_monuseg_ids(root, "test")
    with pytest.raises(ValueError, match="'val'"):
        list_monuseg_ids(root, "val")
    with pytest.raises(ValueError, match="'mask'"):
        load_monuseg_image(root, "train", TRAIN_ID, source="mask")


def test_iter_monuseg_yields_every_tile(tmp_path):
    samples = list(iter_monuseg(make_monuseg(tmp_path), "train"))
    assert [s.image_id for s in samples] == [TRAIN_ID, OTHER_ID]


# ---------------------------------------------------------------- the real data


def best_match_iou(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean over reference nuclei of the best IoU with any candidate nucleus (sparse overlap)."""
    ref, cand = reference.ravel().astype(np.int64), candidate.ravel().astype(np.int64)
    both = (ref > 0) & (cand > 0)
    pairs, overlap = np.unique(ref[both] * (cand.max() + 1) + cand[both], return_counts=True)
    ref_id, cand_id = pairs // (cand.max() + 1), pairs % (cand.max() + 1)
    union = np.bincount(ref)[ref_id] + np.bincount(cand)[cand_id] - overlap
    best = np.zeros(ref.max() + 1)
    np.maximum.at(best, ref_id, overlap / union)
    present = np.unique(ref[ref > 0])
    return float(best[present].mean())


def test_best_match_iou_helper_on_a_hand_made_case():
    reference = np.array([[1, 1, 0, 2], [1, 1, 0, 2]])
    candidate = np.array([[3, 3, 3, 0], [3, 3, 0, 0]])
    # nucleus 1: 4 px inside 5-px candidate -> 4/5; nucleus 2: no overlap -> 0.
    assert best_match_iou(reference, candidate) == pytest.approx((0.8 + 0.0) / 2)


@pytest.fixture(scope="module")
def xml_and_png_pairs(monuseg_root):
    folder = monuseg_root / "train"
    pairs = []
    for xml_path in sorted((folder / "annotations").glob("*.xml")):
        png = read_label_map(folder / "instance_masks" / f"{xml_path.stem}.png")
        polygons, _ = read_monuseg_xml(xml_path)
        pairs.append((xml_path.stem, rasterize_polygons(polygons, png.shape), png))
    return pairs


def test_xml_rasterisation_agrees_with_the_provided_masks(xml_and_png_pairs):
    assert len(xml_and_png_pairs) == 13
    for image_id, from_xml, png in xml_and_png_pairs:
        n_xml, n_png = len(np.unique(from_xml)) - 1, len(np.unique(png)) - 1
        assert abs(n_xml - n_png) <= 0.01 * n_png, f"{image_id}: {n_xml} vs {n_png} nuclei"
        iou = best_match_iou(png, from_xml)
        assert iou >= 0.95, f"{image_id}: mean best-match IoU {iou:.3f}"


def test_xml_rasterisation_reproduces_the_mask_foreground_exactly(xml_and_png_pairs):
    for image_id, from_xml, png in xml_and_png_pairs:
        differing = int(((from_xml > 0) != (png > 0)).sum())
        assert differing == 0, f"{image_id}: {differing} foreground pixels differ"


def test_real_split_sizes(monuseg_root):
    assert len(list_monuseg_ids(monuseg_root, "train")) == 30
    assert len(list_monuseg_ids(monuseg_root, "test")) == 14


def test_real_tiles_load_from_xml_or_png(monuseg_root):
    with_xml = load_monuseg_image(monuseg_root, "train", "TCGA-21-5784-01Z-00-DX1")
    assert with_xml.annotation_source == "xml" and with_xml.organ == "Liver"
    assert with_xml.mpp == pytest.approx(0.2527)
    assert with_xml.instances.max() == 398  # counts.csv: 398 regions
    png_only = load_monuseg_image(monuseg_root, "train", "TCGA-18-5592-01Z-00-DX1")
    assert png_only.annotation_source == "png" and png_only.mpp is None
    assert len(np.unique(png_only.instances)) - 1 == 480  # counts.csv: 480 mask ids
    assert png_only.image.shape == (1000, 1000, 3) and png_only.patient == "TCGA-18-5592"
