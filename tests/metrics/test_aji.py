"""AJI (Kumar et al. 2017) and AJI+ (HoVer-Net) on hand-computed cases and references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from wsinuc.metrics import aggregated_jaccard_index, aji_plus


def slow_reference_aji(gt: np.ndarray, pred: np.ndarray) -> float:
    """Per-nucleus full-mask AJI, a line-by-line port of the MoNuSeg MATLAB loop."""
    pred_ids = [p for p in np.unique(pred) if p != 0]
    used = {p: 0 for p in pred_ids}
    correct = union = 0
    for g in [g for g in np.unique(gt) if g != 0]:
        g_mask = gt == g
        touched = [p for p in np.unique(pred[g_mask]) if p != 0]
        if not touched:
            union += g_mask.sum()
            continue
        best, best_ji = None, 0.0
        for p in touched:  # ascending ids, strict ">" as in the MATLAB code
            p_mask = pred == p
            ji = (g_mask & p_mask).sum() / (g_mask | p_mask).sum()
            if ji > best_ji:
                best, best_ji = p, ji
        best_mask = pred == best
        correct += (g_mask & best_mask).sum()
        union += (g_mask | best_mask).sum()
        used[best] += 1
    union += sum((pred == p).sum() for p, count in used.items() if count == 0)
    return correct / union


def dense_reference_aji_plus(gt: np.ndarray, pred: np.ndarray) -> float:
    """HoVer-Net get_fast_aji_plus: Hungarian on the dense -IoU matrix."""
    g_ids = [g for g in np.unique(gt) if g != 0]
    p_ids = [p for p in np.unique(pred) if p != 0]
    inter = np.array([[((gt == g) & (pred == p)).sum() for p in p_ids] for g in g_ids])
    union = np.array([[((gt == g) | (pred == p)).sum() for p in p_ids] for g in g_ids])
    rows, cols = linear_sum_assignment(-(inter / union))
    keep = inter[rows, cols] > 0
    rows, cols = rows[keep], cols[keep]
    total_union = union[rows, cols].sum()
    total_union += sum((gt == g).sum() for i, g in enumerate(g_ids) if i not in rows)
    total_union += sum((pred == p).sum() for j, p in enumerate(p_ids) if j not in cols)
    return inter[rows, cols].sum() / total_union


def test_identical_maps_give_one():
    labels = np.array([[1, 1, 0, 4], [0, 0, 0, 4], [9, 9, 9, 0]])
    assert aggregated_jaccard_index(labels, labels) == 1.0
    assert aji_plus(labels, labels) == 1.0


def test_split_nucleus():
    # G1 = 6 px; S1 covers 4 of them, S2 the other 2.
    # AJI: G1 -> S1 (IoU 4/6 > 2/6): C = 4, U = 6; unused S2 adds 2 -> 4/8.
    gt = np.array([[1, 1, 1, 1, 1, 1]])
    pred = np.array([[1, 1, 1, 1, 2, 2]])
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(4 / 8)
    assert aji_plus(gt, pred) == pytest.approx(4 / 8)


def test_merge_reuses_prediction_in_aji_but_pairs_once_in_aji_plus():
    # G1 = 3 px, G2 = 3 px, one prediction S covering all 6 px.
    # AJI: G1 -> S: C += 3, U += 6; G2 -> S: C += 3, U += 6 -> 6/12.
    # AJI+: S pairs with one GT only: C = 3, U = 6 + |G2| = 9 -> 3/9.
    gt = np.array([[1, 1, 1, 2, 2, 2]])
    pred = np.array([[5, 5, 5, 5, 5, 5]])
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(6 / 12)
    assert aji_plus(gt, pred) == pytest.approx(3 / 9)


def test_gt_nucleus_without_overlap_adds_its_area_to_union():
    # G1 == S3 (C = 2, U = 2); G2 overlaps nothing (U += 2) -> 2/4.
    gt = np.array([[1, 1, 0, 2, 2]])
    pred = np.array([[3, 3, 0, 0, 0]])
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(2 / 4)
    assert aji_plus(gt, pred) == pytest.approx(2 / 4)


def test_reuse_versus_unique_pairing_on_a_chain():
    # G1 = px 0..9, G2 = px 10..19; S1 = px 4..13 (10 px), S2 = px 0 (1 px).
    # IoU(G1,S1) = 6/14, IoU(G2,S1) = 4/16, IoU(G1,S2) = 1/10.
    # AJI: G1 -> S1 (C 6, U 14), G2 -> S1 (C 4, U 16), unused S2 (U 1) -> 10/31.
    # AJI+: best total IoU is {G1-S1} (6/14 > 1/10 + 4/16): C = 6,
    #       U = 14 + |G2| 10 + |S2| 1 = 25 -> 6/25.
    gt = np.array([[1] * 10 + [2] * 10])
    pred = np.array([[2, 0, 0, 0] + [1] * 10 + [0] * 6])
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(10 / 31)
    assert aji_plus(gt, pred) == pytest.approx(6 / 25)


@pytest.mark.parametrize(
    ("id_a", "id_b", "expected"),
    [
        # Tie IoU(G, Sa) = 2/6 = IoU(G, Sb) = 3/9; the smaller id wins.
        # Sa chosen: C = 2, U = 6 + unused |Sb| 6 = 12 -> 2/12.
        (1, 2, 2 / 12),
        # Sb chosen: C = 3, U = 9 + unused |Sa| 2 = 11 -> 3/11.
        (2, 1, 3 / 11),
    ],
)
def test_aji_tie_goes_to_smallest_prediction_id(id_a, id_b, expected):
    gt = np.array([[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]])
    a, b = id_a, id_b
    pred = np.array([[a, a, 0, b, b, b], [0, 0, 0, b, b, b]])
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(expected)
    assert slow_reference_aji(gt, pred) == pytest.approx(expected)


def test_empty_prediction_gives_zero():
    gt = np.array([[1, 1, 0], [0, 2, 2]])
    empty = np.zeros_like(gt)
    assert aggregated_jaccard_index(gt, empty) == 0.0
    assert aji_plus(gt, empty) == 0.0


def test_background_only_gt_with_predictions_gives_zero():
    # C = 0, U = |S| = 2.
    gt = np.zeros((2, 3), dtype=np.int32)
    pred = np.array([[0, 7, 7], [0, 0, 0]], dtype=np.int32)
    assert aggregated_jaccard_index(gt, pred) == 0.0
    assert aji_plus(gt, pred) == 0.0


def test_both_empty_is_a_perfect_score():
    empty = np.zeros((3, 3), dtype=np.uint8)
    assert aggregated_jaccard_index(empty, empty) == 1.0
    assert aji_plus(empty, empty) == 1.0


def test_permuted_non_consecutive_ids_give_the_same_scores(make_random_pair):
    gt, pred = make_random_pair(seed=3)
    rng = np.random.default_rng(0)
    lookup_gt = np.concatenate([[0], rng.permutation(np.arange(1, gt.max() + 1)) * 1000 + 7])
    lookup_pred = np.concatenate([[0], rng.permutation(np.arange(1, pred.max() + 1)) * 3])
    gt_new, pred_new = lookup_gt[gt], lookup_pred[pred].astype(np.uint32)
    assert aggregated_jaccard_index(gt_new, pred_new) == pytest.approx(
        aggregated_jaccard_index(gt, pred)
    )
    assert aji_plus(gt_new, pred_new) == pytest.approx(aji_plus(gt, pred))


@pytest.mark.parametrize("seed", range(8))
def test_aji_matches_slow_per_nucleus_reference(make_random_pair, seed):
    gt, pred = make_random_pair(seed=seed)
    assert aggregated_jaccard_index(gt, pred) == pytest.approx(slow_reference_aji(gt, pred))


@pytest.mark.parametrize("seed", range(8))
def test_aji_plus_matches_dense_hungarian_reference(make_random_pair, seed):
    gt, pred = make_random_pair(seed=seed, n=16)
    assert aji_plus(gt, pred) == pytest.approx(dense_reference_aji_plus(gt, pred))


def test_validation_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        aggregated_jaccard_index(np.zeros((2, 3), int), np.zeros((3, 2), int))
