"""Attention U-Net baseline: gates on every skip, coefficients in (0, 1)."""

from __future__ import annotations

import torch

from wsinuc.models.attention_unet import AttentionGate, AttentionUNet
from wsinuc.models.unet import UNet


def test_gate_coefficients_are_one_per_skip_pixel_in_the_open_unit_interval():
    gate = AttentionGate(skip_channels=8, gate_channels=16)
    x, g = torch.randn(2, 8, 16, 12), torch.randn(2, 16, 8, 6)
    alpha = gate.coefficients(x, g)
    assert alpha.shape == (2, 1, 16, 12)
    assert (alpha > 0).all() and (alpha < 1).all()
    assert gate(x, g).shape == x.shape


def test_every_skip_connection_has_a_gate():
    model = AttentionUNet(3, width=4, depth=3)
    gates = [m for m in model.modules() if isinstance(m, AttentionGate)]
    assert len(gates) == 3


def test_attention_unet_is_the_unet_plus_gate_parameters():
    plain = sum(p.numel() for p in UNet(3, 4, 3).parameters())
    gated = AttentionUNet(3, 4, 3)
    gate_params = sum(
        p.numel() for m in gated.modules() if isinstance(m, AttentionGate) for p in m.parameters()
    )
    assert sum(p.numel() for p in gated.parameters()) == plain + gate_params > plain
