"""Random generator states of a training run, as tensors (for safetensors) and back.

A checkpoint keeps the states of Python's ``random``, numpy's global generator,
torch's CPU generator and (on CUDA) the device generator. The batches themselves
do not depend on these (they are seeded by ``(seed, epoch, position)``, see
:mod:`wsinuc.training.data`), but any code that draws from the global generators
(dropout, a user's augmentation) then continues as in an uninterrupted run.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def capture_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """The current generator states, each as a 1-D tensor.

    Returns
    -------
    dict
        ``torch`` (uint8), ``cuda`` (uint8, CUDA devices only), ``python``
        (int64: version, 625 state words, gauss flag) and ``numpy`` (int64:
        624 key words, position, has_gauss; float64 cached gaussian as ``numpy_gauss``).
    """
    version, words, gauss = random.getstate()
    _, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": torch.tensor([version, *words, -1 if gauss is None else 1], dtype=torch.int64),
        "python_gauss": torch.tensor([0.0 if gauss is None else gauss], dtype=torch.float64),
        "numpy": torch.tensor([*keys.tolist(), position, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Set the generators from :func:`capture_rng`'s output; missing entries are left alone."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    if "python" in state:
        values = state["python"].tolist()
        gauss = None if values[-1] == -1 else float(state["python_gauss"][0])
        random.setstate((values[0], tuple(values[1:-1]), gauss))
    if "numpy" in state:
        values = state["numpy"].tolist()
        keys = np.array(values[:624], dtype=np.uint32)
        cached = float(state["numpy_gauss"][0])
        np.random.set_state(("MT19937", keys, values[624], values[625], cached))
