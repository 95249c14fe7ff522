"""InstanceRule: the card's post-processing choice, its lengths at another scale, and applying it."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.errors import OptionError
from wsinuc.instances import InstanceRule, probability_to_instances, seeded_instances

CARD = {"postprocess": "seeded", "threshold": 0.45,
        "seeded": {"threshold": 0.6, "min_seed_size": 8, "max_expansion": 4, "seed_peak": 0.7, "merge_dip": 0.3}}


@pytest.mark.parametrize(("requested", "method", "expected"), [
    (None, "seeded", 0.6), (None, "watershed", 0.45), (None, "opening", 0.45), (0.3, "seeded", 0.3),
    (0.3, "opening", 0.3), (None, "auto", 0.6),
])
def test_the_threshold_is_the_given_one_else_the_cards_choice_for_that_method(requested, method, expected):
    assert InstanceRule.from_card(CARD, method, requested).threshold == expected


def test_without_a_card_choice_the_rule_is_the_papers_opening_at_one_half():
    assert InstanceRule.from_card({}) == InstanceRule(method="opening", threshold=0.5, kernel_size=5)
    assert InstanceRule.from_card({}, "seeded").threshold == 0.5
    assert InstanceRule.from_card({"seeded": {"threshold": 0.6}}, "opening").threshold == 0.5


def test_the_cards_seeded_block_gives_every_seeded_parameter():
    rule = InstanceRule.from_card(CARD)
    assert rule.parameters() == CARD["seeded"]


def test_an_unknown_card_key_is_ignored_and_an_unknown_method_is_an_option_error():
    assert InstanceRule.from_card({"postprocess": "seeded", "seeded": {"val_aji": 0.5}}).method == "seeded"
    with pytest.raises(OptionError, match="--postprocess"):
        InstanceRule(method="magic")
    with pytest.raises(OptionError, match="--threshold"):
        InstanceRule(threshold=1.5)


@pytest.mark.parametrize(("scale", "kernel", "seed", "rings"), [(1.0, 5, 8, 4), (2.0, 3, 2, 2), (0.5, 11, 32, 8),
                                                                (0.501, 11, 32, 8), (4.0, 1, 1, 1)])
def test_lengths_convert_to_level0_pixels(scale, kernel, seed, rings):
    rule = InstanceRule(method="seeded").at_scale(scale)
    assert (rule.kernel_size, rule.min_seed_size, rule.max_expansion) == (kernel, seed, rings)
    assert rule.kernel_size % 2 == 1


def test_a_zero_length_stays_zero_at_any_scale():
    rule = InstanceRule(method="seeded", min_seed_size=0, max_expansion=0).at_scale(2.0)
    assert (rule.min_seed_size, rule.max_expansion) == (0, 0)


def _maps():
    rng = np.random.default_rng(3)
    interior = np.clip(rng.random((48, 48)) * 0.3, 0, 1)
    interior[8:18, 8:18] = 0.9
    interior[26:40, 20:30] = 0.8
    nucleus = np.maximum(interior, 0.0)
    nucleus[6:20, 6:20] = np.maximum(nucleus[6:20, 6:20], 0.7)
    return np.stack([interior, nucleus], axis=-1)


def test_applying_the_rule_is_calling_its_method_with_its_parameters():
    prob = _maps()
    seeded = InstanceRule.from_card(CARD, threshold=0.5)
    np.testing.assert_array_equal(seeded(prob), seeded_instances(prob[..., 0], prob[..., 1], threshold=0.5,
                                                                 min_seed_size=8, max_expansion=4,
                                                                 seed_peak=0.7, merge_dip=0.3))
    opening = InstanceRule(method="opening", threshold=0.5, kernel_size=3)
    np.testing.assert_array_equal(opening(prob), probability_to_instances(prob[..., 1], threshold=0.5, kernel_size=3))
    np.testing.assert_array_equal(opening(prob[..., 1]), opening(prob))


def test_seeded_on_a_single_map_is_a_one_line_option_error():
    with pytest.raises(OptionError, match="seeded needs a model with interior and boundary outputs"):
        InstanceRule(method="seeded")(np.zeros((8, 8), np.float32))
