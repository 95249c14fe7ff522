"""Table I: model specs, the per-split table, its markdown, and ``wsinuc benchmark table1``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wsinuc.benchmark.table_one import (
    ModelSpec,
    all_rows,
    parse_model_spec,
    row_labels,
    table_one,
    table_one_markdown,
)
from wsinuc.cli.app import app
from wsinuc.errors import OptionError
from wsinuc.models import create_model, save_weights

runner = CliRunner()


def _row(label, model, split, aji, f1=0.5, postprocess="opening"):
    return {"row": label, "split": split, "postprocess": postprocess, "model": model,
            "image_id": f"img-{aji}", "organ": "", "n_gt": 3, "n_pred": 3,
            "aji": aji, "f1": f1, "aji_plus": aji, "pq": aji, "dq": f1, "sq": 0.8, "dice": 0.7}


def test_specs_name_the_variant_and_refuse_unknown_postprocessing():
    assert parse_model_spec("runs/cascade.safetensors") == ModelSpec("runs/cascade.safetensors")
    spec = parse_model_spec(" cascade-lite@watershed ")
    assert spec == ModelSpec("cascade-lite", "watershed")
    assert spec.label == "cascade-lite + watershed"
    assert ModelSpec("runs/x/attention_unet-lite.safetensors").label == "attention_unet-lite"
    with pytest.raises(OptionError, match="--models"):
        parse_model_spec("cascade@magic")
    with pytest.raises(OptionError, match="--models"):
        parse_model_spec("@watershed")


def test_table_means_each_split_and_puts_the_paper_beside_opening_rows_only():
    rows = [
        _row("cascade-lite", "cascade-lite", "test", 0.4), _row("cascade-lite", "cascade-lite", "test", 0.6),
        _row("cascade-lite", "cascade-lite", "val", 0.3),
        _row("cascade-lite + watershed", "cascade-lite", "test", 0.9, postprocess="watershed"),
        _row("attention_unet-lite", "x/attention_unet-lite.safetensors", "test", 0.2),
    ]
    table = {entry["row"]: entry for entry in table_one(rows)}
    lite = table["cascade-lite"]
    assert lite["test_aji"] == pytest.approx(0.5) and lite["test_images"] == 2
    assert lite["val_aji"] == pytest.approx(0.3) and "train_aji" not in lite
    assert (lite["paper_test_aji"], lite["paper_test_f1"]) == (0.72, 0.83)
    assert table["cascade-lite + watershed"]["paper_test_aji"] is None
    assert table["attention_unet-lite"]["paper_test_aji"] == 0.67
    markdown = table_one_markdown(list(table.values()), "T")
    header = markdown.splitlines()[2]
    assert "val AJI" in header and "test AJI" in header and "train AJI" not in header
    assert "| cascade-lite | 0.300 | 0.500 | 0.500 | 0.500 |" in markdown
    assert markdown.count("\n| ") == 1 + 3  # header + three rows


def test_table1_command_scores_each_split_and_writes_the_reports(monuseg_root, tmp_path):
    stem = tmp_path / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    out = tmp_path / "table"
    result = runner.invoke(app, [
        "benchmark", "table1", str(monuseg_root), "--models", f"{stem},{stem}@watershed",
        "--splits", "val,test", "--protocol", "paper", "--device", "cpu", "--limit", "1", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    table = json.loads((out / "table1.json").read_text())["table"]
    assert [entry["row"] for entry in table] == ["colour", "colour + watershed"]
    assert all(entry["val_images"] == entry["test_images"] == 1 for entry in table)
    assert all(0 <= entry[key] <= 1 for entry in table for key in ("val_aji", "test_aji", "test_f1"))
    assert (out / "table1.md").read_text().count("| colour") == 2
    assert len((out / "per_image.csv").read_text().splitlines()) == 1 + 4


def test_table1_command_refuses_a_bad_split_in_one_line(monuseg_root, tmp_path):
    result = runner.invoke(app, ["benchmark", "table1", str(monuseg_root), "--splits", "test,holdout",
                                 "--models", "cascade-lite", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--split" in result.output and "Traceback" not in result.output


def test_rows_whose_stems_clash_are_named_by_their_path():
    specs = [ModelSpec("cascade-lite"), ModelSpec("runs/new/cascade-lite"),
             ModelSpec("runs/new/cascade-lite", "watershed"), ModelSpec("runs/att/attention_unet")]
    assert row_labels(specs) == [
        "cascade-lite", "runs/new/cascade-lite", "runs/new/cascade-lite + watershed",
        "attention_unet"]


def test_clashing_rows_of_both_variants_all_get_paths():
    specs = [ModelSpec("a/m"), ModelSpec("b/m"), ModelSpec("a/m", "watershed"),
             ModelSpec("b/m", "watershed")]
    assert row_labels(specs) == ["a/m", "b/m", "a/m + watershed", "b/m + watershed"]


def test_the_same_row_twice_is_refused():
    with pytest.raises(OptionError, match="given twice"):
        row_labels([ModelSpec("cascade-lite"), ModelSpec("cascade-lite")])


def test_all_rows_pair_the_papers_opening_with_each_cards_choice(tmp_path):
    stems = {}
    for name, card in (("ib", {"postprocess": "seeded"}), ("ws", {"postprocess": "watershed"}), ("plain", {})):
        stems[name] = str(tmp_path / name)
        save_weights(create_model("colour_threshold"), tmp_path / name, {"name": name, "mpp": 0.25, **card})
    assert all_rows(list(stems.values())) == [
        stems["ib"], f"{stems['ib']}@seeded", stems["ws"], f"{stems['ws']}@watershed",
        stems["plain"], f"{stems['plain']}@watershed"]
    assert parse_model_spec(f"{stems['ib']}@auto").label == "ib + auto"
