"""Tests for wsinuc.stitching.relabel: anchor keys to sequential ids."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.stitching import apply_key_lookup, build_key_lookup


def test_key_lookup_numbers_keys_in_the_order_given():
    lookup = build_key_lookup([np.array([10, 50]), np.array([], dtype=np.int64), np.array([7])])
    block = np.array([[0, 50], [7, 10]])
    np.testing.assert_array_equal(apply_key_lookup(block, lookup), [[0, 2], [3, 1]])
    assert len(lookup) == 3


def test_a_key_owned_twice_is_refused():
    with pytest.raises(ValueError, match="more than one tile"):
        build_key_lookup([np.array([4, 9]), np.array([9])])


def test_unknown_key_in_a_block_is_refused():
    lookup = build_key_lookup([np.array([4, 9])])
    with pytest.raises(ValueError, match="5"):
        apply_key_lookup(np.array([[4, 5]]), lookup)
    with pytest.raises(ValueError, match="owns"):
        apply_key_lookup(np.array([[3]]), build_key_lookup([]))
