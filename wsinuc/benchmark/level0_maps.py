"""Probability maps of a whole image on its own pixel grid, from a model that works at another pixel size.

The engine reads a slide at the model card's working resolution and turns
the maps into nuclei on level 0 (:func:`wsinuc.engine.nuclei.chunk_labels`:
probabilities resampled bilinearly, the rule's lengths converted). The
validation choices (post-processing, TTA) predict whole MoNuSeg images
without the engine; :func:`level0_probabilities` gives them the same
resampling, so a 0.5 um/px model is scored on the 0.25 um/px ground truth
as ``wsinuc segment`` would score it.
"""

from __future__ import annotations

import numpy as np

from wsinuc.engine.nuclei import maps_to_level0
from wsinuc.engine.plan import working_scale
from wsinuc.models.cards import card_mpp
from wsinuc.slide.resample import to_working, working_box


def image_scale(card: dict, image_mpp: float) -> float:
    """Working pixels per image pixel for a model card (its ``mpp``, 0.25 when absent)."""
    return working_scale(image_mpp, card_mpp(card))


def level0_probabilities(predictor, image: np.ndarray, scale: float) -> np.ndarray:
    """Maps of ``image`` predicted at ``scale`` working pixels per pixel, on the image's grid.

    Parameters
    ----------
    predictor : wsinuc.inference.Predictor
        Anything with ``predict_image((H, W, 3) uint8) -> (H, W) or (H, W, C)``.
    image : np.ndarray
        ``(H, W, 3)`` uint8.
    scale : float
        From :func:`image_scale`; 1 predicts the image as it is.

    Returns
    -------
    np.ndarray
        ``(H, W)`` or ``(H, W, C)`` float32 maps, as the predictor's.
    """
    if scale == 1.0:
        return predictor.predict_image(image)
    height, width = image.shape[:2]
    wx0, wy0, _, _ = working_box(0, 0, width, height, scale)
    return maps_to_level0(predictor.predict_image(working_image(image, scale)), (wx0, wy0), scale,
                          (0, 0, width, height))


def working_image(image: np.ndarray, scale: float) -> np.ndarray:
    """A whole ``(H, W, 3)`` image resampled to ``scale`` working pixels per pixel, as the engine reads it."""
    return np.ascontiguousarray(to_working(image, (0, 0), scale))
