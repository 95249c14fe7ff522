"""Fixtures: small slide files written with tifffile (see slide_files.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from slide_files import random_rgb, write_aperio_pyramid


@pytest.fixture
def pyramid_levels() -> list[np.ndarray]:
    """Three random levels of a 640 x 480 slide with downsamples 1, 2, 4."""
    return [random_rgb(480, 640, 1), random_rgb(240, 320, 2), random_rgb(120, 160, 3)]


@pytest.fixture
def lossless_svs(tmp_path: Path, pyramid_levels: list[np.ndarray]) -> Path:
    """zlib-compressed Aperio pyramid of :func:`pyramid_levels` (MPP 0.5, 20x)."""
    return write_aperio_pyramid(tmp_path / "lossless.svs", pyramid_levels)


@pytest.fixture
def write_pyramid(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``write_pyramid(name, levels, **options)`` writes an Aperio pyramid in tmp_path."""

    def write(name: str, levels: list[np.ndarray], **options: object) -> Path:
        return write_aperio_pyramid(tmp_path / name, levels, **options)

    return write
