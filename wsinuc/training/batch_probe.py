"""``--batch-size auto``: the largest power-of-two batch whose training step fits the GPU.

:func:`probe_batch_size` runs one forward and backward pass of the network on
random input at batch 1, 2, 4, ... on the training device, measures the peak
memory each takes (``torch.cuda.max_memory_allocated``), and stops before the
step (plus the AdamW moments and gradients of the weights) would exceed
``fraction`` of the memory that was free when the probe started. The search
itself, :func:`largest_fitting_batch`, is a pure function of a ``peak(batch)``
callable so it is tested without a GPU. On the CPU the given batch size is
kept (there the step time, not memory, is the limit).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from wsinuc.device import autocast

MEMORY_FRACTION = 0.5
MAX_BATCH = 512


def largest_fitting_batch(
    peak_bytes: Callable[[int], float], budget_bytes: float, max_batch: int = MAX_BATCH
) -> int:
    """Largest power of two ``b <= max_batch`` with ``peak_bytes(b) <= budget_bytes``.

    Batches are tried in doubling order; a batch is only tried when the peak
    extrapolated linearly from the last two (``2 * peak(b) - peak(b / 2)``,
    activations grow linearly with the batch) fits, which avoids most
    out-of-memory attempts, and the search stops at the first batch that does
    not fit. Batch 1 is returned even when it does not fit.

    Parameters
    ----------
    peak_bytes : callable
        ``batch -> bytes`` of one training step (``math.inf`` for out of memory).
    budget_bytes : float
        Memory the step may take.
    max_batch : int
        Upper bound (a power of two or not).

    Returns
    -------
    int
        The batch size.
    """
    if max_batch < 1 or budget_bytes <= 0:
        raise ValueError(f"need max_batch >= 1 and budget_bytes > 0, got {max_batch}, {budget_bytes}")
    batch, peak, previous = 1, peak_bytes(1), 0.0
    while 2 * batch <= max_batch and 2 * peak - previous <= budget_bytes:
        candidate = peak_bytes(2 * batch)
        if candidate > budget_bytes:
            break
        batch, peak, previous = 2 * batch, candidate, peak
    return batch


def _step_peak(
    model: nn.Module, shape: tuple[int, int, int], batch: int, precision: str
) -> float:
    """Peak bytes above the current allocation of one forward + backward at ``batch``."""
    device = next(model.parameters()).device
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    try:
        inputs = torch.rand((batch, *shape), device=device)
        with autocast(precision, device):
            logits = model(inputs.contiguous(memory_format=torch.channels_last))
        logits.float().mean().backward()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - start)
    except torch.cuda.OutOfMemoryError:
        return math.inf
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def probe_batch_size(
    model: nn.Module,
    in_channels: int,
    patch_size: int,
    precision: str,
    fraction: float = MEMORY_FRACTION,
) -> int:
    """Largest power-of-two training batch of ``patch_size`` crops that fits ``fraction`` of free memory.

    Parameters
    ----------
    model : torch.nn.Module
        The network, already on its CUDA device (its weights stay unchanged).
    in_channels : int
        3, or 4 for stage 2.
    patch_size : int
        Crop side.
    precision : str
        ``"auto"``, ``"fp32"`` or ``"bf16"`` (the training precision).
    fraction : float
        Share of the free memory the step may use, in (0, 1].

    Returns
    -------
    int
        The batch size.
    """
    device = next(model.parameters()).device
    if device.type != "cuda":
        raise ValueError(f"probing the batch size needs a CUDA model, got one on {device}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    free, _ = torch.cuda.mem_get_info(device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    budget = fraction * free - 3 * weights  # gradients and the two AdamW moments
    was_training, saved = model.training, copy.deepcopy(model.state_dict())
    model.train()
    shape = (in_channels, patch_size, patch_size)
    try:
        return largest_fitting_batch(lambda b: _step_peak(model, shape, b, precision), budget)
    finally:
        model.load_state_dict(saved)  # batch-norm statistics as before the probe
        model.train(was_training)
