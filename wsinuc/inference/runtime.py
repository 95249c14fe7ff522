"""One decision of where and how the network runs: device, backend and precision, with the reason.

:func:`resolve_runtime` is the only place that turns ``--device``,
``--backend`` and ``--precision`` into what runs; the engine's client calls it
once, carries the frozen :class:`Runtime` in every chunk task and records it
in ``run.json``. It imports torch only when CUDA may be present or torch is
the backend, so a CPU run served from the OpenVINO cache never does.

* device ``auto``: CUDA when torch sees a CUDA device, else the CPU;
* backend ``auto``: torch on CUDA; on the CPU OpenVINO when it is installed
  and converts the model, else torch (one warning line says why);
* precision ``auto``: torch: bf16 autocast on CUDA, float32 on the CPU;
  OpenVINO: bf16 on CPUs with native bf16 (AVX512-BF16 or AMX), else f32.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass

from wsinuc.config import BACKENDS, validate_backend, validate_precision
from wsinuc.errors import OptionError, WsinucError

log = logging.getLogger(__name__)

#: ``/proc/cpuinfo`` flags of native bf16 convolutions, the first found named in the reason.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Runtime:
    """What runs the network, decided once per run.

    Attributes
    ----------
    device : str
        ``cpu`` or ``cuda:N``.
    backend : str
        ``torch`` or ``openvino``.
    precision : str
        ``fp32`` or ``bf16`` (what actually runs).
    reason : str
        Why, in a few words (recorded in ``run.json``).
    streams : int
        OpenVINO inference streams, one per worker thread sharing the compiled
        model (set by the engine's plan; 1 for torch).
    """

    device: str
    backend: str
    precision: str
    reason: str
    streams: int = 1

    def describe(self) -> str:
        """One line for logs and ``run.json``: ``"openvino bf16 on cpu: CPU has avx512_bf16"``."""
        streams = f", {self.streams} streams" if self.streams > 1 else ""
        return f"{self.backend} {self.precision} on {self.device}{streams}: {self.reason}"


@functools.cache
def resolve_runtime(device: str = "auto", backend: str = "auto", precision: str = "auto",
                    model: str | None = None) -> Runtime:
    """Decide device, backend and precision for ``--device``, ``--backend`` and ``--precision``.

    Parameters
    ----------
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    backend : str
        ``auto``, ``torch`` or ``openvino``.
    precision : str
        ``auto``, ``fp32`` or ``bf16``.
    model : str, optional
        Bundled name or weights path. With OpenVINO it is converted now (or
        found in the cache), so that a model OpenVINO cannot convert falls
        back to torch under ``auto`` before any chunk runs.

    Raises
    ------
    OptionError
        Unknown values, CUDA asked for and absent, or OpenVINO asked for and
        not installed or not on the CPU.
    """
    validate_backend(backend)
    validate_precision(precision)
    where = resolve_device_name(device)
    chosen, why = _backend(where, backend, model)
    bits, bits_why = _precision(where, chosen, precision)
    return Runtime(device=where, backend=chosen, precision=bits, reason=f"{why}; {bits_why}")


def resolve_device_name(device: str = "auto") -> str:
    """``cpu`` or ``cuda:N`` for ``--device``; torch is imported only when CUDA may be present."""
    if device == "cpu":
        return "cpu"
    if device == "auto" and not cuda_possible():
        return "cpu"
    from wsinuc.device import resolve_device

    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return "cpu"
    return f"cuda:{resolved.index or 0}"


def cuda_possible() -> bool:
    """False when this machine certainly has no CUDA driver (so torch need not be asked)."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version")
    return True


def openvino_installed() -> bool:
    """Whether the ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


def _backend(device: str, backend: str, model: str | None) -> tuple[str, str]:
    if device != "cpu":
        if backend == "openvino":
            raise OptionError("--backend", f"openvino runs on the CPU, not on {device}; use --device cpu")
        return "torch", f"{device} is a CUDA device"
    if backend == "torch":
        return "torch", "asked for with --backend torch"
    if not openvino_installed():
        if backend == "openvino":
            raise OptionError("--backend", "openvino is not installed (pip install openvino)")
        log.warning("openvino is not installed: the network runs with torch on the CPU (pip install openvino "
                    "for about 3x faster CPU inference)")
        return "torch", "CPU without openvino installed"
    if model is not None:
        failure = _conversion_failure(model)
        if failure is not None:
            if backend == "openvino":
                raise WsinucError(f"{model}: OpenVINO cannot convert this model ({failure}); use --backend torch")
            log.warning("%s: OpenVINO cannot convert this model (%s); running it with torch", model, failure)
            return "torch", "OpenVINO could not convert the model"
    return "openvino", "CPU with openvino installed" if backend == "auto" else "asked for with --backend openvino"


def _conversion_failure(model: str) -> str | None:
    """None when ``model``'s OpenVINO model is cached or converts now, else why not (one line)."""
    from wsinuc.inference.openvino_cache import openvino_model_path

    try:
        openvino_model_path(model)
    except WsinucError:
        raise
    except Exception as error:  # noqa: BLE001 - any conversion failure means: use torch
        return " ".join(f"{type(error).__name__}: {error}".split())[:200]
    return None


def _precision(device: str, backend: str, precision: str) -> tuple[str, str]:
    if precision != "auto":
        if precision == "bf16" and device == "cpu" and native_bf16_reason() is None:
            log.warning("bf16 requested but this CPU has no native bf16: it will be slower than fp32")
        return precision, f"{precision} asked for with --precision"
    if device != "cpu":
        return "bf16", "bf16 autocast on CUDA"
    if backend == "torch":
        return "fp32", "fp32 is torch's CPU default"
    reason = native_bf16_reason()
    return ("bf16", reason) if reason else ("fp32", "CPU without native bf16")


@functools.cache
def native_bf16_reason() -> str | None:
    """``"CPU has avx512_bf16"`` (or ``amx_bf16``) when the CPU computes bf16 natively, else None.

    Reads the flags of ``/proc/cpuinfo`` on Linux; elsewhere asks OpenVINO's
    CPU plugin (``OPTIMIZATION_CAPABILITIES`` lists ``BF16``). Never imports torch.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        flags = None
    if flags is not None:
        return next((f"CPU has {flag}" for flag in BF16_CPU_FLAGS if flag in flags), None)
    if not openvino_installed():
        return None
    import openvino

    capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "OpenVINO reports native BF16 on this CPU" if "BF16" in capabilities else None


__all__ = ["BACKENDS", "Runtime", "native_bf16_reason", "resolve_device_name", "resolve_runtime"]
