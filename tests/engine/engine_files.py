"""Helpers shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_labels(zarr_path: Path) -> np.ndarray:
    """Level 0 of a labels.ome.zarr written by the engine."""
    import zarr

    return zarr.open_group(zarr_path, mode="r")["0"][...]
