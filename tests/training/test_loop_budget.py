"""train_model under a wall-clock budget, driven by the ``fake_clock`` fixture (10 s per epoch)."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from wsinuc.training import loop
from wsinuc.training.checkpoint import load_checkpoint
from wsinuc.training.data import make_patch_set, make_validation_set
from wsinuc.training.loop import train_model
from wsinuc.training.schedule import COSINE_FLOOR

from test_loop import PATCH, synthetic_sample, tiny_config, tiny_unet

@pytest.fixture(scope="module")
def patches():
    return make_patch_set([synthetic_sample(s) for s in range(2)], patch_size=PATCH)


@pytest.fixture(scope="module")
def val_data():
    return make_validation_set([synthetic_sample(10, size=64)])


def test_a_budget_shortens_the_run_to_the_epochs_that_fit(patches, fake_clock):
    config = tiny_config(epochs=30, max_steps_per_epoch=1, time_budget_s=35.0)
    result = train_model(tiny_unet(), patches, None, config)
    assert len(result.history) == 3  # 3 x 10 s fit in 35 s, a 4th would not


def test_the_schedule_follows_the_shortened_plan_to_its_floor(patches, fake_clock):
    config = tiny_config(epochs=30, max_steps_per_epoch=1, time_budget_s=35.0, lr=1e-2)
    result = train_model(tiny_unet(), patches, None, config)
    assert result.history[-1]["lr"] == pytest.approx(COSINE_FLOOR * 1e-2, rel=1e-6)


def test_without_a_budget_every_epoch_runs(patches, fake_clock):
    result = train_model(tiny_unet(), patches, None, tiny_config(epochs=4, max_steps_per_epoch=1))
    assert len(result.history) == 4


def test_a_budget_smaller_than_one_epoch_still_runs_one(patches, fake_clock):
    config = tiny_config(epochs=5, max_steps_per_epoch=1, time_budget_s=1.0)
    assert len(train_model(tiny_unet(), patches, None, config).history) == 1


def test_the_last_planned_epoch_is_validated_even_off_the_validation_rhythm(
    patches, val_data, fake_clock, tmp_path
):
    config = tiny_config(
        epochs=30, max_steps_per_epoch=1, time_budget_s=35.0, val_every=2, out_dir=tmp_path
    )
    result = train_model(tiny_unet(), patches, val_data, config)
    with (tmp_path / loop.LOG_NAME).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["val_aji"] != "" for row in rows] == [False, True, True]
    assert result.best_epoch in (2, 3)


def test_a_finished_budgeted_run_is_complete_on_resume(patches, fake_clock, tmp_path):
    config = tiny_config(epochs=30, max_steps_per_epoch=1, time_budget_s=35.0, out_dir=tmp_path)
    first = train_model(tiny_unet(), patches, None, config)
    assert load_checkpoint(tmp_path).planned_epochs == 3
    again = train_model(tiny_unet(), patches, None, dataclasses.replace(config, resume=True))
    assert again.steps == first.steps and len(again.history) == 3


def test_an_unbudgeted_checkpoint_records_no_plan(patches, tmp_path):
    train_model(tiny_unet(), patches, None, tiny_config(epochs=1, max_steps_per_epoch=1, out_dir=tmp_path))
    assert load_checkpoint(tmp_path).planned_epochs is None


@pytest.mark.parametrize("seconds", [0, -5.0, float("inf"), True])
def test_a_bad_budget_names_the_option(seconds):
    with pytest.raises(Exception, match="--time-budget-s"):
        tiny_config(time_budget_s=seconds)


def test_a_run_far_over_its_budget_says_so(patches, fake_clock, caplog):
    config = tiny_config(epochs=5, max_steps_per_epoch=1, time_budget_s=2.0)
    with caplog.at_level("WARNING", logger="wsinuc.training.loop"):
        train_model(tiny_unet(), patches, None, config)
    assert "more than the 2 s budget" in caplog.text


def test_a_run_within_its_budget_says_nothing(patches, fake_clock, caplog):
    config = tiny_config(epochs=5, max_steps_per_epoch=1, time_budget_s=100.0)
    with caplog.at_level("WARNING", logger="wsinuc.training.loop"):
        train_model(tiny_unet(), patches, None, config)
    assert "budget" not in caplog.text
