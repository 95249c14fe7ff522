"""Fixtures for engine tests: a small synthetic slide and a tiny local model.

The model is the ``colour_threshold`` network (a blurred-colour classifier
with a 3 px receptive field): it segments the synthetic slide's dark nuclei
in milliseconds, and tiled prediction of a local model must equal
whole-image prediction exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wsinuc.models import create_model, save_weights
from wsinuc.slide import write_synthetic_slide


@pytest.fixture(scope="session")
def colour_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stem of saved ``colour_threshold`` weights (a trained-free stand-in)."""
    stem = tmp_path_factory.mktemp("weights") / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    return stem


@pytest.fixture(scope="session")
def small_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1280 x 1024 synthetic H&E slide at 0.25 um/px (JPEG tiles, 3 levels)."""
    path = tmp_path_factory.mktemp("slides") / "small.svs"
    return write_synthetic_slide(path, 1280, 1024, mpp=0.25, seed=3)
