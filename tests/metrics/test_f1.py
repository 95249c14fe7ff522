"""Object-level F1 with one-to-one matching at an IoU threshold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from wsinuc.metrics import match_instances, object_f1, panoptic_quality

# G1 = px 0..9, G2 = px 10..19; S1 = px 4..13, S2 = px 0.
# IoU(G1,S1) = 6/14 ~ 0.43, IoU(G2,S1) = 4/16 = 0.25, IoU(G1,S2) = 1/10.
CHAIN_GT = np.array([[1] * 10 + [2] * 10])
CHAIN_PRED = np.array([[2, 0, 0, 0] + [1] * 10 + [0] * 6])


def test_identical_maps_give_one():
    labels = np.array([[1, 1, 0, 4], [0, 0, 0, 4], [9, 9, 9, 0]])
    assert object_f1(labels, labels) == 1.0


def test_split_nucleus():
    # S1 matches G1 (IoU 4/6); S2 is a FP: F1 = 2*1 / (2*1 + 1 + 0) = 2/3.
    gt = np.array([[1, 1, 1, 1, 1, 1]])
    pred = np.array([[1, 1, 1, 1, 2, 2]])
    assert object_f1(gt, pred) == pytest.approx(2 / 3)


def test_merge_of_two_nuclei():
    # S matches G1 (IoU 4/6); G2 is a FN: F1 = 2 / (2 + 0 + 1) = 2/3.
    gt = np.array([[1, 1, 1, 1, 2, 2]])
    pred = np.array([[3, 3, 3, 3, 3, 3]])
    assert object_f1(gt, pred) == pytest.approx(2 / 3)


def test_empty_prediction_gives_zero():
    gt = np.array([[1, 1, 0], [0, 2, 2]])
    assert object_f1(gt, np.zeros_like(gt)) == 0.0


def test_background_only_gt():
    gt = np.zeros((2, 3), dtype=np.int32)
    pred = np.array([[0, 7, 7], [0, 0, 0]], dtype=np.int32)
    assert object_f1(gt, pred) == 0.0
    assert object_f1(gt, np.zeros_like(gt)) == 1.0


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        # Nothing above 0.5: TP 0, FP 2, FN 2 -> 0.
        (0.5, 0.0),
        # Only G1-S1 eligible: TP 1, FP 1, FN 1 -> 2 / 4.
        (0.3, 0.5),
        # All three eligible; G1-S2 + G2-S1 gives 2 matches (more than
        # G1-S1 alone, which has the larger single IoU): TP 2 -> 1.
        (0.05, 1.0),
    ],
)
def test_low_threshold_maximises_the_number_of_matches(threshold, expected):
    assert object_f1(CHAIN_GT, CHAIN_PRED, iou=threshold) == pytest.approx(expected)


def test_low_threshold_match_lists_the_pairs():
    match = match_instances(CHAIN_GT, CHAIN_PRED, iou=0.05)
    pairs = sorted(zip(match.gt_ids.tolist(), match.pred_ids.tolist(), strict=True))
    assert pairs == [(1, 2), (2, 1)]
    assert sorted(match.ious.tolist()) == pytest.approx([0.1, 0.25])


@pytest.mark.parametrize("seed", range(6))
def test_low_threshold_tp_equals_maximum_bipartite_matching(make_random_pair, seed):
    gt, pred = make_random_pair(seed=seed, n=16)
    g_ids = [g for g in np.unique(gt) if g != 0]
    p_ids = [p for p in np.unique(pred) if p != 0]
    ious = np.array(
        [[((gt == g) & (pred == p)).sum() / ((gt == g) | (pred == p)).sum() for p in p_ids]
         for g in g_ids]
    )
    eligible = ious > 0.1
    best = maximum_bipartite_matching(csr_matrix(eligible.astype(np.int8)), perm_type="column")
    assert match_instances(gt, pred, iou=0.1).tp == int((best >= 0).sum())


@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_f1_equals_detection_quality(make_random_pair, threshold):
    gt, pred = make_random_pair(seed=11)
    dq, _, _ = panoptic_quality(gt, pred, iou=threshold)
    assert object_f1(gt, pred, iou=threshold) == pytest.approx(dq)
