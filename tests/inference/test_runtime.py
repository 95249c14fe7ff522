"""One decision of device, backend and precision, with its reason."""

from __future__ import annotations

import logging

import pytest

from wsinuc.errors import OptionError
from wsinuc.inference import runtime
from wsinuc.inference.runtime import Runtime, resolve_runtime


@pytest.fixture(autouse=True)
def _fresh_decisions():
    resolve_runtime.cache_clear()
    runtime.native_bf16_reason.cache_clear()
    yield
    resolve_runtime.cache_clear()
    runtime.native_bf16_reason.cache_clear()


def test_auto_on_a_bf16_cpu_is_openvino_bf16_and_says_why(monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16_reason", lambda: "CPU has avx512_bf16")
    chosen = resolve_runtime("cpu")
    assert (chosen.device, chosen.backend, chosen.precision) == ("cpu", "openvino", "bf16")
    assert chosen.describe() == "openvino bf16 on cpu: CPU with openvino installed; CPU has avx512_bf16"


def test_auto_on_a_cpu_without_bf16_is_openvino_f32(monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16_reason", lambda: None)
    assert resolve_runtime("cpu").precision == "fp32"


def test_torch_on_the_cpu_stays_fp32_unless_asked(monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16_reason", lambda: "CPU has amx_bf16")
    assert resolve_runtime("cpu", "torch") == Runtime("cpu", "torch", "fp32",
                                                     "asked for with --backend torch; fp32 is torch's CPU default")
    assert resolve_runtime("cpu", "torch", "bf16").precision == "bf16"


def test_without_openvino_auto_falls_back_to_torch_with_one_line(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "openvino_installed", lambda: False)
    with caplog.at_level(logging.WARNING, logger="wsinuc.inference.runtime"):
        assert resolve_runtime("cpu").backend == "torch"
    assert len(caplog.records) == 1 and "openvino is not installed" in caplog.records[0].getMessage()
    with pytest.raises(OptionError, match="^--backend: openvino is not installed"):
        resolve_runtime("cpu", "openvino")


def test_a_model_openvino_cannot_convert_falls_back_under_auto_only(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "_conversion_failure", lambda model: "RuntimeError: unsupported op")
    with caplog.at_level(logging.WARNING, logger="wsinuc.inference.runtime"):
        chosen = resolve_runtime("cpu", "auto", "auto", "weights/odd")
    assert chosen.backend == "torch" and "could not convert" in chosen.reason
    assert "unsupported op" in caplog.text
    with pytest.raises(Exception, match="^weights/odd: OpenVINO cannot convert this model"):
        resolve_runtime("cpu", "openvino", "auto", "weights/odd")


@pytest.mark.parametrize(("option", "value"), [("backend", "onnx"), ("precision", "fp16")])
def test_unknown_values_are_one_line_option_errors(option, value):
    with pytest.raises(OptionError, match=f"^--{option}: must be one of"):
        resolve_runtime("cpu", **{option: value})


def test_cpu_flags_name_the_native_bf16_instructions(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path,
                                                                          *a, **k))
    assert runtime.native_bf16_reason() == "CPU has avx512_bf16"
    runtime.native_bf16_reason.cache_clear()
    cpuinfo.write_text("flags\t\t: fpu sse avx2\n")
    assert runtime.native_bf16_reason() is None
