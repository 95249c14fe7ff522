"""Three-output (background / interior / boundary) stage 2 and the cascade-ib presets."""

from __future__ import annotations

import json

import pytest
import torch

from wsinuc.models import PRESETS, Cascade, create_model, load_weights, save_weights, vgg_unet
from wsinuc.models.weights import bundled_weights_dir

SIZE = 32


@pytest.mark.parametrize("encoder", ["vgg16_lite", "vgg16"])
def test_vgg_unet_returns_one_logit_per_class(encoder):
    model = vgg_unet(4, encoder, (16, 16, 8, 8, 8), width=4, classes=3)
    assert model(torch.rand(2, 4, SIZE, SIZE)).shape == (2, 3, SIZE, SIZE)
    assert vgg_unet(4, encoder, (16, 16, 8, 8, 8), width=4)(torch.rand(2, 4, SIZE, SIZE)).shape[1] == 1


@pytest.mark.parametrize("classes", [0, 2, 4, True, "3"])
def test_other_class_counts_are_refused(classes):
    with pytest.raises(ValueError, match="classes"):
        vgg_unet(4, "vgg16_lite", (16, 16, 8, 8, 8), width=4, classes=classes)


@pytest.mark.parametrize(("variant", "binary"), [("cascade-ib", "cascade"), ("cascade-ib-lite", "cascade-lite")])
def test_ib_presets_are_their_binary_presets_with_three_classes(variant, binary):
    assert PRESETS[variant] == {**PRESETS[binary], "classes": 3}
    assert "classes" not in PRESETS[binary]


def test_cascade_ib_lite_keeps_a_binary_stage1_and_survives_a_save_load(tmp_path):
    torch.manual_seed(0)
    model = create_model("cascade-ib-lite")
    assert isinstance(model, Cascade) and model.wsinuc_config["classes"] == 3
    x = torch.rand(1, 3, SIZE, SIZE)
    stage1_logits, stage2_logits = model.forward_stages(x)
    assert stage1_logits.shape == (1, 1, SIZE, SIZE) and stage2_logits.shape == (1, 3, SIZE, SIZE)
    save_weights(model, tmp_path / "ib", {"postprocess": "seeded"})
    loaded, card = load_weights(tmp_path / "ib")
    assert card["postprocess"] == "seeded"
    assert loaded(x).shape == (1, 3, SIZE, SIZE)
    saved = {k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, saved[key])


def test_cards_without_classes_still_build_one_channel_models():
    card = json.loads((bundled_weights_dir() / "cascade-lite.json").read_text())
    assert "classes" not in card["config"]
    model = create_model(**card["config"])
    assert model.wsinuc_config["classes"] == 1
    assert model(torch.rand(1, 3, SIZE, SIZE)).shape == (1, 1, SIZE, SIZE)
