"""Tile batch → nucleus probabilities: padding, batching, test-time augmentation, for any backend.

The predictor owns no I/O: it takes uint8 RGB tiles and returns float32
probabilities of the same height and width. Tiles whose sides are not a
multiple of the model stride (32) are reflect-padded and cropped back. The
network itself runs in a backend, an object whose ``forward_maps(batch)``
turns a padded (N, H, W, 3) uint8 batch into probability maps:
:class:`~wsinuc.inference.torch_backend.TorchBackend` (device, bf16 autocast)
or :class:`~wsinuc.inference.openvino_backend.OpenVinoBackend` (CPU, no
torch). This module imports neither.

Test-time augmentation (``tta=True``) runs the network on the 8 flips and
rotations of every tile (the dihedral group D4), maps each probability map
back with the inverse transform and returns their mean. Each transformed tile
is padded on its own, exactly as a plain tile would be, so the result equals
``mean_k inverse_k(predict(transform_k(tiles)))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from wsinuc.config import validate_precision
from wsinuc.errors import OptionError

STRIDE = 32
#: The dihedral group D4 as (quarter turns, mirror first): index k = turns + 4 * mirror.
D4 = tuple((k % 4, k >= 4) for k in range(8))


def d4_transform(tiles: np.ndarray, k: int) -> np.ndarray:
    """Apply element ``k`` (0-7) of D4 to the two spatial axes (1, 2) of ``tiles``.

    Element ``k`` mirrors the columns when ``k >= 4``, then turns ``k % 4``
    quarter turns counter-clockwise (:func:`numpy.rot90`); ``k = 0`` is the
    identity. A view, not a copy.
    """
    turns, mirror = _d4_element(k, tiles)
    return np.rot90(tiles[:, :, ::-1] if mirror else tiles, turns, axes=(1, 2))


def d4_inverse(maps: np.ndarray, k: int) -> np.ndarray:
    """Undo :func:`d4_transform` ``k`` on the spatial axes (1, 2) of ``maps``."""
    turns, mirror = _d4_element(k, maps)
    back = np.rot90(maps, -turns, axes=(1, 2))
    return back[:, :, ::-1] if mirror else back


def _d4_element(k: int, array: np.ndarray) -> tuple[int, bool]:
    if not isinstance(k, (int, np.integer)) or not 0 <= k < len(D4):
        raise ValueError(f"D4 element must be an integer in [0, 8), got {k!r}")
    if np.ndim(array) < 3:
        raise ValueError(f"expected a stack (N, H, W, ...), got shape {np.shape(array)}")
    return D4[int(k)]


def _pad_amount(size: int) -> int:
    return (-size) % STRIDE


class Backend(Protocol):
    """What runs the network: padded uint8 (N, H, W, 3) → probability maps (N, H, W[, 2]) float32."""

    name: str

    def forward_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps of a batch whose sides are multiples of :data:`STRIDE`."""


@dataclass
class Predictor:
    """Run a segmentation model on batches of RGB tiles.

    Parameters
    ----------
    model : torch.nn.Module or Backend
        A backend (an object with ``forward_maps``), or a torch network mapping
        float (N, 3, H, W) RGB in [0, 1] to logits: (N, 1, H, W) for a
        nucleus / background model, (N, 3, H, W) for a background / interior /
        boundary model (:func:`~wsinuc.inference.torch_backend.probability_maps`),
        which is wrapped in a :class:`~wsinuc.inference.torch_backend.TorchBackend`.
    device : torch.device or str
        Where a torch network runs; it is moved there once (unused with a backend).
    batch_size : int
        Tiles per forward pass.
    precision : {"auto", "fp32", "bf16"}
        For a torch network: ``"auto"``: bfloat16 autocast on CUDA, float32 on
        the CPU; ``"bf16"`` also on the CPU (:mod:`wsinuc.device`). A backend
        carries its own.
    tta : bool
        Test-time augmentation: the mean probability of the 8 flips and
        rotations of each tile (8 forward passes' worth of work; transforms
        of the same shape share forward passes of ``batch_size`` tiles).
    """

    model: Any
    device: Any = "cpu"
    batch_size: int = 4
    precision: str = "auto"
    tta: bool = False
    backend: Backend = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise OptionError("--batch-size", f"must be >= 1, got {self.batch_size}")
        validate_precision(self.precision)
        if not isinstance(self.tta, (bool, np.bool_)):
            raise OptionError("--tta", f"must be True or False, got {self.tta!r}")
        if hasattr(self.model, "forward_maps"):
            self.backend = self.model
        else:
            from wsinuc.inference.torch_backend import TorchBackend

            self.backend = TorchBackend(self.model, self.device, self.precision)
            self.model = self.backend.model

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        """Return nucleus probabilities for ``tiles``.

        Parameters
        ----------
        tiles : ndarray, shape (N, H, W, 3), uint8
            RGB tiles of one size.

        Returns
        -------
        ndarray, float32
            ``(N, H, W)``: probability in [0, 1] that each pixel belongs to a
            nucleus; for a three-class model ``(N, H, W, 2)``: the probability
            of nucleus interior and of nucleus (interior or boundary).
        """
        tiles = _validate_tiles(tiles)
        if self.tta:
            return self._predict_tta(tiles)
        return self._predict_plain(tiles)

    def predict_image(self, image: np.ndarray) -> np.ndarray:
        """Return the probability map of one (H, W, 3) uint8 image."""
        return self.predict(np.asarray(image)[None])[0]

    def _predict_plain(self, tiles: np.ndarray) -> np.ndarray:
        parts = [self._forward(tiles[start : start + self.batch_size])
                 for start in range(0, len(tiles), self.batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _predict_tta(self, tiles: np.ndarray) -> np.ndarray:
        """Mean of the 8 D4 predictions, ``batch_size`` tiles (x 8 transforms) at a time.

        Transforms that keep the tile's shape are stacked into one batch; on a
        non-square tile the quarter and three-quarter turns (shape W x H) form
        a second one.
        """
        square = tiles.shape[1] == tiles.shape[2]
        groups = [tuple(range(8))] if square else [(0, 2, 4, 6), (1, 3, 5, 7)]
        total = None
        for start in range(0, len(tiles), self.batch_size):
            chunk = tiles[start : start + self.batch_size]
            n = len(chunk)
            for group in groups:
                probs = self._predict_plain(np.concatenate([d4_transform(chunk, k) for k in group]))
                if total is None:
                    total = np.zeros((len(tiles), *tiles.shape[1:3], *probs.shape[3:]), dtype=np.float32)
                for i, k in enumerate(group):
                    total[start : start + n] += d4_inverse(probs[i * n : (i + 1) * n], k)
        return total / np.float32(len(D4))

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        _, height, width, _ = batch.shape
        pad_h, pad_w = _pad_amount(height), _pad_amount(width)
        if pad_h or pad_w:
            batch = np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        maps = self.backend.forward_maps(batch)
        return maps if not (pad_h or pad_w) else np.ascontiguousarray(maps[:, :height, :width])


def __getattr__(name: str):
    if name == "probability_maps":  # it lives with the torch backend; kept importable from here
        from wsinuc.inference.torch_backend import probability_maps

        return probability_maps
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _validate_tiles(tiles: np.ndarray) -> np.ndarray:
    tiles = np.asarray(tiles)
    if tiles.ndim != 4 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must have shape (N, H, W, 3), got {tiles.shape}")
    if tiles.dtype != np.uint8:
        raise ValueError(f"tiles must be uint8 RGB, got dtype {tiles.dtype}")
    if min(tiles.shape[1:3]) < 2:
        raise ValueError(f"tiles must be at least 2x2 pixels, got {tiles.shape[1:3]}")
    return tiles
