"""Chunk tasks: a network that returns NaN stops the run with one line naming the model."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.engine.chunk_task import ChunkContext, finite
from wsinuc.errors import WsinucError
from wsinuc.instances import InstanceRule


def _context() -> ChunkContext:
    return ChunkContext(slide_path="s.svs", mpp_override=None, level0_mpp=0.25, scale=1.0,
                        model="weights/broken", device="cpu", batch_size=1, precision="bf16", tta=False,
                        rule=InstanceRule(), simplify=0.0,
                        work_dir="w")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_probabilities_are_a_one_line_error_naming_the_model(bad):
    prob = np.full((4, 4), 0.5, np.float32)
    prob[1, 2] = bad
    with pytest.raises(WsinucError, match=r"^weights/broken: the network returned NaN or infinite") as info:
        finite(prob, _context())
    assert "\n" not in str(info.value)


def test_finite_probabilities_pass_unchanged():
    prob = np.random.default_rng(0).random((4, 4), dtype=np.float32)
    assert finite(prob, _context()) is prob
