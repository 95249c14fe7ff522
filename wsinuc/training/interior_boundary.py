"""The interior/boundary variant of the cascade protocol (presets ``cascade-ib``, ``cascade-ib-lite``).

Beyond the paper: stage 1 stays the paper's binary weighted U-Net, but the
final network (stage 2) predicts background / nucleus interior / nucleus
boundary (``classes=3``). :func:`wsinuc.training.protocol.train_cascade` asks
this module

* whether a preset is such a variant (:func:`is_interior_boundary`),
* for stage 2's training patches with 3-class targets and per-pixel class
  weights (:func:`stage2_patches`: :mod:`wsinuc.training.targets` on each
  patch's instance map, boundary ``TrainConfig.boundary_width`` px wide,
  weighted ``TrainConfig.boundary_weight`` x),
* for stage 2's loss name (:func:`stage2_loss`: ``"interior_boundary"``,
  class-weighted cross-entropy + soft Dice of the nucleus probability), and
* for the card fields (:func:`variant_card`) that tell the engine to use the
  ``seeded`` post-processing with the parameters validation used.

Targets are computed per 256-px patch, edges counted as the nearest pixel:
where two nuclei touch across a patch edge, the few pixels of their contact
within ``boundary_width`` of that edge are interior instead of boundary. The
class balance (background against nucleus, the paper's ``w_c``) is counted
over all training patches.
"""

from __future__ import annotations

import dataclasses

from wsinuc.models import PRESETS
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet
from wsinuc.training.objective import IB_DICE_WEIGHT
from wsinuc.training.targets import (
    CLASS_NAMES,
    class_weight_map,
    interior_boundary_targets,
    seeded_parameters,
)

IB_LOSS = "interior_boundary"
BINARY_STAGE2_LOSS = "dice"


def is_interior_boundary(preset: str) -> bool:
    """True for a preset whose final network predicts background / interior / boundary."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(sorted(PRESETS))}")
    return PRESETS[preset].get("classes", 1) == 3


def stage2_loss(preset: str) -> str:
    """Loss name of stage 2 (:mod:`wsinuc.training.objective`): soft Dice, or the 3-class loss."""
    return IB_LOSS if is_interior_boundary(preset) else BINARY_STAGE2_LOSS


def with_class_targets(
    patch_set: PatchSet, boundary_width: int = 2, boundary_weight: float = 3.0
) -> PatchSet:
    """``patch_set`` with 3-class targets (``classes``) and their class weights (``weights``).

    Parameters
    ----------
    patch_set : PatchSet
        Patches with instance maps.
    boundary_width : int
        Boundary band width in pixels (:func:`interior_boundary_targets`).
    boundary_weight : float
        Loss weight factor of boundary pixels (:func:`class_weight_map`).

    Returns
    -------
    PatchSet
        Same patches; ``weights`` replaced by the class weights, which the
        ``"interior_boundary"`` loss multiplies by the valid mask.
    """
    classes = interior_boundary_targets(patch_set.instances, boundary_width)
    weights = class_weight_map(classes, boundary_weight)
    return dataclasses.replace(patch_set, classes=classes, weights=weights)


def stage2_patches(preset: str, patch_set: PatchSet, config: TrainConfig) -> PatchSet:
    """Stage 2's training patches: unchanged for a binary preset, with class targets otherwise."""
    if not is_interior_boundary(preset):
        return patch_set
    return with_class_targets(patch_set, config.boundary_width, config.boundary_weight)


def variant_card(preset: str, config: TrainConfig) -> dict:
    """Card fields of the variant (empty for a binary preset).

    ``postprocess: "seeded"`` and ``seeded`` (the keyword arguments of
    :func:`wsinuc.instances.seeded_instances`, lengths in working pixels) are
    what validation used and what the engine should use.
    """
    if not is_interior_boundary(preset):
        return {}
    return {
        "postprocess": "seeded",
        "seeded": seeded_parameters(config.boundary_width, config.mpp),
        "outputs": list(CLASS_NAMES),
        "boundary_width": config.boundary_width,
        "class_weights": {
            "balance": "background vs nucleus, N / (2 N_k) over the training patches (the paper's w_c)",
            "boundary_weight": config.boundary_weight,
        },
        "stage2_loss": {"name": IB_LOSS, "cross_entropy": "class-weighted",
                        "dice_weight": IB_DICE_WEIGHT},
    }
