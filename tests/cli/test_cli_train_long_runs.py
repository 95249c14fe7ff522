"""``wsinuc train`` options of long runs: step budgets, checkpoints, EMA, --mpp, stains, warm start, --detach."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wsinuc.cli.app import app
from wsinuc.training import detach

runner = CliRunner()


def test_long_run_options_reach_the_config(train_config_of):
    config = train_config_of("--steps", "4000", "--pretrain-steps", "500", "--checkpoint-minutes", "3",
        "--checkpoint-steps", "200", "--ema-decay", "0.999", "--mpp", "0.5", "--hed-sigma", "0.1",
        "--stain-normalisation", "macenko", "--init-from", "cascade-ib-lite",
    )
    assert (config.total_steps, config.pretrain_steps, config.checkpoint_steps) == (4000, 500, 200)
    assert config.checkpoint_minutes == 3.0 and config.ema_decay == 0.999 and config.mpp == 0.5
    assert config.augment.hed_sigma == 0.1 and config.stain_normalisation == "macenko"
    assert config.init_from == "cascade-ib-lite"


@pytest.mark.parametrize("options, name", [
    (["--steps", "10", "--max-minutes", "5"], "--max-minutes"),
    (["--ema-decay", "1.5"], "--ema-decay"),
    (["--hed-sigma", "2"], "--hed-sigma"),
    (["--mpp", "0"], "--mpp"),
])
def test_bad_long_run_options_are_refused_in_one_line(tmp_path, options, name):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), *options])
    assert result.exit_code != 0 and name in result.output and "Traceback" not in result.output


def test_detach_starts_the_same_command_in_the_background(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(detach, "spawn_detached", lambda command, out: started.append((command, out)) or 4242)
    monkeypatch.setattr("sys.argv", ["wsinuc", "train", "--out", str(tmp_path / "o"), "--steps", "9", "--detach"])
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--steps", "9",
                                 "--detach"])
    assert result.exit_code == 0, result.output
    assert "4242" in result.output and "train.pid" in result.output
    (command, out), = started
    assert "--detach" not in command and command[-3:] == ["--steps", "9", "--verbose"]
    assert out == tmp_path / "o"
