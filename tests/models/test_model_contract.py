"""Contract suite: every registry name obeys the same input/output contract.

Each model is built at a tiny width so the whole suite runs in seconds on CPU.
"""

from __future__ import annotations

import pytest
import torch

from wsinuc.models import MODEL_NAMES, create_model
from wsinuc.training.losses import weighted_bce_with_logits

TINY_DECODER = (16, 8, 8, 4, 4)
TINY_CONFIGS = {
    "unet": {"width": 4},
    "attention_unet": {"width": 4},
    "vgg16_unet": {"encoder": "vgg16_lite", "width": 4, "decoder_channels": TINY_DECODER},
    "cascade": {
        "stage1_width": 4,
        "stage2_encoder": "vgg16_lite",
        "stage2_width": 4,
        "stage2_decoder_channels": TINY_DECODER,
    },
    "colour_threshold": {"blur": 3},
}


def tiny_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **TINY_CONFIGS[name])


def test_suite_covers_every_registry_name():
    assert set(TINY_CONFIGS) == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("size", [64, 96])
def test_output_is_one_logit_per_input_pixel(name, size):
    model = tiny_model(name).eval()
    with torch.inference_mode():
        out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, 1, size, size)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_non_square_input_keeps_its_shape(name):
    model = tiny_model(name).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 64, 96)).shape == (1, 1, 64, 96)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bf16_autocast_on_cpu_runs(name):
    model = tiny_model(name).eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1, 64, 64)
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_eval_output_of_a_sample_does_not_depend_on_its_batch(name):
    model = tiny_model(name).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        together = model(x)
        alone = model(x[1:])
    torch.testing.assert_close(together[1:], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(1, 3, 64, 40), (1, 3, 40, 64), (1, 4, 64, 64), (3, 64, 64)])
def test_rejects_inputs_outside_the_contract(name, shape):
    with pytest.raises(ValueError, match="got"):
        tiny_model(name)(torch.rand(*shape))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_rebuilds_the_same_architecture(name):
    model = tiny_model(name)
    rebuilt = create_model(**model.wsinuc_config)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    assert rebuilt.wsinuc_config == model.wsinuc_config


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loss_decreases_in_a_few_adam_steps_on_one_image(name):
    model = tiny_model(name).train()
    torch.manual_seed(1)
    image = torch.rand(1, 3, 64, 64)
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    target = (((yy - 32) ** 2 + (xx - 28) ** 2) < 15**2).float()[None, None]
    image[:, 2] = 0.3 + 0.5 * target[0, 0]
    weights = torch.ones_like(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = weighted_bce_with_logits(model(image), target, weights)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = weighted_bce_with_logits(model(image), target, weights).item()
    assert final < losses[0]
