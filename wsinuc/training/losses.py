"""Segmentation losses on one-channel "nucleus" logits, and on three-class logits.

The maths are pure functions (testable without ``nn.Module``);
:class:`WeightedBCELoss` and :class:`SoftDiceLoss` are thin wrappers for
training loops. All compute in float32 whatever the autocast dtype.

The interior/boundary variant's final network returns ``(N, 3, H, W)``
logits of background / interior / boundary
(:mod:`wsinuc.training.targets`); :func:`interior_boundary_loss` trains it
(class-weighted cross-entropy, optionally plus soft Dice of the nucleus
probability), and :func:`nucleus_logit` turns its logits into the one-channel
nucleus logit that the binary losses and metrics expect.
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


def nucleus_logit(logits: torch.Tensor) -> torch.Tensor:
    """One-channel nucleus logit of background / interior / boundary logits.

    ``logsumexp(l_interior, l_boundary) - l_background``, so that its sigmoid
    is the softmax probability of interior + boundary.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, 3, H, W)``.

    Returns
    -------
    torch.Tensor
        float32 ``(N, 1, H, W)``.
    """
    if logits.ndim != 4 or logits.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) logits, got shape {tuple(logits.shape)}")
    logits = logits.float()
    return torch.logsumexp(logits[:, 1:], dim=1, keepdim=True) - logits[:, :1]


def weighted_cross_entropy(
    logits: torch.Tensor, classes: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Pixel-wise weighted multi-class cross-entropy, averaged over all pixels.

    ``mean_x w(x) * -log softmax(logits(x))[c(x)]``; all-ones weights give
    plain cross-entropy, zero weights ignore pixels (padding).

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, C, H, W)``.
    classes : torch.Tensor
        ``(N, 1, H, W)`` or ``(N, H, W)`` class indices in ``0 .. C-1`` (any dtype).
    weights : torch.Tensor
        Same shape as ``classes``, >= 0.

    Returns
    -------
    torch.Tensor
        float32 scalar.
    """
    classes, weights = _per_pixel(logits, classes), _per_pixel(logits, weights)
    indices = classes.long()
    if indices.numel() and (indices.min() < 0 or indices.max() >= logits.shape[1]):
        raise ValueError(
            f"classes must lie in [0, {logits.shape[1] - 1}], "
            f"got [{int(indices.min())}, {int(indices.max())}]"
        )
    per_pixel = F.cross_entropy(logits.float(), indices, reduction="none")
    return (per_pixel * weights.float()).mean()


def interior_boundary_loss(
    logits: torch.Tensor,
    classes: torch.Tensor,
    weights: torch.Tensor,
    *,
    valid: torch.Tensor | None = None,
    dice_weight: float = 0.0,
) -> torch.Tensor:
    """Loss of the background / interior / boundary network.

    ``weighted_cross_entropy(logits, classes, weights * valid)
    + dice_weight * soft_dice(nucleus probability, classes > 0)``, the Dice
    term over valid pixels only (:func:`nucleus_logit`, :func:`soft_dice_loss`;
    padding counts as confidently predicted background, which adds nothing to
    either Dice sum).

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, 3, H, W)``.
    classes : torch.Tensor
        ``(N, 1, H, W)`` class indices 0 / 1 / 2.
    weights : torch.Tensor
        ``(N, 1, H, W)`` per-pixel weights, e.g.
        :func:`wsinuc.training.targets.class_weight_map`.
    valid : torch.Tensor or None
        ``(N, 1, H, W)`` 1 on real pixels, 0 on padding; None = all valid.
    dice_weight : float
        Weight of the soft Dice term (>= 0; 0 switches it off).

    Returns
    -------
    torch.Tensor
        float32 scalar.
    """
    if not dice_weight >= 0:
        raise ValueError(f"dice_weight must be >= 0, got {dice_weight}")
    valid = torch.ones_like(weights) if valid is None else valid
    _validate_same_shape(classes=classes, weights=weights, valid=valid)
    value = weighted_cross_entropy(logits, classes, weights.float() * valid.float())
    if dice_weight > 0:
        outside = _per_pixel(logits, valid)[:, None] == 0
        masked = nucleus_logit(logits).masked_fill(outside, -1.0e4)
        target = (_per_pixel(logits, classes)[:, None] > 0).float().masked_fill(outside, 0.0)
        value = value + dice_weight * soft_dice_loss(masked, target)
    return value


def _per_pixel(logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` or ``(N, H, W)`` values matching ``(N, C, H, W)`` logits -> ``(N, H, W)``."""
    if logits.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) logits, got shape {tuple(logits.shape)}")
    if values.ndim == 4 and values.shape[1] == 1:
        values = values[:, 0]
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(values.shape) != expected:
        raise ValueError(
            f"per-pixel values must have shape {expected} or (N, 1, H, W), got {tuple(values.shape)}"
        )
    return values


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
