"""Fixtures of the CLI tests: the TrainConfig that ``wsinuc train`` options produce."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wsinuc.cli.app import app
from wsinuc.training import protocol


class _Captured(Exception):
    """Raised by the stand-in protocol to hand its TrainConfig back."""


@pytest.fixture
def train_config_of(monkeypatch, tmp_path):
    """A function: ``wsinuc train`` options → the TrainConfig the protocol would get (nothing trains)."""

    def capture(data_root, out, preset, config, **kwargs):
        raise _Captured(config)

    def config_of(*options):
        monkeypatch.setattr(protocol, "train_cascade", capture)
        result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *options])
        assert isinstance(result.exception, _Captured), result.output
        return result.exception.args[0]

    return config_of
