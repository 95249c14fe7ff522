"""A per-pixel colour classifier: the smallest model with the cascade's interface.

Logits are a learned linear function of a small box-blurred RGB neighbourhood
(logistic regression on colour). It has 4 trainable numbers per blur, a
receptive field of ``blur`` pixels, and runs at hundreds of Mpx/s, so it
serves two jobs: a classical baseline row, and a stand-in model in tests of
the whole-slide engine whose output is exactly local (so tiled and whole
image predictions can be compared) without downloading or training anything.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from wsinuc.models.layers import validate_input


class ColourThreshold(nn.Module):
    """Nucleus logits from blurred colour: ``w . blur(rgb) + b``.

    Parameters
    ----------
    blur : int
        Odd side of the box blur applied before the linear map (1 = none).
    darkness_gain : float
        Initial weight on every channel (negative: darker is more nucleus).
    threshold : float
        Initial mean intensity in [0, 1] at which the logit is 0.
    """

    def __init__(self, blur: int = 3, darkness_gain: float = 20.0, threshold: float = 0.45) -> None:
        super().__init__()
        if blur < 1 or blur % 2 == 0:
            raise ValueError(f"blur must be a positive odd integer, got {blur}")
        self.blur = blur
        self.linear = nn.Conv2d(3, 1, kernel_size=1)
        with torch.no_grad():
            self.linear.weight.fill_(-darkness_gain / 3)
            self.linear.bias.fill_(darkness_gain * threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate_input(x, 3, 32)
        if self.blur > 1:
            x = F.avg_pool2d(x, self.blur, stride=1, padding=self.blur // 2, count_include_pad=False)
        return self.linear(x)
