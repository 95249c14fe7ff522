"""Write synthetic test slides: an Aperio-style pyramidal TIFF and plain TIFFs.

:func:`write_synthetic_slide` streams tiles from a generator into tifffile,
so writing a 40k x 40k slide never holds more than one tile of pixels. The
file follows the Aperio SVS layout that OpenSlide and tifffile both
recognise: tiled baseline, stripped thumbnail, then tiled levels, each 4x
smaller, with an ImageDescription starting "Aperio Image Library".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

from wsinuc.slide.synthetic_scene import SyntheticScene, make_scene, render_region

logger = logging.getLogger(__name__)

LEVEL_FACTOR = 4
THUMBNAIL_MAX_SIZE = 768
THUMBNAIL_BAND = 64
JPEG_QUALITY = 90
COMPRESSIONS = ("jpeg", "zlib", "lzw", "none")
BIGTIFF_BYTES = 2**31


def _validate_slide_args(
    width: int, height: int, mpp: float, tile: int, levels: int, compression: str
) -> None:
    for name, value in (("width", width), ("height", height), ("tile", tile), ("levels", levels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if tile % 16:
        raise ValueError(f"tile must be a multiple of 16 (TIFF rule), got {tile}")
    if not 0 < mpp < 100:
        raise ValueError(f"mpp must be in (0, 100) um/px, got {mpp!r}")
    if min(width, height) < LEVEL_FACTOR ** (levels - 1):
        smallest = LEVEL_FACTOR ** (levels - 1)
        raise ValueError(f"levels={levels} needs a side of at least {smallest} px, got {width}x{height}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")


def level_sizes(width: int, height: int, levels: int) -> list[tuple[int, int]]:
    """``(w, h)`` of each pyramid level, each :data:`LEVEL_FACTOR` times smaller."""
    return [
        (math.ceil(width / LEVEL_FACTOR**k), math.ceil(height / LEVEL_FACTOR**k)) for k in range(levels)
    ]


def scene_tiles(
    scene: SyntheticScene, size: tuple[int, int], downsample: float, tile: int
) -> Iterator[np.ndarray]:
    """Yield the ``(tile, tile, 3)`` tiles of one level, row by row; padding is glass."""
    width, height = size
    for row in range(0, height, tile):
        for col in range(0, width, tile):
            pixels = render_region(scene, col * downsample, row * downsample, tile, tile, downsample)
            pixels[max(0, height - row) :, :] = 255
            pixels[:, max(0, width - col) :] = 255
            yield pixels


def aperio_description(scene: SyntheticScene, size: tuple[int, int], tile: int | None, codec: str) -> str:
    """ImageDescription of one page in Aperio's format (parsed by OpenSlide and tifffile)."""
    width, height = scene.width, scene.height
    parts = [f"{width}x{height} [0,0 {width}x{height}]"]
    if tile:
        parts.append(f"({tile}x{tile})")
    if size != (width, height):
        parts.append(f"-> {size[0]}x{size[1]}")
    parts.append(f"{codec}/RGB Q={JPEG_QUALITY}")
    return (
        "Aperio Image Library v12.0.16 \r\n" + " ".join(parts)
        + f"|AppMag = {round(10.0 / scene.mpp)}|MPP = {scene.mpp:g}"
        + "|Filename = wsinuc-synthetic|Title = synthetic H&E"
    )


def _tiff_options(compression: str, mpp: float, downsample: float) -> dict:
    codec = None if compression == "none" else compression
    options = {
        "photometric": "rgb",
        "compression": codec,
        "metadata": None,
        "resolution": (1e4 / (mpp * downsample), 1e4 / (mpp * downsample)),
        "resolutionunit": "CENTIMETER",
    }
    if codec == "jpeg":
        options["compressionargs"] = {"level": JPEG_QUALITY}
    return options


def write_synthetic_slide(
    path: str | Path,
    width: int,
    height: int,
    *,
    mpp: float = 0.25,
    tile: int = 256,
    seed: int = 0,
    levels: int = 3,
    compression: str = "jpeg",
) -> Path:
    """Write an Aperio-style pyramidal tiled TIFF of fake H&E tissue.

    Parameters
    ----------
    path : str or Path
        Output file (conventionally ``.svs`` or ``.tif``); overwritten.
    width, height : int
        Level-0 size in pixels.
    mpp : float
        Pixel size in um/px, written as ``MPP =`` and as the TIFF resolution.
    tile : int
        Tile side, a multiple of 16.
    seed : int
        Seed of the tissue layout, nuclei and noise.
    levels : int
        Number of pyramid levels, each 4x smaller than the previous.
    compression : str
        "jpeg", "zlib", "lzw" or "none".

    Returns
    -------
    Path
        ``path``.
    """
    _validate_slide_args(width, height, mpp, tile, levels, compression)
    path = Path(path)
    scene = make_scene(int(width), int(height), float(mpp), int(seed))
    sizes = level_sizes(scene.width, scene.height, levels)
    codec = compression.upper()
    bigtiff = width * height * 3 * 1.4 > BIGTIFF_BYTES
    with tifffile.TiffWriter(path, bigtiff=bigtiff) as writer:
        for index, size in enumerate(sizes):
            downsample = float(LEVEL_FACTOR**index)
            writer.write(
                scene_tiles(scene, size, downsample, tile),
                shape=(size[1], size[0], 3), dtype=np.uint8, tile=(tile, tile),
                description=aperio_description(scene, size, tile, codec),
                **_tiff_options(compression, mpp, downsample),
            )
            if index == 0:
                _write_thumbnail(writer, scene, compression, codec)
    logger.info("wrote synthetic slide %s (%dx%d, %d levels)", path, width, height, levels)
    return path


def _write_thumbnail(
    writer: tifffile.TiffWriter, scene: SyntheticScene, compression: str, codec: str
) -> None:
    """Aperio's second page: a small stripped overview (an associated image, not a level)."""
    downsample = max(scene.width, scene.height) / THUMBNAIL_MAX_SIZE
    downsample = max(downsample, 1.0)
    size = (max(1, round(scene.width / downsample)), max(1, round(scene.height / downsample)))
    pixels = np.empty((size[1], size[0], 3), np.uint8)
    for row in range(0, size[1], THUMBNAIL_BAND):  # bands keep float intermediates small
        rows = min(THUMBNAIL_BAND, size[1] - row)
        pixels[row : row + rows] = render_region(scene, 0.0, row * downsample, size[0], rows, downsample)
    writer.write(
        pixels, description=aperio_description(scene, size, None, codec),
        **_tiff_options(compression, scene.mpp, downsample),
    )


def write_tiff_image(
    path: str | Path, array: np.ndarray, *, resolution_dpi: float | None = None
) -> Path:
    """Write a plain (stripped, uncompressed) grey, RGB or RGBA TIFF.

    Parameters
    ----------
    path : str or Path
        Output file; overwritten.
    array : np.ndarray
        ``(h, w)``, ``(h, w, 3)`` or ``(h, w, 4)`` uint8; a 4th channel is
        written as unassociated alpha.
    resolution_dpi : float or None
        Pixels per inch to record (72 mimics image editors); None writes
        resolution unit NONE.

    Returns
    -------
    Path
        ``path``.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or array.shape[2:] not in ((), (3,), (4,)):
        raise ValueError(f"expected uint8 (h, w), (h, w, 3) or (h, w, 4), got {array.dtype} {array.shape}")
    options: dict = {"metadata": None, "photometric": "minisblack" if array.ndim == 2 else "rgb"}
    if array.ndim == 3 and array.shape[2] == 4:
        options["extrasamples"] = ("unassalpha",)
    if resolution_dpi is None:
        options.update(resolution=(1, 1), resolutionunit="NONE")
    else:
        options.update(resolution=(resolution_dpi, resolution_dpi), resolutionunit="INCH")
    tifffile.imwrite(Path(path), array, **options)
    return Path(path)
