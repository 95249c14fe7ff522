"""A slide resampled once to the working resolution, read the same by every engine."""

from __future__ import annotations

import pytest

from wsinuc.benchmark.working_slide import working_copy
from wsinuc.slide import open_slide, write_synthetic_slide


def test_a_20x_slide_is_resampled_once_to_the_working_pixel_size(tmp_path):
    source = write_synthetic_slide(tmp_path / "s.svs", 300, 200, mpp=0.5, levels=1)
    path, info = working_copy(source, 0.25, tmp_path / "work")
    assert info["resampled"] and info["scale"] == pytest.approx(2.0)
    with open_slide(path) as slide:
        assert slide.dimensions == (600, 400)
        assert slide.mpp == pytest.approx((0.25, 0.25))
    again, _ = working_copy(source, 0.25, tmp_path / "work")
    assert again == path and not list((tmp_path / "work").glob("*.partial*"))


def test_a_slide_already_at_the_working_pixel_size_is_used_as_is(tmp_path):
    source = write_synthetic_slide(tmp_path / "s.svs", 256, 256, mpp=0.25, levels=1)
    path, info = working_copy(source, 0.25, tmp_path / "work")
    assert path == source and not info["resampled"]
