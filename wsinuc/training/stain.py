"""Macenko stain normalisation of H&E images (pure numpy).

Macenko et al. (2009): convert RGB to optical density ``OD = -log(I / 255)``,
drop near-white pixels (``OD < beta`` in any channel), take the plane of the two
largest principal directions of the remaining ODs, and find the two extreme
angles (``alpha`` and ``100 - alpha`` percentiles) in it: these are the
haematoxylin and eosin stain vectors. Each pixel's concentrations come from a
least-squares fit on those vectors; normalisation rescales the concentrations
to the reference's 99th percentile and recombines them with the reference's
stain vectors.

Normalisation is an option of the training data only; a model trained on
normalised images needs the same normalisation at inference, which the engine
does not apply yet (see docs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Stain vectors (rows: haematoxylin, eosin; columns: OD of R, G, B) and maximal
#: concentrations of the reference commonly used with Macenko's method.
REFERENCE_STAINS = np.array([[0.5626, 0.7201, 0.4062], [0.2159, 0.8012, 0.5581]])
REFERENCE_MAX_CONCENTRATIONS = np.array([1.9705, 1.0308])


@dataclass(frozen=True)
class StainBasis:
    """Stain vectors (2, 3) in optical density, unit rows, H first, and 99th-percentile concentrations (2,)."""

    stains: np.ndarray
    max_concentrations: np.ndarray


REFERENCE = StainBasis(REFERENCE_STAINS, REFERENCE_MAX_CONCENTRATIONS)


def _optical_density(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image of shape (H, W, 3), got {image.dtype} {image.shape}")
    return -np.log((image.reshape(-1, 3).astype(np.float64) + 1.0) / 256.0)


def estimate_stains(image: np.ndarray, beta: float = 0.15, alpha: float = 1.0) -> StainBasis:
    """Macenko's H and E vectors and maximal concentrations of ``image``.

    Raises
    ------
    ValueError
        When fewer than 100 pixels are stained (``OD >= beta``): no basis to fit.
    """
    density = _optical_density(image)
    tissue = density[(density >= beta).all(axis=1)]
    if len(tissue) < 100:
        raise ValueError(f"only {len(tissue)} stained pixels (OD >= {beta}); cannot estimate stains")
    _, vectors = np.linalg.eigh(np.cov(tissue.T))
    plane = vectors[:, 1:3]  # the two largest eigenvalues
    projected = tissue @ plane
    angles = np.arctan2(projected[:, 1], projected[:, 0])
    low, high = np.percentile(angles, [alpha, 100.0 - alpha])
    first = plane @ np.array([np.cos(low), np.sin(low)])
    second = plane @ np.array([np.cos(high), np.sin(high)])
    stains = np.array([first, second] if first[0] > second[0] else [second, first])
    stains = np.abs(stains) / np.linalg.norm(stains, axis=1, keepdims=True)
    concentrations = np.linalg.lstsq(stains.T, density.T, rcond=None)[0]
    return StainBasis(stains, np.percentile(concentrations, 99, axis=1))


def normalise_stains(image: np.ndarray, reference: StainBasis = REFERENCE, beta: float = 0.15) -> np.ndarray:
    """``image`` with its H and E stains mapped onto ``reference``'s (uint8, same shape).

    An image with too little stain to fit a basis (e.g. background only) is returned unchanged.
    """
    density = _optical_density(image)
    try:
        basis = estimate_stains(image, beta=beta)
    except ValueError:
        return image.copy()
    concentrations = np.linalg.lstsq(basis.stains.T, density.T, rcond=None)[0]
    scale = reference.max_concentrations / np.maximum(basis.max_concentrations, 1e-6)
    rebuilt = 256.0 * np.exp(-(reference.stains.T @ (concentrations * scale[:, None]))) - 1.0
    return np.clip(np.round(rebuilt.T), 0, 255).astype(np.uint8).reshape(image.shape)
