"""The ``wsinuc`` command: output of ``info`` and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wsinuc.cli.app import app
from wsinuc.slide import write_synthetic_slide, write_tiff_image

runner = CliRunner()


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsinuc: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def synthetic_svs(tmp_path_factory) -> Path:
    return write_synthetic_slide(tmp_path_factory.mktemp("cli") / "syn.svs", 640, 512, mpp=0.25)


def test_info_prints_size_mpp_and_levels(synthetic_svs):
    result = runner.invoke(app, ["info", str(synthetic_svs)])
    assert result.exit_code == 0, result.output
    assert "640 x 512 px" in result.stdout
    assert "0.25 x 0.25 um/px" in result.stdout
    assert "level 1" in result.stdout


def test_info_json_is_machine_readable(synthetic_svs):
    result = runner.invoke(app, ["info", str(synthetic_svs), "--json"])
    description = json.loads(result.stdout)
    assert description["dimensions"] == [640, 512]
    assert description["mpp"] == [0.25, 0.25]


def test_info_on_the_sample_aperio_slide(sample_svs):
    result = runner.invoke(app, ["info", str(sample_svs)])
    assert result.exit_code == 0, result.output
    assert "2220 x 2967 px" in result.stdout
    assert "0.499" in result.stdout
    assert "aperio" in result.stdout


def test_missing_file(tmp_path):
    _one_line_error(runner.invoke(app, ["info", str(tmp_path / "nope.svs")]), "nope.svs")


def test_text_file_renamed_svs(tmp_path):
    fake = tmp_path / "notes.svs"
    fake.write_text("this is not a slide\n" * 50)
    _one_line_error(runner.invoke(app, ["info", str(fake)]), "notes.svs")


def test_truncated_tiff(tmp_path, synthetic_svs):
    data = synthetic_svs.read_bytes()
    cut = tmp_path / "cut.svs"
    cut.write_bytes(data[: len(data) // 2])
    _one_line_error(runner.invoke(app, ["info", str(cut)]), "cut.svs")


def test_segment_without_mpp_asks_for_it(tmp_path):
    image = tmp_path / "tile.tif"
    write_tiff_image(image, np.full((256, 256, 3), 200, np.uint8), resolution_dpi=72)
    result = runner.invoke(app, ["segment", str(image), "--out", str(tmp_path / "o"), "--model", "x"])
    _one_line_error(result, "tile.tif", "--mpp")


@pytest.mark.parametrize(
    "option, value, fragment",
    [("--chunk-size", "100", "--chunk-size"), ("--mpp", "-1", "--mpp"), ("--region", "1,2,3", "--region"),
     ("--outputs", "geojson,pdf", "--outputs"), ("--device", "tpu", "--device"),
     ("--precision", "fp16", "--precision")],
)
def test_bad_options_are_one_line_errors(tmp_path, synthetic_svs, option, value, fragment):
    result = runner.invoke(app, ["segment", str(synthetic_svs), "--out", str(tmp_path), option, value])
    _one_line_error(result, fragment)


def test_console_script_exits_2_without_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "wsinuc", "info", str(tmp_path / "missing.ndpi")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0
    assert "missing.ndpi" in completed.stderr and "Traceback" not in completed.stderr


def test_train_rejects_bad_options_in_one_line(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--batch-size", "0"])
    _one_line_error(result, "--batch-size")


def test_train_names_a_missing_data_folder(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    _one_line_error(result, "nowhere")


@pytest.mark.parametrize(
    "extra, option",
    [(["--baseline", "resnet_unet"], "--baseline"),
     (["--baseline", "unet-lite", "--teacher", "cascade-lite", "--distill-weight", "0.5"], "--teacher")],
)
def test_train_refuses_a_bad_baseline_in_one_line(tmp_path, extra, option):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *extra])
    _one_line_error(result, option)


@pytest.mark.parametrize("minutes", ["0", "-3"])
def test_train_refuses_a_non_positive_time_budget_in_one_line(tmp_path, minutes):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--max-minutes", minutes])
    _one_line_error(result, "--max-minutes")


def test_train_refuses_a_bad_validation_rhythm_in_one_line(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--val-every", "0"])
    _one_line_error(result, "--val-every")


def test_train_refuses_an_unknown_precision_in_one_line(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--precision", "fp16"])
    _one_line_error(result, "--precision")


class _Captured(Exception):
    """Raised by a stand-in library call to hand its configuration back to the test."""

    def __init__(self, config):
        super().__init__("captured")
        self.config = config


@pytest.mark.parametrize("flag, expected", [([], False), (["--tta"], True), (["--no-tta"], False)])
def test_tta_reaches_the_segment_configuration(monkeypatch, synthetic_svs, tmp_path, flag, expected):
    def fake_segment_cohort(slides, out, config, reporter=None, on_slide=None):
        raise _Captured(config)

    monkeypatch.setattr("wsinuc.engine.cohort.segment_cohort", fake_segment_cohort)
    result = runner.invoke(app, ["segment", str(synthetic_svs), "--out", str(tmp_path), *flag])
    assert isinstance(result.exception, _Captured), result.output
    assert result.exception.config.inference.tta is expected


@pytest.mark.parametrize("command, target", [
    (["benchmark", "monuseg"], "wsinuc.benchmark.monuseg.evaluate_model"),
    (["benchmark", "table1"], "wsinuc.benchmark.table_one.evaluate_table_one"),
])
@pytest.mark.parametrize("flag, expected", [([], False), (["--tta"], True)])
def test_tta_reaches_the_benchmark_configuration(monkeypatch, tmp_path, command, target, flag, expected):
    def fake_evaluate(data, models, *args):
        raise _Captured(next(a for a in args if hasattr(a, "protocol")))

    monkeypatch.setattr(target, fake_evaluate)
    (tmp_path / "monuseg" / "test" / "images").mkdir(parents=True)
    result = runner.invoke(app, [*command, str(tmp_path / "monuseg"), "--models", "cascade-lite",
                                 "--out", str(tmp_path / "out"), *flag])
    assert isinstance(result.exception, _Captured), result.output
    assert result.exception.config.tta is expected


def test_a_non_boolean_tta_in_the_inference_configuration_names_the_option():
    from wsinuc.config import InferenceConfig
    from wsinuc.errors import OptionError

    with pytest.raises(OptionError, match="--tta"):
        InferenceConfig(tta="yes")
