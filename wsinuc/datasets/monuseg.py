"""MoNuSeg 2018: list, load and iterate the annotated tiles.

Layout under ``root`` (the ``monuseg/`` data folder)::

    <split>/images/<id>.tif            RGB tiles, 1000x1000
    <split>/annotations/<id>.xml       ImageScope polygons (all test, 13/30 train)
    <split>/instance_masks/<id>.png    uint16 label maps (all 30 train)
    counts.csv                         per-image organ (train)

Instances come from the XML when present (rasterised with
:func:`~wsinuc.datasets.rasterize.rasterize_polygons`, which reproduces the
published masks exactly), else from the PNG.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wsinuc.datasets.image_io import read_label_map, read_rgb
from wsinuc.datasets.monuseg_xml import read_monuseg_mpp, read_monuseg_xml
from wsinuc.datasets.paths import require_dir
from wsinuc.datasets.patients import monuseg_patient
from wsinuc.datasets.rasterize import rasterize_polygons
from wsinuc.datasets.record import AnnotatedImage
from wsinuc.errors import DatasetError

SPLITS = ("train", "test")
SOURCES = ("auto", "xml", "png")
COUNTS_FILE = "counts.csv"


def list_monuseg_ids(root: str | Path, split: str) -> list[str]:
    """Sorted image ids (file stems) of a MoNuSeg split.

    Parameters
    ----------
    root : str or Path
        The ``monuseg/`` folder.
    split : {"train", "test"}
        Which split.

    Raises
    ------
    DatasetError
        The split's ``images/`` folder is missing or holds no ``.tif``.
    """
    _validate_choice("split", split, SPLITS)
    folder = require_dir(Path(root) / split / "images", f"MoNuSeg {split} images")
    ids = sorted(path.stem for path in folder.glob("*.tif"))
    if not ids:
        raise DatasetError(folder, "no .tif images found")
    return ids


def load_monuseg_image(
    root: str | Path, split: str, image_id: str, *, source: str = "auto"
) -> AnnotatedImage:
    """Load one MoNuSeg tile with its instance map.

    Parameters
    ----------
    root : str or Path
        The ``monuseg/`` folder.
    split : {"train", "test"}
        Which split.
    image_id : str
        File stem, e.g. ``"TCGA-21-5784-01Z-00-DX1"``.
    source : {"auto", "xml", "png"}
        Where instances come from: ``"auto"`` takes the XML when present,
        else the PNG; the others insist on one.

    Returns
    -------
    AnnotatedImage
        ``mpp`` from the XML (None without one), ``organ`` from
        ``counts.csv`` (None when absent), ``patient`` the TCGA patient barcode.

    Raises
    ------
    DatasetError
        Missing image or annotation, unreadable file, or mask/image size mismatch.
    """
    _validate_choice("split", split, SPLITS)
    _validate_choice("source", source, SOURCES)
    folder = Path(root) / split
    image = read_rgb(folder / "images" / f"{image_id}.tif")
    xml_path = folder / "annotations" / f"{image_id}.xml"
    png_path = folder / "instance_masks" / f"{image_id}.png"
    chosen = _choose_source(source, xml_path, png_path, image_id)
    if chosen == "xml":
        polygons, mpp = read_monuseg_xml(xml_path)
        instances = rasterize_polygons(polygons, image.shape[:2])
    else:
        instances = _read_matching_mask(png_path, image.shape[:2])
        mpp = read_monuseg_mpp(xml_path) if xml_path.is_file() else None
    return AnnotatedImage(
        image_id=image_id,
        image=image,
        instances=instances,
        mpp=mpp,
        organ=read_monuseg_organs(root).get(image_id),
        patient=monuseg_patient(image_id),
        annotation_source=chosen,
    )


def iter_monuseg(root: str | Path, split: str, *, source: str = "auto") -> Iterator[AnnotatedImage]:
    """Yield every tile of a split, one at a time, in :func:`list_monuseg_ids` order."""
    for image_id in list_monuseg_ids(root, split):
        yield load_monuseg_image(root, split, image_id, source=source)


def read_monuseg_organs(root: str | Path) -> dict[str, str]:
    """Map image id to organ from ``counts.csv``; empty when the file is absent.

    Raises
    ------
    DatasetError
        ``counts.csv`` exists but has no ``image_id`` or organ column.
    """
    path = Path(root) / COUNTS_FILE
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        columns = reader.fieldnames or []
        organ_column = next((c for c in columns if c.lower().startswith("organ")), None)
        if "image_id" not in columns or organ_column is None:
            raise DatasetError(path, f"expected columns image_id and organ, found {columns}")
        return {row["image_id"]: row[organ_column] for row in reader if row[organ_column]}


def _choose_source(source: str, xml_path: Path, png_path: Path, image_id: str) -> str:
    if source == "auto":
        if xml_path.is_file():
            return "xml"
        if png_path.is_file():
            return "png"
        raise DatasetError(
            xml_path.parent.parent,
            f"no annotation for {image_id}: neither annotations/{xml_path.name} "
            f"nor instance_masks/{png_path.name} exists",
        )
    if source == "png" and not png_path.is_file():
        raise DatasetError(png_path, "instance mask PNG not found")
    return source


def _read_matching_mask(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    instances = read_label_map(path)
    if instances.shape != shape:
        raise DatasetError(path, f"mask shape {instances.shape} does not match image shape {shape}")
    return instances


def _validate_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
