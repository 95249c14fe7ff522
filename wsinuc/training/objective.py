"""The training objective of one batch: the stage's loss, padding ignored, distillation mixed in.

:func:`loss_function` names the per-stage losses of :mod:`wsinuc.training.losses`
(weighted BCE for stage 1, soft Dice for stage 2, and for the interior/boundary
variant's stage 2 class-weighted cross-entropy plus :data:`IB_DICE_WEIGHT` x soft
Dice of the nucleus probability); :func:`batch_loss` applies one to a
:class:`~wsinuc.training.data.Batch`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wsinuc.training.data import Batch
from wsinuc.training.evaluate import LossFunction
from wsinuc.training.losses import (
    interior_boundary_loss,
    nucleus_logit,
    soft_dice_loss,
    weighted_bce_with_logits,
)

LOSSES = ("weighted_bce", "dice", "interior_boundary")
MASKED_LOGIT = -1.0e4
IB_DICE_WEIGHT = 1.0
"""Weight of the soft Dice term in the ``"interior_boundary"`` loss."""


def loss_function(loss: str) -> LossFunction:
    """``(logits, target, weights) -> scalar`` for ``"weighted_bce"``, ``"dice"`` or ``"interior_boundary"``.

    The validation loss of ``"interior_boundary"`` (three-class logits, binary
    ``target``) is the soft Dice of the nucleus probability.
    """
    if loss == "weighted_bce":
        return weighted_bce_with_logits
    if loss == "dice":
        return lambda logits, target, weights: soft_dice_loss(logits, target)
    if loss == "interior_boundary":
        return lambda logits, target, weights: soft_dice_loss(nucleus_logit(logits), target)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def batch_loss(
    logits: torch.Tensor, batch: Batch, loss: str, distill_weight: float
) -> torch.Tensor:
    """Training loss of one batch; padding pixels (``batch.valid == 0``) are ignored.

    Weighted BCE multiplies the border weights by the valid mask; soft Dice
    sees padding as confidently predicted background (logit -1e4, target 0),
    which adds nothing to either Dice sum. ``"interior_boundary"`` needs
    ``batch.classes`` and takes ``batch.weights`` as its per-pixel class weights.
    With teacher probabilities and ``distill_weight > 0`` the loss becomes
    ``(1 - w) * loss + w * BCE(teacher)`` (on the nucleus logit of three-class logits).
    """
    logits = logits.float()
    if loss == "interior_boundary":
        if batch.classes is None:
            raise ValueError("the interior_boundary loss needs batch.classes (3-class targets)")
        value = interior_boundary_loss(
            logits, batch.classes, batch.weights, valid=batch.valid, dice_weight=IB_DICE_WEIGHT
        )
        logits = nucleus_logit(logits)
    elif loss == "weighted_bce":
        value = weighted_bce_with_logits(logits, batch.target, batch.weights * batch.valid)
    else:
        masked = logits.masked_fill(batch.valid == 0, MASKED_LOGIT)
        value = loss_function(loss)(masked, batch.target, batch.weights)
    if batch.teacher is not None and distill_weight > 0:
        soft = F.binary_cross_entropy_with_logits(logits, batch.teacher, weight=batch.valid)
        value = (1.0 - distill_weight) * value + distill_weight * soft
    return value
