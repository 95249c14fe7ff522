"""AJI's error budget: the true-identities and true-foreground ceilings."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.metrics import (
    aggregated_jaccard_index,
    aji_ceilings,
    dice,
    with_true_foreground,
    with_true_identities,
)


def two_halves() -> np.ndarray:
    gt = np.zeros((4, 8), np.int64)
    gt[:, :4], gt[:, 4:] = 1, 2
    return gt


def test_a_merge_costs_identities_not_foreground():
    gt = two_halves()
    merged = (gt > 0).astype(np.int64)
    assert aggregated_jaccard_index(gt, merged) == pytest.approx(0.5)
    assert aji_ceilings(gt, merged) == {"aji_true_identities": 1.0, "aji_true_foreground": pytest.approx(0.5)}


def test_a_fat_mask_costs_foreground_not_identities():
    gt = np.zeros((6, 12), np.int64)
    gt[1:5, 1:5], gt[1:5, 7:11] = 3, 9
    fat = np.zeros_like(gt)
    fat[0:6, 0:6], fat[0:6, 6:12] = 1, 2  # both nuclei found, each padded with background
    ceilings = aji_ceilings(gt, fat)
    assert ceilings["aji_true_foreground"] == pytest.approx(1.0)
    assert ceilings["aji_true_identities"] == pytest.approx(32 / 72)
    assert aggregated_jaccard_index(gt, fat) == pytest.approx(32 / 72)


def test_true_identities_keeps_the_predicted_foreground_and_true_ids_inside_it(make_random_pair):
    gt, pred = make_random_pair(3)
    mended = with_true_identities(gt, pred)
    assert np.array_equal(mended > 0, pred > 0)
    inside = (pred > 0) & (gt > 0)
    assert np.array_equal(mended[inside], gt[inside])
    # false foreground is its own objects, never a true nucleus's id
    outside = (pred > 0) & (gt == 0)
    assert not np.isin(mended[outside], np.unique(gt[gt > 0])).any()
    assert dice(gt, mended) == pytest.approx(dice(gt, pred))


def test_true_foreground_keeps_the_predicted_ids_on_the_true_mask(make_random_pair):
    gt, pred = make_random_pair(4)
    mended = with_true_foreground(gt, pred)
    assert np.array_equal(mended > 0, gt > 0)
    both = (pred > 0) & (gt > 0)
    assert np.array_equal(mended[both], pred[both])
    assert set(np.unique(mended[mended > 0])) <= set(np.unique(pred[pred > 0]))


@pytest.mark.parametrize("seed", range(6))
def test_ceilings_lie_above_the_aji_on_random_maps(make_random_pair, seed):
    gt, pred = make_random_pair(seed)
    aji = aggregated_jaccard_index(gt, pred)
    ceilings = aji_ceilings(gt, pred)
    assert ceilings["aji_true_identities"] >= aji - 1e-9
    assert ceilings["aji_true_foreground"] >= aji - 1e-9


def test_perfect_prediction_has_nothing_to_mend(make_random_pair):
    gt, _ = make_random_pair(5)
    assert aji_ceilings(gt, gt) == {"aji_true_identities": 1.0, "aji_true_foreground": 1.0}


def test_empty_prediction_gets_the_true_components_on_the_true_mask():
    gt = two_halves()
    empty = np.zeros_like(gt)
    assert np.array_equal(with_true_foreground(gt, empty), (gt > 0).astype(np.int64))
    assert aji_ceilings(gt, empty)["aji_true_identities"] == 0.0


@pytest.mark.parametrize(
    ("gt", "pred", "message"),
    [
        (np.zeros((2, 2), int), np.zeros((2, 3), int), "same shape"),
        (np.zeros((2, 2), float), np.zeros((2, 2), int), "integer dtype"),
        (np.zeros((2, 2, 2), int), np.zeros((2, 2, 2), int), "2-D"),
    ],
)
def test_bad_maps_are_rejected(gt, pred, message):
    with pytest.raises(ValueError, match=message):
        aji_ceilings(gt, pred)
