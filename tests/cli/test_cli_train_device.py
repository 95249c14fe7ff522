"""``wsinuc train --batch-size auto`` and ``--data-on-device``: parsed into the TrainConfig."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wsinuc.cli.app import app

runner = CliRunner()

def test_batch_size_auto_and_data_on_device_reach_the_config(train_config_of):
    config = train_config_of("--batch-size", "auto", "--data-on-device", "on")
    assert config.auto_batch_size and config.batch_size == 8 and config.data_on_device == "on"
    config = train_config_of("--batch-size", "16")
    assert not config.auto_batch_size and config.batch_size == 16 and config.data_on_device == "auto"

@pytest.mark.parametrize(
    "options, name",
    [(["--batch-size", "big"], "--batch-size"), (["--data-on-device", "maybe"], "--data-on-device")],
)
def test_bad_values_are_refused_in_one_line(tmp_path, options, name):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), *options])
    assert result.exit_code == 2 and name in result.stderr and "Traceback" not in result.output
