"""The torch backend of the predictor: padded uint8 tiles → probability maps with a torch network."""

from __future__ import annotations

import numpy as np
import torch

from wsinuc.device import autocast


class TorchBackend:
    """Run a torch network on padded tile batches (device placement, channels-last, bf16 autocast).

    Parameters
    ----------
    model : torch.nn.Module
        Maps float (N, 3, H, W) RGB in [0, 1] to logits (:func:`probability_maps`).
    device : torch.device or str
        Where the model runs; it is moved there once.
    precision : {"auto", "fp32", "bf16"}
        bf16 autocast or not (:func:`wsinuc.device.uses_bf16`).
    """

    name = "torch"

    def __init__(self, model: torch.nn.Module, device: torch.device | str, precision: str = "auto") -> None:
        self.device = torch.device(device)
        self.precision = precision
        # Channels-last on every device, as in training: same probabilities (within 5e-6);
        # on the 2-core CPU cascade-lite inference gained 6% (the input was already
        # channels-last), on CUDA it feeds the tensor cores.
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps of a (N, H, W, 3) uint8 batch whose sides are multiples of the stride."""
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        tensor = tensor.contiguous(memory_format=torch.channels_last).float().div_(255.0)
        with autocast(self.precision, self.device):
            logits = self.model(tensor)
        return probability_maps(logits.float()).cpu().numpy()


class MapsModule(torch.nn.Module):
    """``probability_maps(model(x))`` as one module: what the OpenVINO conversion traces."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return probability_maps(self.model(x))


def probability_maps(logits: torch.Tensor) -> torch.Tensor:
    """Logits ``(N, C, H, W)`` → the maps the engine post-processes.

    ``C = 1`` (nucleus / background, sigmoid): ``(N, H, W)`` nucleus
    probability. ``C = 3`` (background / interior / boundary, softmax):
    ``(N, H, W, 2)`` with the interior probability and the nucleus
    probability (interior + boundary).

    Raises
    ------
    ValueError
        For any other number of channels.
    """
    channels = logits.shape[1]
    if channels == 1:
        return torch.sigmoid(logits[:, 0])
    if channels == 3:
        probs = torch.softmax(logits, dim=1)
        return torch.stack([probs[:, 1], probs[:, 1] + probs[:, 2]], dim=-1)
    raise ValueError(f"a model must return 1 (nucleus) or 3 (background, interior, boundary) channels, got {channels}")
