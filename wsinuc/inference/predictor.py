"""Tile batch → nucleus probabilities: device placement, padding, precision (bf16 autocast).

The predictor owns no I/O: it takes uint8 RGB tiles and returns float32
probabilities of the same height and width. Tiles whose sides are not a
multiple of the model stride (32) are reflect-padded and cropped back.

Test-time augmentation (``tta=True``) runs the network on the 8 flips and
rotations of every tile (the dihedral group D4), maps each probability map
back with the inverse transform and returns their mean. Each transformed tile
is padded on its own, exactly as a plain tile would be, so the result equals
``mean_k inverse_k(predict(transform_k(tiles)))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wsinuc.config import validate_precision
from wsinuc.errors import OptionError
from wsinuc.device import autocast

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


@dataclass
class Predictor:
    """Run a segmentation model on batches of RGB tiles.

    Parameters
    ----------
    model : torch.nn.Module
        Maps float (N, 3, H, W) RGB in [0, 1] to logits: (N, 1, H, W) for a
        nucleus / background model, (N, 3, H, W) for a background / interior /
        boundary model (:func:`probability_maps`).
    device : torch.device
        Where the model runs; the model is moved there once.
    batch_size : int
        Tiles per forward pass.
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bfloat16 autocast on CUDA, float32 on the CPU; ``"bf16"``
        also on the CPU (:mod:`wsinuc.device`).
    tta : bool
        Test-time augmentation: the mean probability of the 8 flips and
        rotations of each tile (8 forward passes' worth of work; transforms
        of the same shape share forward passes of ``batch_size`` tiles).
    """

    model: torch.nn.Module
    device: torch.device
    batch_size: int = 4
    precision: str = "auto"
    tta: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise OptionError("--batch-size", f"must be >= 1, got {self.batch_size}")
        validate_precision(self.precision)
        if not isinstance(self.tta, (bool, np.bool_)):
            raise OptionError("--tta", f"must be True or False, got {self.tta!r}")
        # Channels-last on every device, as in training: same probabilities (within 5e-6);
        # on the 2-core CPU cascade-lite inference gained 6% (the input was already
        # channels-last), on CUDA it feeds the tensor cores.
        self.model = self.model.to(self.device).eval().to(memory_format=torch.channels_last)

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

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        n, height, width, _ = batch.shape
        pad_h, pad_w = _pad_amount(height), _pad_amount(width)
        if pad_h or pad_w:
            batch = np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        tensor = tensor.contiguous(memory_format=torch.channels_last).float().div_(255.0)
        with autocast(self.precision, self.device):
            logits = self.model(tensor)
        maps = probability_maps(logits.float()[:, :, :height, :width])
        return maps.cpu().numpy()


def probability_maps(logits: torch.Tensor) -> torch.Tensor:
    """Logits ``(N, C, H, W)`` → the maps the engine post-processes.

    ``C = 1`` (nucleus / background, sigmoid): ``(N, H, W)`` nucleus
    probability. ``C = 3`` (background / interior / boundary, softmax):
    ``(N, H, W, 2)`` with the interior probability and the nucleus
    probability (interior + boundary).

    Raises
    ------
    ValueError
        For any other number of channels.
    """
    channels = logits.shape[1]
    if channels == 1:
        return torch.sigmoid(logits[:, 0])
    if channels == 3:
        probs = torch.softmax(logits, dim=1)
        return torch.stack([probs[:, 1], probs[:, 1] + probs[:, 2]], dim=-1)
    raise ValueError(f"a model must return 1 (nucleus) or 3 (background, interior, boundary) channels, got {channels}")


def _validate_tiles(tiles: np.ndarray) -> np.ndarray:
    tiles = np.asarray(tiles)
    if tiles.ndim != 4 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must have shape (N, H, W, 3), got {tiles.shape}")
    if tiles.dtype != np.uint8:
        raise ValueError(f"tiles must be uint8 RGB, got dtype {tiles.dtype}")
    if min(tiles.shape[1:3]) < 2:
        raise ValueError(f"tiles must be at least 2x2 pixels, got {tiles.shape[1:3]}")
    return tiles
