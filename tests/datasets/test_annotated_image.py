"""AnnotatedImage checks its arrays; MonusegImage is the same class."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.datasets import AnnotatedImage, MonusegImage


def make(image: np.ndarray, instances: np.ndarray) -> AnnotatedImage:
    return AnnotatedImage("x", image, instances, mpp=None, organ=None, patient="x")


def test_valid_sample_keeps_its_fields():
    sample = make(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.int32))
    assert sample.annotation_source is None and sample.patient == "x"
    assert MonusegImage is AnnotatedImage


@pytest.mark.parametrize(
    ("image", "instances", "message"),
    [
        (np.zeros((4, 5, 3), np.float32), np.zeros((4, 5), np.int32), "image must be uint8"),
        (np.zeros((4, 5), np.uint8), np.zeros((4, 5), np.int32), "image must be uint8"),
        (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint16), "instances must be int32"),
        (np.zeros((4, 5, 3), np.uint8), np.zeros((5, 4), np.int32), r"\(5, 4\)"),
    ],
)
def test_wrong_arrays_are_rejected(image, instances, message):
    with pytest.raises(ValueError, match=message):
        make(image, instances)
