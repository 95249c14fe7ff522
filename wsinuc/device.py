"""Where and in which precision networks run: the device, and float32 or bfloat16 autocast.

The ground floor of inference, training and the engine: :func:`resolve_device`
turns ``--device`` into a torch device (with a one-line error when CUDA is
asked for and missing), and the precision helpers decide on bf16 autocast.

``"auto"`` precision uses bf16 autocast on CUDA and float32 on the CPU, so CPU
results do not depend on which CPU runs them. ``"bf16"`` asks for bf16
autocast on any device: on CPUs with native bf16 instructions (AVX512-BF16 or
AMX, e.g. AMD Zen 4 and Intel Sapphire Rapids) oneDNN then runs convolutions
about twice as fast as float32 (measured on a 2-core AMD EPYC: the paper-width
U-Net trains at 0.147 vs 0.070 Mpx/s, the VGG16 U-Net at 0.336 vs 0.155
Mpx/s). Weights and losses stay float32 either way.
"""


from __future__ import annotations

import functools
import logging

import torch

from wsinuc.config import PRECISIONS
from wsinuc.errors import OptionError

__all__ = [
    "PRECISIONS", "autocast", "check_precision", "cpu_has_native_bf16", "precision_label", "resolve_device", "uses_bf16",
]

_log = logging.getLogger(__name__)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX).

    The one detector of the package (:func:`wsinuc.inference.runtime.native_bf16_reason`,
    torch-free), so training and inference decide alike.
    """
    from wsinuc.inference.runtime import native_bf16_reason

    return native_bf16_reason() is not None


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def uses_bf16(precision: str, device: torch.device | str) -> bool:
    """Whether a forward pass on ``device`` runs under bf16 autocast.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 on CUDA, float32 elsewhere; ``"fp32"``: never;
        ``"bf16"``: on CUDA and CPU (a warning is logged on a CPU without
        native bf16, where it is correct but slow).
    device : torch.device or str

    Returns
    -------
    bool
    """
    check_precision(precision)
    kind = torch.device(device).type
    if precision == "fp32" or kind not in ("cuda", "cpu"):
        return False
    if kind == "cuda":
        return True
    if precision == "bf16" and not cpu_has_native_bf16():
        _warn_emulated_bf16()
    return precision == "bf16"


@functools.cache
def _warn_emulated_bf16() -> None:
    _log.warning("bf16 requested but this CPU has no native bf16: it will be slower than fp32")


def autocast(precision: str, device: torch.device | str) -> torch.autocast:
    """The ``torch.autocast`` context for ``precision`` on ``device`` (disabled for float32)."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(precision, device))


def precision_label(precision: str, device: torch.device | str) -> str:
    """What actually ran, for cards and logs: ``"bf16"`` or ``"fp32"``."""
    return "bf16" if uses_bf16(precision, device) else "fp32"


def resolve_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    OptionError
        When CUDA is asked for but not available, or the name is unknown.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise OptionError("--device", f"{name!r} asked for but no CUDA device is available")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise OptionError("--device", f"{name!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return device
    raise OptionError("--device", f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
