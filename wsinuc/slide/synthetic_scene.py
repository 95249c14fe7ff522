"""A fake H&E scene that can be rendered window by window (pure, no I/O).

The scene is defined analytically in level-0 pixel coordinates: a few
pink tissue ellipses on white glass, and dark purple elliptical nuclei
scattered over the tissue. Nuclei are generated per square cell from a
random generator seeded by ``(seed, cell_y, cell_x)``, so any window can be
rendered without holding a list of every nucleus of the slide, and the same
window always renders to the same pixels (pixel noise is a hash of the
absolute pixel position).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

GLASS_RGB = (243.0, 242.0, 246.0)
STROMA_RGB = (232.0, 165.0, 200.0)
NUCLEUS_RGB = (88.0, 48.0, 136.0)
NUCLEUS_RADIUS_UM = (3.0, 6.0)
NUCLEUS_SPACING_UM = 14.0
CELL_UM = 64.0
STROMA_WAVELENGTH_UM = (41.0, 57.0)


@dataclass(frozen=True)
class TissueEllipse:
    """An elliptical tissue region in level-0 pixels (angle in radians)."""

    cx: float
    cy: float
    rx: float
    ry: float
    angle: float


@dataclass(frozen=True)
class SyntheticScene:
    """Everything that defines a synthetic slide's pixels.

    Attributes
    ----------
    width, height : int
        Level-0 size in pixels.
    mpp : float
        Pixel size in um/px (sets nucleus radii and texture scale).
    seed : int
        Seed of tissue layout, nuclei and pixel noise.
    tissue : tuple of TissueEllipse
        Tissue regions; everything else is glass.
    """

    width: int
    height: int
    mpp: float
    seed: int
    tissue: tuple[TissueEllipse, ...]

    @property
    def cell_size(self) -> float:
        """Side of the square cells nuclei are generated in, in level-0 pixels."""
        return CELL_UM / self.mpp

    @property
    def max_radius(self) -> float:
        """Largest nucleus semi-axis in level-0 pixels."""
        return NUCLEUS_RADIUS_UM[1] / self.mpp


def make_scene(width: int, height: int, mpp: float, seed: int) -> SyntheticScene:
    """Lay out one to three overlapping tissue ellipses well inside the slide."""
    rng = np.random.default_rng([seed, 0])
    count = int(rng.integers(1, 4))
    ellipses = []
    for _ in range(count):
        ellipses.append(
            TissueEllipse(
                cx=float(rng.uniform(0.38, 0.62) * width),
                cy=float(rng.uniform(0.38, 0.62) * height),
                rx=float(rng.uniform(0.2, 0.3) * width),
                ry=float(rng.uniform(0.2, 0.3) * height),
                angle=float(rng.uniform(0.0, math.pi)),
            )
        )
    return SyntheticScene(width, height, float(mpp), int(seed), tuple(ellipses))


def tissue_at(scene: SyntheticScene, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """True where level-0 coordinates ``(xs, ys)`` fall inside tissue (broadcasts)."""
    xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    inside = np.zeros(np.broadcast_shapes(xs.shape, ys.shape), dtype=bool)
    for ellipse in scene.tissue:
        cos, sin = math.cos(ellipse.angle), math.sin(ellipse.angle)
        dx, dy = xs - ellipse.cx, ys - ellipse.cy
        u, v = (dx * cos + dy * sin) / ellipse.rx, (-dx * sin + dy * cos) / ellipse.ry
        inside |= u * u + v * v <= 1.0
    return inside


@functools.lru_cache(maxsize=4096)
def cell_nuclei(scene: SyntheticScene, cell_x: int, cell_y: int) -> np.ndarray:
    """Nuclei of one cell as rows ``(cx, cy, rx, ry, angle, darkness)`` in level-0 pixels.

    Only nuclei whose centre lies in tissue are kept. Results are cached
    (neighbouring tiles share cells) and read-only.
    """
    rng = np.random.default_rng([scene.seed, 1, cell_y, cell_x])
    expected = (CELL_UM / NUCLEUS_SPACING_UM) ** 2
    count = int(rng.poisson(expected))
    size = scene.cell_size
    centres_x = (cell_x + rng.random(count)) * size
    centres_y = (cell_y + rng.random(count)) * size
    radius_x = rng.uniform(*NUCLEUS_RADIUS_UM, count) / scene.mpp
    radius_y = radius_x * rng.uniform(0.6, 1.0, count)
    angle = rng.uniform(0.0, math.pi, count)
    darkness = rng.uniform(0.75, 1.0, count)
    nuclei = np.stack([centres_x, centres_y, radius_x, radius_y, angle, darkness], axis=1)
    nuclei = nuclei[tissue_at(scene, centres_x, centres_y)]
    nuclei.flags.writeable = False
    return nuclei


def nuclei_near(scene: SyntheticScene, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Nuclei (rows as in :func:`cell_nuclei`) whose bounding circle meets ``[x0, x1) x [y0, y1)``."""
    margin, size = scene.max_radius, scene.cell_size
    # Tissue lies inside the slide, so cells outside it hold no nuclei.
    last_x, last_y = math.ceil(scene.width / size) - 1, math.ceil(scene.height / size) - 1
    first_x, first_y = max(0, math.floor((x0 - margin) / size)), max(0, math.floor((y0 - margin) / size))
    cells_x = range(first_x, min(last_x, math.floor((x1 + margin) / size)) + 1)
    cells_y = range(first_y, min(last_y, math.floor((y1 + margin) / size)) + 1)
    found = [cell_nuclei(scene, cx, cy) for cy in cells_y for cx in cells_x]
    nuclei = np.concatenate(found) if found else np.empty((0, 6))
    reach = nuclei[:, 2]
    keep = (
        (nuclei[:, 0] + reach > x0) & (nuclei[:, 0] - reach < x1)
        & (nuclei[:, 1] + reach > y0) & (nuclei[:, 1] - reach < y1)
    )
    return nuclei[keep]


def _pixel_noise(seed: int, level_xs: np.ndarray, level_ys: np.ndarray, amplitude: int) -> np.ndarray:
    """Deterministic integer noise in ``[-amplitude, amplitude]`` from absolute pixel indices."""
    key = (level_xs.astype(np.uint64) * np.uint64(73856093)) ^ (
        level_ys.astype(np.uint64) * np.uint64(19349663)
    ) ^ np.uint64((seed * 83492791) % (2**32))
    key = (key ^ (key >> np.uint64(13))) * np.uint64(0x5BD1E995)
    return ((key >> np.uint64(16)) % np.uint64(2 * amplitude + 1)).astype(np.float32) - amplitude


def _background(scene: SyntheticScene, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Glass and textured stroma colours at level-0 coordinates, float32 ``(h, w, 3)``."""
    tissue = tissue_at(scene, xs, ys)
    wave_x, wave_y = (w / scene.mpp for w in STROMA_WAVELENGTH_UM)
    texture = np.sin(2 * math.pi * xs / wave_x).astype(np.float32) * np.sin(2 * math.pi * ys / wave_y).astype(
        np.float32
    )
    glass = np.asarray(GLASS_RGB, np.float32)
    stroma = np.asarray(STROMA_RGB, np.float32)
    amplitude = np.asarray([8.0, 18.0, 10.0], np.float32)
    image = np.empty(tissue.shape + (3,), np.float32)
    for channel in range(3):
        image[..., channel] = np.where(
            tissue, stroma[channel] + texture * amplitude[channel], glass[channel]
        )
    return image


def _nucleus_window(
    nucleus: np.ndarray, x0: float, y0: float, scale: float, shape: tuple[int, int]
) -> tuple[slice, slice, np.ndarray] | None:
    """Rows, columns and inside-mask of one nucleus in an image starting at level-0 ``(x0, y0)``.

    A nucleus smaller than a pixel still darkens the pixel holding its centre.
    """
    cx, cy, rx, ry, angle = (float(v) for v in nucleus[:5])
    height, width = shape
    col0 = max(0, math.floor((cx - rx - x0) / scale))
    col1 = min(width, math.ceil((cx + rx - x0) / scale) + 1)
    row0 = max(0, math.floor((cy - rx - y0) / scale))
    row1 = min(height, math.ceil((cy + rx - y0) / scale) + 1)
    if col0 >= col1 or row0 >= row1:
        return None
    px = x0 + (np.arange(col0, col1) + 0.5) * scale - cx
    py = (y0 + (np.arange(row0, row1) + 0.5) * scale - cy)[:, np.newaxis]
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = (px * cos + py * sin) / rx, (-px * sin + py * cos) / ry
    inside = u * u + v * v <= 1.0
    centre_col, centre_row = math.floor((cx - x0) / scale), math.floor((cy - y0) / scale)
    if not inside.any() and col0 <= centre_col < col1 and row0 <= centre_row < row1:
        inside[centre_row - row0, centre_col - col0] = True
    return slice(row0, row1), slice(col0, col1), inside


def _paint_nuclei(image: np.ndarray, nuclei: np.ndarray, x0: float, y0: float, scale: float) -> None:
    """Paint nuclei into ``image`` (whose pixel (0, 0) starts at level-0 ``(x0, y0)``) in place."""
    colour = np.asarray(NUCLEUS_RGB, np.float32)
    for nucleus in nuclei:
        window = _nucleus_window(nucleus, x0, y0, scale, image.shape[:2])
        if window is not None:
            rows, cols, inside = window
            image[rows, cols][inside] = colour * float(nucleus[5])


def render_region(
    scene: SyntheticScene, x0: float, y0: float, width: int, height: int, scale: float
) -> np.ndarray:
    """Render ``(height, width, 3)`` uint8 pixels of the scene.

    Parameters
    ----------
    scene : SyntheticScene
        What to draw.
    x0, y0 : float
        Level-0 position of the window's top-left corner.
    width, height : int
        Output size in pixels.
    scale : float
        Level-0 pixels per output pixel (the level's downsample).

    Returns
    -------
    np.ndarray
        ``(height, width, 3)`` uint8 RGB; pixels outside the slide are glass.
    """
    level_cols = np.round(x0 / scale).astype(np.int64) + np.arange(width)
    level_rows = np.round(y0 / scale).astype(np.int64) + np.arange(height)
    xs = ((level_cols + 0.5) * scale)[np.newaxis, :]
    ys = ((level_rows + 0.5) * scale)[:, np.newaxis]
    image = _background(scene, xs, ys)
    nuclei = nuclei_near(scene, x0, y0, x0 + width * scale, y0 + height * scale)
    _paint_nuclei(image, nuclei, float(level_cols[0] * scale), float(level_rows[0] * scale), scale)
    noise = _pixel_noise(scene.seed, level_cols[np.newaxis, :], level_rows[:, np.newaxis], 4)
    return np.clip(image + noise[..., np.newaxis], 0, 255).astype(np.uint8)
