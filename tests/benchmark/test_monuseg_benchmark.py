"""``wsinuc benchmark monuseg``: the tiler adds no error; reports are written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from wsinuc.benchmark.monuseg import MonusegConfig, evaluate_model, split_ids, summarise
from wsinuc.benchmark.report import summary_markdown
from wsinuc.cli.app import app
from wsinuc.datasets import list_monuseg_ids, load_monuseg_image
from wsinuc.errors import OptionError
from wsinuc.device import resolve_device
from wsinuc.inference import Predictor
from wsinuc.engine.nuclei import drop_larger_than
from wsinuc.instances import probability_to_instances
from wsinuc.metrics import aggregated_jaccard_index
from wsinuc.models import create_model, load_weights, save_weights


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    stem = tmp_path_factory.mktemp("weights") / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    return stem


def test_engine_protocol_scores_like_whole_image_prediction(monuseg_root, colour_model):
    config = MonusegConfig(split="test", protocol="engine", device="cpu", chunk_size=256, halo=192, limit=1)
    row = evaluate_model(monuseg_root, str(colour_model), config)[0]
    sample = load_monuseg_image(monuseg_root, "test", row["image_id"])
    model, _ = load_weights(colour_model)
    prob = Predictor(model, resolve_device("cpu")).predict_image(sample.image)
    whole, _ = drop_larger_than(probability_to_instances(prob), config.halo)
    assert abs(row["aji"] - aggregated_jaccard_index(sample.instances, whole)) <= 0.005


def test_paper_protocol_scores_every_image_of_the_split(monuseg_root, colour_model):
    config = MonusegConfig(split="val", protocol="paper", device="cpu", limit=2)
    rows = evaluate_model(monuseg_root, str(colour_model), config)
    assert [r["image_id"] for r in rows] == split_ids(monuseg_root, "val")[:2]
    assert all(0 <= r["aji"] <= 1 and r["n_gt"] > 0 for r in rows)
    for r in rows:  # the error budget: a perfect parting or a perfect mask would not score lower
        assert r["aji_true_identities"] >= r["aji"] and r["aji_true_foreground"] >= r["aji"]
    summary = summarise(rows)
    assert summary[0]["images"] == 2
    assert summary[0]["aji"] == pytest.approx(np.mean([r["aji"] for r in rows]))
    assert "AJI, true parting" in summary_markdown(summary, "val")


def test_validation_and_training_splits_are_disjoint(monuseg_root):
    train, val = split_ids(monuseg_root, "train"), split_ids(monuseg_root, "val")
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(list_monuseg_ids(monuseg_root, "train"))
    assert len(val) == 6


def test_bad_protocol_is_an_option_error():
    with pytest.raises(OptionError, match="--protocol"):
        MonusegConfig(protocol="magic")


def test_cli_writes_csv_summary_and_figures(tmp_path, monuseg_root, colour_model):
    out = tmp_path / "bench"
    result = CliRunner().invoke(app, [
        "benchmark", "monuseg", str(monuseg_root), "--models", str(colour_model), "--limit", "1",
        "--protocol", "paper", "--device", "cpu", "--out", str(out),
    ])
    no_figures = CliRunner().invoke(app, [
        "benchmark", "monuseg", str(monuseg_root), "--models", str(colour_model), "--limit", "1",
        "--protocol", "paper", "--device", "cpu", "--out", str(tmp_path / "plain"), "--no-figures",
    ])
    assert no_figures.exit_code == 0, no_figures.output
    assert (tmp_path / "plain" / "summary.json").is_file()
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    summary = json.loads((out / "summary.json").read_text())
    assert len(rows) == 1 and summary["summary"][0]["images"] == 1
    assert "device" in summary["meta"]["environment"]
    assert "| colour |" in (out / "summary.md").read_text()
    assert len(list((out / "figures").glob("*.png"))) == 1


@pytest.fixture(scope="module")
def interior_boundary_model(tmp_path_factory):
    stem = tmp_path_factory.mktemp("weights") / "ib"
    card = {"name": "ib", "mpp": 0.25, "postprocess": "seeded",
            "seeded": {"threshold": 0.5, "min_seed_size": 8, "max_expansion": 4}}
    save_weights(create_model("cascade-ib-lite"), stem, card)
    return stem


@pytest.mark.parametrize("protocol", ["paper", "engine"])
def test_an_interior_boundary_model_is_scored_with_its_cards_seeded_rule(monuseg_root, interior_boundary_model,
                                                                         protocol, monkeypatch):
    import wsinuc.instances.rules as rules

    calls = []
    original = rules.seeded_instances
    monkeypatch.setattr(rules, "seeded_instances", lambda *a, **k: calls.append(k) or original(*a, **k))
    config = MonusegConfig(split="val", protocol=protocol, device="cpu", limit=1)
    row = evaluate_model(monuseg_root, str(interior_boundary_model), config)[0]
    assert 0 <= row["aji"] <= 1 and row["n_gt"] > 0
    assert calls and calls[0]["max_expansion"] == 4 and calls[0]["min_seed_size"] == 8


def test_seeded_scoring_of_a_nucleus_only_model_is_an_option_error(monuseg_root, colour_model):
    config = MonusegConfig(split="val", protocol="paper", device="cpu", postprocess="seeded", limit=1)
    with pytest.raises(OptionError, match="seeded"):
        evaluate_model(monuseg_root, str(colour_model), config)


def test_an_unknown_post_processing_is_an_option_error():
    with pytest.raises(OptionError, match="--postprocess"):
        MonusegConfig(postprocess="magic")
