"""Stage-2 builder: smp VGG16 U-Net (paper) and the width-scalable lite copy."""

from __future__ import annotations

import pytest
import segmentation_models_pytorch as smp
import torch
from segmentation_models_pytorch.encoders.vgg import VGGEncoder

from wsinuc.models.vgg_unet import SmpUnet, VggLiteUnet, vgg_unet


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_stage2_is_smp_vgg16_unet_on_four_channels():
    model = vgg_unet(in_channels=4, encoder="vgg16")
    assert isinstance(model, SmpUnet)
    assert isinstance(model.net, smp.Unet)
    assert isinstance(model.net.encoder, VGGEncoder)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 4
    with torch.inference_mode():
        assert model.eval()(torch.rand(1, 4, 32, 32)).shape == (1, 1, 32, 32)


def test_lite_at_width_64_has_the_vgg16_bn_encoder_less_conv_biases():
    vgg16 = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    expected = sum(9 * c_in * c_out + 2 * c_out for c_in, c_out in zip([3, *vgg16], vgg16))
    assert n_parameters(VggLiteUnet(3, 64, (256, 128, 64, 32, 16)).encoder) == expected


def test_lite_features_have_smp_vgg_strides_and_widths():
    encoder = VggLiteUnet(3, 4, (16, 8, 8, 4, 4)).encoder
    features = encoder(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == [4, 8, 16, 32, 32, 32]
    assert [f.shape[-1] for f in features] == [64, 32, 16, 8, 4, 2]


def test_lite_parameters_shrink_with_width():
    small = n_parameters(vgg_unet(encoder="vgg16_lite", width=8, decoder_channels=(8,) * 5))
    large = n_parameters(vgg_unet(encoder="vgg16_lite", width=16, decoder_channels=(8,) * 5))
    assert small < large


def test_unknown_encoder_lists_valid_encoders():
    with pytest.raises(ValueError, match="vgg16_lite.*vgg16"):
        vgg_unet(encoder="vgg17")


@pytest.mark.parametrize("decoder_channels", [(8, 8, 8, 8), (8, 8, 0, 8, 8)])
def test_rejects_bad_decoder_channels(decoder_channels):
    with pytest.raises(ValueError, match="decoder_channels"):
        vgg_unet(encoder="vgg16_lite", width=4, decoder_channels=decoder_channels)
