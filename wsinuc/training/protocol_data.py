"""The data of the training protocol: MoNuSeg split by patient, TNBC, on the model's working grid.

:func:`load_protocol_data` reads MoNuSeg train (split 80/20 by patient) and
TNBC, brings every image to the working pixel size ``TrainConfig.mpp``
(:mod:`wsinuc.training.working_grid`: area-averaged images, mode-resampled
instance masks) and optionally normalises its stains
(:mod:`wsinuc.training.stain`), then cuts the patches: weight maps and
boundary / interior targets are therefore built on the working grid.
:func:`data_card` writes what the cards say about the data, including ``mpp``,
the pixel size the engine then reads slides at.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from pathlib import Path

import torch

from wsinuc import datasets
from wsinuc.device import precision_label, resolve_device
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet, ValidationSet, make_patch_set, make_validation_set
from wsinuc.training.precision import training_precision
from wsinuc.training.run_files import config_card
from wsinuc.training.stain import normalise_stains
from wsinuc.training.working_grid import to_working_grid

VAL_FRACTION = 0.2

#: Pixel size of the training images (MoNuSeg and TNBC at 40x), um/px.
SOURCE_MPP = 0.25
TRAINING_MPP = SOURCE_MPP  # the default working pixel size (name kept for callers)


@dataclass(frozen=True)
class ProtocolData:
    """Everything the protocol trains and validates on, in memory.

    Attributes
    ----------
    train : PatchSet
        MoNuSeg training patches (80% of the training images, by patient).
    val : ValidationSet
        The other 20%, as whole images.
    tnbc : PatchSet or None
        TNBC patches for pre-training stage 1 (None when pre-training is skipped).
    train_ids, val_ids : tuple of str
        The patient-level split.
    """

    train: PatchSet
    val: ValidationSet
    tnbc: PatchSet | None
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]




def prepare_image(sample, mpp: float = SOURCE_MPP, stain_normalisation: str = "none"):
    """One dataset sample on the working grid (``mpp``), stains normalised when asked."""
    sample = to_working_grid(sample, SOURCE_MPP, mpp)
    if stain_normalisation == "macenko":
        return SimpleNamespace(image_id=sample.image_id, image=normalise_stains(sample.image),
                               instances=sample.instances)
    return sample


def load_protocol_data(
    data_root: Path, patch_size: int, seed: int, with_tnbc: bool,
    mpp: float = SOURCE_MPP, stain_normalisation: str = "none",
) -> ProtocolData:
    """Read MoNuSeg (and TNBC), split MoNuSeg 80/20 by patient, resample, cut patches.

    Parameters
    ----------
    data_root : Path
        Folder holding ``monuseg/`` and ``tnbc/`` (see the data README).
    patch_size : int
        Patch side (256 in the paper).
    seed : int
        Seed of :func:`wsinuc.datasets.patient_split`.
    with_tnbc : bool
        Also load the TNBC images for pre-training.
    mpp : float
        Working pixel size (um/px); the 0.25 um/px images are downsampled to it.
    stain_normalisation : {"none", "macenko"}
        Normalise each image's stains (:func:`wsinuc.training.stain.normalise_stains`).
    """
    monuseg, tnbc = Path(data_root) / "monuseg", Path(data_root) / "tnbc"
    train_ids, val_ids = datasets.patient_split(
        datasets.list_monuseg_ids(monuseg, "train"), val_fraction=VAL_FRACTION, seed=seed
    )

    def load(sample):
        return prepare_image(sample, mpp, stain_normalisation)

    train = [load(datasets.load_monuseg_image(monuseg, "train", i)) for i in train_ids]
    val = [load(datasets.load_monuseg_image(monuseg, "train", i)) for i in val_ids]
    tnbc_patches = None
    if with_tnbc:
        images = [load(datasets.load_tnbc_image(tnbc, i)) for i in datasets.list_tnbc_ids(tnbc)]
        tnbc_patches = make_patch_set(images, patch_size)
    return ProtocolData(
        train=make_patch_set(train, patch_size),
        val=make_validation_set(val),
        tnbc=tnbc_patches,
        train_ids=tuple(train_ids),
        val_ids=tuple(val_ids),
    )


def device_name(config: TrainConfig) -> str:
    """Where the training ran and in which precision, e.g. ``"cpu (2 threads), bf16"``."""
    device = resolve_device(config.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return f"{where}, {precision_label(training_precision(config.precision, device), device)}"


def data_card(data: ProtocolData, config: TrainConfig) -> dict:
    """Card fields shared by every protocol run: data, split, device, training settings."""
    return {
        "training_data": {
            "pretraining": None if data.tnbc is None else (
                f"TNBC (Naylor et al. 2018), {len(set(data.tnbc.image_ids))} tiles"
            ),
            "finetuning": "MoNuSeg 2018 training tiles (patient-level 80/20 split)",
            "patches": len(data.train),
            "patch_size": config.patch_size,
            "source_mpp": SOURCE_MPP,
            "resampling": "area average (images), block mode (instance masks); targets on the working grid",
            "stain_normalisation": config.stain_normalisation,
        },
        "split": {"seed": config.seed, "val_fraction": VAL_FRACTION,
                  "train_ids": list(data.train_ids), "val_ids": list(data.val_ids)},
        "device": device_name(config),
        "training": config_card(config),
        "mpp": config.mpp,
    }
