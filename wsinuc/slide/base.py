"""The one slide interface every backend implements.

A backend subclasses :class:`Slide`, fills a :class:`SlideMetadata` at open
time and implements :meth:`Slide._read` (an in-range request, already
validated) and :meth:`Slide.close`. Argument checks, the thumbnail, the
context manager and the mpp override live here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

from wsinuc.slide.mpp import Mpp

THUMBNAIL_SOURCE_BLOCK = 2048
"""Largest side (level pixels) read at once while building a thumbnail."""


@dataclass(frozen=True)
class SlideMetadata:
    """What a backend learns about a slide when it opens it.

    Attributes
    ----------
    path : Path
        The slide file.
    backend : str
        Backend name ("openslide", "tifffile", "pil", "tiatoolbox").
    vendor : str
        Format as the backend names it ("aperio", "generic-tiff", "ome", "png", ...).
    level_dimensions : tuple of (int, int)
        ``(width, height)`` of each pyramid level, level 0 first.
    level_downsamples : tuple of float
        Level-0 pixels per level pixel, 1.0 first.
    mpp : tuple of float or None
        Level-0 ``(mpp_x, mpp_y)`` in um/px, None when unknown.
    objective_power : float or None
        Scanner objective magnification, None when unknown.
    """

    path: Path
    backend: str
    vendor: str
    level_dimensions: tuple[tuple[int, int], ...]
    level_downsamples: tuple[float, ...]
    mpp: Mpp | None
    objective_power: float | None


def with_mpp(metadata: SlideMetadata, mpp: Mpp | None) -> SlideMetadata:
    """Return ``metadata`` with its pixel size replaced when ``mpp`` is given."""
    return metadata if mpp is None else replace(metadata, mpp=mpp)


def thumbnail_size(dimensions: tuple[int, int], max_size: int) -> tuple[int, int]:
    """Size ``(w, h)`` of a thumbnail whose longer side is ``max_size`` (never upscaled)."""
    width, height = dimensions
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def snap_to_level(x: int, y: int, downsample: float) -> tuple[int, int]:
    """Level-0 position of the level pixel holding level-0 ``(x, y)``.

    That is ``floor(x / ds) * ds``, rounded up so that dividing it by ``ds``
    again lands on the same level pixel.
    """
    level_x, level_y = math.floor(x / downsample), math.floor(y / downsample)
    return level_to_base(level_x, downsample), level_to_base(level_y, downsample)


def level_to_base(level_coordinate: int, downsample: float) -> int:
    """Smallest level-0 integer coordinate whose ``floor(. / ds)`` is ``level_coordinate``."""
    return math.ceil(level_coordinate * downsample - 1e-9)


def best_level_for_downsample(downsamples: tuple[float, ...], downsample: float) -> int:
    """Index of the coarsest level whose downsample does not exceed ``downsample``."""
    candidates = [i for i, d in enumerate(downsamples) if d <= downsample * (1 + 1e-6)]
    return max(candidates, key=lambda i: downsamples[i]) if candidates else 0


class Slide:
    """A whole-slide image (or a plain image) opened for reading.

    Attributes are read-only views of :class:`SlideMetadata`. Use
    :func:`wsinuc.slide.open_slide` to get one; use it as a context manager
    or call :meth:`close`.
    """

    def __init__(self, metadata: SlideMetadata) -> None:
        self._metadata = metadata

    @property
    def metadata(self) -> SlideMetadata:
        """Everything known about the slide, as a frozen dataclass."""
        return self._metadata

    @property
    def path(self) -> Path:
        return self._metadata.path

    @property
    def backend(self) -> str:
        return self._metadata.backend

    @property
    def vendor(self) -> str:
        return self._metadata.vendor

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 ``(width, height)``."""
        return self._metadata.level_dimensions[0]

    @property
    def level_count(self) -> int:
        return len(self._metadata.level_dimensions)

    @property
    def level_dimensions(self) -> list[tuple[int, int]]:
        return list(self._metadata.level_dimensions)

    @property
    def level_downsamples(self) -> list[float]:
        return list(self._metadata.level_downsamples)

    @property
    def mpp(self) -> Mpp | None:
        """Level-0 ``(mpp_x, mpp_y)`` in um/px, or None when unknown."""
        return self._metadata.mpp

    @property
    def objective_power(self) -> float | None:
        return self._metadata.objective_power

    def read_region(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        """Read a ``(h, w, 3)`` uint8 RGB region.

        Parameters
        ----------
        x, y : int
            Top-left corner in level-0 pixels (may lie outside the slide); the
            region starts at level pixel ``floor(x / downsample)``.
        w, h : int
            Size of the region in pixels of ``level`` (both > 0).
        level : int
            Pyramid level, 0 is full resolution.

        Returns
        -------
        np.ndarray
            ``(h, w, 3)`` uint8; transparent and out-of-slide pixels are white.

        Raises
        ------
        ValueError
            When ``w``/``h`` are not positive integers or ``level`` does not exist.
        SlideError
            When the file cannot be decoded.
        """
        self._validate_region(x, y, w, h, level)
        return self._read(int(x), int(y), int(w), int(h), int(level))

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """Return an RGB thumbnail whose longer side is at most ``max_size``.

        The thumbnail is built block by block from the coarsest level that is
        still at least as large, so memory stays bounded even on a
        single-level slide.
        """
        if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 1:
            raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
        out_w, out_h = thumbnail_size(self.dimensions, int(max_size))
        downsample = min(self.dimensions[0] / out_w, self.dimensions[1] / out_h)
        level = best_level_for_downsample(self._metadata.level_downsamples, downsample)
        return self._resample_level(level, out_w, out_h)

    def _resample_level(self, level: int, out_w: int, out_h: int) -> np.ndarray:
        level_w, level_h = self._metadata.level_dimensions[level]
        level_ds = self._metadata.level_downsamples[level]
        scale_x, scale_y = level_w / out_w, level_h / out_h
        block = max(1, int(THUMBNAIL_SOURCE_BLOCK / max(scale_x, scale_y)))
        out = np.empty((out_h, out_w, 3), dtype=np.uint8)
        for oy in range(0, out_h, block):
            for ox in range(0, out_w, block):
                oy1, ox1 = min(oy + block, out_h), min(ox + block, out_w)
                sx0, sy0 = math.floor(ox * scale_x), math.floor(oy * scale_y)
                sx1 = min(level_w, max(sx0 + 1, math.floor(ox1 * scale_x)))
                sy1 = min(level_h, max(sy0 + 1, math.floor(oy1 * scale_y)))
                source = self._read(
                    level_to_base(sx0, level_ds), level_to_base(sy0, level_ds), sx1 - sx0, sy1 - sy0, level
                )
                if source.shape[:2] == (oy1 - oy, ox1 - ox):  # a level no larger than the thumbnail
                    out[oy:oy1, ox:ox1] = source
                    continue
                resized = Image.fromarray(source).resize((ox1 - ox, oy1 - oy), Image.Resampling.BOX)
                out[oy:oy1, ox:ox1] = np.asarray(resized)
        return out

    def _validate_region(self, x: int, y: int, w: int, h: int, level: int) -> None:
        for name, value in (("x", x), ("y", y), ("w", w), ("h", h), ("level", level)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r} reading {self.path.name}")
        if w <= 0 or h <= 0:
            raise ValueError(f"region size must be positive, got w={w}, h={h} reading {self.path.name}")
        if not 0 <= level < self.level_count:
            raise ValueError(
                f"level must be in [0, {self.level_count - 1}], got {level} reading {self.path.name}"
            )

    def _read(self, x: int, y: int, w: int, h: int, level: int) -> np.ndarray:
        """Backend hook: read a validated region; see :meth:`read_region`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file handle (backends override)."""

    def __enter__(self) -> Slide:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        width, height = self.dimensions
        return (
            f"{type(self).__name__}({self.path.name!r}, {width}x{height}, "
            f"levels={self.level_count}, mpp={self.mpp}, vendor={self.vendor!r})"
        )
