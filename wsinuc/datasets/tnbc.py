"""TNBC (Naylor et al., IEEE TMI 2018): 50 breast-cancer H&E tiles with instance masks.

Layout under ``root`` (the ``tnbc/`` data folder)::

    images/<slide>_<n>.png           RGB, 512x512
    instance_masks/<slide>_<n>.png   uint16 label maps

``<slide>`` (01..11) is the source slide, used as the patient for splits.
The data folder does not record the pixel size, so ``mpp`` is None.
"""

from __future__ import annotations

import re
from pathlib import Path

from wsinuc.datasets.image_io import read_label_map, read_rgb
from wsinuc.datasets.paths import require_dir
from wsinuc.datasets.patients import tnbc_patient
from wsinuc.datasets.record import AnnotatedImage
from wsinuc.errors import DatasetError

TNBC_ORGAN = "Breast"
"""All TNBC tiles are triple-negative breast cancer."""


def list_tnbc_ids(root: str | Path) -> list[str]:
    """Image ids (file stems) under ``images/``, in slide then tile-number order.

    Raises
    ------
    DatasetError
        ``images/`` is missing or holds no ``.png``.
    """
    folder = require_dir(Path(root) / "images", "TNBC images")
    ids = sorted((path.stem for path in folder.glob("*.png")), key=_natural_key)
    if not ids:
        raise DatasetError(folder, "no .png images found")
    return ids


def load_tnbc_image(root: str | Path, image_id: str) -> AnnotatedImage:
    """Load one TNBC tile with its instance map.

    Parameters
    ----------
    root : str or Path
        The ``tnbc/`` folder.
    image_id : str
        File stem, e.g. ``"01_1"``.

    Returns
    -------
    AnnotatedImage
        ``patient`` is the slide prefix (``"01"``), ``organ`` ``"Breast"``, ``mpp`` None.

    Raises
    ------
    DatasetError
        Missing or unreadable image or mask, or mismatched sizes.
    """
    root = Path(root)
    image = read_rgb(root / "images" / f"{image_id}.png")
    mask_path = root / "instance_masks" / f"{image_id}.png"
    instances = read_label_map(mask_path)
    if instances.shape != image.shape[:2]:
        raise DatasetError(
            mask_path, f"mask shape {instances.shape} does not match image shape {image.shape[:2]}"
        )
    return AnnotatedImage(
        image_id=image_id,
        image=image,
        instances=instances,
        mpp=None,
        organ=TNBC_ORGAN,
        patient=tnbc_patient(image_id),
        annotation_source="png",
    )


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)
