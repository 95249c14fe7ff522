"""Out-of-fold stage-1 inputs for stage 2, and the patch sets they index."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from wsinuc.training import cascade
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import make_patch_set
from wsinuc.training.loop import TrainResult

IDS = [f"TCGA-{i:02d}" for i in range(7)]


@pytest.mark.parametrize("folds", [2, 3, 4])
def test_every_image_gets_exactly_one_fold_and_folds_are_balanced(folds):
    fold_of = cascade.assign_folds(IDS, folds, seed=1)
    assert sorted(fold_of) == sorted(IDS)
    sizes = np.bincount(list(fold_of.values()), minlength=folds)
    assert sizes.max() - sizes.min() <= 1 and sizes.min() >= 1


def test_fold_assignment_is_reproducible_and_depends_on_the_seed():
    assert cascade.assign_folds(IDS, 3, seed=5) == cascade.assign_folds(IDS, 3, seed=5)
    assignments = {tuple(sorted(cascade.assign_folds(IDS, 3, seed=s).items())) for s in range(5)}
    assert len(assignments) > 1


def test_images_of_one_patient_share_a_fold():
    ids = ["TCGA-AA-0001-01Z", "TCGA-AA-0001-02Z", "TCGA-BB-0002-01Z", "TCGA-CC-0003-01Z"]
    for seed in range(6):
        fold_of = cascade.assign_folds(ids, 2, seed=seed)
        assert fold_of[ids[0]] == fold_of[ids[1]]


def test_a_custom_patient_function_groups_images():
    groups = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "c2": "C"}
    fold_of = cascade.assign_folds(list(groups), 2, seed=0, patient_of=groups.__getitem__)
    assert fold_of["a1"] == fold_of["a2"] and fold_of["c1"] == fold_of["c2"]


def test_no_held_out_image_is_in_its_fold_training_set():
    patch_ids = [i for i in IDS for _ in range(4)]
    fold_of = cascade.assign_folds(IDS, 3, seed=0)
    held_count = np.zeros(len(patch_ids), int)
    for fold in range(3):
        train, held = cascade.fold_patch_indices(patch_ids, fold_of, fold)
        assert not {patch_ids[i] for i in train} & {patch_ids[i] for i in held}
        assert len(train) + len(held) == len(patch_ids)
        held_count[held] += 1
    assert (held_count == 1).all()


def test_too_few_images_for_the_folds_is_refused():
    with pytest.raises(ValueError, match="2 image group"):
        cascade.assign_folds(["a", "b"], 3)
    with pytest.raises(ValueError, match="folds must be"):
        cascade.assign_folds(IDS, 1)


def _sample(image_id: str, size: int = 64) -> SimpleNamespace:
    image = np.full((size, size, 3), 220, np.uint8)
    instances = np.zeros((size, size), np.int32)
    instances[10:20, 10:20] = 1
    instances[40:52, 30:44] = 2
    image[instances > 0] = 60
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


class ConstantLogit(nn.Module):
    """Predicts the same logit everywhere; the logit tags which fold model it is."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(float(logit)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit.expand(x.shape[0], 1, *x.shape[2:])


def test_each_patch_is_predicted_by_a_model_that_did_not_see_its_image(monkeypatch):
    patches = make_patch_set([_sample(i) for i in IDS[:5]], patch_size=32)
    trained_on: list[set[str]] = []

    def fake_train_model(model, train_data, val_data, config, *, loss):
        trained_on.append(set(train_data.image_ids))
        return TrainResult(ConstantLogit(len(trained_on)), 1, {}, (), 0, None)

    monkeypatch.setattr(cascade, "train_model", fake_train_model)
    config = TrainConfig(device="cpu", patch_size=32, progress=False)
    result = cascade.out_of_fold_probabilities(nn.Identity, patches, None, config, folds=3)
    assert len(trained_on) == 3
    for index, image_id in enumerate(patches.image_ids):
        probability = float(result.probabilities[index, 0, 0])
        tag = round(np.log(probability / (1 - probability)))
        assert image_id not in trained_on[tag - 1]
        assert tag - 1 == result.fold_of_image[image_id]


def test_stage_configs_split_a_preset_into_its_two_networks():
    stage1, stage2 = cascade.stage_configs("cascade-lite")
    assert stage1["name"] == "unet" and stage2["in_channels"] == 4
    with pytest.raises(ValueError, match="no-such"):
        cascade.stage_configs("no-such")
