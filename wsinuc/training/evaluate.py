"""Predict training/validation images with a model under training and score them.

Validation follows the benchmark, not the training crops: each whole image
is padded to a multiple of the patch size, cut into patches, predicted,
reassembled and cropped back to its original size (1000 x 1000 for
MoNuSeg), then turned into instances with
:func:`wsinuc.instances.probability_to_instances` (or, for a background /
interior / boundary model, :func:`wsinuc.instances.seeded_instances` on its
interior and nucleus probabilities) and scored with AJI and object F1 -- AJI
of patches would differ from AJI of the image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from wsinuc.inference.predictor import probability_maps
from wsinuc.instances import InstanceRule
from wsinuc.metrics import aggregated_jaccard_index, object_f1
from wsinuc.device import autocast
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import ValidationSet, to_model_input, with_validation_probabilities
from wsinuc.training.patches import cut_patches, pad_to_multiple, reassemble_patches

LossFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _validate_images(images: np.ndarray, probabilities: np.ndarray | None) -> None:
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
    if probabilities is not None and probabilities.shape != images.shape[:3]:
        raise ValueError(
            f"probabilities must have shape {images.shape[:3]}, got {probabilities.shape}"
        )


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    images: np.ndarray,
    probabilities: np.ndarray | None = None,
    *,
    device: torch.device,
    batch_size: int = 8,
    precision: str = "auto",
) -> np.ndarray:
    """Logits of equally sized patches, in batches, in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 3 or 4, S, S)`` in [0, 1] to ``(N, 1, S, S)`` logits; left
        in eval mode.
    images : np.ndarray
        uint8 ``(N, S, S, 3)``; S a multiple of the model stride.
    probabilities : np.ndarray or None
        float ``(N, S, S)`` 4th input channel (stage 2), or None.
    device : torch.device
        Where the model sits.
    batch_size : int
        Patches per forward pass.
    precision : {"auto", "fp32", "bf16"}
        bf16 autocast on CUDA for ``"auto"`` (:mod:`wsinuc.device`).

    Returns
    -------
    np.ndarray
        float32 ``(N, S, S)`` logits of a one-channel model, ``(N, S, S, C)``
        (channels last) of a C-channel one.
    """
    _validate_images(images, probabilities)
    model.eval()
    parts = []
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        extra = None if probabilities is None else probabilities[start:stop]
        inputs = to_model_input(images[start:stop], extra).to(device)
        with autocast(precision, device):
            logits = model(inputs).float()
        logits = logits[:, 0] if logits.shape[1] == 1 else logits.permute(0, 2, 3, 1)
        parts.append(logits.cpu().numpy())
    return np.concatenate(parts) if parts else np.empty(images.shape[:3], dtype=np.float32)


def predict_image_logits(
    model: torch.nn.Module,
    image: np.ndarray,
    probability: np.ndarray | None = None,
    *,
    patch_size: int,
    device: torch.device,
    batch_size: int = 8,
    precision: str = "auto",
) -> np.ndarray:
    """Logits of one whole image: pad, cut into patches, predict, reassemble, crop.

    Parameters
    ----------
    model : torch.nn.Module
        Segmentation model (see :func:`predict_logits`).
    image : np.ndarray
        uint8 ``(H, W, 3)``.
    probability : np.ndarray or None
        float ``(H, W)`` 4th input channel, or None.
    patch_size : int
        Tile side, the training patch size.
    device : torch.device
        Where the model sits.
    batch_size : int
        Patches per forward pass.
    precision : {"auto", "fp32", "bf16"}
        bf16 autocast on CUDA for ``"auto"`` (:mod:`wsinuc.device`).

    Returns
    -------
    np.ndarray
        float32 ``(H, W)`` logits, or ``(H, W, C)`` of a C-channel model.
    """
    height, width = image.shape[:2]
    padded = pad_to_multiple(image, patch_size, mode="reflect")
    patches = cut_patches(padded, patch_size)
    extra = None
    if probability is not None:
        extra = cut_patches(pad_to_multiple(probability, patch_size, mode="reflect"), patch_size)
    logits = predict_logits(
        model, patches, extra, device=device, batch_size=batch_size, precision=precision
    )
    return reassemble_patches(logits, padded.shape[:2])[:height, :width]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, float32."""
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float32)))).astype(np.float32)


def validate_model(
    model: torch.nn.Module,
    val_data: ValidationSet,
    loss_function: LossFunction,
    *,
    patch_size: int,
    device: torch.device,
    batch_size: int = 8,
    precision: str = "auto",
    seeded: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Score a model on whole validation images.

    Parameters
    ----------
    model : torch.nn.Module
        Model under training (put in eval mode).
    val_data : ValidationSet
        Whole images with instances, weight maps and (stage 2) probabilities.
    loss_function : callable
        ``(logits, target, weights) -> scalar`` on ``(1, C, H, W)`` logits and
        ``(1, 1, H, W)`` binary target and weights.
    patch_size : int
        Tile side for prediction.
    device : torch.device
        Where the model sits.
    batch_size : int
        Patches per forward pass.
    precision : {"auto", "fp32", "bf16"}
        bf16 autocast on CUDA for ``"auto"`` (:mod:`wsinuc.device`).
    seeded : mapping, optional
        Keyword arguments of :func:`wsinuc.instances.seeded_instances` for a
        three-class model (its defaults when None); unused by one-channel models.

    Returns
    -------
    dict
        ``val_loss``, ``val_aji``, ``val_f1``, ``val_dice`` (foreground Dice of
        the predicted instances): means over the images.
    """
    if len(val_data) == 0:
        raise ValueError("val_data holds no images")
    losses, ajis, f1s, dices = [], [], [], []
    for index, (image, instances) in enumerate(zip(val_data.images, val_data.instances)):
        extra = None if val_data.probabilities is None else val_data.probabilities[index]
        logits = predict_image_logits(
            model, image, extra, patch_size=patch_size, device=device,
            batch_size=batch_size, precision=precision,
        )
        target = torch.from_numpy((instances > 0).astype(np.float32))[None, None]
        weights = torch.from_numpy(val_data.weights[index])[None, None]
        tensor = torch.from_numpy(logits)
        tensor = tensor[None, None] if logits.ndim == 2 else tensor.permute(2, 0, 1)[None]
        losses.append(float(loss_function(tensor, target, weights)))
        predicted = logits_to_instances(logits, seeded)
        ajis.append(aggregated_jaccard_index(instances, predicted))
        f1s.append(object_f1(instances, predicted))
        dices.append(foreground_dice(instances > 0, predicted > 0))
    return {
        "val_loss": float(np.mean(losses)),
        "val_aji": float(np.mean(ajis)),
        "val_f1": float(np.mean(f1s)),
        "val_dice": float(np.mean(dices)),
    }


def foreground_dice(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Dice of two boolean masks (1.0 when both are empty)."""
    total = int(truth.sum()) + int(predicted.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(truth, predicted).sum()) / total


def logits_to_instances(
    logits: np.ndarray, seeded: Mapping[str, float] | None = None
) -> np.ndarray:
    """Labelled nuclei of one image's logits, as the engine makes them.

    ``(H, W)`` nucleus logits: the paper's opening of their sigmoid.
    ``(H, W, 3)`` background / interior / boundary logits: ``seeded``
    instances of the interior and nucleus probabilities
    (:func:`wsinuc.inference.predictor.probability_maps`) with the parameters
    ``seeded`` (a card's ``seeded`` block; :class:`wsinuc.instances.InstanceRule`).
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 2:
        return InstanceRule(method="opening")(sigmoid(logits))
    if logits.ndim != 3 or logits.shape[2] != 3:
        raise ValueError(f"expected (H, W) or (H, W, 3) logits, got shape {logits.shape}")
    maps = probability_maps(torch.from_numpy(logits).permute(2, 0, 1)[None])[0].numpy()
    return InstanceRule.from_card({"seeded": dict(seeded or {})}, "seeded")(maps)


def stage1_validation_set(
    stage1: torch.nn.Module, val_data: ValidationSet, config: TrainConfig
) -> ValidationSet:
    """``val_data`` with stage 1's probability maps attached (stage 2's 4th input channel).

    ``stage1`` must already sit on its device; ``config`` gives the patch size,
    batch size and precision, as in validation.
    """
    device = next(stage1.parameters()).device
    maps = [
        sigmoid(predict_image_logits(
            stage1, image, patch_size=config.patch_size, device=device,
            batch_size=config.batch_size, precision=config.precision,
        ))
        for image in val_data.images
    ]
    return with_validation_probabilities(val_data, maps)
