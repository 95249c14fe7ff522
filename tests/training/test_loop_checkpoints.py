"""The training loop writes its checkpoint on validated epochs only (every ``val_every``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from wsinuc.models import create_model
from wsinuc.training import loop
from wsinuc.training.augment import NO_AUGMENTATION
from wsinuc.training.checkpoint import load_checkpoint
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import make_patch_set, make_validation_set
from wsinuc.training.loop import train_model


def _sample(image_id: str = "a") -> SimpleNamespace:
    image = np.full((64, 64, 3), 220, np.uint8)
    instances = np.zeros((64, 64), np.int32)
    instances[10:20, 10:20], instances[40:50, 30:40] = 1, 2
    image[instances > 0] = 60
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


def _patches():
    return make_patch_set([_sample()], 32)


VAL = make_validation_set([_sample("v")])


def _config(tmp_path, **changes) -> TrainConfig:
    return TrainConfig(epochs=5, batch_size=2, lr=1e-2, device="cpu", patch_size=32, progress=False,
                       augment=NO_AUGMENTATION, val_every=2, out_dir=tmp_path, **changes)


def test_checkpoints_follow_val_every_and_the_last_epoch(tmp_path, monkeypatch):
    saved = []
    real_save = loop._save_outputs

    def record(model, optimizer, state, *args):
        saved.append(state.epoch)
        return real_save(model, optimizer, state, *args)

    monkeypatch.setattr(loop, "_save_outputs", record)
    torch.manual_seed(0)
    train_model(create_model("unet", width=4, depth=2), _patches(), VAL, _config(tmp_path))
    assert saved == [1, 2, 4, 5]  # epoch 1 holds the first "best" weights until a validation
    assert load_checkpoint(tmp_path).epoch == 5 and len(load_checkpoint(tmp_path).history) == 5


def test_a_run_resumed_between_checkpoints_ends_with_the_same_weights(tmp_path, interrupt_at_epoch):
    torch.manual_seed(0)
    straight = train_model(create_model("unet", width=4, depth=2), _patches(), VAL,
                           _config(tmp_path / "a"))
    torch.manual_seed(0)
    with interrupt_at_epoch(4):
        train_model(create_model("unet", width=4, depth=2), _patches(), VAL, _config(tmp_path / "b"))
    assert load_checkpoint(tmp_path / "b").epoch == 2  # epoch 3 was not checkpointed
    resumed = train_model(create_model("unet", width=4, depth=2), _patches(), VAL,
                          _config(tmp_path / "b", resume=True))
    assert resumed.steps == straight.steps
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
