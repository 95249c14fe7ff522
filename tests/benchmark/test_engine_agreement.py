"""Nucleus agreement between two engines: counts, borders, area, and the rule applied to maps."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.benchmark.engine_agreement import AgreementConfig, near_border, nucleus_agreement
from wsinuc.instances import InstanceRule
from wsinuc.tiling import Box

OPENING = InstanceRule(method="opening", kernel_size=5)


def _squares(shape, boxes, labelled=True):
    image = np.zeros(shape, dtype=np.int32 if labelled else np.float32)
    for index, (y0, y1, x0, x1) in enumerate(boxes, start=1):
        image[y0:y1, x0:x1] = index if labelled else 1.0
    return image if labelled else image[..., None]


def _config(rule=OPENING, chunk=64, margin=4, block=0, max_size=32):
    return AgreementConfig(rule, max_size=max_size, chunk_size=chunk, border_margin=margin, block=block)


def test_counts_matched_missed_and_extra_nuclei():
    first = _squares((128, 128), [(20, 40, 20, 40), (80, 100, 80, 100)])
    # same first nucleus; second shifted 15 px (IoU 5 / 35 < 0.5); one extra nucleus
    second = _squares((128, 128), [(20, 40, 20, 40), (80, 100, 95, 115), (100, 120, 10, 30)])
    counts = nucleus_agreement(first, second, _config(chunk=128))["all"]
    assert (counts["first_nuclei"], counts["second_nuclei"]) == (2, 3)
    assert (counts["first_matched"], counts["second_matched"]) == (1, 1)
    assert counts["f1"] == pytest.approx(2 / 5)


def test_a_probability_map_goes_through_the_rule_and_agrees_with_its_own_labels():
    boxes = [(10, 30, 10, 30), (70, 90, 60, 85)]
    result = nucleus_agreement(_squares((128, 128), boxes), _squares((128, 128), boxes, labelled=False),
                               _config())
    assert result["all"]["f1"] == 1.0 and result["all"]["second_nuclei"] == 2


def test_nuclei_near_a_chunk_border_count_overall_but_not_away_from_borders():
    # one nucleus in the middle of chunk (0, 0), one across the vertical border at x = 64
    boxes = [(20, 40, 20, 40), (20, 40, 56, 72)]
    first, second = _squares((128, 128), boxes), _squares((128, 128), boxes[:1])
    result = nucleus_agreement(first, second, _config())
    assert result["all"]["first_nuclei"] == 2 and result["all"]["f1"] == pytest.approx(2 / 3)
    assert result["away_from_image_edge"] == result["all"]
    away = result["away_from_borders"]
    assert (away["first_nuclei"], away["second_nuclei"], away["f1"]) == (1, 1, 1.0)


def test_near_border_uses_image_edges_and_grid_lines_in_image_coordinates():
    labels = _squares((64, 64), [(10, 20, 10, 20), (54, 60, 40, 50), (0, 5, 30, 35)])
    # the block starts at (64, 0): its second nucleus ends at row 123, 4 px from the chunk line at 128,
    # its third starts on the line at 64
    near = near_border(labels, Box(64, 0, 128, 64), (256, 256), _config(margin=8))
    assert near.tolist() == [False, True, True]
    assert near_border(labels, Box(64, 0, 128, 64), (256, 256), _config(margin=8), grid=False).tolist() == [
        False, False, False]
    assert near_border(labels, Box(0, 0, 64, 64), (64, 64), _config(margin=8), grid=False).tolist() == [
        False, True, True]


def test_only_nuclei_anchored_in_the_computed_cores_count():
    boxes = [(10, 30, 10, 30), (10, 30, 80, 100)]
    first = _squares((128, 128), boxes)
    second = _squares((128, 128), boxes[:1])
    cores = [Box(0, 0, 64, 64)]
    assert nucleus_agreement(first, second, _config(), cores)["all"]["f1"] == 1.0
    assert nucleus_agreement(first, second, _config())["all"]["f1"] == pytest.approx(2 / 3)


def test_no_nuclei_gives_no_f1():
    empty = np.zeros((64, 64), np.int32)
    result = nucleus_agreement(empty, empty, _config())
    assert result["all"]["f1"] is None and result["away_from_borders"]["first_nuclei"] == 0


def _touching_discs() -> np.ndarray:
    rows, cols = np.mgrid[:96, :96]
    discs = [(48, 36), (48, 60)]
    return np.any([(rows - y) ** 2 + (cols - x) ** 2 <= 13**2 for y, x in discs], axis=0).astype(np.float32)


def test_the_card_rule_decides_the_count_regression_issue_22():
    """The issue-22 disagreement (417 vs 308 nuclei): the map went through ``opening``, the engine through
    the card's ``watershed``; with the same rule on both sides two touching nuclei agree."""
    prob = _touching_discs()[..., None]
    watershed = InstanceRule(method="watershed", kernel_size=5)
    engine_labels = watershed(prob[..., 0])
    assert engine_labels.max() == 2
    same = nucleus_agreement(engine_labels, prob, _config(rule=watershed, chunk=96, max_size=64))["all"]
    other = nucleus_agreement(engine_labels, prob, _config(rule=OPENING, chunk=96, max_size=64))["all"]
    assert (same["second_nuclei"], same["f1"]) == (2, 1.0)
    assert other["second_nuclei"] == 1 and other["f1"] < 0.7  # the merged pair matches one disc at most


def test_block_must_hold_whole_chunks():
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        _config(chunk=64, block=100)
    assert _config(chunk=1024).block == 4096


def test_images_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="differ in height and width"):
        nucleus_agreement(np.zeros((64, 64), np.int32), np.zeros((64, 32, 1), np.float32), _config())
