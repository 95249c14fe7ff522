"""Foreground pixel Dice."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.metrics import dice


def test_identical_maps_give_one():
    labels = np.array([[1, 1, 0], [0, 0, 3]])
    assert dice(labels, labels) == 1.0


def test_instance_ids_are_ignored():
    # Same foreground, split differently: Dice = 2*4 / (4 + 4) = 1.
    assert dice(np.array([[1, 1, 2, 2]]), np.array([[7, 7, 7, 7]])) == 1.0


def test_partial_overlap():
    # |A| = 2, |B| = 2, |A ∩ B| = 1 -> 2*1 / 4.
    assert dice(np.array([[1, 1, 0, 0]]), np.array([[0, 3, 3, 0]])) == pytest.approx(0.5)


def test_empty_prediction_and_empty_gt():
    gt = np.array([[1, 1, 0]])
    empty = np.zeros_like(gt)
    assert dice(gt, empty) == 0.0
    assert dice(empty, gt) == 0.0
    assert dice(empty, empty) == 1.0


def test_matches_mask_formula_on_random_maps(make_random_pair):
    gt, pred = make_random_pair(seed=2)
    a, b = gt > 0, pred > 0
    assert dice(gt, pred) == pytest.approx(2 * (a & b).sum() / (a.sum() + b.sum()))


def test_rejects_float_maps():
    with pytest.raises(ValueError, match="float64"):
        dice(np.zeros((2, 2)), np.zeros((2, 2), dtype=int))
