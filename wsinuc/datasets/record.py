"""The in-memory form of one annotated image, shared by every dataset reader."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class AnnotatedImage:
    """An H&E image with one id per nucleus.

    Attributes
    ----------
    image_id : str
        File stem, e.g. ``"TCGA-21-5784-01Z-00-DX1"`` or ``"01_1"``.
    image : np.ndarray
        uint8 ``(H, W, 3)`` RGB.
    instances : np.ndarray
        int32 ``(H, W)``: 0 background, one positive id per nucleus.
    mpp : float or None
        Microns per pixel when the annotation records it, else None.
    organ : str or None
        Tissue of origin when known (e.g. ``"Liver"``).
    patient : str
        Group used for patient-level splits (TCGA patient barcode, TNBC slide).
    annotation_source : str or None
        Where ``instances`` came from: ``"xml"`` (rasterised polygons),
        ``"png"`` (a provided label map) or None when unknown.
    """

    image_id: str
    image: np.ndarray
    instances: np.ndarray
    mpp: float | None
    organ: str | None
    patient: str
    annotation_source: str | None = None

    def __post_init__(self) -> None:
        _validate_pair(self.image_id, self.image, self.instances)


MonusegImage = AnnotatedImage
"""Name used by the rest of the project for a MoNuSeg sample."""


def _validate_pair(image_id: str, image: np.ndarray, instances: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{image_id}: image must be uint8 (H, W, 3), got {image.dtype} {image.shape}"
        )
    if instances.dtype != np.int32 or instances.shape != image.shape[:2]:
        raise ValueError(
            f"{image_id}: instances must be int32 {image.shape[:2]}, "
            f"got {instances.dtype} {instances.shape}"
        )
