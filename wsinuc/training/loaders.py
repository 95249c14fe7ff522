"""Which batches a training run draws: the numpy loader or the device-resident one.

:func:`prepare_training` applies ``TrainConfig.data_on_device`` (copy the
training set to the device once, :mod:`wsinuc.training.device_data`) and
``TrainConfig.auto_batch_size`` (:mod:`wsinuc.training.batch_probe`);
:func:`training_batches` yields an epoch's batches from whichever loader that chose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch

from wsinuc.training.batch_probe import probe_batch_size
from wsinuc.training.config import DATA_ON_DEVICE, TrainConfig
from wsinuc.training.data import Batch, PatchSet, epoch_batches
from wsinuc.training.device_data import DevicePatchSet, device_epoch_batches, to_device


def use_device_data(mode: str, device: torch.device) -> bool:
    """Resolve ``--data-on-device``: ``"auto"`` is on for CUDA and off elsewhere."""
    if mode not in DATA_ON_DEVICE:
        raise ValueError(f"data_on_device must be one of {DATA_ON_DEVICE}, got {mode!r}")
    return mode == "on" or (mode == "auto" and torch.device(device).type == "cuda")


def training_batches(
    train_data: PatchSet | DevicePatchSet, config: TrainConfig, epoch: int,
    steps: range | None = None,
) -> Iterator[Batch]:
    """The batches of one epoch from either loader (what the training loop iterates).

    ``steps`` picks the positions ``steps.start`` to ``steps.stop - 1`` of the
    epoch (a resumed run, the last epoch of a step budget); None takes them all.

    A :class:`DevicePatchSet` uses random crops when ``config.augment.flip_rotate``
    is on (geometry augmentation), the patch grid otherwise.
    """
    kwargs = dict(seed=config.seed, epoch=epoch, augment=config.augment,
                  max_steps=config.max_steps_per_epoch)
    if steps is not None:
        kwargs.update(start=steps.start, max_steps=steps.stop)
    if isinstance(train_data, DevicePatchSet):
        return device_epoch_batches(
            train_data, config.batch_size, random_crops=config.augment.flip_rotate, **kwargs
        )
    return epoch_batches(train_data, config.batch_size, threads=config.loader_threads, **kwargs)


def prepare_training(
    model: torch.nn.Module, train_data: PatchSet, config: TrainConfig, device: torch.device
) -> tuple[TrainConfig, PatchSet | DevicePatchSet]:
    """Apply ``config.data_on_device`` and ``config.auto_batch_size`` for a model already on ``device``.

    Returns the config (``batch_size`` replaced by the probed one on CUDA) and
    the training data (a :class:`DevicePatchSet` when it goes to the device).
    """
    if use_device_data(config.data_on_device, device):
        train_data = to_device(train_data, device)
    if config.auto_batch_size and torch.device(device).type == "cuda":
        channels = 3 if train_data.probabilities is None else 4
        probed = probe_batch_size(model, channels, config.patch_size, config.precision)
        config = replace(config, batch_size=max(1, min(probed, len(train_data))))
    return config, train_data
