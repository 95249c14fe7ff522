"""Checkpoint files: a write interrupted at any point leaves a consistent checkpoint."""

from __future__ import annotations

import pytest
import torch

from wsinuc.training import checkpoint
from wsinuc.training.checkpoint import Checkpoint, checkpoint_exists, load_checkpoint, save_checkpoint


def _checkpoint(step: int) -> Checkpoint:
    weights = {"w": torch.full((2,), float(step))}
    return Checkpoint(epoch=0, step=step, model_state=weights, best_state=weights,
                      optimizer_state={"state": {}, "param_groups": []}, rng_state={},
                      ema_state={"w": torch.zeros(2)}, partial_epoch={"steps": step})


def test_tensor_files_take_turns_and_only_the_named_one_is_kept(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, _checkpoint(step))
        assert len(list(tmp_path.glob("*.safetensors"))) == 1
    saved = load_checkpoint(tmp_path)
    assert saved.step == 3 and float(saved.model_state["w"][0]) == 3.0
    assert saved.partial_epoch == {"steps": 3} and torch.equal(saved.ema_state["w"], torch.zeros(2))


@pytest.mark.parametrize("failing_call", [1, 2])
def test_a_write_killed_before_the_commit_leaves_the_previous_checkpoint(tmp_path, monkeypatch, failing_call):
    save_checkpoint(tmp_path, _checkpoint(1))
    real_replace, calls = checkpoint.os.replace, []

    def replace(source, target):
        calls.append(target)
        if len(calls) == failing_call:  # 1: before the tensors land, 2: between tensors and JSON
            raise KeyboardInterrupt
        return real_replace(source, target)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, _checkpoint(2))
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert checkpoint_exists(tmp_path)
    saved = load_checkpoint(tmp_path)
    assert saved.step == 1 and float(saved.model_state["w"][0]) == 1.0
