"""Training checkpoints without pickle: safetensors for tensors, JSON for the rest.

A checkpoint is two files written side by side in the run folder:

``checkpoint.safetensors``
    ``model.<name>`` (current weights), ``best.<name>`` (best weights so far),
    ``ema.<name>`` (averaged weights, when the run averages them),
    ``optim.<param index>.<key>`` (AdamW moments and step counters) and
    ``rng.<name>`` (random generator states, :mod:`wsinuc.training.rng`).
``checkpoint.json``
    Completed epochs, global step, AdamW ``param_groups`` (learning rate,
    betas, ...), the best epoch and its metrics, the log rows so far and,
    for a checkpoint written inside an epoch, that epoch's running sums.

``checkpoint.json`` names its tensor file, and the two tensor files
``checkpoint.safetensors`` / ``checkpoint.b.safetensors`` take turns: a new
checkpoint writes the file the current JSON does *not* name (temporary name,
then rename), then replaces the JSON (the commit), then deletes the other
file. A write interrupted at any point (even ``kill -9``) leaves a JSON and
the tensors it names, from the same step. Loading never
unpickles anything, so even a checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from wsinuc.models import WeightsError

TENSORS_NAME = "checkpoint.safetensors"
SPARE_TENSORS_NAME = "checkpoint.b.safetensors"
STATE_NAME = "checkpoint.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to continue a run where it stopped.

    Attributes
    ----------
    epoch : int
        Number of completed epochs.
    step : int
        Number of completed optimiser steps.
    model_state, best_state : dict
        Current and best model ``state_dict`` (CPU tensors).
    optimizer_state : dict
        ``optimizer.state_dict()`` rebuilt from the flat tensors.
    rng_state : dict
        Name -> tensor, from :func:`wsinuc.training.rng.capture_rng`.
    best_epoch : int or None
        Epoch (1-based) of the best validation AJI, None before any validation.
    best_metrics : dict
        Validation metrics of the best epoch.
    history : list of dict
        Log rows of the completed epochs.
    planned_epochs : int or None
        Epoch count the run had planned when it was saved (smaller than the
        configured epochs when a time budget cut it, see
        :mod:`wsinuc.training.budget`); None in checkpoints from before budgets.
    ema_state : dict or None
        Averaged weights (None when the run does not average).
    partial_epoch : dict
        Sums of the epoch in progress when written mid-epoch (``loss``, ``dice``,
        ``steps``, ``data_seconds``, ``seconds``, ``elapsed``) and its last ``lr``;
        empty at an epoch's end. The position in the epoch is ``step`` minus the
        steps of the completed epochs.
    """

    epoch: int
    step: int
    model_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor]
    optimizer_state: dict
    rng_state: dict[str, torch.Tensor]
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    planned_epochs: int | None = None
    ema_state: dict[str, torch.Tensor] | None = None
    partial_epoch: dict = field(default_factory=dict)


def checkpoint_exists(folder: Path) -> bool:
    """True when ``folder`` holds a checkpoint JSON (and, if readable, the tensor file it names)."""
    folder = Path(folder)
    if not (folder / STATE_NAME).is_file():
        return False
    name = _tensor_file(folder)
    return name is None or (folder / name).is_file()


def _tensor_file(folder: Path) -> str | None:
    """The tensor file the JSON names (older checkpoints: :data:`TENSORS_NAME`); None if unreadable."""
    try:
        meta = json.loads((folder / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    name = meta.get("tensors", TENSORS_NAME) if isinstance(meta, dict) else None
    return name if name in (TENSORS_NAME, SPARE_TENSORS_NAME) else None


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in state.items()}


def _strip(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    start = len(prefix) + 1
    return {k[start:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def save_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` into ``folder`` atomically (see module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    optim_tensors, optim_meta = _flatten_optimizer(checkpoint.optimizer_state)
    tensors = {
        **_prefixed("model", checkpoint.model_state),
        **_prefixed("best", checkpoint.best_state),
        **_prefixed("ema", checkpoint.ema_state or {}),
        **optim_tensors,
        **{f"rng.{k}": v.contiguous() for k, v in checkpoint.rng_state.items()},
    }
    meta = {
        "format_version": FORMAT_VERSION,
        "epoch": checkpoint.epoch,
        "step": checkpoint.step,
        "optimizer": optim_meta,
        "best_epoch": checkpoint.best_epoch,
        "best_metrics": checkpoint.best_metrics,
        "history": checkpoint.history,
        "planned_epochs": checkpoint.planned_epochs,
        "partial_epoch": checkpoint.partial_epoch,
    }
    current = _tensor_file(folder) if (folder / STATE_NAME).is_file() else None
    name = SPARE_TENSORS_NAME if current == TENSORS_NAME else TENSORS_NAME
    meta["tensors"] = name
    tmp_tensors = folder / (name + ".tmp")
    tmp_state = folder / (STATE_NAME + ".tmp")
    save_file(tensors, str(tmp_tensors))
    tmp_state.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_tensors, folder / name)
    os.replace(tmp_state, folder / STATE_NAME)  # the commit
    (folder / (SPARE_TENSORS_NAME if name == TENSORS_NAME else TENSORS_NAME)).unlink(missing_ok=True)


def _read_files(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    try:
        meta = json.loads((folder / STATE_NAME).read_text())
        tensors = load_file(str(folder / (_tensor_file(folder) or TENSORS_NAME)))
    except (OSError, ValueError, SafetensorError) as error:
        problem = " ".join(str(error).split())[:200]
        raise WeightsError(folder, f"cannot read the training checkpoint ({problem})") from error
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise WeightsError(
            folder / STATE_NAME, f"checkpoint format {version!r}, expected {FORMAT_VERSION}"
        )
    return meta, tensors


def load_checkpoint(folder: Path) -> Checkpoint:
    """Read the checkpoint in ``folder``.

    Raises
    ------
    WeightsError
        When a file is missing, unreadable, incomplete or of another format version.
    """
    folder = Path(folder)
    meta, tensors = _read_files(folder)
    try:
        return Checkpoint(
            epoch=int(meta["epoch"]),
            step=int(meta["step"]),
            model_state=_strip("model", tensors),
            best_state=_strip("best", tensors),
            optimizer_state=_unflatten_optimizer(tensors, meta["optimizer"]),
            rng_state=_strip("rng", tensors),
            best_epoch=meta.get("best_epoch"),
            best_metrics=meta.get("best_metrics", {}),
            history=meta.get("history", []),
            planned_epochs=meta.get("planned_epochs"),
            ema_state=_strip("ema", tensors) or None,
            partial_epoch=meta.get("partial_epoch") or {},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise WeightsError(folder / STATE_NAME, f"incomplete checkpoint ({error!r})") from error
