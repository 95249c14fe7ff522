"""Random instance maps for the metric tests (small, seeded, non-consecutive ids)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def paint_disks(
    shape: tuple[int, int],
    centers: np.ndarray,
    radii: np.ndarray,
    ids: np.ndarray,
) -> np.ndarray:
    """Paint disks in order; later disks overwrite earlier ones (merges, cuts)."""
    labels = np.zeros(shape, dtype=np.int64)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for (cy, cx), radius, label in zip(centers, radii, ids, strict=True):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = label
    return labels


def random_pair(seed: int, shape: tuple[int, int] = (40, 40), n: int = 12) -> tuple:
    """A GT map and a jittered prediction with missed, extra and resized disks."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, shape[0], size=(n, 2))
    radii = rng.uniform(2.0, 6.0, size=n)
    gt_ids = rng.choice(np.arange(1, 10_000), size=n, replace=False)
    gt = paint_disks(shape, centers, radii, gt_ids)
    keep = rng.random(n) > 0.15
    extra = 3
    jittered = centers[keep] + rng.normal(0, 1.5, size=(keep.sum(), 2))
    pred_centers = np.concatenate([jittered, rng.uniform(0, shape[0], size=(extra, 2))])
    resized = radii[keep] * rng.uniform(0.6, 1.5, size=keep.sum())
    pred_radii = np.concatenate([resized, rng.uniform(2, 5, size=extra)])
    pred_ids = rng.choice(np.arange(1, 10_000), size=pred_radii.size, replace=False)
    pred = paint_disks(shape, pred_centers, pred_radii, pred_ids)
    return gt, pred


@pytest.fixture
def make_random_pair() -> Callable[..., tuple]:
    """Factory: ``make_random_pair(seed, shape=(40, 40), n=12) -> (gt, pred)``."""
    return random_pair
