"""Which precision a training run uses: bf16 autocast where the hardware runs it natively.

Inference keeps :mod:`wsinuc.device`'s rule (``"auto"`` is float32 on the CPU, so
results do not depend on the CPU). Training is different: its speed decides how
many steps a CPU-hour buys, and bf16 autocast trains about 2x faster on CPUs with
native bf16 (AVX512-BF16 or AMX), so ``"auto"`` resolves to bf16 there.
"""

from __future__ import annotations

import torch

from wsinuc.device import check_precision, cpu_has_native_bf16


def training_precision(precision: str, device: torch.device | str) -> str:
    """Resolve a training ``precision`` to what runs: ``"bf16"`` or ``"fp32"``.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 on CUDA and on CPUs with native bf16, float32 elsewhere;
        ``"fp32"`` and ``"bf16"`` are kept as asked.
    device : torch.device or str
        The training device.

    Returns
    -------
    str
        ``"bf16"`` or ``"fp32"``.
    """
    check_precision(precision)
    if precision != "auto":
        return precision
    device = torch.device(device)
    native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return "bf16" if native else "fp32"
