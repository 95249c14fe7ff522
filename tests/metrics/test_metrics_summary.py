"""evaluate_instances, mean_metrics, and the speed of sparse counting."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.metrics import (
    METRIC_KEYS,
    aggregated_jaccard_index,
    aji_plus,
    dice,
    evaluate_instances,
    mean_metrics,
    object_f1,
    panoptic_quality,
)


def test_split_case_gives_every_hand_computed_metric():
    # G1 = 6 px; S1 = 4 px inside, S2 = 2 px inside (see test_aji / test_pq).
    gt = np.array([[1, 1, 1, 1, 1, 1]])
    pred = np.array([[1, 1, 1, 1, 2, 2]])
    result = evaluate_instances(gt, pred)
    assert tuple(result) == METRIC_KEYS
    expected = {"aji": 4 / 8, "aji_plus": 4 / 8, "dq": 2 / 3, "sq": 2 / 3, "pq": 4 / 9,
                "f1": 2 / 3, "dice": 1.0}
    assert result == pytest.approx(expected)


def test_identical_and_both_empty_maps_score_one_everywhere():
    labels = np.array([[1, 1, 0], [0, 4, 4]])
    assert evaluate_instances(labels, labels) == {key: 1.0 for key in METRIC_KEYS}
    empty = np.zeros((3, 3), dtype=np.int32)
    assert evaluate_instances(empty, empty) == {key: 1.0 for key in METRIC_KEYS}


def test_agrees_with_the_single_metric_functions(make_random_pair):
    gt, pred = make_random_pair(seed=7, n=16)
    result = evaluate_instances(gt, pred)
    dq, sq, pq = panoptic_quality(gt, pred)
    assert result["aji"] == aggregated_jaccard_index(gt, pred)
    assert result["aji_plus"] == aji_plus(gt, pred)
    assert (result["dq"], result["sq"], result["pq"]) == (dq, sq, pq)
    assert result["f1"] == object_f1(gt, pred)
    assert result["dice"] == dice(gt, pred)


def test_mean_metrics_averages_per_image_and_skips_text():
    rows = [
        {"image_id": "a", "aji": 0.5, "f1": np.float64(1.0), "done": True},
        {"image_id": "b", "aji": 0.7, "f1": 0, "done": False},
    ]
    # aji (0.5 + 0.7) / 2 = 0.6; f1 (1 + 0) / 2 = 0.5; bools and text skipped.
    assert mean_metrics(rows) == pytest.approx({"aji": 0.6, "f1": 0.5})


def test_mean_metrics_rejects_empty_and_ragged_rows():
    with pytest.raises(ValueError, match="empty"):
        mean_metrics([])
    with pytest.raises(ValueError, match=r"row 1 lacks .*'pq'"):
        mean_metrics([{"aji": 0.5, "pq": 0.4}, {"aji": 0.6}])


def disk_instances(shape: tuple[int, int], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """~n disks of radius 4-9 px, clipped against their neighbours (Voronoi cells)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, shape, size=(n, 2))
    seeds = np.zeros(shape, dtype=np.int32)
    seeds[centres[:, 0], centres[:, 1]] = np.arange(1, n + 1)
    distance, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    nearest = seeds[iy, ix]
    radius = np.concatenate([[0.0], rng.uniform(4, 9, size=n)])
    return np.where(distance <= radius[nearest], nearest, 0).astype(np.int32), centres


def perturbed_copy(gt: np.ndarray, centres: np.ndarray, seed: int) -> np.ndarray:
    """Shift by (1, 2) px, relabel, split every 10th nucleus at its centre, drop ~5 %."""
    rng = np.random.default_rng(seed)
    pred = np.roll(gt, (1, 2), axis=(0, 1)).astype(np.int64) * 2
    centre_x = np.concatenate([[0], centres[:, 1] + 2])
    xx = np.broadcast_to(np.arange(gt.shape[1]), gt.shape)
    split = (pred % 20 == 0) & (pred > 0) & (xx > centre_x[pred // 2])
    pred[split] += 1
    dropped = rng.choice(np.arange(2, 2 * len(centres) + 1, 2), size=len(centres) // 20)
    pred[np.isin(pred, dropped)] = 0
    return pred


def best_time(function, *args) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def test_thousand_nuclei_on_a_megapixel_are_scored_fast():
    gt, centres = disk_instances((1000, 1000), 1000, seed=0)
    pred = perturbed_copy(gt, centres, seed=1)
    assert np.unique(gt).size > 900
    assert best_time(aggregated_jaccard_index, gt, pred) < 0.5
    assert best_time(evaluate_instances, gt, pred) < 1.5
