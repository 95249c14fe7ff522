"""Precision: which forward passes run under bf16 autocast."""

from __future__ import annotations

import logging

import pytest
import torch

from wsinuc import device as precision
from wsinuc.device import (
    PRECISIONS,
    autocast,
    check_precision,
    precision_label,
    uses_bf16,
)


@pytest.mark.parametrize(
    ("name", "device", "expected"),
    [
        ("auto", "cuda", True), ("auto", "cpu", False),
        ("bf16", "cuda", True), ("bf16", "cpu", True),
        ("fp32", "cuda", False), ("fp32", "cpu", False),
        ("bf16", "meta", False),
    ],
)
def test_which_device_and_precision_run_in_bf16(name, device, expected, monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert uses_bf16(name, device) is expected
    assert precision_label(name, device) == ("bf16" if expected else "fp32")


@pytest.mark.parametrize("name", ["fp16", "BF16", "", "amp"])
def test_an_unknown_precision_is_refused_with_the_choices(name):
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        check_precision(name)
    with pytest.raises(ValueError, match="precision"):
        uses_bf16(name, "cpu")


def test_bf16_on_a_cpu_without_native_bf16_warns_once_and_still_runs(monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    precision._warn_emulated_bf16.cache_clear()
    with caplog.at_level(logging.WARNING, logger="wsinuc.device"):
        assert uses_bf16("bf16", "cpu") and uses_bf16("bf16", "cpu")
    assert [r.message for r in caplog.records].count(
        "bf16 requested but this CPU has no native bf16: it will be slower than fp32"
    ) == 1
    precision._warn_emulated_bf16.cache_clear()


@pytest.mark.parametrize(("name", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32), ("auto", torch.float32)])
def test_autocast_sets_the_dtype_of_a_cpu_convolution(name, dtype):
    conv = torch.nn.Conv2d(3, 4, 3)
    with torch.no_grad(), autocast(name, "cpu"):
        assert conv(torch.rand(1, 3, 8, 8)).dtype == dtype


def test_precisions_are_the_documented_three():
    assert PRECISIONS == ("auto", "fp32", "bf16")
