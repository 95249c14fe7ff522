"""patient_split: deterministic, disjoint, whole patients on one side, validated inputs."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.datasets import (
    default_patient,
    list_monuseg_ids,
    list_tnbc_ids,
    patient_split,
)

TNBC_LIKE = [f"{slide:02d}_{n}" for slide in range(1, 11) for n in range(1, 4)]


def test_same_seed_gives_the_same_split():
    assert patient_split(TNBC_LIKE, 0.2, seed=3) == patient_split(TNBC_LIKE, 0.2, seed=3)


def test_different_seeds_give_different_splits():
    splits = {tuple(patient_split(TNBC_LIKE, 0.2, seed=s)[1]) for s in range(5)}
    assert len(splits) > 1


def test_split_is_disjoint_complete_and_keeps_input_order():
    train, val = patient_split(TNBC_LIKE, 0.2, seed=0)
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(TNBC_LIKE)
    assert train == [i for i in TNBC_LIKE if i in set(train)]


def test_whole_patients_go_to_validation_by_group_count():
    train, val = patient_split(TNBC_LIKE, 0.2, seed=0)
    val_slides = {i.split("_")[0] for i in val}
    assert len(val_slides) == 2  # 20 % of 10 slides
    assert len(val) == 6  # 3 tiles each
    assert not val_slides & {i.split("_")[0] for i in train}


def test_split_does_not_depend_on_input_order():
    shuffled = [str(i) for i in np.random.default_rng(7).permutation(TNBC_LIKE)]
    from_shuffled = patient_split(shuffled, 0.3, seed=1)[1]
    assert set(from_shuffled) == set(patient_split(TNBC_LIKE, 0.3, seed=1)[1])


def test_custom_patient_function_groups_ids():
    ids = ["a1", "a2", "b1", "b2", "c1"]
    train, val = patient_split(ids, 0.34, seed=0, patient_of=lambda i: i[0])
    assert {i[0] for i in train}.isdisjoint({i[0] for i in val})
    assert len({i[0] for i in val}) == 1  # round(0.34 * 3) = 1 patient


@pytest.mark.parametrize("fraction", [0.01, 0.99])
def test_each_side_keeps_at_least_one_patient(fraction):
    train, val = patient_split(["01_1", "02_1"], fraction)
    assert len(train) == 1 and len(val) == 1


def test_default_patient_names():
    assert default_patient("TCGA-21-5784-01Z-00-DX1") == "TCGA-21-5784"
    assert default_patient("07_3") == "07"
    assert default_patient("plain") == "plain"


@pytest.mark.parametrize(
    ("ids", "fraction", "seed", "message"),
    [
        ([], 0.2, 0, "must not be empty"),
        (["01_1", "01_1", "02_1"], 0.2, 0, "duplicates"),
        (["01_1", "02_1"], 0.0, 0, "val_fraction"),
        (["01_1", "02_1"], 1.0, 0, "val_fraction"),
        (["01_1", "02_1"], True, 0, "val_fraction"),
        (["01_1", "02_1"], 0.5, "0", "seed"),
        (["01_1", "01_2"], 0.5, 0, "at least 2 patients"),
    ],
)
def test_bad_inputs_are_rejected(ids, fraction, seed, message):
    with pytest.raises(ValueError, match=message):
        patient_split(ids, fraction, seed)


def test_real_monuseg_split_is_24_to_6_images(monuseg_root):
    ids = list_monuseg_ids(monuseg_root, "train")
    train, val = patient_split(ids)
    assert (len(train), len(val)) == (24, 6)
    assert patient_split(ids) == (train, val)


def test_real_tnbc_split_keeps_slides_together(tnbc_root):
    train, val = patient_split(list_tnbc_ids(tnbc_root))
    val_slides = {i.split("_")[0] for i in val}
    assert len(val_slides) == 2  # round(0.2 * 11 slides)
    assert val_slides.isdisjoint({i.split("_")[0] for i in train})
