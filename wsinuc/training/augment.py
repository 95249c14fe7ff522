"""Training-time augmentation of H&E patches (numpy, pure, seeded).

Two kinds of change, applied in this order by :func:`augment_sample`:

1. **Geometry** -- one of the 8 symmetries of the square (0/90/180/270 degree
   rotation, optionally followed by a left-right flip), applied identically
   to the image and to every target array (instance mask, weight map, valid
   mask, stage-1 probability), so they stay pixel-aligned.
2. **Colour** -- on the image only: a stain jitter in HED space (Tellez et
   al. 2018: each of the haematoxylin, eosin and DAB concentrations is scaled
   by ``U(1 - sigma, 1 + sigma)`` and shifted by ``U(-bias, bias)``), then a
   brightness/contrast jitter. Targets are never touched.

Every random choice is drawn from the ``np.random.Generator`` passed in, so a
given generator state always gives the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.color import hed_from_rgb, rgb_from_hed

# skimage.color.rgb2hed / hed2rgb in float32, with a lookup table for the log of
# the 256 uint8 levels (same result to the uint8 level, about 3x faster).
_LOG_ADJUST = np.log(1e-6)
_STAIN_OF_LEVEL = (np.log(np.maximum(np.arange(256) / 255.0, 1e-6)) / _LOG_ADJUST).astype(
    np.float32
)
_HED_FROM_RGB = hed_from_rgb.astype(np.float32)
_LOG_RGB_FROM_HED = (rgb_from_hed * _LOG_ADJUST).astype(np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; 0 (or False) switches it off.

    Attributes
    ----------
    flip_rotate : bool
        Random rotation by a multiple of 90 degrees and random flip.
    hed_sigma : float
        Half-width of the multiplicative HED stain jitter.
    hed_bias : float
        Half-width of the additive HED stain jitter (skimage HED units, where
        typical haematoxylin values of H&E tiles are 0-0.07; the default 0.005
        changes an RGB pixel by about 6/255 on average).
    brightness : float
        Half-width of the additive brightness shift, as a fraction of 255.
    contrast : float
        Half-width of the contrast factor around 1.
    """

    flip_rotate: bool = True
    hed_sigma: float = 0.05
    hed_bias: float = 0.005
    brightness: float = 0.05
    contrast: float = 0.1

    def __post_init__(self) -> None:
        for name in ("hed_sigma", "hed_bias", "brightness", "contrast"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"AugmentConfig.{name} must be in [0, 1), got {value!r}")


NO_AUGMENTATION = AugmentConfig(
    flip_rotate=False, hed_sigma=0.0, hed_bias=0.0, brightness=0.0, contrast=0.0
)


def _validate_rgb(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected a uint8 RGB image of shape (H, W, 3), got {image.dtype} {image.shape}"
        )


def dihedral(array: np.ndarray, rotations: int, flip: bool) -> np.ndarray:
    """Rotate the first two axes by ``rotations`` x 90 degrees, then flip left-right.

    Parameters
    ----------
    array : np.ndarray
        ``(H, W, ...)``.
    rotations : int
        Number of counter-clockwise quarter turns (any integer; taken mod 4).
    flip : bool
        Mirror the columns after rotating.

    Returns
    -------
    np.ndarray
        Transformed copy (contiguous).
    """
    out = np.rot90(array, k=int(rotations) % 4, axes=(0, 1))
    if flip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def random_dihedral(
    arrays: Sequence[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """Apply the same random square symmetry to every array.

    Parameters
    ----------
    arrays : sequence of np.ndarray
        Arrays of equal ``(H, W)``; square when a rotation may be drawn.
    rng : np.random.Generator
        Source of the two random choices.

    Returns
    -------
    tuple of np.ndarray
        Transformed arrays in the input order.
    """
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"arrays must share (H, W), got {sorted(shapes)}")
    height, width = shapes.pop()
    rotations = int(rng.integers(4)) if height == width else 2 * int(rng.integers(2))
    flip = bool(rng.integers(2))
    return tuple(dihedral(a, rotations, flip) for a in arrays)


def hed_jitter(
    image: np.ndarray, rng: np.random.Generator, sigma: float = 0.05, bias: float = 0.005
) -> np.ndarray:
    """Perturb stain concentrations in HED space (Tellez et al. 2018).

    Parameters
    ----------
    image : np.ndarray
        uint8 RGB ``(H, W, 3)``.
    rng : np.random.Generator
        Draws 3 scale and 3 shift values.
    sigma, bias : float
        Half-widths of the uniform scale (around 1) and shift (around 0).

    Returns
    -------
    np.ndarray
        uint8 RGB of the same shape.
    """
    _validate_rgb(image)
    scale = rng.uniform(1.0 - sigma, 1.0 + sigma, size=3).astype(np.float32)
    shift = rng.uniform(-bias, bias, size=3).astype(np.float32)
    if sigma == 0.0 and bias == 0.0:
        return image.copy()
    stains = np.maximum(_STAIN_OF_LEVEL[image] @ _HED_FROM_RGB, 0.0)
    rgb = np.exp((stains * scale + shift) @ _LOG_RGB_FROM_HED)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def brightness_contrast_jitter(
    image: np.ndarray, rng: np.random.Generator, brightness: float = 0.05, contrast: float = 0.1
) -> np.ndarray:
    """Random contrast (around the image mean) and brightness change.

    Parameters
    ----------
    image : np.ndarray
        uint8 RGB ``(H, W, 3)``.
    rng : np.random.Generator
        Draws one contrast factor and one brightness shift.
    brightness : float
        Shift drawn from ``U(-brightness, brightness) * 255``.
    contrast : float
        Factor drawn from ``U(1 - contrast, 1 + contrast)``.

    Returns
    -------
    np.ndarray
        uint8 RGB of the same shape.
    """
    _validate_rgb(image)
    factor = rng.uniform(1.0 - contrast, 1.0 + contrast)
    shift = rng.uniform(-brightness, brightness) * 255.0
    pixels = image.astype(np.float32)
    mean = pixels.mean()
    out = (pixels - mean) * factor + mean + shift
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def augment_sample(
    image: np.ndarray,
    targets: Sequence[np.ndarray],
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Augment one training sample: shared geometry, then colour on the image only.

    Parameters
    ----------
    image : np.ndarray
        uint8 RGB ``(H, W, 3)``.
    targets : sequence of np.ndarray
        Arrays aligned with the image (``(H, W)`` or ``(H, W, C)``); they get
        the same flip/rotation as the image and nothing else.
    rng : np.random.Generator
        The only source of randomness.
    config : AugmentConfig
        Which augmentations to apply and how strongly.

    Returns
    -------
    image : np.ndarray
        Augmented uint8 RGB image.
    targets : tuple of np.ndarray
        Transformed targets, in the input order.
    """
    _validate_rgb(image)
    arrays = (image, *targets)
    if config.flip_rotate:
        arrays = random_dihedral(arrays, rng)
    out_image, out_targets = arrays[0], tuple(arrays[1:])
    if config.hed_sigma or config.hed_bias:
        out_image = hed_jitter(out_image, rng, config.hed_sigma, config.hed_bias)
    if config.brightness or config.contrast:
        out_image = brightness_contrast_jitter(out_image, rng, config.brightness, config.contrast)
    return out_image, out_targets
