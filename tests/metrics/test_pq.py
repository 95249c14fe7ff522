"""Panoptic quality (DQ, SQ, PQ) on hand-computed cases and a dense reference."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.metrics import panoptic_quality


def dense_reference_pq(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Full-mask IoU matrix; pairs with IoU > 0.5 are the matches."""
    g_ids = [g for g in np.unique(gt) if g != 0]
    p_ids = [p for p in np.unique(pred) if p != 0]
    ious = np.array(
        [
            [((gt == g) & (pred == p)).sum() / ((gt == g) | (pred == p)).sum() for p in p_ids]
            for g in g_ids
        ]
    ).reshape(len(g_ids), len(p_ids))
    matched = ious[ious > 0.5]
    tp, fp, fn = matched.size, len(p_ids) - matched.size, len(g_ids) - matched.size
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = matched.mean() if tp else 0.0
    return dq, sq, dq * sq


def test_identical_maps_give_one():
    labels = np.array([[1, 1, 0, 4], [0, 0, 0, 4], [9, 9, 9, 0]])
    assert panoptic_quality(labels, labels) == (1.0, 1.0, 1.0)


def test_split_nucleus():
    # G1 = 6 px; S1 = 4 px inside (IoU 4/6), S2 = 2 px inside (IoU 2/6).
    # TP = 1, FP = 1, FN = 0 -> DQ = 1 / 1.5 = 2/3, SQ = 4/6, PQ = 4/9.
    gt = np.array([[1, 1, 1, 1, 1, 1]])
    pred = np.array([[1, 1, 1, 1, 2, 2]])
    assert panoptic_quality(gt, pred) == pytest.approx((2 / 3, 2 / 3, 4 / 9))


def test_merge_of_two_nuclei():
    # G1 = 4 px, G2 = 2 px, S covers all 6: IoU(G1,S) = 4/6 > 0.5, IoU(G2,S) = 2/6.
    # TP = 1, FP = 0, FN = 1 -> DQ = 2/3, SQ = 2/3, PQ = 4/9.
    gt = np.array([[1, 1, 1, 1, 2, 2]])
    pred = np.array([[3, 3, 3, 3, 3, 3]])
    assert panoptic_quality(gt, pred) == pytest.approx((2 / 3, 2 / 3, 4 / 9))


def test_sq_is_the_mean_iou_of_matches():
    # G1 == S1 (IoU 1); G2 = 4 px, S2 = 3 of them (IoU 3/4).
    # TP = 2 -> DQ = 1, SQ = (1 + 0.75) / 2 = 0.875, PQ = 0.875.
    gt = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]])
    pred = np.array([[5, 5, 0, 6, 6], [5, 5, 0, 6, 0]])
    assert panoptic_quality(gt, pred) == pytest.approx((1.0, 0.875, 0.875))


def test_iou_of_exactly_one_half_is_not_a_match():
    # G = 4 px, S = 2 of them: IoU = 2/4, not > 0.5 -> TP = 0, FP = FN = 1.
    gt = np.array([[1, 1, 1, 1]])
    pred = np.array([[2, 2, 0, 0]])
    assert panoptic_quality(gt, pred) == (0.0, 0.0, 0.0)


def test_empty_prediction_gives_zeros():
    gt = np.array([[1, 1, 0], [0, 2, 2]])
    assert panoptic_quality(gt, np.zeros_like(gt)) == (0.0, 0.0, 0.0)


def test_background_only_gt_with_predictions_gives_zeros():
    gt = np.zeros((2, 3), dtype=np.int32)
    pred = np.array([[0, 7, 7], [0, 0, 0]], dtype=np.int32)
    assert panoptic_quality(gt, pred) == (0.0, 0.0, 0.0)


def test_both_empty_is_a_perfect_score():
    empty = np.zeros((3, 3), dtype=np.int16)
    assert panoptic_quality(empty, empty) == (1.0, 1.0, 1.0)


def test_permuted_non_consecutive_ids_give_the_same_scores(make_random_pair):
    gt, pred = make_random_pair(seed=5)
    rng = np.random.default_rng(1)
    lookup = np.concatenate([[0], rng.permutation(np.arange(1, pred.max() + 1)) + 50_000])
    assert panoptic_quality(gt, lookup[pred]) == pytest.approx(panoptic_quality(gt, pred))


@pytest.mark.parametrize("seed", range(6))
def test_pq_matches_dense_reference(make_random_pair, seed):
    gt, pred = make_random_pair(seed=seed)
    assert panoptic_quality(gt, pred) == pytest.approx(dense_reference_pq(gt, pred))


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan")])
def test_rejects_threshold_outside_unit_interval(bad):
    labels = np.array([[1, 1]])
    with pytest.raises(ValueError, match="iou threshold"):
        panoptic_quality(labels, labels, iou=bad)
