"""Which patient (or slide) an image id belongs to, for patient-level splits."""

from __future__ import annotations


def monuseg_patient(image_id: str) -> str:
    """TCGA patient barcode of an id (``"TCGA-21-5784-01Z-00-DX1"`` -> ``"TCGA-21-5784"``).

    Ids that are not TCGA barcodes are their own patient.
    """
    parts = image_id.split("-")
    return "-".join(parts[:3]) if len(parts) >= 3 and parts[0] == "TCGA" else image_id


def tnbc_patient(image_id: str) -> str:
    """Slide prefix of a TNBC id (``"03_4"`` -> ``"03"``); ids without ``_`` are their own."""
    return image_id.split("_", 1)[0]


def default_patient(image_id: str) -> str:
    """TCGA barcode for MoNuSeg ids, slide prefix for ``"<slide>_<n>"`` ids, else the id."""
    if image_id.startswith("TCGA-"):
        return monuseg_patient(image_id)
    return tnbc_patient(image_id)
