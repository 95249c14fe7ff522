"""Averaged weights: an exponential moving average (EMA) of the model's weights.

The average is a plain ``state_dict``-like mapping of CPU-independent tensors
(same device as the model), updated after every optimiser step by
:func:`update_ema`. Floating tensors (weights, BatchNorm running statistics)
are averaged; integer tensors (``num_batches_tracked``) are copied. The decay
ramps up as ``min(decay, (1 + step) / (10 + step))`` so the average follows the
fast early changes instead of remembering the random initialisation.
"""

from __future__ import annotations

import torch
from torch import nn


def ema_decay_at(step: int, decay: float) -> float:
    """Decay used after optimiser step ``step`` (0-based): ``min(decay, (1 + step) / (10 + step))``.

    Raises
    ------
    ValueError
        When ``decay`` is not in [0, 1) or ``step`` is negative.
    """
    if not 0.0 <= decay < 1.0 or step < 0:
        raise ValueError(f"need 0 <= decay < 1 and step >= 0, got {decay!r} and {step!r}")
    return min(decay, (1.0 + step) / (10.0 + step))


def init_ema(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's current ``state_dict``: the average before any step."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def update_ema(ema: dict[str, torch.Tensor], model: nn.Module, decay: float) -> None:
    """Move ``ema`` towards the model's weights in place: ``ema = decay * ema + (1 - decay) * w``.

    Parameters
    ----------
    ema : dict
        From :func:`init_ema` (or a checkpoint), same keys and shapes as the model.
    model : torch.nn.Module
        The model after its optimiser step.
    decay : float
        In [0, 1); see :func:`ema_decay_at`.
    """
    state = model.state_dict()
    if ema.keys() != state.keys():
        missing = sorted(set(state) ^ set(ema))[:3]
        raise ValueError(f"the averaged weights do not match the model (keys {missing})")
    floats = [k for k, v in state.items() if v.is_floating_point()]
    torch._foreach_lerp_([ema[k] for k in floats], [state[k].detach() for k in floats], 1.0 - decay)
    for key, value in state.items():
        if not value.is_floating_point():
            ema[key].copy_(value)
