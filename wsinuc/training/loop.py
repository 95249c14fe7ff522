"""Train one network: AdamW, LR schedule, precision (bf16 autocast), validation AJI, checkpoints, CSV log.

:func:`train_model` is the only entry point. Each epoch it

1. draws the shuffled, augmented batches of the epoch, seeded by ``(seed, epoch)``:
   numpy in loader threads (:func:`~wsinuc.training.data.epoch_batches`), or torch
   ops on a training set resident on the device (``config.data_on_device``, on for
   CUDA by default; :mod:`wsinuc.training.device_data`),
2. takes one AdamW step per batch with the learning rate of
   :func:`wsinuc.training.schedule.learning_rate` over the run's total steps
   (``config.total_steps``, or epochs x steps per epoch), in the precision of
   :func:`wsinuc.training.precision.training_precision` (bf16 autocast on CUDA
   and on CPUs with native bf16), and moves the averaged weights
   (``config.ema_decay``); see :mod:`wsinuc.training.epoch`,
3. every ``val_every`` epochs predicts the whole validation images and
   scores loss / Dice / AJI / object F1 (:func:`validate_model`) with the
   averaged weights when the run averages, keeping the weights of the best AJI
   in memory and in ``best.safetensors``,
4. with ``config.time_budget_s``, re-plans the number of epochs so the run
   ends within its budget (:func:`wsinuc.training.budget.planned_epochs`);
   the learning-rate schedule follows the plan, and the last planned epoch
   is always validated,
5. rewrites ``log.csv``, ``curve.png`` (with matplotlib) and the checkpoint
   (:mod:`wsinuc.training.checkpoint`) after each validated epoch (every
   ``val_every`` epochs and the last one); the checkpoint also every
   ``checkpoint_minutes`` / ``checkpoint_steps``, inside epochs if need be,
6. with ``config.patience``, stops after that many validations without a
   better AJI (:func:`out_of_patience`); a resumed run that had stopped stays stopped.

With ``resume=True`` a run restarts from its last checkpoint (an epoch's end
or a step inside one) with the same weights, averaged weights, optimiser
moments, step counter and random states, so on a deterministic device it ends
with bit-identical weights to an uninterrupted run.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from rich.progress import Progress
from torch import nn

from wsinuc.errors import OptionError
from wsinuc.device import resolve_device
from wsinuc.models import WeightsError, save_weights
from wsinuc.training.averaging import init_ema
from wsinuc.training.budget import Deadline, overshoot_message, planned_epochs
from wsinuc.training.checkpoint import checkpoint_exists, load_checkpoint
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet, ValidationSet
from wsinuc.training.device_data import DevicePatchSet
from wsinuc.training.epoch import (
    RunState,
    averaged_weights,
    cpu_copy,
    epochs_for,
    run_epoch,
    write_checkpoint,
)
from wsinuc.training.evaluate import stage1_validation_set, validate_model
from wsinuc.training.loaders import prepare_training
from wsinuc.training.objective import LOSSES, batch_loss, loss_function
from wsinuc.training.plot import write_curve
from wsinuc.training.precision import training_precision
from wsinuc.training.rng import restore_rng
from wsinuc.training.run_files import (
    BEST_NAME,
    LOG_COLUMNS,
    LOG_NAME,
    config_card,
    progress_bar,
    write_log,
)
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


_RunState = RunState  # the name the tests and older callers use
_run_epoch = run_epoch  # one epoch of training; tests wrap it (interrupts, a fake clock)


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


def _start_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig, n_patches: int
) -> RunState:
    """Fresh state, or the one in ``out_dir`` when resuming (weights, averages, RNG restored)."""
    device = next(model.parameters()).device
    out_dir = config.out_dir
    has_checkpoint = out_dir is not None and checkpoint_exists(out_dir)
    if has_checkpoint and not config.resume:
        raise OptionError(
            "--resume",
            f"{out_dir} already holds a training checkpoint; resume or choose another folder",
        )
    epochs = epochs_for(config, n_patches)
    ema = init_ema(model) if config.ema_decay > 0 else None
    saved_at = (time.monotonic(), 0)
    if not has_checkpoint:
        torch.manual_seed(config.seed)
        return RunState(planned=epochs, best_state=cpu_copy(model.state_dict()), ema=ema,
                        saved_at=saved_at)
    saved = load_checkpoint(out_dir)
    try:
        model.load_state_dict(saved.model_state)
        optimizer.load_state_dict(saved.optimizer_state)
        if ema is not None:
            model_ema = saved.ema_state or saved.model_state
            ema = {k: model_ema[k].to(v.device, v.dtype) for k, v in ema.items()}
    except (RuntimeError, ValueError, KeyError) as error:
        problem = " ".join(str(error).split())[:200]
        message = f"the checkpoint does not fit this model ({problem})"
        raise WeightsError(out_dir, message) from error
    restore_rng(saved.rng_state, device)
    logger.info("resuming %s after epoch %d (step %d)", out_dir, saved.epoch, saved.step)
    state = RunState(
        epoch=saved.epoch, step=saved.step,
        planned=min(epochs, saved.planned_epochs or epochs),
        best_state=saved.best_state,
        best_epoch=saved.best_epoch, best_metrics=dict(saved.best_metrics),
        history=list(saved.history), ema=ema, partial=dict(saved.partial_epoch),
        saved_at=(saved_at[0], saved.step),
    )
    if out_of_patience(state.history, state.best_epoch, config.patience):
        state.planned = state.epoch
    return state


def out_of_patience(history: list[dict], best_epoch: int | None, patience: int) -> bool:
    """Whether ``patience`` (> 0) validations logged after ``best_epoch`` all failed to beat it."""
    if patience <= 0 or best_epoch is None:
        return False
    later = [row for row in history if row["epoch"] > best_epoch and row.get("val_aji") is not None]
    return len(later) >= patience


def _should_validate(state: RunState, config: TrainConfig) -> bool:
    return state.epoch % config.val_every == 0 or state.epoch >= state.planned


def _replan(state: RunState, config: TrainConfig) -> None:
    """Shrink (or restore) ``state.planned`` so the run fits ``config.time_budget_s``.

    Without a budget the plan stays as it started (``epochs``, or the plan a
    resumed checkpoint recorded), so resuming a budget-shortened run never
    extends it.
    """
    if config.time_budget_s is None or config.total_steps is not None:
        return
    state.planned = planned_epochs(
        state.epoch, config.epochs, state.deadline.remaining(), state.epoch_seconds
    )


def _update_best(model: nn.Module, state: RunState, metrics: dict[str, float] | None) -> bool:
    """Keep the current weights when they beat the best validation AJI; True if they did."""
    if metrics is None:
        improved = state.best_epoch is None or not state.best_metrics
    else:
        improved = state.best_epoch is None or metrics["val_aji"] > state.best_metrics.get(
            "val_aji", -math.inf
        )
    if improved:
        state.best_state = cpu_copy(model.state_dict() if state.ema is None else state.ema)
        state.best_epoch = state.epoch
        state.best_metrics = dict(metrics or {})
    return improved


def _train_and_validate(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: tuple[PatchSet | DevicePatchSet, ValidationSet | None],
    config: TrainConfig,
    state: RunState,
    loss: str,
    progress: Progress,
) -> dict:
    """One epoch: train, validate when due, re-plan; the log row (``metrics`` key added).

    The epoch that the re-planning makes the last one is validated even when
    ``val_every`` would skip it, so model selection always sees the final weights.
    """
    train_data, val_data = data
    started = time.perf_counter()
    trained = _run_epoch(model, optimizer, train_data, config, state, loss, progress)
    state.epoch += 1

    def validate() -> dict[str, float] | None:
        if val_data is None:
            return None
        with averaged_weights(model, state) as evaluated:
            return validate_model(
                evaluated, val_data, loss_function(loss), patch_size=config.patch_size,
                device=next(model.parameters()).device, batch_size=config.batch_size,
                precision=config.precision, seeded=seeded_parameters(config.boundary_width, config.mpp),
            )

    metrics = validate() if _should_validate(state, config) else None
    state.epoch_seconds.append(time.perf_counter() - started)
    _replan(state, config)
    if metrics is None and state.epoch >= state.planned:
        metrics = validate()
    return {
        "epoch": state.epoch, "step": state.step, **trained, **(metrics or {}),
        "seconds": round(time.perf_counter() - started, 3), "metrics": metrics,
    }


def _save_outputs(
    model: nn.Module, optimizer: torch.optim.Optimizer, state: RunState, config: TrainConfig,
    loss: str, improved: bool,
) -> None:
    out_dir = config.out_dir
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_log(out_dir / LOG_NAME, state.history)
    write_curve(out_dir, LOG_NAME)
    if improved:
        best = copy.deepcopy(model).cpu()
        best.load_state_dict(state.best_state)
        card = {"best_epoch": state.best_epoch, "metrics": state.best_metrics, "loss": loss,
                "training": config_card(config), "averaged_weights": state.ema is not None}
        save_weights(best, out_dir / BEST_NAME, card)
    write_checkpoint(model, optimizer, state, config)


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
    config = replace(config, precision=training_precision(config.precision, device))
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
    state = _start_state(model, optimizer, config, len(train_data))
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
            if out_of_patience(state.history, state.best_epoch, config.patience):
                logger.info("%s: stopping at step %d, no better validation AJI in %d validations since epoch %d",
                            config.out_dir or "training run", state.step, config.patience, state.best_epoch)
                break
    message = overshoot_message(config.time_budget_s, deadline, state.epoch_seconds)
    if message:
        logger.warning("%s: %s", config.out_dir or "training run", message)
    model.load_state_dict(state.best_state)
    return TrainResult(
        model=model, best_epoch=state.best_epoch, best_metrics=state.best_metrics,
        history=tuple(state.history), steps=state.step, out_dir=config.out_dir,
    )
