"""Background / interior / boundary targets, their class weights and seeded parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.instances.rules import SEEDED_PARAMETERS
from wsinuc.training.targets import (
    BACKGROUND,
    BOUNDARY,
    INTERIOR,
    class_weight_map,
    interior_boundary_targets,
    seeded_parameters,
)


def _reference(instances: np.ndarray, width: int) -> np.ndarray:
    """Slow oracle: per nucleus, a pixel is interior iff its distance to the nearest
    pixel of another label (edges replicated) exceeds ``width``; nuclei left
    without interior retry with narrower widths (down to 1)."""
    padded = np.pad(instances, width + 1, mode="edge")
    classes = np.where(instances > 0, BOUNDARY, BACKGROUND).astype(np.uint8)
    for label in np.unique(instances[instances > 0]):
        distance = ndimage.distance_transform_edt(padded == label)[width + 1 : -width - 1, width + 1 : -width - 1]
        for radius in range(width, 0, -1):
            interior = (instances == label) & (distance > radius)
            if interior.any():
                classes[interior] = INTERIOR
                break
    return classes


def _touching_pair() -> np.ndarray:
    labels = np.zeros((20, 30), np.int32)
    labels[3:17, 2:15] = 1
    labels[3:17, 15:28] = 2
    return labels


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_touching_nuclei_get_a_boundary_between_them(width):
    classes = interior_boundary_targets(_touching_pair(), width)
    row = classes[10]
    # Both sides of the contact line (columns 14 | 15) are boundary for `width` px each.
    assert (row[15 - width : 15 + width] == BOUNDARY).all()
    assert row[15 - width - 1] == INTERIOR and row[15 + width] == INTERIOR
    seeds, n_seeds = ndimage.label(classes == INTERIOR)
    assert n_seeds == 2  # the interiors of the two nuclei are separate


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_matches_the_distance_transform_oracle(width):
    rng = np.random.default_rng(width)
    labels = np.zeros((64, 64), np.uint16)
    for label, (top, left) in enumerate(rng.integers(0, 56, size=(12, 2)), start=1):
        size = int(rng.integers(2, 14))
        labels[top : top + size, left : left + size] = label
    np.testing.assert_array_equal(interior_boundary_targets(labels, width), _reference(labels, width))


def test_small_nuclei_keep_an_interior_and_slivers_are_all_boundary():
    labels = np.zeros((20, 20), np.int32)
    labels[2:7, 2:7] = 1  # 5 x 5: no pixel 3 px from outside, but one 1 px from it
    labels[10:12, 2:18] = 2  # 2 px thick: no interior at any width
    classes = interior_boundary_targets(labels, 3)
    assert (classes[labels == 1] == INTERIOR).sum() > 0
    assert (classes[labels == 2] == BOUNDARY).all()


def test_a_stack_of_patches_is_treated_map_by_map_and_dtypes_are_accepted():
    one = _touching_pair()
    stack = np.stack([one, np.zeros_like(one), one[::-1]]).astype(np.uint16)
    classes = interior_boundary_targets(stack, 2)
    assert classes.dtype == np.uint8 and classes.shape == stack.shape
    np.testing.assert_array_equal(classes[0], interior_boundary_targets(one, 2))
    np.testing.assert_array_equal(classes[2], interior_boundary_targets(one[::-1], 2))
    assert (classes[1] == BACKGROUND).all()


def test_cut_nuclei_get_no_band_along_the_array_edge():
    labels = np.zeros((10, 10), np.int32)
    labels[:, :5] = 1
    classes = interior_boundary_targets(labels, 2)
    assert (classes[:, 0] == INTERIOR).all() and (classes[:, 3:5] == BOUNDARY).all()


@pytest.mark.parametrize("bad", [0, 17, 2.0, True])
def test_bad_widths_are_refused(bad):
    with pytest.raises(ValueError, match="boundary_width"):
        interior_boundary_targets(_touching_pair(), bad)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="integer"):
        interior_boundary_targets(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=">= 0"):
        interior_boundary_targets(-np.ones((4, 4), np.int32))


def test_class_weights_balance_background_and_nucleus_and_weight_the_boundary_up():
    classes = interior_boundary_targets(_touching_pair(), 2)
    weights = class_weight_map(classes, boundary_weight=4.0)
    nucleus = classes > 0
    balanced = np.where(classes == BOUNDARY, weights / 4.0, weights)
    assert balanced[nucleus].sum() == pytest.approx(balanced[~nucleus].sum(), rel=1e-5)
    assert (weights[classes == BOUNDARY] == pytest.approx(4.0 * weights[classes == INTERIOR][0]))
    assert (class_weight_map(np.zeros((2, 5, 5), np.uint8), 4.0) == 1.0).all()
    with pytest.raises(ValueError, match="boundary_weight"):
        class_weight_map(classes, 0.0)


def test_seeded_parameters_grow_through_the_band():
    assert seeded_parameters(2)["max_expansion"] == 4
    assert [seeded_parameters(w)["max_expansion"] for w in (1, 3, 4)] == [3, 6, 7]
    assert seeded_parameters(2)["min_seed_size"] == 8 and seeded_parameters(1, mpp=0.5)["min_seed_size"] == 2


def test_seeded_parameters_are_all_read_by_the_rule():
    # a key the rule does not read would sit in every card doing nothing
    assert set(seeded_parameters(2)) <= set(SEEDED_PARAMETERS)


def test_class_weights_count_over_the_whole_stack():
    classes = interior_boundary_targets(np.stack([_touching_pair(), np.zeros((20, 30), np.int32)]), 2)
    weights = class_weight_map(classes, boundary_weight=1.0)
    nucleus = classes > 0
    assert weights[nucleus].sum() == pytest.approx(weights[~nucleus].sum(), rel=1e-5)
    assert len(np.unique(weights[1])) == 1  # the empty patch gets the stack's background weight
    with pytest.raises(ValueError, match="0/1/2"):
        class_weight_map(classes.astype(np.float32), 1.0)
