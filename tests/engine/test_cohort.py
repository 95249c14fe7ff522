"""A cohort survives a bad slide: unreadable inputs listed up front, failures reported, a summary written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_slides import copy_slide, slide_with_a_bad_tile, truncated_copy
from typer.testing import CliRunner

from wsinuc.cli.app import app
from wsinuc.engine.cohort import SUMMARY_NAME

runner = CliRunner()


@pytest.fixture(scope="module")
def slides(tmp_path_factory, small_slide) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cohort")
    return {"good1": copy_slide(small_slide, folder / "good1.svs"),
            "good2": copy_slide(small_slide, folder / "good2.svs"),
            "truncated": truncated_copy(small_slide, folder / "truncated.svs"),
            "bad_tile": slide_with_a_bad_tile(folder / "bad_tile.svs")}


def segment(colour_model: Path, out: Path, *args: str):
    return runner.invoke(app, ["segment", *args, "--out", str(out), "--model", str(colour_model), "--device", "cpu",
                               "--chunk-size", "256", "--halo", "160", "--no-tissue", "--outputs", "geojson",
                               "--quiet"])


def test_unreadable_inputs_are_all_named_and_nothing_starts(tmp_path, slides, colour_model):
    missing = tmp_path / "missing.svs"
    result = segment(colour_model, tmp_path / "out", str(slides["good1"]), str(slides["truncated"]), str(missing))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("wsinuc: error: 2 of 3 inputs cannot be read")
    assert f"{slides['truncated']}: truncated TIFF" in lines[0] and f"{missing}: file not found" in lines[0]
    assert "--skip-unreadable" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_slide_failing_mid_run_does_not_stop_the_others(tmp_path, slides, colour_model):
    out = tmp_path / "out"
    result = segment(colour_model, out, str(slides["good1"]), str(slides["truncated"]), str(slides["bad_tile"]),
                     str(slides["good2"]), "--skip-unreadable")
    assert result.exit_code == 1, result.output
    summary = json.loads((out / SUMMARY_NAME).read_text())
    status = {Path(e["slide"]).stem: e for e in summary["slides"]}
    assert [Path(e["slide"]).stem for e in summary["slides"]] == ["good1", "truncated", "bad_tile", "good2"]
    assert summary["counts"] == {"done": 2, "failed": 1, "skipped": 1, "not_started": 0}
    assert status["good1"]["nuclei"] == status["good2"]["nuclei"] > 0
    assert "truncated TIFF" in status["truncated"]["reason"]
    assert "cannot read region" in status["bad_tile"]["reason"]
    assert status["bad_tile"]["finished_chunks"] >= 1
    assert len(list((out / "bad_tile" / ".work" / "chunks").glob("*.chunk"))) == status["bad_tile"]["finished_chunks"]
    assert (out / "good2" / "nuclei.geojson").is_file() and not (out / "bad_tile" / "nuclei.geojson").exists()
    assert "2 done, 1 failed, 1 skipped" in result.stdout
    assert f"failed: {slides['bad_tile']}: " in result.stdout


def test_fail_fast_stops_at_the_first_failure(tmp_path, slides, colour_model):
    out = tmp_path / "out"
    result = segment(colour_model, out, str(slides["bad_tile"]), str(slides["good1"]), "--fail-fast")
    assert result.exit_code == 2, result.output
    assert "wsinuc: error: " in result.stderr and "cannot read region" in result.stderr
    assert not (out / "good1" / "run.json").exists()
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["counts"] == {"done": 0, "failed": 1, "skipped": 0, "not_started": 1}


def test_resume_counts_slides_finished_earlier_as_done(tmp_path, slides, colour_model):
    out = tmp_path / "out"
    assert segment(colour_model, out, str(slides["good1"]), str(slides["good2"])).exit_code == 0
    again = segment(colour_model, out, str(slides["good1"]), str(slides["good2"]), "--resume")
    assert again.exit_code == 0, again.output
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert [e.get("note") for e in summary["slides"]] == ["finished by an earlier run"] * 2
