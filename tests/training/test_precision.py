"""Training precision: bf16 where the hardware has it."""

from __future__ import annotations

import pytest

from wsinuc.training import precision


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_follows_the_cpu(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    assert precision.training_precision("auto", "cpu") == expected


def test_explicit_choices_are_kept_and_unknown_ones_refused():
    assert precision.training_precision("fp32", "cpu") == "fp32"
    assert precision.training_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision"):
        precision.training_precision("fp16", "cpu")
