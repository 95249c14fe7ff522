"""Paths leave the client absolute: a worker resolves a relative one in its own folder."""

from __future__ import annotations

import os
from pathlib import Path

from wsinuc.config import InferenceConfig, SegmentConfig
from wsinuc.engine.paths import absolute, absolute_config, absolute_model


def test_absolute_folds_dot_dot_against_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute("../data/slide.svs") == tmp_path.parent / "data" / "slide.svs"
    assert absolute("results") == tmp_path / "results"
    assert absolute(tmp_path / "x") == tmp_path / "x"


def test_a_weights_path_becomes_absolute_but_names_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_model("auto") == "auto"
    assert absolute_model("cascade-ib-lite") in ("cascade-ib-lite", str(tmp_path / "cascade-ib-lite"))
    assert absolute_model("weights/mine") == str(tmp_path / "weights" / "mine")
    config = absolute_config(SegmentConfig(inference=InferenceConfig(model=os.path.join("..", "w"))))
    assert Path(config.inference.model) == tmp_path.parent / "w"
