"""Segmentation losses on one-channel "nucleus" logits.

The maths are pure functions (testable without ``nn.Module``);
:class:`WeightedBCELoss` and :class:`SoftDiceLoss` are thin wrappers for
training loops. Both compute in float32 whatever the autocast dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REDUCTIONS = ("mean", "sum", "none")


def weighted_bce_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """Pixel-wise weighted two-class cross-entropy from one logit per pixel.

    ``loss(x) = -w(x) * [t log p + (1 - t) log(1 - p)]`` with
    ``p = sigmoid(logit)`` (Ronneberger et al. 2015, Eq. 1, with the weight
    map of :func:`wsinuc.training.weight_maps.border_weight_map`).

    Parameters
    ----------
    logits, target, weights : torch.Tensor
        Same shape, e.g. (N, 1, H, W); ``target`` in [0, 1], ``weights`` >= 0.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` averages the weighted terms over all pixels (so all-ones
        weights give plain binary cross-entropy), ``"sum"`` adds them,
        ``"none"`` returns the per-pixel terms.

    Returns
    -------
    torch.Tensor
        float32 scalar, or per-pixel terms for ``"none"``.
    """
    _validate_same_shape(logits=logits, target=target, weights=weights)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    per_pixel = F.binary_cross_entropy_with_logits(
        logits.float(), target.float(), reduction="none"
    ) * weights.float()
    if reduction == "mean":
        return per_pixel.mean()
    if reduction == "sum":
        return per_pixel.sum()
    return per_pixel


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss over the whole batch: ``1 - (2 sum(p t) + eps) / (sum(p) + sum(t) + eps)``.

    Parameters
    ----------
    logits, target : torch.Tensor
        Same shape; ``p = sigmoid(logits)``, ``target`` in [0, 1].
    eps : float
        Smoothing (> 0) that keeps the loss defined on empty masks.

    Returns
    -------
    torch.Tensor
        float32 scalar in [0, 1].
    """
    _validate_same_shape(logits=logits, target=target)
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    probability = torch.sigmoid(logits.float())
    target = target.float()
    intersection = (probability * target).sum()
    return 1.0 - (2.0 * intersection + eps) / (probability.sum() + target.sum() + eps)


class WeightedBCELoss(nn.Module):
    """``nn.Module`` form of :func:`weighted_bce_with_logits`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        return weighted_bce_with_logits(logits, target, weights, self.reduction)


class SoftDiceLoss(nn.Module):
    """``nn.Module`` form of :func:`soft_dice_loss`."""

    def __init__(self, eps: float = 1.0) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return soft_dice_loss(logits, target, self.eps)


def _validate_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(tensor.shape) for name, tensor in tensors.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"tensors must have the same shape, got {shapes}")
