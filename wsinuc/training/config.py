"""Frozen settings of a training run.

Out-of-range values raise :class:`wsinuc.errors.OptionError` naming the
matching ``wsinuc train`` option (``batch_size`` -> ``--batch-size``).

:class:`TrainConfig` holds everything :func:`wsinuc.training.loop.train_model`
needs besides the model and the data; :func:`wsinuc.training.cascade.train_cascade`
passes one to each stage (overriding ``epochs`` and ``out_dir`` per stage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from wsinuc.config import validate_precision
from wsinuc.errors import OptionError
from wsinuc.training.augment import AugmentConfig

SCHEDULES = ("cosine", "step", "constant")
STAGE2_INPUTS = ("out-of-fold", "stage1-final")
DATA_ON_DEVICE = ("auto", "on", "off")
STAIN_NORMALISATIONS = ("none", "macenko")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    epochs : int
        Passes over the training patches.
    batch_size : int
        Patches per optimiser step.
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW decoupled weight decay.
    seed : int
        Seeds model initialisation (torch) and, with the epoch number, the
        patch order and augmentation of each epoch (numpy), so a resumed run
        sees the same batches as an uninterrupted one.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    num_threads : int or None
        ``torch.set_num_threads`` value for CPU work; None leaves torch's default.
    patch_size : int
        Side of the training patches and of the validation tiles (multiple of 32).
    val_every : int
        Validate (and select the best model) and write the checkpoint every
        this many epochs; the last epoch is always validated. A resumed run
        restarts after the last checkpoint (at most ``val_every`` epochs lost).
    out_dir : Path or None
        Folder for ``log.csv``, ``checkpoint.safetensors``/``.json`` and
        ``best.safetensors``; None writes nothing (tests, out-of-fold models).
    max_steps_per_epoch : int or None
        Cut each epoch short after this many steps (tests, smoke runs).
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast on CUDA, float32 on the CPU; ``"bf16"`` also
        on the CPU (about 2x faster where it has native bf16); ``"fp32"``
        never (:mod:`wsinuc.device`).
    loader_threads : int
        Threads preparing (augmenting) batches ahead of the optimiser; 0
        prepares each batch in the training thread. Batches are identical
        either way.
    schedule : {"cosine", "step", "constant"}
        Learning-rate schedule over all steps: cosine decay to 1% of ``lr``,
        or x0.1 at 2/3 of the run, or constant.
    warmup_steps : int
        Linear warm-up steps before the schedule.
    resume : bool
        Continue from ``out_dir/checkpoint.*`` when present.
    progress : bool
        Show a rich progress bar.
    augment : AugmentConfig
        Training augmentation.
    stage2_input : {"out-of-fold", "stage1-final"}
        Where the stage-2 training inputs come from (see
        :mod:`wsinuc.training.cascade`); unused by single-stage training.
    distill_weight : float
        Weight of the BCE term against teacher probabilities when the training
        patches carry them (0 switches distillation off).
    teacher : str or None
        Bundled model name or weights path of a teacher (e.g. the paper-width
        ``"cascade"``) whose probabilities the cascade-lite student also learns
        from in :func:`wsinuc.training.protocol.train_cascade`; needs
        ``distill_weight > 0``.
    time_budget_s : float or None
        Wall-clock seconds the call that receives this config may take
        (:func:`~wsinuc.training.loop.train_model`, or a whole protocol, which
        shares it between its runs); None for no limit. A run re-plans its
        epoch count after every epoch so that it ends in time, never above
        ``epochs`` and never below one epoch (:mod:`wsinuc.training.budget`).
    data_on_device : {"auto", "on", "off"}
        Keep the training set on the training device and cut/augment batches
        there (:mod:`wsinuc.training.device_data`: random crops, the 8
        symmetries, stain jitter); ``"auto"`` is on for CUDA, off for the CPU
        (where the loader threads overlap the numpy augmentation with compute).
    auto_batch_size : bool
        On CUDA, replace ``batch_size`` by the largest power of two whose
        training step fits in a fraction of the free memory, probed once
        (:func:`wsinuc.training.batch_probe.probe_batch_size`); ignored on the CPU.
    boundary_width : int
        Interior/boundary variant (``cascade-ib*`` presets): width in working
        pixels of the boundary band of the stage-2 targets
        (:mod:`wsinuc.training.targets`); unused by binary models.
    boundary_weight : float
        Interior/boundary variant: loss weight of boundary pixels relative to
        the (class-balanced) interior and background pixels.
    total_steps : int or None
        Length of the run in optimiser steps: the learning-rate schedule spans
        exactly these steps and the run stops there (its last epoch cut short);
        ``epochs`` is then ignored. For a protocol, the steps of each MoNuSeg run.
        Cannot be combined with ``time_budget_s``: a step budget gives the same
        schedule however fast the machine and however many sittings it takes.
    pretrain_steps : int or None
        ``total_steps`` of the TNBC pre-training run of a protocol.
    checkpoint_minutes : float
        Also write the checkpoint (mid-epoch if need be) when this many minutes
        passed since the last one; 0 switches the clock rule off.
    checkpoint_steps : int or None
        Also write the checkpoint every this many optimiser steps.
    ema_decay : float
        Decay of an exponential moving average of the weights (e.g. 0.999);
        0 switches it off. When on, validation, model selection and the saved
        weights use the averaged weights (:mod:`wsinuc.training.averaging`).
    mpp : float
        Working pixel size of the training data in um/px: MoNuSeg and TNBC
        (0.25 um/px) are downsampled to it (:mod:`wsinuc.training.working_grid`)
        and the cards record it, so the engine reads slides at it.
    stain_normalisation : {"none", "macenko"}
        Normalise every training and validation image's H&E stains to a
        reference (:mod:`wsinuc.training.stain`).
    init_from : str or None
        Bundled cascade name or weights path whose stages start the protocol's
        runs (warm start; TNBC pre-training is skipped).
    patience : int
        Stop a run after this many validations in a row without a better
        validation AJI (early stopping; the best weights are kept); 0 never
        stops early. Small data overfits long before a long step budget ends.
    """

    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    patch_size: int = 256
    val_every: int = 1
    out_dir: Path | None = None
    max_steps_per_epoch: int | None = None
    precision: str = "auto"
    loader_threads: int = 2
    schedule: str = "cosine"
    warmup_steps: int = 0
    resume: bool = False
    progress: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stage2_input: str = "out-of-fold"
    distill_weight: float = 0.0
    teacher: str | None = None
    time_budget_s: float | None = None
    data_on_device: str = "auto"
    auto_batch_size: bool = False
    boundary_width: int = 2
    boundary_weight: float = 3.0
    total_steps: int | None = None
    pretrain_steps: int | None = None
    checkpoint_minutes: float = 5.0
    checkpoint_steps: int | None = None
    ema_decay: float = 0.0
    mpp: float = 0.25
    stain_normalisation: str = "none"
    init_from: str | None = None
    patience: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patch_size", "val_every"):
            value = getattr(self, name)
            _check(name, value, _is_count(value, 1), "a positive integer")
        _check("patch_size", self.patch_size, self.patch_size % 32 == 0, "a multiple of 32")
        _check("lr", self.lr, self.lr > 0, "> 0")
        validate_precision(self.precision)
        _check("weight_decay", self.weight_decay, self.weight_decay >= 0, ">= 0")
        _check("schedule", self.schedule, self.schedule in SCHEDULES, f"one of {SCHEDULES}")
        _check(
            "stage2_input", self.stage2_input, self.stage2_input in STAGE2_INPUTS,
            f"one of {STAGE2_INPUTS}",
        )
        for name in ("num_threads", "max_steps_per_epoch", "total_steps", "pretrain_steps",
                     "checkpoint_steps"):
            value = getattr(self, name)
            _check(name, value, value is None or _is_count(value, 1), "None or >= 1")
        for name in ("loader_threads", "warmup_steps", "patience"):
            _check(name, getattr(self, name), _is_count(getattr(self, name), 0), ">= 0")
        weight = self.distill_weight
        _check("distill_weight", weight, 0.0 <= weight <= 1.0, "in [0, 1]")
        if self.teacher is not None:
            _check("distill_weight", 0, self.distill_weight > 0, "> 0 when a teacher is given")
        _check(
            "data_on_device", self.data_on_device, self.data_on_device in DATA_ON_DEVICE,
            f"one of {DATA_ON_DEVICE}",
        )
        width = self.boundary_width
        _check("boundary_width", width, _is_count(width, 1) and width <= 16, "an integer in [1, 16]")
        _check("boundary_weight", self.boundary_weight, _is_positive(self.boundary_weight), "> 0")
        budget = self.time_budget_s
        _check("time_budget_s", budget, budget is None or _is_positive(budget), "None or > 0")
        self._check_long_runs()
        if self.out_dir is not None and not isinstance(self.out_dir, Path):
            object.__setattr__(self, "out_dir", Path(self.out_dir))


    def _check_long_runs(self) -> None:
        """Options of step-budgeted, checkpointed runs (see the attributes)."""
        if self.total_steps is not None and self.time_budget_s is not None:
            raise OptionError("--max-minutes", "cannot be combined with --steps (the steps fix the schedule)")
        minutes = self.checkpoint_minutes
        _check("checkpoint_minutes", minutes, minutes == 0 or _is_positive(minutes), ">= 0")
        _check("ema_decay", self.ema_decay, 0.0 <= self.ema_decay < 1.0, "in [0, 1)")
        _check("mpp", self.mpp, _is_positive(self.mpp) and 0.05 <= self.mpp <= 10, "in [0.05, 10] um/px")
        _check(
            "stain_normalisation", self.stain_normalisation,
            self.stain_normalisation in STAIN_NORMALISATIONS, f"one of {STAIN_NORMALISATIONS}",
        )


def _is_count(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def _check(name: str, value: object, ok: bool, requirement: str) -> None:
    """Raise :class:`OptionError` for option ``--name`` unless ``ok``."""
    if not ok:
        raise OptionError("--" + name.replace("_", "-"), f"must be {requirement}, got {value!r}")
