"""The paper's training protocol for the two-stage cascade, end to end.

:func:`train_cascade` is what ``wsinuc train`` calls: TNBC pre-training of
stage 1, MoNuSeg fine-tuning, out-of-fold stage-2 inputs
(:mod:`wsinuc.training.cascade`), stage-2 training, and the weight files
with their cards. Every training run has its own sub-folder of ``out_dir``
(log, checkpoint, best weights), so ``TrainConfig(resume=True)`` continues an
interrupted protocol where it stopped. With ``TrainConfig(time_budget_s=...)``
the protocol's wall-clock budget is shared between its runs in proportion to
their planned work (:class:`ProtocolBudget`), and each run shortens itself to
its share (:mod:`wsinuc.training.budget`); the cards record the epochs that ran.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsinuc.errors import OptionError
from wsinuc.device import resolve_device
from wsinuc.models import PRESETS, load_model
from wsinuc.training.budget import Deadline, run_budget
from wsinuc.training.cascade import (
    ModelFactory,
    assemble_cascade,
    build_stage,
    out_of_fold_probabilities,
    predict_patch_probabilities,
    stage_configs,
    write_card,
)
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import with_probabilities, with_teacher
from wsinuc.training.evaluate import validate_model
from wsinuc.training.interior_boundary import stage2_loss, stage2_patches, variant_card
from wsinuc.training.loop import TrainResult, loss_function, train_model
from wsinuc.training.precision import training_precision
from wsinuc.training.protocol_data import (  # noqa: F401  (re-exported: tests patch protocol.load_protocol_data)
    SOURCE_MPP,
    TRAINING_MPP,
    VAL_FRACTION,
    ProtocolData,
    data_card,
    device_name,
    load_protocol_data,
)
from wsinuc.training.targets import seeded_parameters
from wsinuc.training.warm_start import load_stage, shipped_stages



@dataclass(frozen=True)
class CascadeResult:
    """Outcome of :func:`train_cascade`.

    Attributes
    ----------
    cascade : torch.nn.Module
        ``create_model(preset)`` with the trained stages.
    weights_path : Path
        ``<out_dir>/<preset>.safetensors`` (card beside it), loadable with
        :func:`wsinuc.models.load_model`.
    metrics : dict
        Validation ``val_loss`` (soft Dice), ``val_aji``, ``val_f1`` of the cascade.
    stage1, stage2 : TrainResult
        The training runs of the final stages.
    """

    cascade: nn.Module
    weights_path: Path
    metrics: dict[str, float]
    stage1: TrainResult
    stage2: TrainResult


@dataclass(frozen=True)
class ProtocolBudget:
    """Shares ``TrainConfig.time_budget_s`` between the runs of a protocol.

    Attributes
    ----------
    deadline : Deadline
        End of the whole protocol's budget (one that never passes without a budget).
    work : dict
        Run name -> planned work (epochs x training patches), in the order the
        runs happen; a run gets the time left times its share of the work left.
    """

    deadline: Deadline
    work: dict[str, float]

    def seconds_for(self, name: str) -> float | None:
        """Budget of run ``name`` (None without a budget)."""
        names = list(self.work)
        later = sum(self.work[n] for n in names[names.index(name) + 1 :])
        return run_budget(self.deadline.remaining(), max(self.work[name], 1e-9), later)


def _planned_work(data: ProtocolData, epochs: tuple[int, int, int], config: TrainConfig) -> dict:
    """Epochs x patches of each cascade run, in protocol order (fold models: K - 1 shares)."""
    pretrain, finetune, folds = epochs
    n_train, n_tnbc = len(data.train), 0 if data.tnbc is None else len(data.tnbc)
    oof = finetune * n_train * (folds - 1) if config.stage2_input == "out-of-fold" else 0
    return {"stage1_tnbc": pretrain * n_tnbc, "stage1": finetune * n_train,
            "stage1_oof": oof, "stage2": finetune * n_train}


def _attach_teacher(data: ProtocolData, config: TrainConfig) -> ProtocolData:
    """Step 1b: the teacher's probabilities on the MoNuSeg patches (distillation targets)."""
    if config.teacher is None:
        return data
    teacher = load_model(config.teacher, resolve_device(config.device))
    probabilities = predict_patch_probabilities(teacher, data.train, config)
    return dataclasses.replace(data, train=with_teacher(data.train, probabilities))


def stage_run_config(
    config: TrainConfig, out_dir: Path, name: str, epochs: int,
    budget: ProtocolBudget | None = None, pretraining: bool = False,
) -> TrainConfig:
    """``config`` for one run of a protocol: its epochs, sub-folder ``out_dir/name``,
    time budget (``budget.seconds_for(name)``; None without ``budget``) and step
    budget (``config.pretrain_steps`` for the TNBC ``pretraining`` run, else ``config.total_steps``)."""
    seconds = None if budget is None or config.total_steps is not None else budget.seconds_for(name)
    steps = config.pretrain_steps if pretraining else config.total_steps
    return dataclasses.replace(config, epochs=epochs, out_dir=out_dir / name, time_budget_s=seconds,
                               total_steps=steps)


def pretrain_on_tnbc(
    data: ProtocolData, model_config: dict, run_config: TrainConfig, *, loss: str = "weighted_bce"
) -> TrainResult | None:
    """Train ``model_config`` on the TNBC patches; its weights start the MoNuSeg runs.

    ``run_config`` is the run's own config (see :func:`stage_run_config`).
    Returns None (no pre-training) when ``data.tnbc`` is None.
    """
    if data.tnbc is None:
        return None
    return train_model(
        build_stage(model_config, run_config.seed), data.tnbc, data.val, run_config, loss=loss
    )


def trained_state(result: TrainResult | None) -> dict[str, torch.Tensor] | None:
    """CPU copy of a run's (best) weights, or None without a run."""
    if result is None:
        return None
    return {k: v.detach().cpu().clone() for k, v in result.model.state_dict().items()}


def epochs_run(result: TrainResult | None) -> int:
    """Epochs a run completed (0 without a run); fewer than asked when its budget cut it."""
    return 0 if result is None else len(result.history)


def _stage2_inputs(
    data: ProtocolData,
    make_stage1: ModelFactory,
    final_stage1: nn.Module,
    fold_config: TrainConfig,
    folds: int,
) -> tuple[np.ndarray, dict]:
    """Step 4: stage-1 probabilities of the training patches (out-of-fold or final).

    ``fold_config`` trains each fold model (same epochs as the final stage 1).
    """
    if fold_config.stage2_input == "stage1-final":
        return predict_patch_probabilities(final_stage1, data.train, fold_config), {}
    oof = out_of_fold_probabilities(make_stage1, data.train, data.val, fold_config, folds=folds)
    fold_metrics = list(oof.fold_metrics)
    return oof.probabilities, {"fold_of_image": oof.fold_of_image, "fold_metrics": fold_metrics,
                               "fold_epochs": list(oof.epochs)}


def train_cascade(
    data_root: str | Path,
    out_dir: str | Path,
    preset: str = "cascade-lite",
    config: TrainConfig | None = None,
    *,
    pretrain_tnbc_epochs: int = 10,
    finetune_epochs: int = 30,
    folds: int = 3,
) -> CascadeResult:
    """Train a cascade with the paper's protocol and write its weights and cards.

    1. Load MoNuSeg train, split it 80/20 by patient (``config.seed``), cut
       256-px patches with cached border weight maps; load TNBC. With
       ``config.teacher`` (distillation), attach the teacher's probabilities to
       the MoNuSeg patches; every MoNuSeg run then mixes in BCE against them.
    2. Pre-train stage 1 on TNBC (weighted BCE; skipped when ``pretrain_tnbc_epochs == 0``
       or with ``config.init_from``, whose stage 1 replaces it and whose stage 2
       starts step 5: a warm start, :mod:`wsinuc.training.warm_start`).
    3. Fine-tune stage 1 on the MoNuSeg patches -> the final stage 1.
    4. Stage-2 training inputs: out-of-fold stage-1 probabilities (K = ``folds``
       fold models, each fine-tuned from the TNBC weights), or the final stage
       1's own predictions when ``config.stage2_input == "stage1-final"``.
    5. Train stage 2 (soft Dice) on RGB + probability; its validation input is
       the final stage 1's probability, as at inference. For an
       interior/boundary preset (``cascade-ib``, ``cascade-ib-lite``) stage 2
       learns background / interior / boundary targets with the class-weighted
       loss, is validated with ``seeded`` instances, and its cards record
       ``postprocess: "seeded"`` (:mod:`wsinuc.training.interior_boundary`).
    6. Assemble ``create_model(preset)``, score it on the validation images and
       write ``stage1``, ``stage2`` and ``<preset>`` weights + JSON cards.

    Parameters
    ----------
    data_root : str or Path
        Folder with ``monuseg/`` and ``tnbc/``.
    out_dir : str or Path
        Run folder; one sub-folder per training run (log, checkpoint, best weights).
    preset : str
        Cascade preset of :data:`wsinuc.models.PRESETS` (``"cascade-lite"``,
        ``"cascade"``, or their interior/boundary variants ``"cascade-ib-lite"``, ``"cascade-ib"``).
    config : TrainConfig, optional
        Shared training settings; ``epochs`` and ``out_dir`` are set per stage.
        ``config.resume`` resumes every stage from its own checkpoint.
    pretrain_tnbc_epochs, finetune_epochs : int
        Epochs of step 2, and of steps 3, 4 (each fold model) and 5.
    folds : int
        K of the out-of-fold stage-2 inputs (>= 2).

    Returns
    -------
    CascadeResult
    """
    config = config or TrainConfig()
    _validate_protocol(preset, pretrain_tnbc_epochs, finetune_epochs, folds, config)
    deadline = Deadline.after(config.time_budget_s)
    config = dataclasses.replace(
        config, precision=training_precision(config.precision, resolve_device(config.device))
    )
    out_dir = Path(out_dir)
    stage1_config, stage2_config = stage_configs(preset)
    shipped = None if config.init_from is None else shipped_stages(config.init_from)
    with_tnbc = pretrain_tnbc_epochs > 0 and shipped is None
    data = load_protocol_data(Path(data_root), config.patch_size, config.seed, with_tnbc,
                              config.mpp, config.stain_normalisation)
    data = _attach_teacher(data, config)
    requested = (pretrain_tnbc_epochs, finetune_epochs, folds)
    budget = ProtocolBudget(deadline, _planned_work(data, requested, config))

    def run(name: str, epochs: int) -> TrainConfig:
        return stage_run_config(config, out_dir, name, epochs, budget, name == "stage1_tnbc")

    tnbc = None
    if with_tnbc:
        tnbc = pretrain_on_tnbc(data, stage1_config, run("stage1_tnbc", pretrain_tnbc_epochs))

    def make_stage1() -> nn.Module:
        if shipped is not None:
            return load_stage(build_stage(stage1_config, config.seed), shipped[0], config.init_from)
        return build_stage(stage1_config, config.seed, trained_state(tnbc))

    stage2_start = build_stage(stage2_config, config.seed)
    if shipped is not None:
        load_stage(stage2_start, shipped[1], config.init_from)

    stage1 = train_model(
        make_stage1(), data.train, data.val, run("stage1", finetune_epochs), loss="weighted_bce"
    )
    probabilities, oof_card = _stage2_inputs(
        data, make_stage1, stage1.model, run("stage1_oof", finetune_epochs), folds
    )
    stage2_data = stage2_patches(preset, with_probabilities(data.train, probabilities), config)
    stage2 = train_model(
        stage2_start, stage2_data, data.val,
        run("stage2", finetune_epochs), loss=stage2_loss(preset), stage1=stage1.model,
    )
    device = next(stage2.model.parameters()).device
    cascade_model = assemble_cascade(preset, stage1.model, stage2.model).to(device)
    metrics = validate_model(
        cascade_model, data.val, loss_function(stage2_loss(preset)), patch_size=config.patch_size,
        device=device, batch_size=config.batch_size, precision=config.precision,
        seeded=seeded_parameters(config.boundary_width, config.mpp),
    )
    ran = {"pretrain_tnbc": epochs_run(tnbc), "finetune": epochs_run(stage1),
           "stage2": epochs_run(stage2),
           "steps": {"pretrain_tnbc": 0 if tnbc is None else tnbc.steps, "finetune": stage1.steps,
                     "stage2": stage2.steps}}
    card = _protocol_card(data, config, requested, ran, oof_card)
    final = {**card, **variant_card(preset, config)}
    write_card(stage1.model, out_dir / "stage1", {**card, "metrics": stage1.best_metrics})
    write_card(stage2.model, out_dir / "stage2", {**final, "metrics": stage2.best_metrics})
    write_card(cascade_model, out_dir / preset, {**final, "name": preset, "metrics": metrics})
    return CascadeResult(cascade_model, out_dir / f"{preset}.safetensors", metrics, stage1, stage2)


def _validate_protocol(
    preset: str, pretrain_epochs: int, finetune_epochs: int, folds: int, config: TrainConfig
) -> None:
    if preset not in PRESETS:
        raise OptionError("--preset", f"must be one of {sorted(PRESETS)}, got {preset!r}")
    validate_epochs(pretrain_epochs, finetune_epochs)
    if config.stage2_input == "out-of-fold" and (int(folds) != folds or folds < 2):
        raise OptionError("--folds", f"must be an integer >= 2, got {folds!r}")


def validate_epochs(pretrain_epochs: int, finetune_epochs: int) -> None:
    """Refuse negative TNBC epochs or fewer than one MoNuSeg epoch, naming the ``wsinuc train`` option."""
    if pretrain_epochs < 0:
        raise OptionError("--pretrain-epochs", f"must be >= 0, got {pretrain_epochs}")
    if finetune_epochs < 1:
        raise OptionError("--epochs", f"must be >= 1, got {finetune_epochs}")


def _protocol_card(
    data: ProtocolData, config: TrainConfig, requested: tuple[int, int, int], ran: dict,
    oof_card: dict,
) -> dict:
    pretrain, finetune, folds = requested
    return {
        **data_card(data, config),
        "epochs": {k: v for k, v in ran.items() if k != "steps"},
        "steps": ran.get("steps"),
        "warm_start": config.init_from,
        "epochs_requested": {"pretrain_tnbc": pretrain, "finetune": finetune, "stage2": finetune},
        "stage2_input": config.stage2_input,
        "folds": folds if config.stage2_input == "out-of-fold" else None,
        **oof_card,
    }
