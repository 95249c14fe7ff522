"""Training data resident on the training device, batches cut and augmented there.

The CPU path (:func:`wsinuc.training.data.epoch_batches`) augments every patch
with numpy in loader threads and copies each batch to the device. On a GPU
that loader, not the network, limits the step rate. :func:`to_device` copies a
:class:`~wsinuc.training.data.PatchSet` to the device once, as *mosaics* (the
padded images put back together from their patches); :func:`device_epoch_batches`
then draws each batch with a handful of batched torch ops on that device:

1. **Crop** -- one gather per field for the whole batch. ``random_crops=False``
   takes the patch grid of the CPU path (patch ``order[p]`` at position ``p``);
   ``random_crops=True`` takes a crop of the patch size at a uniform random
   origin inside the mosaic of that patch (the padding is still masked by
   ``valid``), so crops straddle the patch seams.
2. **Geometry** -- one of the 8 square symmetries per sample (uniform, as
   :func:`~wsinuc.training.augment.random_dihedral`), folded into the gather's
   index map, so image and targets move together exactly.
3. **Colour** -- HED stain jitter then brightness/contrast, per sample, with the
   distributions and the uint8 rounding of :mod:`wsinuc.training.augment`.

Randomness comes from a ``torch.Generator`` on the device, seeded by
``(seed, epoch)``; the patch order is the CPU path's numpy permutation. Batch
``step`` of an epoch is therefore a pure function of ``(seed, epoch, step)``
on a given device (a resumed run sees the batches an uninterrupted one would),
but the random draws differ from the numpy ones of the CPU path: only the
distributions match.

Mosaics: the ``n`` consecutive patches of one image are put back as a
``sqrt(n) x sqrt(n)`` grid (MoNuSeg 1024 px: 4 x 4, TNBC 512 px: 2 x 2); an image
whose patch count is not a square keeps one mosaic per patch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from wsinuc.training.augment import _HED_FROM_RGB, _LOG_RGB_FROM_HED, _STAIN_OF_LEVEL, AugmentConfig
from wsinuc.training.data import Batch, PatchSet, steps_per_epoch
from wsinuc.training.patches import reassemble_patches


@dataclass(frozen=True)
class DevicePatchSet:
    """A PatchSet as device tensors, one padded mosaic per source image.

    Attributes
    ----------
    images : torch.Tensor
        uint8 ``(M, H, W, 3)`` mosaics (zero beyond each mosaic's extent).
    fields : dict of str to torch.Tensor
        ``(M, H, W)`` maps: ``target`` (bool nucleus mask), ``weights``
        (float32), ``valid`` (bool), and when the PatchSet has them
        ``probabilities`` / ``teacher`` (float32) and ``classes`` (uint8
        background / interior / boundary of the interior/boundary variant).
    extents : torch.Tensor
        int64 ``(M, 2)`` height and width of each mosaic.
    origins : torch.Tensor
        int64 ``(N, 3)``: mosaic, row and column of each patch of the PatchSet.
    symmetries : torch.Tensor
        int64 ``(8, S, S)`` index maps of the 8 square symmetries (:func:`dihedral_index`).
    stain_tables : tuple of torch.Tensor
        The HED look-up table and matrices of :mod:`~wsinuc.training.augment`
        on the device (:func:`stain_tables`), copied once, not per batch.
    """

    images: torch.Tensor
    fields: dict[str, torch.Tensor]
    extents: torch.Tensor
    origins: torch.Tensor
    symmetries: torch.Tensor
    stain_tables: tuple[torch.Tensor, torch.Tensor, torch.Tensor]

    @property
    def patch_size(self) -> int:
        """Side of the crops."""
        return int(self.symmetries.shape[1])

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.images.device

    @property
    def probabilities(self) -> torch.Tensor | None:
        """The stage-1 probability mosaics (None for stage 1), as on a PatchSet."""
        return self.fields.get("probabilities")


def _image_runs(image_ids: tuple[str, ...]) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of equal consecutive ids."""
    runs, start = [], 0
    for index in range(1, len(image_ids) + 1):
        if index == len(image_ids) or image_ids[index] != image_ids[start]:
            runs.append((start, index))
            start = index
    return runs


def _layout(patch_set: PatchSet) -> list[tuple[int, int, int]]:
    """``(first patch, rows, cols)`` of each mosaic (square grids, else single patches)."""
    layout = []
    for start, stop in _image_runs(patch_set.image_ids):
        side = math.isqrt(stop - start)
        if side * side == stop - start:
            layout.append((start, side, side))
        else:
            layout.extend((index, 1, 1) for index in range(start, stop))
    return layout


def _patch_maps(patch_set: PatchSet) -> dict[str, np.ndarray]:
    maps = {
        "images": patch_set.images,
        "target": patch_set.instances > 0,
        "weights": patch_set.weights.astype(np.float32, copy=False),
        "valid": patch_set.valid.astype(bool, copy=False),
    }
    for name in ("probabilities", "teacher"):
        if getattr(patch_set, name) is not None:
            maps[name] = getattr(patch_set, name).astype(np.float32, copy=False)
    classes = getattr(patch_set, "classes", None)  # interior/boundary variant
    if classes is not None:
        maps["classes"] = np.asarray(classes, dtype=np.uint8)
    return maps


def to_device(patch_set: PatchSet, device: torch.device | str) -> DevicePatchSet:
    """Copy every patch, target and extra channel of ``patch_set`` to ``device`` once.

    Parameters
    ----------
    patch_set : PatchSet
        Training patches (from :func:`~wsinuc.training.data.make_patch_set`).
    device : torch.device or str
        The training device.

    Returns
    -------
    DevicePatchSet
        Mosaics on ``device``; patch ``i`` is ``origins[i]``.
    """
    if len(patch_set) == 0:
        raise ValueError("patch_set holds no patches")
    size, layout = patch_set.patch_size, _layout(patch_set)
    height = max(rows for _, rows, _ in layout) * size
    width = max(cols for _, _, cols in layout) * size
    maps, mosaics, origins = _patch_maps(patch_set), {}, np.zeros((len(patch_set), 3), np.int64)
    for name, patches in maps.items():
        out = np.zeros((len(layout), height, width, *patches.shape[3:]), patches.dtype)
        for m, (start, rows, cols) in enumerate(layout):
            block = patches[start : start + rows * cols]
            out[m, : rows * size, : cols * size] = reassemble_patches(block, (rows * size, cols * size))
        mosaics[name] = torch.from_numpy(out).to(device)
    for m, (start, rows, cols) in enumerate(layout):
        cell = np.arange(rows * cols)
        origins[start : start + rows * cols] = np.stack(
            [np.full_like(cell, m), (cell // cols) * size, (cell % cols) * size], axis=1
        )
    extents = [(rows * size, cols * size) for _, rows, cols in layout]
    return DevicePatchSet(
        images=mosaics.pop("images"), fields=mosaics,
        extents=torch.tensor(extents, dtype=torch.int64, device=device),
        origins=torch.from_numpy(origins).to(device), symmetries=dihedral_index(size, device),
        stain_tables=stain_tables(device),
    )


def dihedral_index(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """int64 ``(8, S, S)`` maps: ``out[i, j] = patch.flat[index[t, i, j]]`` for symmetry ``t``.

    ``t = 2 * rotations + flip``, the convention of
    :func:`wsinuc.training.augment.dihedral` (``rotations`` quarter turns
    counter-clockwise, then a left-right flip).
    """
    identity = torch.arange(size * size, device=device).reshape(size, size)
    maps = []
    for rotations in range(4):
        turned = torch.rot90(identity, rotations, dims=(0, 1))
        maps.extend([turned, torch.flip(turned, dims=(1,))])
    return torch.stack(maps)


def gather_crops(source: torch.Tensor, flat_index: torch.Tensor) -> torch.Tensor:
    """Pick pixels of ``(M, H, W[, C])`` mosaics at flat ``(B, S, S)`` indices -> ``(B, S, S[, C])``."""
    flat = source.reshape(-1, *source.shape[3:])
    return flat[flat_index.reshape(-1)].reshape(*flat_index.shape, *source.shape[3:])


def crop_index(
    data: DevicePatchSet, mosaic: torch.Tensor, top_left: torch.Tensor, symmetry: torch.Tensor
) -> torch.Tensor:
    """Flat indices into the mosaics of the crops ``(B,)`` at ``top_left`` ``(B, 2)``, transformed."""
    size = data.patch_size
    local = data.symmetries[symmetry]
    rows = top_left[:, 0, None, None] + local // size
    cols = top_left[:, 1, None, None] + local % size
    height, width = data.images.shape[1:3]
    return (mosaic[:, None, None] * height + rows) * width + cols


def stain_tables(device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stain of each uint8 level ``(256,)``, HED-from-RGB and log-RGB-from-HED ``(3, 3)`` on ``device``."""
    tables = (_STAIN_OF_LEVEL, _HED_FROM_RGB, _LOG_RGB_FROM_HED)
    return tuple(torch.from_numpy(table).to(device) for table in tables)


def hed_jitter_batch(
    images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
    tables: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """HED stain jitter of uint8-valued float ``(B, S, S, 3)`` with ``(B, 3)`` scales and shifts.

    The torch form of :func:`wsinuc.training.augment.hed_jitter` (same look-up
    table, matrices and rounding); ``tables`` from :func:`stain_tables` (made
    here when None); returns float uint8 levels.
    """
    level_stain, hed_from_rgb, log_rgb_from_hed = tables or stain_tables(images.device)
    stains = level_stain[images.long()] @ hed_from_rgb
    stains = stains.clamp_min(0.0) * scale[:, None, None] + shift[:, None, None]
    rgb = torch.exp(stains @ log_rgb_from_hed)
    return torch.round(rgb * 255.0).clamp(0, 255)


def brightness_contrast_batch(
    images: torch.Tensor, factor: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """Per-sample contrast around the crop mean and brightness shift (``(B,)`` each, shift in levels)."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    out = (images - mean) * factor[:, None, None, None] + mean + shift[:, None, None, None]
    return torch.round(out).clamp(0, 255)


def _epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    words = np.random.SeedSequence([int(seed), int(epoch), 0xD47A]).generate_state(2, np.uint32)
    generator = torch.Generator(device=device)
    generator.manual_seed((int(words[0]) << 31) ^ int(words[1]))
    return generator


def _uniform(n: int, half_width: float, centre: float, gen: torch.Generator, shape=()) -> torch.Tensor:
    """``U(centre - half_width, centre + half_width)`` of shape ``(n, *shape)``."""
    return centre + half_width * (2.0 * torch.rand((n, *shape), generator=gen, device=gen.device) - 1.0)


@dataclass(frozen=True)
class _DeviceEpoch:
    """Order and random draws of one epoch; batch ``step`` is a pure function of them."""

    data: DevicePatchSet
    order: torch.Tensor
    draws: dict[str, torch.Tensor]
    batch_size: int
    augment: AugmentConfig

    def batch(self, step: int) -> Batch:
        part = slice(step * self.batch_size, (step + 1) * self.batch_size)
        patches = self.order[part]
        flat = crop_index(
            self.data, self.data.origins[patches, 0], self.draws["top_left"][part],
            self.draws["symmetry"][part],
        )
        images = gather_crops(self.data.images, flat).float()
        config = self.augment
        if config.hed_sigma or config.hed_bias:
            images = hed_jitter_batch(
                images, self.draws["hed_scale"][part], self.draws["hed_shift"][part],
                self.data.stain_tables,
            )
        if config.brightness or config.contrast:
            images = brightness_contrast_batch(
                images, self.draws["contrast"][part], self.draws["brightness"][part]
            )
        inputs = images.permute(0, 3, 1, 2) / 255.0
        maps = {name: gather_crops(t, flat).float()[:, None] for name, t in self.data.fields.items()}
        if "probabilities" in maps:
            inputs = torch.cat([inputs, maps["probabilities"]], dim=1)
        return Batch(
            inputs=inputs.contiguous(memory_format=torch.channels_last),
            target=maps["target"], weights=maps["weights"], valid=maps["valid"],
            teacher=maps.get("teacher"), classes=maps.get("classes"),
        )


def _epoch_draws(
    data: DevicePatchSet, order: torch.Tensor, gen: torch.Generator, augment: AugmentConfig,
    random_crops: bool,
) -> dict[str, torch.Tensor]:
    """Every random choice of an epoch, per position, always drawn in the same order."""
    n = len(order)
    symmetry = torch.randint(0, 8, (n,), generator=gen, device=gen.device)
    uniform_origin = torch.rand((n, 2), generator=gen, device=gen.device)
    draws = {
        "symmetry": symmetry if augment.flip_rotate else torch.zeros_like(symmetry),
        "hed_scale": _uniform(n, augment.hed_sigma, 1.0, gen, (3,)),
        "hed_shift": _uniform(n, augment.hed_bias, 0.0, gen, (3,)),
        "contrast": _uniform(n, augment.contrast, 1.0, gen),
        "brightness": _uniform(n, augment.brightness * 255.0, 0.0, gen),
    }
    origins = data.origins[order]
    if random_crops:
        room = data.extents[origins[:, 0]] - data.patch_size + 1
        draws["top_left"] = (uniform_origin * room).long().clamp_max(room - 1)
    else:
        draws["top_left"] = origins[:, 1:]
    return draws


def device_epoch_batches(
    data: DevicePatchSet,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    augment: AugmentConfig,
    max_steps: int | None = None,
    random_crops: bool = True,
    start: int = 0,
) -> Iterator[Batch]:
    """Yield the shuffled, augmented batches of one epoch, made on ``data.device``.

    Parameters
    ----------
    data : DevicePatchSet
        From :func:`to_device`.
    batch_size : int
        Crops per batch.
    seed, epoch : int
        Seed the order (the numpy permutation of the CPU path) and the torch
        generator of the random crops, symmetries and colour jitter.
    augment : AugmentConfig
        The augmentation of :mod:`wsinuc.training.augment`, same distributions.
    max_steps : int or None
        Stop after this many batches.
    random_crops : bool
        Crop at a uniform random origin in the patch's mosaic; False takes the
        patch itself (the CPU path's crops).
    start : int
        Skip the first ``start`` batches (a run resumed inside an epoch).

    Yields
    ------
    Batch
        Tensors on ``data.device``; ``target`` is the binary nucleus mask.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(len(data))
    order_t = torch.from_numpy(order).to(data.device)
    draws = _epoch_draws(data, order_t, _epoch_generator(seed, epoch, data.device), augment, random_crops)
    plan = _DeviceEpoch(data, order_t, draws, batch_size, augment)
    yield from map(plan.batch, range(start, steps_per_epoch(len(data), batch_size, max_steps)))

