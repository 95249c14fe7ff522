"""Sparse overlap table, validation, and one-to-one pairing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from wsinuc.metrics import compute_overlap, match_instances
from wsinuc.metrics.matching import max_weight_pairing

GT = np.array([[0, 3, 3], [5, 5, 0]])
PRED = np.array([[2, 2, 0], [2, 9, 9]])


def test_overlap_counts_areas_and_intersections():
    # gt 3 = {(0,1),(0,2)}, gt 5 = {(1,0),(1,1)}; pred 2 = {(0,0),(0,1),(1,0)},
    # pred 9 = {(1,1),(1,2)}. Shared pixels: (0,1) 3&2, (1,0) 5&2, (1,1) 5&9.
    overlap = compute_overlap(GT, PRED)
    assert overlap.gt_ids.tolist() == [3, 5]
    assert overlap.pred_ids.tolist() == [2, 9]
    assert overlap.gt_areas.tolist() == [2, 2]
    assert overlap.pred_areas.tolist() == [3, 2]
    assert overlap.pair_gt.tolist() == [0, 1, 1]
    assert overlap.pair_pred.tolist() == [0, 0, 1]
    assert overlap.pair_intersection.tolist() == [1, 1, 1]
    # unions: 2 + 3 - 1 = 4, 2 + 3 - 1 = 4, 2 + 2 - 1 = 3
    assert overlap.pair_union.tolist() == [4, 4, 3]
    assert overlap.pair_iou.tolist() == pytest.approx([1 / 4, 1 / 4, 1 / 3])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64, np.uint64])
def test_overlap_accepts_any_integer_dtype(dtype):
    overlap = compute_overlap(GT.astype(dtype), PRED.astype(dtype))
    assert overlap.gt_ids.tolist() == [3, 5]
    assert overlap.pair_intersection.sum() == 3


def test_overlap_of_empty_maps_is_empty():
    overlap = compute_overlap(np.zeros((4, 4), int), np.zeros((4, 4), int))
    assert overlap.gt_ids.size == overlap.pred_ids.size == overlap.pair_gt.size == 0


def test_overlap_with_only_background_in_prediction():
    overlap = compute_overlap(GT, np.zeros_like(GT))
    assert overlap.gt_areas.tolist() == [2, 2]
    assert overlap.pred_ids.size == 0
    assert overlap.pair_gt.size == 0


@pytest.mark.parametrize(
    ("gt", "pred", "message"),
    [
        (np.zeros((2, 3), int), np.zeros((3, 2), int), r"gt \(2, 3\) and pred \(3, 2\)"),
        (np.zeros((2, 2), np.float32), np.zeros((2, 2), int), "dtype float32"),
        (np.zeros((2, 2), int), np.zeros((2, 2), bool), "dtype bool"),
        (np.array([[0, -1]]), np.array([[0, 1]]), "minimum -1"),
        (np.zeros((2, 2, 1), int), np.zeros((2, 2, 1), int), r"shape \(2, 2, 1\)"),
        (np.zeros(4, int), np.zeros(4, int), r"shape \(4,\)"),
    ],
)
def test_validation_quotes_what_it_received(gt, pred, message):
    with pytest.raises(ValueError, match=message):
        compute_overlap(gt, pred)


def test_match_instances_lists_tp_fp_fn():
    # G1 = 6 px split into S1 (4 px, IoU 4/6) and S2 (2 px, IoU 2/6); G8 missed.
    gt = np.array([[1, 1, 1, 1, 1, 1, 0, 8]])
    pred = np.array([[1, 1, 1, 1, 2, 2, 0, 0]])
    match = match_instances(gt, pred)
    assert (match.tp, match.fp, match.fn) == (1, 1, 1)
    assert match.gt_ids.tolist() == [1] and match.pred_ids.tolist() == [1]
    assert match.ious.tolist() == pytest.approx([4 / 6])
    assert match.unmatched_gt_ids.tolist() == [8]
    assert match.unmatched_pred_ids.tolist() == [2]


def test_pairing_prefers_the_best_total_weight_on_a_chain():
    # Edges (0,0) 0.43, (0,1) 0.10, (1,0) 0.25: {(0,0)} = 0.43 beats 0.35.
    rows, cols = np.array([0, 0, 1]), np.array([0, 1, 0])
    chosen = max_weight_pairing(rows, cols, np.array([0.43, 0.10, 0.25]), 2, 2)
    assert chosen.tolist() == [True, False, False]


@pytest.mark.parametrize("seed", range(5))
def test_pairing_equals_dense_assignment_on_random_sparse_graphs(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 30, 25
    dense = np.where(rng.random((n_rows, n_cols)) < 0.08, rng.random((n_rows, n_cols)), 0.0)
    rows, cols = np.nonzero(dense)
    chosen = max_weight_pairing(rows, cols, dense[rows, cols], n_rows, n_cols)
    assert np.unique(rows[chosen]).size == chosen.sum()
    assert np.unique(cols[chosen]).size == chosen.sum()
    ref_rows, ref_cols = linear_sum_assignment(dense, maximize=True)
    assert dense[rows, cols][chosen].sum() == pytest.approx(dense[ref_rows, ref_cols].sum())
