"""``wsinuc train --batch-size auto`` and ``--data-on-device``: parsed into the TrainConfig."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wsinuc.cli.app import app
from wsinuc.training import protocol

runner = CliRunner()


class _Captured(Exception):
    """Raised by the stand-in protocol to hand its TrainConfig back."""


def _config_of(monkeypatch, tmp_path, *options):
    def capture(data_root, out, preset, config, **kwargs):
        raise _Captured(config)

    monkeypatch.setattr(protocol, "train_cascade", capture)
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *options])
    assert isinstance(result.exception, _Captured), result.output
    return result.exception.args[0]


def test_batch_size_auto_and_data_on_device_reach_the_config(monkeypatch, tmp_path):
    config = _config_of(monkeypatch, tmp_path, "--batch-size", "auto", "--data-on-device", "on")
    assert config.auto_batch_size and config.batch_size == 8 and config.data_on_device == "on"
    config = _config_of(monkeypatch, tmp_path, "--batch-size", "16")
    assert not config.auto_batch_size and config.batch_size == 16 and config.data_on_device == "auto"


@pytest.mark.parametrize(
    "options, name",
    [(["--batch-size", "big"], "--batch-size"), (["--data-on-device", "maybe"], "--data-on-device")],
)
def test_bad_values_are_refused_in_one_line(tmp_path, options, name):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), *options])
    assert result.exit_code == 2 and name in result.stderr and "Traceback" not in result.output
