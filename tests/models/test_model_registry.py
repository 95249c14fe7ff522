"""Registry: names, presets, stored configs and error messages."""

from __future__ import annotations

import json

import pytest
import torch

from wsinuc.models import MODEL_NAMES, PRESETS, Cascade, UNet, create_model, model_config


def test_unknown_name_raises_value_error_listing_every_valid_name():
    with pytest.raises(ValueError, match="unknown model name 'unet3d'") as info:
        create_model("unet3d")
    for name in [*MODEL_NAMES, *PRESETS]:
        assert name in str(info.value)


def test_unknown_option_names_the_option_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"\['widht'\].*'unet'.*width"):
        create_model("unet", widht=8)


def test_config_holds_name_and_all_arguments_with_defaults():
    model = create_model("unet", width=4)
    assert isinstance(model, UNet)
    assert model_config(model) == {"name": "unet", "in_channels": 3, "width": 4, "depth": 4}


def test_config_survives_json_round_trip():
    config = create_model("vgg16_unet", encoder="vgg16_lite", width=4,
                          decoder_channels=(8, 8, 4, 4, 4)).wsinuc_config
    assert json.loads(json.dumps(config)) == config
    assert config["decoder_channels"] == [8, 8, 4, 4, 4]


def test_model_config_is_a_copy():
    model = create_model("unet", width=4)
    model_config(model)["width"] = 99
    assert model.wsinuc_config["width"] == 4


def test_model_config_of_a_model_not_built_by_the_registry_raises():
    with pytest.raises(ValueError, match="create_model"):
        model_config(torch.nn.Conv2d(3, 1, 1))


def test_lite_preset_is_a_narrow_cascade_and_accepts_overrides():
    model = create_model("cascade-lite", stage1_depth=3)
    assert isinstance(model, Cascade)
    config = model.wsinuc_config
    assert config["name"] == "cascade"
    assert config["stage1_width"] == PRESETS["cascade-lite"]["stage1_width"] < 64
    assert config["stage2_encoder"] == "vgg16_lite"
    assert config["stage1_depth"] == 3
    assert create_model(**config).wsinuc_config == config


def test_paper_preset_has_the_paper_widths():
    assert PRESETS["cascade"] == {
        "name": "cascade",
        "stage1_width": 64,
        "stage1_depth": 4,
        "stage2_encoder": "vgg16",
        "stage2_width": 64,
        "stage2_decoder_channels": [256, 128, 64, 32, 16],
    }
