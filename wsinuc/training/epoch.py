"""One training epoch step by step: the schedule of a step budget, averaged weights, mid-epoch checkpoints.

:func:`run_epoch` is what :func:`wsinuc.training.loop.train_model` calls once
per epoch. For each batch it

1. sets the learning rate of the step from the run's total steps
   (:func:`total_steps`: ``TrainConfig.total_steps``, or epochs x steps per epoch),
2. takes one optimiser step (:func:`train_step`, bf16 autocast per the
   resolved precision), then moves the averaged weights (``TrainConfig.ema_decay``),
3. times the wait for the batch against the forward/backward/optimiser work,
4. writes the checkpoint when one is due (:func:`checkpoint_due`: every
   ``checkpoint_steps`` steps or ``checkpoint_minutes`` minutes), even inside
   the epoch; a run resumed from it skips the batches already taken
   (the batch at each position of an epoch is a pure function of the seed, the
   epoch and the position), so it takes exactly the steps of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress
from torch import nn

from wsinuc.device import autocast
from wsinuc.training.averaging import ema_decay_at, update_ema
from wsinuc.training.budget import Deadline
from wsinuc.training.checkpoint import Checkpoint, save_checkpoint
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import Batch, PatchSet, steps_per_epoch
from wsinuc.training.device_data import DevicePatchSet
from wsinuc.training.loaders import training_batches
from wsinuc.training.objective import batch_loss
from wsinuc.training.rng import capture_rng
from wsinuc.training.schedule import learning_rate

SUMS = ("loss", "dice", "steps", "data_seconds", "seconds", "elapsed")


@dataclass
class RunState:
    """What changes during a run (local to one :func:`~wsinuc.training.loop.train_model` call).

    ``partial`` holds the running sums of the epoch in progress (:data:`SUMS`),
    ``ema`` the averaged weights (None when off), ``saved_at`` the
    ``(monotonic time, step)`` of the last checkpoint.
    """

    epoch: int = 0
    step: int = 0
    planned: int = 1
    epoch_seconds: list[float] = field(default_factory=list)
    deadline: Deadline = field(default_factory=lambda: Deadline.after(None))
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    ema: dict[str, torch.Tensor] | None = None
    partial: dict[str, float] = field(default_factory=dict)
    saved_at: tuple[float, int] = (0.0, 0)


def total_steps(config: TrainConfig, planned_epochs: int, epoch_steps: int) -> int:
    """Optimiser steps of the whole run: the step budget, else epochs x steps per epoch."""
    return config.total_steps if config.total_steps is not None else planned_epochs * epoch_steps


def epochs_for(config: TrainConfig, n_patches: int) -> int:
    """Epochs a run plans: ``ceil(total_steps / steps per epoch)`` with a step budget, else ``epochs``."""
    if config.total_steps is None:
        return config.epochs
    epoch_steps = steps_per_epoch(n_patches, config.batch_size, config.max_steps_per_epoch)
    return max(1, math.ceil(config.total_steps / epoch_steps))


def cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached CPU clones of a ``state_dict``."""
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def foreground_dice(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Hard Dice of the predicted nucleus pixels on a batch, padding ignored (a 0-d tensor)."""
    with torch.no_grad():
        if logits.shape[1] == 1:
            predicted = (logits[:, :1] > 0).float()
        else:
            predicted = (logits.argmax(dim=1, keepdim=True) != 0).float()
        truth, valid = (batch.target > 0.5).float(), batch.valid
        overlap = (predicted * truth * valid).sum()
        total = (predicted * valid).sum() + (truth * valid).sum()
        return torch.where(total > 0, 2.0 * overlap / total.clamp_min(1.0), torch.ones_like(total))


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, config: TrainConfig, loss: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward, backward and AdamW step; returns the detached loss and batch Dice."""
    with autocast(config.precision, batch.inputs.device):
        logits = model(batch.inputs)
    value = batch_loss(logits, batch, loss, config.distill_weight)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    return value.detach(), foreground_dice(logits.float(), batch)


def checkpoint_due(state: RunState, config: TrainConfig, now: float) -> bool:
    """Whether ``checkpoint_steps`` steps or ``checkpoint_minutes`` minutes passed since the last checkpoint."""
    saved_time, saved_step = state.saved_at
    by_steps = config.checkpoint_steps is not None and state.step - saved_step >= config.checkpoint_steps
    by_clock = config.checkpoint_minutes > 0 and now - saved_time >= 60.0 * config.checkpoint_minutes
    return config.out_dir is not None and (by_steps or by_clock)


def write_checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer, state: RunState, config: TrainConfig) -> None:
    """Save the run's checkpoint into ``config.out_dir`` (atomic) and note when."""
    device = next(model.parameters()).device
    save_checkpoint(Path(config.out_dir), Checkpoint(
        epoch=state.epoch, step=state.step, model_state=cpu_copy(model.state_dict()),
        best_state=state.best_state, optimizer_state=optimizer.state_dict(),
        rng_state=capture_rng(device), best_epoch=state.best_epoch,
        best_metrics=state.best_metrics, history=state.history,
        planned_epochs=state.planned if state.planned < config.epochs else None,
        ema_state=None if state.ema is None else cpu_copy(state.ema),
        partial_epoch=dict(state.partial),
    ))
    state.saved_at = (time.monotonic(), state.step)


@contextlib.contextmanager
def averaged_weights(model: nn.Module, state: RunState) -> Iterator[nn.Module]:
    """Inside the block ``model`` holds the averaged weights (when the run averages), then its own again."""
    if state.ema is None:
        yield model
        return
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state.ema)
    try:
        yield model
    finally:
        model.load_state_dict(own)


def _epoch_range(state: RunState, config: TrainConfig, epoch_steps: int) -> range:
    """Positions of this epoch still to take: after a mid-epoch resume, up to the step budget."""
    done_before = state.epoch * epoch_steps
    stop = min(epoch_steps, total_steps(config, state.planned, epoch_steps) - done_before)
    return range(min(max(0, state.step - done_before), stop), max(stop, 0))


def run_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_data: PatchSet | DevicePatchSet,
    config: TrainConfig,
    state: RunState,
    loss: str,
    progress: Progress,
) -> dict[str, float]:
    """Train (the rest of) one epoch in place; return its row fields (see module docstring).

    Returns ``train_loss``, ``train_dice``, ``lr``, ``steps_per_s`` and
    ``outside_share`` (share of the epoch's time spent outside the forward,
    backward and optimiser step: waiting for batches, averaging, checkpoints).
    """
    device = next(model.parameters()).device
    epoch_steps = steps_per_epoch(len(train_data), config.batch_size, config.max_steps_per_epoch)
    total = total_steps(config, state.planned, epoch_steps)
    positions = _epoch_range(state, config, epoch_steps)
    sums = {key: float(state.partial.get(key, 0.0)) for key in SUMS}
    losses, dices, lr = [], [], float(state.partial.get("lr", config.lr))
    model.train()
    task = progress.add_task(f"epoch {state.epoch + 1}/{state.planned}", total=len(positions), loss=math.nan)
    started = waited_from = time.perf_counter()
    for batch in training_batches(train_data, config, state.epoch, positions):
        batch = batch.to(device)
        computing_from = time.perf_counter()
        sums["data_seconds"] += computing_from - waited_from
        lr = learning_rate(state.step, total, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        value, dice = train_step(model, optimizer, batch, config, loss)
        sums["seconds"] += time.perf_counter() - computing_from
        if state.ema is not None:
            update_ema(state.ema, model, ema_decay_at(state.step, config.ema_decay))
        state.step += 1
        losses.append(value)  # no host sync per step: the GPU queue stays full
        dices.append(dice)
        progress.update(task, advance=1, **({"loss": float(value)} if len(losses) % 16 == 0 else {}))
        if checkpoint_due(state, config, time.monotonic()):
            state.partial = {**_with_steps(sums, losses, dices, time.perf_counter() - started), "lr": lr}
            write_checkpoint(model, optimizer, state, config)
        waited_from = time.perf_counter()
    progress.remove_task(task)
    state.partial = {}
    return _epoch_row(_with_steps(sums, losses, dices, time.perf_counter() - started), lr)


def _with_steps(sums: dict[str, float], losses: list, dices: list, elapsed: float) -> dict[str, float]:
    """``sums`` (from earlier sittings of the epoch) plus this sitting's steps and ``elapsed`` seconds."""
    merged = dict(sums)
    merged["elapsed"] += elapsed
    if losses:
        merged["loss"] += float(torch.stack(losses).double().sum())
        merged["dice"] += float(torch.stack(dices).double().sum())
    merged["steps"] += len(losses)
    return merged


def _epoch_row(sums: dict[str, float], lr: float) -> dict[str, float]:
    steps, elapsed = max(sums["steps"], 1), max(sums["elapsed"], 1e-9)
    return {
        "train_loss": sums["loss"] / steps, "train_dice": round(sums["dice"] / steps, 5), "lr": lr,
        "steps_per_s": round(sums["steps"] / elapsed, 4),
        "outside_share": round(min(1.0, max(0.0, 1.0 - sums["seconds"] / elapsed)), 4),
    }
