"""Step budgets, mid-epoch checkpoints, averaged weights and bit-identical resumes of the training loop."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsinuc.errors import OptionError
from wsinuc.models import create_model
from wsinuc.training import epoch as epoch_module
from wsinuc.training.augment import AugmentConfig
from wsinuc.training.checkpoint import load_checkpoint
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import make_patch_set, make_validation_set
from wsinuc.training.loop import train_model


def _sample(image_id: str, seed: int) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    image = np.full((64, 64, 3), (225, 175, 205), np.uint8)
    instances = np.zeros((64, 64), np.int32)
    for label, (top, left) in enumerate(rng.integers(2, 50, size=(4, 2)), start=1):
        instances[top : top + 9, left : left + 9] = label
    image[instances > 0] = (70, 40, 120)
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


PATCHES = make_patch_set([_sample("a", 1), _sample("b", 2)], 32)  # 8 patches: 4 steps of 2
VAL = make_validation_set([_sample("v", 3)])


def _config(out_dir, **changes) -> TrainConfig:
    values = dict(epochs=3, batch_size=2, lr=1e-2, device="cpu", patch_size=32, progress=False,
                  augment=AugmentConfig(), val_every=1, out_dir=out_dir, loader_threads=1)
    return TrainConfig(**{**values, **changes})


def _train(out_dir, **changes):
    torch.manual_seed(0)
    return train_model(create_model("unet", width=4, depth=2), PATCHES, VAL, _config(out_dir, **changes))


def _assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    one, two = first.state_dict(), second.state_dict()
    assert one.keys() == two.keys()
    for key in one:
        assert torch.equal(one[key], two[key]), key


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_run_stopped_inside_an_epoch_and_resumed_ends_with_bit_identical_weights(
    tmp_path, interrupt_at_step, precision
):
    changes = dict(total_steps=10, checkpoint_steps=3, ema_decay=0.9, precision=precision)
    straight = _train(tmp_path / "a", **changes)
    with interrupt_at_step(8):  # checkpoints after steps 3, 4 (epoch end) and 7 (inside epoch 2)
        _train(tmp_path / "b", **changes)
    saved = load_checkpoint(tmp_path / "b")
    assert (saved.epoch, saved.step) == (1, 7) and saved.partial_epoch["steps"] == 3
    assert saved.ema_state is not None
    resumed = _train(tmp_path / "b", resume=True, **changes)
    assert resumed.steps == straight.steps == 10
    _assert_same_weights(straight.model, resumed.model)
    last = load_checkpoint(tmp_path / "b")
    for key, value in load_checkpoint(tmp_path / "a").model_state.items():
        assert torch.equal(value, last.model_state[key]), key
    assert [row["step"] for row in resumed.history] == [4, 8, 10]


def test_a_step_budget_sets_the_run_length_and_the_schedule(tmp_path, monkeypatch):
    rates = []
    real = epoch_module.learning_rate
    monkeypatch.setattr(epoch_module, "learning_rate",
                        lambda step, total, config: rates.append((step, total)) or real(step, total, config))
    result = _train(tmp_path, total_steps=6, epochs=99)
    assert result.steps == 6 and len(result.history) == 2  # 4 + 2 steps
    assert rates == [(step, 6) for step in range(6)]
    assert result.history[-1]["lr"] == pytest.approx(0.01 * 1e-2)  # cosine reaches its floor at the last step


def test_the_clock_rule_writes_a_checkpoint_inside_an_epoch(tmp_path, monkeypatch):
    now = [0.0]

    def tick() -> float:
        now[0] += 40.0
        return now[0]

    monkeypatch.setattr(epoch_module.time, "monotonic", tick)
    written = []
    real = epoch_module.write_checkpoint
    monkeypatch.setattr(epoch_module, "write_checkpoint",
                        lambda model, opt, state, config: written.append(state.step) or real(model, opt, state, config))
    _train(tmp_path, epochs=1, checkpoint_minutes=1.0, val_every=5)
    assert any(step < 4 for step in written)  # inside the one epoch of 4 steps


def test_averaged_weights_are_what_validation_scores_and_the_run_returns(tmp_path):
    result = _train(tmp_path, epochs=2, ema_decay=0.5)
    saved = load_checkpoint(tmp_path)
    assert saved.ema_state is not None
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, saved.best_state[key])
    differs = any(not torch.equal(saved.ema_state[k], saved.model_state[k]) for k in saved.model_state
                  if saved.model_state[k].is_floating_point())
    assert differs


def test_the_log_has_dice_throughput_and_a_curve(tmp_path):
    pytest.importorskip("matplotlib")
    _train(tmp_path, epochs=2)
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert len(rows) == 2 and all(rows[-1][k] != "" for k in ("train_dice", "val_dice", "steps_per_s"))
    assert 0.0 <= float(rows[-1]["outside_share"]) <= 1.0
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_a_step_budget_and_a_time_budget_cannot_be_combined():
    with pytest.raises(OptionError, match="--max-minutes"):
        TrainConfig(total_steps=10, time_budget_s=60.0)


@pytest.mark.parametrize("name, value", [("ema_decay", 1.0), ("checkpoint_minutes", -1.0),
                                         ("mpp", 0.0), ("stain_normalisation", "reinhard")])
def test_out_of_range_long_run_options_name_their_flag(name, value):
    with pytest.raises(OptionError, match="--" + name.replace("_", "-")):
        TrainConfig(**{name: value})
