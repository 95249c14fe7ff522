"""Train one network: AdamW, LR schedule, precision (bf16 autocast), validation AJI, checkpoints, CSV log.

:func:`train_model` is the only entry point. Each epoch it

1. draws the shuffled, augmented batches of the epoch, seeded by ``(seed, epoch)``:
   numpy in loader threads (:func:`~wsinuc.training.data.epoch_batches`), or torch
   ops on a training set resident on the device (``config.data_on_device``, on for
   CUDA by default; :mod:`wsinuc.training.device_data`),
2. takes one AdamW step per batch with the learning rate of
   :func:`wsinuc.training.schedule.learning_rate` (bf16 autocast on CUDA, or with ``precision="bf16"``),
3. every ``val_every`` epochs predicts the whole validation images and
   scores AJI / object F1 (:func:`validate_model`), keeping the weights of the
   best AJI in memory and in ``best.safetensors``,
4. with ``config.time_budget_s``, re-plans the number of epochs so the run
   ends within its budget (:func:`wsinuc.training.budget.planned_epochs`);
   the learning-rate schedule follows the plan, and the last planned epoch
   is always validated,
5. rewrites ``log.csv`` and the checkpoint (:mod:`wsinuc.training.checkpoint`)
   after each validated epoch (every ``val_every`` epochs and the last one).

With ``resume=True`` a run restarts after the last checkpointed epoch with the
same weights, optimiser moments, step counter and random states, so on a
deterministic device it ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress
from torch import nn

from wsinuc.errors import OptionError
from wsinuc.device import autocast, resolve_device
from wsinuc.models import WeightsError, save_weights
from wsinuc.training.budget import Deadline, overshoot_message, planned_epochs
from wsinuc.training.checkpoint import (
    Checkpoint,
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
)
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import (
    PatchSet,
    ValidationSet,
    steps_per_epoch,
)
from wsinuc.training.device_data import DevicePatchSet
from wsinuc.training.loaders import prepare_training, training_batches
from wsinuc.training.evaluate import stage1_validation_set, validate_model
from wsinuc.training.objective import LOSSES, batch_loss, loss_function
from wsinuc.training.run_files import (
    BEST_NAME,
    LOG_COLUMNS,
    LOG_NAME,
    config_card,
    progress_bar,
    write_log,
)
from wsinuc.training.schedule import learning_rate
from wsinuc.training.targets import seeded_parameters

__all__ = ["LOG_COLUMNS", "LOG_NAME", "TrainResult", "batch_loss", "config_card",
           "loss_function", "train_model"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_model`; ``model`` holds the best weights.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model with the weights of ``best_epoch`` loaded.
    best_epoch : int or None
        1-based epoch with the best validation AJI (the last epoch without validation data).
    best_metrics : dict
        ``val_loss``, ``val_aji``, ``val_f1`` of the best epoch (empty without validation).
    history : tuple of dict
        One log row per epoch (the columns of :data:`LOG_COLUMNS`).
    steps : int
        Optimiser steps taken in total.
    out_dir : Path or None
        Folder with ``log.csv``, the checkpoint and ``best.safetensors``.
    """

    model: nn.Module
    best_epoch: int | None
    best_metrics: dict[str, float]
    history: tuple[dict, ...]
    steps: int
    out_dir: Path | None


@dataclass
class _RunState:
    """What changes during a run (local to one :func:`train_model` call)."""

    epoch: int = 0
    step: int = 0
    planned: int = 1
    epoch_seconds: list[float] = field(default_factory=list)
    deadline: Deadline = field(default_factory=lambda: Deadline.after(None))
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


def _validate_training_inputs(
    model: nn.Module, train_data: PatchSet, val_data: ValidationSet | None, loss: str
) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if len(train_data) == 0:
        raise ValueError("train_data holds no patches")
    channels = getattr(model, "in_channels", None)
    expected = 3 if train_data.probabilities is None else 4
    if channels is not None and channels != expected:
        raise ValueError(
            f"model takes {channels} input channels but the training patches give {expected} "
            "(stage 2 needs train_data.probabilities, see wsinuc.training.cascade)"
        )
    if val_data is not None and len(val_data) == 0:
        raise ValueError("val_data holds no images; pass None to train without validation")


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _start_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig, device: torch.device
) -> _RunState:
    """Fresh state, or the one in ``out_dir`` when resuming."""
    out_dir = config.out_dir
    has_checkpoint = out_dir is not None and checkpoint_exists(out_dir)
    if has_checkpoint and not config.resume:
        raise OptionError(
            "--resume",
            f"{out_dir} already holds a training checkpoint; resume or choose another folder",
        )
    if not has_checkpoint:
        torch.manual_seed(config.seed)
        return _RunState(planned=config.epochs, best_state=_cpu_state(model))
    saved = load_checkpoint(out_dir)
    try:
        model.load_state_dict(saved.model_state)
        optimizer.load_state_dict(saved.optimizer_state)
    except (RuntimeError, ValueError, KeyError) as error:
        problem = " ".join(str(error).split())[:200]
        message = f"the checkpoint does not fit this model ({problem})"
        raise WeightsError(out_dir, message) from error
    torch.set_rng_state(saved.rng_state["torch"])
    if device.type == "cuda" and "cuda" in saved.rng_state:
        torch.cuda.set_rng_state(saved.rng_state["cuda"], device)
    logger.info("resuming %s after epoch %d (step %d)", out_dir, saved.epoch, saved.step)
    return _RunState(
        epoch=saved.epoch, step=saved.step,
        planned=min(config.epochs, saved.planned_epochs or config.epochs),
        best_state=saved.best_state,
        best_epoch=saved.best_epoch, best_metrics=dict(saved.best_metrics),
        history=list(saved.history),
    )


def _run_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_data: PatchSet | DevicePatchSet,
    config: TrainConfig,
    state: _RunState,
    loss: str,
    progress: Progress,
) -> tuple[float, float]:
    """Train one epoch in place; return (mean training loss, last learning rate)."""
    device = next(model.parameters()).device
    n_steps = steps_per_epoch(len(train_data), config.batch_size, config.max_steps_per_epoch)
    total = state.planned * n_steps
    batches = training_batches(train_data, config, state.epoch)
    model.train()
    losses, lr = [], config.lr
    description = f"epoch {state.epoch + 1}/{state.planned}"
    task = progress.add_task(description, total=n_steps, loss=math.nan)
    for batch in batches:
        lr = learning_rate(state.step, total, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = batch.to(device)
        with autocast(config.precision, device):
            logits = model(batch.inputs)
        value = batch_loss(logits, batch, loss, config.distill_weight)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        state.step += 1
        losses.append(value.detach())  # no host sync per step: the GPU queue stays full
        shown = {"loss": float(losses[-1])} if len(losses) % 16 == 0 else {}
        progress.update(task, advance=1, **shown)
    progress.remove_task(task)
    return float(torch.stack(losses).double().mean()), lr


def _should_validate(state: _RunState, config: TrainConfig) -> bool:
    return state.epoch % config.val_every == 0 or state.epoch >= state.planned


def _replan(state: _RunState, config: TrainConfig) -> None:
    """Shrink (or restore) ``state.planned`` so the run fits ``config.time_budget_s``.

    Without a budget the plan stays as it started (``epochs``, or the plan a
    resumed checkpoint recorded), so resuming a budget-shortened run never
    extends it.
    """
    if config.time_budget_s is None:
        return
    state.planned = planned_epochs(
        state.epoch, config.epochs, state.deadline.remaining(), state.epoch_seconds
    )


def _update_best(model: nn.Module, state: _RunState, metrics: dict[str, float] | None) -> bool:
    """Keep the current weights when they beat the best validation AJI; True if they did."""
    if metrics is None:
        improved = state.best_epoch is None or not state.best_metrics
    else:
        improved = state.best_epoch is None or metrics["val_aji"] > state.best_metrics.get(
            "val_aji", -math.inf
        )
    if improved:
        state.best_state = _cpu_state(model)
        state.best_epoch = state.epoch
        state.best_metrics = dict(metrics or {})
    return improved


def _train_and_validate(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: tuple[PatchSet | DevicePatchSet, ValidationSet | None],
    config: TrainConfig,
    state: _RunState,
    loss: str,
    progress: Progress,
) -> dict:
    """One epoch: train, validate when due, re-plan; the log row (``metrics`` key added).

    The epoch that the re-planning makes the last one is validated even when
    ``val_every`` would skip it, so model selection always sees the final weights.
    """
    train_data, val_data = data
    started = time.perf_counter()
    train_loss, lr = _run_epoch(model, optimizer, train_data, config, state, loss, progress)
    state.epoch += 1

    def validate() -> dict[str, float] | None:
        if val_data is None:
            return None
        return validate_model(
            model, val_data, loss_function(loss), patch_size=config.patch_size,
            device=next(model.parameters()).device, batch_size=config.batch_size,
            precision=config.precision, seeded=seeded_parameters(config.boundary_width),
        )

    metrics = validate() if _should_validate(state, config) else None
    state.epoch_seconds.append(time.perf_counter() - started)
    _replan(state, config)
    if metrics is None and state.epoch >= state.planned:
        metrics = validate()
    return {
        "epoch": state.epoch, "step": state.step, "train_loss": train_loss, **(metrics or {}),
        "lr": lr, "seconds": round(time.perf_counter() - started, 3), "metrics": metrics,
    }


def _save_outputs(
    model: nn.Module, optimizer: torch.optim.Optimizer, state: _RunState, config: TrainConfig,
    loss: str, improved: bool,
) -> None:
    out_dir = config.out_dir
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    write_log(out_dir / LOG_NAME, state.history)
    if improved:
        best = copy.deepcopy(model).cpu()
        best.load_state_dict(state.best_state)
        card = {"best_epoch": state.best_epoch, "metrics": state.best_metrics, "loss": loss,
                "training": config_card(config)}
        save_weights(best, out_dir / BEST_NAME, card)
    save_checkpoint(out_dir, Checkpoint(
        epoch=state.epoch, step=state.step, model_state=_cpu_state(model),
        best_state=state.best_state, optimizer_state=optimizer.state_dict(),
        rng_state=_rng_state(device), best_epoch=state.best_epoch,
        best_metrics=state.best_metrics, history=state.history,
        planned_epochs=state.planned if state.planned < config.epochs else None,
    ))


def train_model(
    model: nn.Module,
    train_data: PatchSet,
    val_data: ValidationSet | None,
    config: TrainConfig,
    *,
    loss: str = "weighted_bce",
    stage1: nn.Module | None = None,
) -> TrainResult:
    """Train ``model`` on patches, select the epoch with the best validation AJI.

    Parameters
    ----------
    model : torch.nn.Module
        Network from :func:`wsinuc.models.create_model` (its init is seeded by
        the caller); 3 input channels, or 4 when ``train_data.probabilities`` is set.
    train_data : PatchSet
        Training patches (with stage-1 probabilities for stage 2).
    val_data : ValidationSet or None
        Whole validation images; None trains without model selection (last epoch wins).
    config : TrainConfig
        Epochs, optimiser, device, output folder, resume flag...
    loss : {"weighted_bce", "dice"}
        Stage 1 uses border-weighted BCE, stage 2 soft Dice.
    stage1 : torch.nn.Module or None
        Frozen stage-1 network; when given and ``val_data`` has no
        probabilities, its probabilities become the validation 4th channel.

    Returns
    -------
    TrainResult
        With ``model`` holding the best weights.
    """
    _validate_training_inputs(model, train_data, val_data, loss)
    deadline = Deadline.after(config.time_budget_s)
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed 256-px patches: pick the fastest kernels once
    model = model.to(device).to(memory_format=torch.channels_last)  # 1.6x per CPU step
    config, train_data = prepare_training(model, train_data, config, device)  # GPU-resident data
    if stage1 is not None and val_data is not None and val_data.probabilities is None:
        stage1 = stage1.to(device).to(memory_format=torch.channels_last)
        val_data = stage1_validation_set(stage1, val_data, config)
    optimizer = torch.optim.AdamW(  # fused: one kernel per step on CUDA
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )
    state = _start_state(model, optimizer, config, device)
    state.deadline = deadline
    with progress_bar(config.progress) as progress:
        while state.epoch < state.planned:
            row = _train_and_validate(
                model, optimizer, (train_data, val_data), config, state, loss, progress
            )
            improved = _update_best(model, state, row.pop("metrics"))
            state.history.append(row)
            logger.info("epoch %d/%d: %s", state.epoch, state.planned, row)
            if improved or _should_validate(state, config):  # checkpoint every val_every epochs
                _save_outputs(model, optimizer, state, config, loss, improved)
    message = overshoot_message(config.time_budget_s, deadline, state.epoch_seconds)
    if message:
        logger.warning("%s: %s", config.out_dir or "training run", message)
    model.load_state_dict(state.best_state)
    return TrainResult(
        model=model, best_epoch=state.best_epoch, best_metrics=state.best_metrics,
        history=tuple(state.history), steps=state.step, out_dir=config.out_dir,
    )
