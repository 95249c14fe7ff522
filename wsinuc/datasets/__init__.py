"""Annotated nucleus datasets: MoNuSeg 2018 and TNBC, plus patient-level splits.

>>> from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image
>>> root = default_data_root() / "monuseg"                     # doctest: +SKIP
>>> sample = load_monuseg_image(root, "train", list_monuseg_ids(root, "train")[0])  # doctest: +SKIP
>>> sample.image.shape, sample.instances.dtype                 # doctest: +SKIP
((1000, 1000, 3), dtype('int32'))
"""

from wsinuc.datasets.monuseg import (
    iter_monuseg,
    list_monuseg_ids,
    load_monuseg_image,
    read_monuseg_organs,
)
from wsinuc.datasets.monuseg_xml import read_monuseg_mpp, read_monuseg_xml
from wsinuc.datasets.paths import default_data_root, require_dir
from wsinuc.datasets.patients import default_patient, monuseg_patient, tnbc_patient
from wsinuc.datasets.rasterize import rasterize_polygons
from wsinuc.datasets.record import AnnotatedImage, MonusegImage
from wsinuc.datasets.split import patient_split
from wsinuc.datasets.tnbc import list_tnbc_ids, load_tnbc_image

__all__ = [
    "AnnotatedImage",
    "MonusegImage",
    "default_data_root",
    "default_patient",
    "iter_monuseg",
    "list_monuseg_ids",
    "list_tnbc_ids",
    "load_monuseg_image",
    "load_tnbc_image",
    "monuseg_patient",
    "patient_split",
    "rasterize_polygons",
    "read_monuseg_mpp",
    "read_monuseg_organs",
    "read_monuseg_xml",
    "require_dir",
    "tnbc_patient",
]
