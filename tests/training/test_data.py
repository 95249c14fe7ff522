"""Patch sets built from labelled images, and the batches of an epoch."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsinuc.training.augment import NO_AUGMENTATION, AugmentConfig
from wsinuc.training.data import (
    epoch_batches,
    make_patch_set,
    make_validation_set,
    to_model_input,
    with_probabilities,
    with_validation_probabilities,
)


def _sample(image_id: str, size: int = 64) -> SimpleNamespace:
    image = np.full((size, size, 3), 220, np.uint8)
    instances = np.zeros((size, size), np.int32)
    instances[10:20, 10:20] = 1
    instances[40:52, 30:44] = 2
    image[instances > 0] = 60
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


def test_patch_set_keeps_patch_order_ids_and_masks_padding():
    patches = make_patch_set([_sample("x", size=40), _sample("y", size=64)], patch_size=32)
    # 40 px pads to 64: 4 patches; 64 px: 4 patches
    assert patches.images.shape == (8, 32, 32, 3)
    assert patches.image_ids == ("x",) * 4 + ("y",) * 4
    assert patches.valid[:4].sum() == 40 * 40 and patches.valid[4:].all()
    assert patches.instances[0, 10, 10] == 1 and patches.instances[0].dtype == np.int32
    # patch 3 of "y" (row 1, column 1) holds rows 32:64, columns 32:64 -> nucleus 2 at (8, 0)
    assert patches.instances[7, 8, 0] == 2 and patches.instances[7, 0, 0] == 0
    assert (patches.weights > 0).all() and patches.weights.max() <= 1.0


def test_an_epoch_shows_every_patch_exactly_once_with_its_own_mask():
    samples = [_sample(str(i)) for i in range(3)]
    for i, sample in enumerate(samples):
        sample.image[0, 0] = i  # tag each image
    patches = make_patch_set(samples, patch_size=32)
    patches.images[:, 1, 1, 0] = np.arange(len(patches))  # tag each patch
    seen = []
    for batch in epoch_batches(patches, 5, seed=0, epoch=0, augment=NO_AUGMENTATION):
        tags = np.rint(batch.inputs[:, 0, 1, 1].numpy() * 255).astype(int)
        seen.extend(tags)
        for tag, target in zip(tags, batch.target[:, 0].numpy()):
            np.testing.assert_array_equal(target, patches.instances[tag] > 0)
    assert sorted(seen) == list(range(len(patches)))


def test_batches_do_not_depend_on_loader_threads():
    patches = make_patch_set([_sample(str(i)) for i in range(3)], patch_size=32)
    kwargs = dict(seed=3, epoch=2, augment=AugmentConfig())
    serial = list(epoch_batches(patches, 4, threads=0, **kwargs))
    threaded = list(epoch_batches(patches, 4, threads=3, **kwargs))
    assert len(serial) == len(threaded) == 3
    for a, b in zip(serial, threaded):
        assert (a.inputs == b.inputs).all() and (a.weights == b.weights).all()


def test_epochs_are_shuffled_differently():
    patches = make_patch_set([_sample(str(i)) for i in range(3)], patch_size=32)
    patches.images[:, 1, 1, 0] = np.arange(len(patches))

    def order(epoch):
        batches = epoch_batches(patches, 12, seed=0, epoch=epoch, augment=NO_AUGMENTATION)
        return np.rint(next(batches).inputs[:, 0, 1, 1].numpy() * 255).astype(int).tolist()

    assert order(0) == order(0) and order(0) != order(1)


def test_stage1_probabilities_become_the_fourth_input_channel():
    patches = make_patch_set([_sample("a")], patch_size=32)
    probabilities = np.linspace(0, 1, patches.instances.size, dtype=np.float32)
    patches = with_probabilities(patches, probabilities.reshape(patches.instances.shape))
    batch = next(epoch_batches(patches, 4, seed=0, epoch=0, augment=NO_AUGMENTATION, max_steps=1))
    assert batch.inputs.shape == (4, 4, 32, 32)
    seen = sorted(batch.inputs[:, 3, 0, 0].tolist())
    assert seen == pytest.approx(sorted(patches.probabilities[:, 0, 0].tolist()))


def test_max_steps_cuts_the_epoch_short():
    patches = make_patch_set([_sample("a")], patch_size=32)
    batches = epoch_batches(patches, 1, seed=0, epoch=0, augment=NO_AUGMENTATION, max_steps=2)
    assert len(list(batches)) == 2


def test_probability_maps_of_the_wrong_shape_are_refused():
    patches = make_patch_set([_sample("a")], patch_size=32)
    with pytest.raises(ValueError, match=r"\(4, 32, 32\)"):
        with_probabilities(patches, np.zeros((4, 16, 16)))
    val = make_validation_set([_sample("a", size=40)])
    with pytest.raises(ValueError, match="40"):
        with_validation_probabilities(val, [np.zeros((32, 32))])


def test_image_and_instances_of_different_sizes_are_refused():
    image = np.zeros((8, 8, 3), np.uint8)
    bad = SimpleNamespace(image_id="bad", image=image, instances=np.zeros((4, 4), np.int32))
    with pytest.raises(ValueError, match="bad"):
        make_patch_set([bad], patch_size=32)


def test_model_inputs_are_channels_last_in_memory():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    for probabilities in (None, np.full((2, 32, 32), 0.5, np.float32)):
        inputs = to_model_input(images, probabilities)
        assert inputs.is_contiguous(memory_format=torch.channels_last)
        assert inputs.shape == (2, 3 if probabilities is None else 4, 32, 32)
