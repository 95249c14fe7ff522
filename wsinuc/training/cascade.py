"""The paper's training protocol for the two-stage cascade, end to end.

Stage 2 learns to refine stage 1's probability map, so its training input
must look like what stage 1 gives on *unseen* images. Stage 1's predictions
on its own training images are over-confident (near 0/1 and sharper than at
test time), and a stage 2 trained on them learns to copy the 4th channel.
We therefore feed stage 2 **out-of-fold** probabilities
(:func:`out_of_fold_probabilities`): the training images are split into K
folds by patient (MoNuSeg has one image per patient, so this is by image); for each fold a stage-1 model is fine-tuned on the other K - 1
folds, with the same initial weights and epochs as the final stage 1, and
predicts the held-out fold. Every training patch thus gets a probability
from a model that never saw its image. K = 3 by default (each fold model
sees 2/3 of the images, close to the final model, for 3 extra stage-1
runs). ``TrainConfig.stage2_input = "stage1-final"`` uses the final stage
1's own training-set predictions instead (cheaper, for comparison).

:func:`wsinuc.training.protocol.train_cascade` runs the whole protocol.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsinuc.datasets import default_patient
from wsinuc.models import PRESETS, create_model, save_weights
from wsinuc.training.budget import Deadline, run_budget
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet, ValidationSet, select_patches
from wsinuc.training.evaluate import predict_logits, sigmoid
from wsinuc.training.loop import train_model

logger = logging.getLogger(__name__)

ModelFactory = Callable[[], nn.Module]


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold stage-1 probabilities of the training patches.

    Attributes
    ----------
    probabilities : np.ndarray
        float32 ``(N, S, S)``, aligned with the patches of the input PatchSet.
    fold_of_image : dict
        Image id -> fold index; patch ``i`` was predicted by the model trained
        without fold ``fold_of_image[image_ids[i]]``.
    fold_metrics : tuple of dict
        Best validation metrics of each fold model.
    epochs : tuple of int
        Epochs each fold model ran (fewer than asked when a time budget cut it).
    """

    probabilities: np.ndarray
    fold_of_image: dict[str, int]
    fold_metrics: tuple[dict[str, float], ...]
    epochs: tuple[int, ...] = ()


def _validate_folds(folds: int, n_groups: int) -> None:
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if folds > n_groups:
        raise ValueError(f"cannot split {n_groups} image group(s) into {folds} folds")


def assign_folds(
    image_ids: Sequence[str],
    folds: int,
    seed: int = 0,
    patient_of: Callable[[str], str] | None = None,
) -> dict[str, int]:
    """Assign each image to one of ``folds`` folds, keeping groups (patients) together.

    Parameters
    ----------
    image_ids : sequence of str
        Training images (duplicates are ignored).
    folds : int
        Number of folds K >= 2.
    seed : int
        Shuffles the groups before dealing them round-robin to the folds.
    patient_of : callable, optional
        Image id -> patient (group) id; default
        :func:`wsinuc.datasets.default_patient` (TCGA barcode, TNBC slide).

    Returns
    -------
    dict
        Image id -> fold in ``0 .. K-1``; fold sizes (in groups) differ by at most one.
    """
    unique_ids = sorted(set(image_ids))
    patient_of = patient_of or default_patient
    group_of = {i: patient_of(i) for i in unique_ids}
    group_names = sorted(set(group_of.values()))
    _validate_folds(folds, len(group_names))
    order = np.random.default_rng(seed).permutation(len(group_names))
    fold_of_group = {group_names[g]: position % folds for position, g in enumerate(order)}
    return {i: fold_of_group[group_of[i]] for i in unique_ids}


def fold_patch_indices(
    patch_image_ids: Sequence[str], fold_of_image: Mapping[str, int], fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Patch indices to train on and to predict for one fold.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``train`` = patches of images outside ``fold``; ``held_out`` = patches
        of images in ``fold``. Together they cover every patch exactly once.
    """
    in_fold = np.array([fold_of_image[i] == fold for i in patch_image_ids], dtype=bool)
    return np.flatnonzero(~in_fold), np.flatnonzero(in_fold)


def predict_patch_probabilities(
    model: nn.Module, patches: PatchSet, config: TrainConfig
) -> np.ndarray:
    """float32 ``(N, S, S)`` probabilities of the patches (RGB input, eval mode)."""
    device = next(model.parameters()).device
    logits = predict_logits(
        model, patches.images, patches.probabilities, device=device,
        batch_size=config.batch_size, precision=config.precision,
    )
    return sigmoid(logits)


def out_of_fold_probabilities(
    make_model: ModelFactory,
    train_data: PatchSet,
    val_data: ValidationSet | None,
    config: TrainConfig,
    *,
    folds: int = 3,
) -> OutOfFold:
    """Stage-1 probabilities of every training patch from a model that did not see its image.

    Parameters
    ----------
    make_model : callable
        Returns a fresh stage-1 network with the initial (e.g. TNBC-pretrained) weights.
    train_data : PatchSet
        RGB training patches of the final stage 1.
    val_data : ValidationSet or None
        Model selection for each fold model (the held-out validation images).
    config : TrainConfig
        Training settings of each fold model; with ``out_dir`` set, fold ``k``
        writes (and resumes) under ``out_dir / f"fold{k}"``. A
        ``time_budget_s`` covers all K fold models: each gets an equal share
        of the time still left when it starts.
    folds : int
        K; fold assignment by image with ``config.seed`` (:func:`assign_folds`).

    Returns
    -------
    OutOfFold
        Probabilities aligned with ``train_data`` and the fold map.
    """
    fold_of_image = assign_folds(train_data.image_ids, folds, config.seed)
    probabilities = np.zeros(train_data.instances.shape, dtype=np.float32)
    deadline = Deadline.after(config.time_budget_s)
    metrics, epochs = [], []
    for fold in range(folds):
        train_idx, held_idx = fold_patch_indices(train_data.image_ids, fold_of_image, fold)
        out_dir = None if config.out_dir is None else config.out_dir / f"fold{fold}"
        logger.info(
            "out-of-fold stage 1: fold %d/%d, %d patches held out", fold + 1, folds, len(held_idx)
        )
        seconds = run_budget(deadline.remaining(), 1.0, folds - fold - 1.0)
        result = train_model(
            make_model(), select_patches(train_data, train_idx), val_data,
            dataclasses.replace(config, out_dir=out_dir, time_budget_s=seconds),
            loss="weighted_bce",
        )
        held = select_patches(train_data, held_idx)
        probabilities[held_idx] = predict_patch_probabilities(result.model, held, config)
        metrics.append(result.best_metrics)
        epochs.append(len(result.history))
    return OutOfFold(probabilities, fold_of_image, tuple(metrics), tuple(epochs))


def stage_configs(preset: str) -> tuple[dict, dict]:
    """``create_model`` arguments (with ``name``) of stage 1 and stage 2 of a cascade preset."""
    if preset not in PRESETS:
        raise ValueError(f"unknown cascade preset {preset!r}; valid: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[preset]
    stage1 = {"name": "unet", "width": cfg["stage1_width"], "depth": cfg["stage1_depth"]}
    stage2 = {
        "name": "vgg16_unet",
        "in_channels": 4,
        "encoder": cfg["stage2_encoder"],
        "width": cfg["stage2_width"],
        "decoder_channels": list(cfg["stage2_decoder_channels"]),
        "classes": cfg.get("classes", 1),
    }
    return stage1, stage2


def build_stage(stage_config: dict, seed: int, state: dict | None = None) -> nn.Module:
    """Build one stage with a seeded initialisation, optionally loading ``state``."""
    arguments = dict(stage_config)
    torch.manual_seed(seed)
    model = create_model(arguments.pop("name"), **arguments)
    if state is not None:
        model.load_state_dict(state)
    return model


def assemble_cascade(preset: str, stage1: nn.Module, stage2: nn.Module) -> nn.Module:
    """A ``create_model(preset)`` cascade holding the trained stage weights."""
    cascade = create_model(preset)
    cascade.stage1.load_state_dict(stage1.state_dict())
    cascade.stage2.load_state_dict(stage2.state_dict())
    return cascade


def write_card(model: nn.Module, path: Path, card: dict) -> None:
    """Save weights + JSON card with the date added (see :func:`wsinuc.models.save_weights`)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stamped = {**card, "date": now.isoformat(timespec="seconds")}
    save_weights(model, path, stamped)

