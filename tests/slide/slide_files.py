"""Small slide files written with tifffile for the slide tests (helpers, no fixtures).

:func:`write_aperio_pyramid` writes the Aperio SVS layout (tiled baseline, stripped
thumbnail, tiled levels) from arrays the test knows, so what ``read_region``
returns can be compared with what was written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

APERIO_HEADER = "Aperio Image Library v12.0.16 \r\n"


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random uint8 RGB image (no two neighbouring pixels alike, so shifts show)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def smooth_rgb(height: int, width: int) -> np.ndarray:
    """Smooth gradients: survive JPEG compression to within a few grey levels."""
    rows, cols = np.mgrid[0:height, 0:width]
    red = 40 + 160 * cols / max(1, width - 1)
    green = 40 + 160 * rows / max(1, height - 1)
    blue = np.full_like(red, 150.0)
    return np.stack([red, green, blue], axis=2).astype(np.uint8)


def write_aperio_pyramid(
    path: Path,
    levels: list[np.ndarray],
    *,
    description: str = "|AppMag = 20|MPP = 0.5",
    compression: str | None = "zlib",
    tile: int = 128,
) -> Path:
    """Write ``levels`` (level 0 first) as an Aperio-style SVS."""
    height, width = levels[0].shape[:2]
    head = f"{APERIO_HEADER}{width}x{height} [0,0 {width}x{height}] ({tile}x{tile}) RGB"
    options = {"photometric": "rgb", "compression": compression, "metadata": None}
    with tifffile.TiffWriter(path) as writer:
        writer.write(levels[0], tile=(tile, tile), description=head + description, **options)
        writer.write(levels[-1][::2, ::2], description=f"{APERIO_HEADER}thumbnail", **options)
        for level in levels[1:]:
            writer.write(level, tile=(tile, tile), description=f"{APERIO_HEADER}level", **options)
    return path
