"""The two-stage cascade: stage 2 refines stage 1's nucleus probability.

``forward(x) = stage2(cat([x, sigmoid(stage1(x))], dim=1))``: stage 1 (the
weighted U-Net) sees RGB, stage 2 (the VGG16 U-Net) sees RGB plus the
stage-1 probability as a fourth channel. Both stages normalise their own
input, so the cascade takes RGB in [0, 1] like every other model.
"""

from __future__ import annotations

import torch
from torch import nn

from wsinuc.models.layers import validate_input


class Cascade(nn.Module):
    """Chain two segmentation networks; (N, 3, H, W) in [0, 1] -> stage 2's logits.

    Parameters
    ----------
    stage1 : torch.nn.Module
        Maps (N, 3, H, W) to (N, 1, H, W) logits.
    stage2 : torch.nn.Module
        Maps (N, 4, H, W) (RGB + stage-1 probability) to (N, 1, H, W) logits,
        or (N, 3, H, W) background / interior / boundary logits (the
        interior/boundary variant; stage 1 stays binary).
    """

    def __init__(self, stage1: nn.Module, stage2: nn.Module) -> None:
        super().__init__()
        self.stage1 = stage1
        self.stage2 = stage2
        self.in_channels = 3
        self.input_multiple = max(
            getattr(stage1, "input_multiple", 1), getattr(stage2, "input_multiple", 1)
        )

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(stage1_logits, stage2_logits)``: (N, 1, H, W) and (N, 1 or 3, H, W)."""
        validate_input(x, self.in_channels, self.input_multiple)
        stage1_logits = self.stage1(x)
        probability = torch.sigmoid(stage1_logits).to(x.dtype)
        stage2_logits = self.stage2(torch.cat([x, probability], dim=1))
        return stage1_logits, stage2_logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[1]
