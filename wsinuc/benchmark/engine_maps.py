"""Probability maps to compare engines with: wsinuc's chunk by chunk, and a whole-image oracle.

The wsinuc engine keeps no probability map (each chunk's map is turned into
nuclei and dropped), so an engine comparison rebuilds it here with the
engine's own geometry: each chunk's valid box (core plus halo, clipped to
the slide) read and predicted as one image, its core kept. The oracle is
the same network run once on a whole region, so no tile border exists
inside it: whichever engine's map is closer to it stitches better.

Both work on slides whose level 0 is the working resolution (scale 1), the
case where the engines see the same pixels; ``benchmarks/vs_tiatoolbox.py``
resamples other slides to it first.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from wsinuc.tiling import Box, Tile


def engine_probabilities(slide, tiles: Iterable[Tile], predictor, shape: tuple[int, int]) -> np.ndarray:
    """The probability maps the wsinuc engine computes for ``tiles``, stitched core by core.

    1. Read each chunk's valid box (its read box clipped to the slide).
    2. Predict it whole (the predictor reflect-pads it to the model stride).
    3. Keep its core; pixels of no tile stay 0.

    Parameters
    ----------
    slide : wsinuc.slide.Slide
        Open slide whose level 0 is the working resolution.
    tiles : iterable of Tile
        The chunks the engine planned (level-0 = working pixels).
    predictor : wsinuc.inference.Predictor
        The engine's predictor (same model, device and precision).
    shape : tuple of int
        ``(height, width)`` of the slide.

    Returns
    -------
    ndarray, float32, shape (H, W, C)
        ``C`` maps per pixel: 1 (nucleus) or 2 (interior, nucleus).
    """
    out = None
    for tile in tiles:
        block = slide.read_region(*tile.valid_box.xywh, 0)
        prob = _with_channel_axis(predictor.predict_image(block))
        if out is None:
            out = np.zeros((*shape, prob.shape[-1]), dtype=np.float32)
        out[tile.write] = prob[tile.core_in_valid]
    if out is None:
        raise ValueError("no tiles to predict")
    return out


def whole_image_probabilities(slide, box: Box, predictor) -> np.ndarray:
    """The probability maps of ``box`` predicted in one forward pass (the untiled oracle).

    Returns
    -------
    ndarray, float32, shape (h, w, C)
        As :func:`engine_probabilities`, for the pixels of ``box`` only.
    """
    block = slide.read_region(*box.xywh, 0)
    return _with_channel_axis(predictor.predict_image(block))


def _with_channel_axis(prob: np.ndarray) -> np.ndarray:
    return prob[..., None] if prob.ndim == 2 else prob
