"""Batches made on the training device against the CPU loader of wsinuc.training.data."""

from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsinuc.training.augment import (
    NO_AUGMENTATION,
    AugmentConfig,
    brightness_contrast_jitter,
    dihedral,
    hed_jitter,
)
from wsinuc.training.data import (
    epoch_batches,
    make_patch_set,
    select_patches,
    with_probabilities,
    with_teacher,
)
from wsinuc.training.device_data import (
    brightness_contrast_batch,
    device_epoch_batches,
    dihedral_index,
    hed_jitter_batch,
    to_device,
)
from wsinuc.training.loaders import use_device_data
from wsinuc.training.patches import pad_to_multiple

PATCH = 32
GEOMETRY_ONLY = AugmentConfig(hed_sigma=0.0, hed_bias=0.0, brightness=0.0, contrast=0.0)


def _sample(image_id: str, seed: int, size: int = 64) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    instances = np.zeros((size, size), np.int32)
    for label, (top, left) in enumerate(rng.integers(2, size - 12, size=(4, 2)), start=1):
        instances[top : top + 9, left : left + 7] = label
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


def _patches(sizes=(64, 50, 64)):
    patches = make_patch_set([_sample(f"im{i}", i, s) for i, s in enumerate(sizes)], PATCH)
    rng = np.random.default_rng(7)
    shape = patches.instances.shape
    patches = with_probabilities(patches, rng.random(shape, dtype=np.float32))
    patches = with_teacher(patches, rng.random(shape, dtype=np.float32))
    if "classes" in {f.name for f in dataclasses.fields(patches)}:  # interior/boundary variant
        patches = dataclasses.replace(patches, classes=rng.integers(0, 3, shape).astype(np.uint8))
    return patches


def _coordinate_patches():
    """One 64 px image whose pixels encode their own row (R) and column (G)."""
    yy, xx = np.mgrid[:64, :64]
    image = np.stack([yy, xx, np.zeros_like(yy)], axis=-1).astype(np.uint8)
    instances = ((yy // 3 + xx // 5) % 3 == 0).astype(np.int32)
    patches = make_patch_set([SimpleNamespace(image_id="c", image=image, instances=instances)], PATCH)
    code = (yy * 64 + xx).astype(np.float32)
    from wsinuc.training.patches import cut_patches

    return with_teacher(with_probabilities(patches, cut_patches(code, PATCH)), cut_patches(code, PATCH))


def test_mosaics_put_the_padded_images_back_together():
    samples = [_sample("a", 0, 64), _sample("b", 1, 50)]
    data = to_device(make_patch_set(samples, PATCH), "cpu")
    assert data.images.shape == (2, 64, 64, 3) and len(data) == 8
    for m, sample in enumerate(samples):
        expected = pad_to_multiple(sample.image, PATCH, mode="reflect")
        np.testing.assert_array_equal(data.images[m].numpy(), expected)
    assert data.fields["valid"][1].sum() == 50 * 50
    assert data.origins[5].tolist() == [1, 0, 32]


def test_images_whose_patch_count_is_not_square_keep_one_mosaic_per_patch():
    patches = make_patch_set([_sample("wide", 0, 64)], PATCH)
    wide = select_patches(patches, np.array([0, 1]))  # a 1 x 2 image: not a square grid
    data = to_device(wide, "cpu")
    assert data.images.shape == (2, PATCH, PATCH, 3)
    np.testing.assert_array_equal(data.images[1].numpy(), wide.images[1])


@pytest.mark.parametrize("batch_size", [1, 5])
def test_without_augmentation_batches_equal_the_cpu_loader(batch_size):
    patches = _patches()
    data = to_device(patches, "cpu")
    kwargs = dict(seed=4, epoch=3, augment=NO_AUGMENTATION)
    cpu = list(epoch_batches(patches, batch_size, **kwargs))
    dev = list(device_epoch_batches(data, batch_size, random_crops=False, **kwargs))
    assert len(cpu) == len(dev) == -(-len(patches) // batch_size)
    for a, b in zip(cpu, dev, strict=True):
        for name in ("inputs", "target", "weights", "valid", "teacher", "classes"):
            x, y = getattr(a, name, None), getattr(b, name, None)
            if x is None and y is None:
                continue
            assert x.dtype == y.dtype and x.shape == y.shape, name
            torch.testing.assert_close(x, y, rtol=0, atol=0)
        assert b.inputs.is_contiguous(memory_format=torch.channels_last)


def _undo_symmetry(crop: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The symmetry that makes the (row, col) code of ``crop`` a contiguous crop: (crop, symmetry)."""
    for rotations in range(4):
        for flip in (False, True):
            back = np.rot90(crop[:, ::-1] if flip else crop, -rotations, axes=(0, 1))
            rows, cols = back[..., 0], back[..., 1]
            if (np.diff(rows, axis=0) == 1).all() and (np.diff(cols, axis=1) == 1).all() \
                    and (np.diff(rows, axis=1) == 0).all() and (np.diff(cols, axis=0) == 0).all():
                return back, 2 * rotations + flip
    return None


def test_crops_and_symmetries_keep_image_and_targets_aligned():
    patches = _coordinate_patches()
    data = to_device(patches, "cpu")
    seen_symmetries, seen_origins = set(), set()
    for epoch in range(20):
        for batch in device_epoch_batches(data, 4, seed=1, epoch=epoch, augment=GEOMETRY_ONLY):
            rgb = np.rint(batch.inputs[:, :3].permute(0, 2, 3, 1).numpy() * 255).astype(int)
            for i, crop in enumerate(rgb):
                undone = _undo_symmetry(crop)
                assert undone is not None, "the crop is not a symmetry of a contiguous crop"
                back, symmetry = undone
                seen_origins.add((back[0, 0, 0], back[0, 0, 1]))
                seen_symmetries.add(symmetry)
                code = crop[..., 0] * 64 + crop[..., 1]
                np.testing.assert_array_equal(batch.inputs[i, 3].numpy(), code)
                np.testing.assert_array_equal(batch.teacher[i, 0].numpy(), code)
                rows, cols = crop[..., 0], crop[..., 1]
                expected = ((rows // 3 + cols // 5) % 3 == 0)
                np.testing.assert_array_equal(batch.target[i, 0].numpy(), expected)
    assert len(seen_origins) > 10  # random origins, not only the patch grid
    assert seen_symmetries == set(range(8))


def test_dihedral_index_matches_the_numpy_symmetries():
    patch = np.arange(36).reshape(6, 6)
    index = dihedral_index(6).numpy()
    for t in range(8):
        np.testing.assert_array_equal(patch.reshape(-1)[index[t]], dihedral(patch, t // 2, t % 2 == 1))


def test_batches_are_a_function_of_seed_and_epoch():
    data = to_device(_patches(), "cpu")

    def run(seed, epoch):
        return torch.cat([b.inputs for b in device_epoch_batches(
            data, 3, seed=seed, epoch=epoch, augment=AugmentConfig())])

    first = run(0, 1)
    torch.testing.assert_close(first, run(0, 1), rtol=0, atol=0)
    assert not torch.equal(first, run(0, 2)) and not torch.equal(first, run(1, 1))


def test_colour_jitter_matches_the_numpy_augmentation():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    scales, shifts, factors, offsets, expected = [], [], [], [], []
    for image in images:
        draw = copy.deepcopy(rng)
        scales.append(draw.uniform(0.9, 1.1, size=3).astype(np.float32))
        shifts.append(draw.uniform(-0.01, 0.01, size=3).astype(np.float32))
        hed = hed_jitter(image, rng, 0.1, 0.01)
        draw = copy.deepcopy(rng)
        factors.append(draw.uniform(0.8, 1.2))
        offsets.append(draw.uniform(-0.1, 0.1) * 255.0)
        expected.append(brightness_contrast_jitter(hed, rng, 0.1, 0.2))
    out = hed_jitter_batch(torch.from_numpy(images).float(), torch.tensor(np.array(scales)),
                           torch.tensor(np.array(shifts)))
    out = brightness_contrast_batch(out, torch.tensor(factors, dtype=torch.float32),
                                    torch.tensor(offsets, dtype=torch.float32))
    difference = np.abs(out.numpy() - np.array(expected, dtype=np.float32))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99


def test_colour_draws_follow_the_configured_ranges():
    data = to_device(_patches(), "cpu")
    config = AugmentConfig(hed_sigma=0.2, hed_bias=0.02, brightness=0.1, contrast=0.3)
    plain = next(device_epoch_batches(data, 64, seed=0, epoch=0, augment=GEOMETRY_ONLY))
    jittered = next(device_epoch_batches(data, 64, seed=0, epoch=0, augment=config))
    assert not torch.equal(plain.inputs[:, :3], jittered.inputs[:, :3])
    torch.testing.assert_close(plain.inputs[:, 3:], jittered.inputs[:, 3:], rtol=0, atol=0)
    torch.testing.assert_close(plain.weights, jittered.weights, rtol=0, atol=0)


def test_use_device_data_resolves_auto_by_device():
    assert use_device_data("auto", torch.device("cuda")) and not use_device_data("auto", torch.device("cpu"))
    assert use_device_data("on", torch.device("cpu")) and not use_device_data("off", torch.device("cuda"))
    with pytest.raises(ValueError, match="'sometimes'"):
        use_device_data("sometimes", torch.device("cpu"))


def _train(patches, **changes):
    from wsinuc.models import create_model
    from wsinuc.training.config import TrainConfig
    from wsinuc.training.loop import train_model

    torch.manual_seed(0)
    model = create_model("unet", width=4, depth=2)
    config = TrainConfig(epochs=2, batch_size=3, lr=1e-2, device="cpu", patch_size=PATCH,
                         progress=False, max_steps_per_epoch=3, **changes)
    return train_model(model, patches, None, config)


def test_training_on_device_data_without_augmentation_matches_the_cpu_loader():
    patches = make_patch_set([_sample(f"im{i}", i) for i in range(2)], PATCH)
    cpu = _train(patches, data_on_device="off", augment=NO_AUGMENTATION)
    dev = _train(patches, data_on_device="on", augment=NO_AUGMENTATION)
    assert cpu.steps == dev.steps == 6
    for (name, a), b in zip(cpu.model.state_dict().items(), dev.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_training_on_device_data_resumes_after_a_crash_to_the_same_weights(tmp_path, interrupt_at_epoch):
    from wsinuc.training.checkpoint import load_checkpoint

    patches = make_patch_set([_sample(f"im{i}", i) for i in range(2)], PATCH)
    _train(patches, data_on_device="on", out_dir=tmp_path / "a")
    with interrupt_at_epoch(2):
        _train(patches, data_on_device="on", out_dir=tmp_path / "b")
    _train(patches, data_on_device="on", out_dir=tmp_path / "b", resume=True)
    straight, resumed = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert straight.step == resumed.step == 6
    for name, tensor in straight.model_state.items():
        torch.testing.assert_close(resumed.model_state[name], tensor, rtol=0, atol=0, msg=name)


def test_random_crops_reach_every_origin_of_the_mosaic():
    from wsinuc.training.device_data import _epoch_draws, _epoch_generator

    data = to_device(make_patch_set([_sample("a", 0, 64)], PATCH), "cpu")
    order = torch.arange(len(data)).repeat(5000)
    draws = _epoch_draws(data, order, _epoch_generator(0, 0, data.device), NO_AUGMENTATION, True)
    origins = {tuple(o) for o in draws["top_left"].tolist()}
    assert origins == {(y, x) for y in range(33) for x in range(33)}  # 64 - 32 + 1 per axis


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@CUDA
def test_cuda_batches_equal_cpu_batches_without_augmentation_and_stay_aligned_with_it():
    patches = _patches()
    kwargs = dict(seed=2, epoch=1, random_crops=False, augment=NO_AUGMENTATION)
    cpu = list(device_epoch_batches(to_device(patches, "cpu"), 4, **kwargs))
    gpu = list(device_epoch_batches(to_device(patches, "cuda"), 4, **kwargs))
    for a, b in zip(cpu, gpu, strict=True):
        assert b.inputs.is_cuda
        torch.testing.assert_close(a.inputs, b.inputs.cpu(), rtol=0, atol=0)
        torch.testing.assert_close(a.weights, b.weights.cpu(), rtol=0, atol=0)
    coded = to_device(_coordinate_patches(), "cuda")
    for batch in device_epoch_batches(coded, 4, seed=1, epoch=0, augment=AugmentConfig()):
        rgb_code = batch.inputs[:, 3]  # the probability channel carries row * 64 + col
        assert torch.equal(batch.teacher[:, 0], rgb_code)


@CUDA
def test_probing_the_batch_size_on_cuda_gives_a_power_of_two_and_keeps_the_weights():
    from wsinuc.models import create_model
    from wsinuc.training.batch_probe import probe_batch_size

    model = create_model("unet", width=4, depth=2).cuda()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = probe_batch_size(model, 3, 64, "bf16", fraction=0.01)
    assert batch >= 1 and batch & (batch - 1) == 0
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)
