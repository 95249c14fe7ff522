"""The single networks Table I compares the cascade with, trained by the same protocol.

:data:`BASELINES` names each comparison model at the paper's widths and a
``-lite`` version at the cascade-lite widths (trainable on a CPU), with the
loss it is trained with:

=====================  ===========================================  ============
name                   network                                      loss
=====================  ===========================================  ============
``unet``               weighted U-Net (Ronneberger), width 64       weighted BCE
``attention_unet``     Attention U-Net (Oktay et al.), width 64     soft Dice
``vgg16_unet``         smp ``Unet("vgg16")``, no ImageNet weights   soft Dice
``*-lite``             the same layouts at cascade-lite widths      same
=====================  ===========================================  ============

The weighted U-Net alone is stage 1 of the cascade; the VGG16 U-Net alone is
stage 2 without the probability channel. :func:`train_baseline` pre-trains
on TNBC, fine-tunes on the MoNuSeg training patches, keeps the epoch with the
best validation AJI and writes ``<out_dir>/<name>.safetensors`` with its card
(``wsinuc train --baseline NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from wsinuc.errors import OptionError
from wsinuc.training.budget import Deadline
from wsinuc.training.cascade import build_stage, write_card
from wsinuc.training.config import TrainConfig
from wsinuc.training.protocol import (
    ProtocolBudget,
    data_card,
    epochs_run,
    load_protocol_data,
    pretrain_on_tnbc,
    stage_run_config,
    trained_state,
    validate_epochs,
)
from wsinuc.training.loop import TrainResult, train_model

LITE_VGG_DECODER = [64, 32, 16, 16, 16]

#: Baseline name -> (``create_model`` arguments with ``name``, training loss).
BASELINES: dict[str, tuple[dict, str]] = {
    "unet": ({"name": "unet", "width": 64}, "weighted_bce"),
    "unet-lite": ({"name": "unet", "width": 16}, "weighted_bce"),
    "attention_unet": ({"name": "attention_unet", "width": 64}, "dice"),
    "attention_unet-lite": ({"name": "attention_unet", "width": 16}, "dice"),
    "vgg16_unet": ({"name": "vgg16_unet", "encoder": "vgg16"}, "dice"),
    "vgg16_unet-lite": (
        {"name": "vgg16_unet", "encoder": "vgg16_lite", "width": 16,
         "decoder_channels": LITE_VGG_DECODER},
        "dice",
    ),
}


@dataclass(frozen=True)
class BaselineResult:
    """Outcome of :func:`train_baseline`.

    Attributes
    ----------
    model : torch.nn.Module
        The network with the weights of its best validation epoch.
    weights_path : Path
        ``<out_dir>/<name>.safetensors`` (card beside it).
    metrics : dict
        Best validation ``val_loss``, ``val_aji``, ``val_f1``.
    run : TrainResult
        The MoNuSeg fine-tuning run.
    """

    model: nn.Module
    weights_path: Path
    metrics: dict[str, float]
    run: TrainResult


def train_baseline(
    data_root: str | Path,
    out_dir: str | Path,
    name: str,
    config: TrainConfig | None = None,
    *,
    pretrain_tnbc_epochs: int = 10,
    finetune_epochs: int = 30,
) -> BaselineResult:
    """Train one comparison model of :data:`BASELINES` with the paper's protocol.

    1. Load MoNuSeg train (80/20 patient split, ``config.seed``) and TNBC.
    2. Pre-train on TNBC (sub-folder ``tnbc``; skipped when ``pretrain_tnbc_epochs == 0``).
    3. Fine-tune on the MoNuSeg patches from those weights (sub-folder ``monuseg``),
       selecting the epoch with the best validation AJI.
    4. Write ``<out_dir>/<name>.safetensors`` and its JSON card.

    Parameters
    ----------
    data_root : str or Path
        Folder with ``monuseg/`` and ``tnbc/``.
    out_dir : str or Path
        Run folder; ``config.resume`` continues each run from its checkpoint.
    name : str
        A key of :data:`BASELINES`.
    config : TrainConfig, optional
        Shared training settings (``epochs`` and ``out_dir`` are set per run).
    pretrain_tnbc_epochs, finetune_epochs : int
        Epochs of steps 2 and 3.

    Returns
    -------
    BaselineResult
    """
    config = config or TrainConfig()
    _validate(name, pretrain_tnbc_epochs, finetune_epochs)
    deadline = Deadline.after(config.time_budget_s)
    model_config, loss = BASELINES[name]
    out_dir = Path(out_dir)
    data = load_protocol_data(Path(data_root), config.patch_size, config.seed, pretrain_tnbc_epochs > 0,
                              config.mpp, config.stain_normalisation)
    n_tnbc = 0 if data.tnbc is None else len(data.tnbc)
    budget = ProtocolBudget(
        deadline,
        {"tnbc": pretrain_tnbc_epochs * n_tnbc, "monuseg": finetune_epochs * len(data.train)},
    )
    tnbc = None
    if pretrain_tnbc_epochs > 0:
        tnbc_config = stage_run_config(config, out_dir, "tnbc", pretrain_tnbc_epochs, budget, True)
        tnbc = pretrain_on_tnbc(data, model_config, tnbc_config, loss=loss)
    run = train_model(
        build_stage(model_config, config.seed, trained_state(tnbc)), data.train, data.val,
        stage_run_config(config, out_dir, "monuseg", finetune_epochs, budget), loss=loss,
    )
    card = {
        **data_card(data, config),
        "name": name,
        "loss": loss,
        "epochs": {"pretrain_tnbc": epochs_run(tnbc), "finetune": epochs_run(run)},
        "epochs_requested": {"pretrain_tnbc": pretrain_tnbc_epochs, "finetune": finetune_epochs},
        "best_epoch": run.best_epoch,
        "metrics": run.best_metrics,
    }
    write_card(run.model, out_dir / name, card)
    return BaselineResult(run.model, out_dir / f"{name}.safetensors", dict(run.best_metrics), run)


def _validate(name: str, pretrain_epochs: int, finetune_epochs: int) -> None:
    if name not in BASELINES:
        raise OptionError("--baseline", f"must be one of {sorted(BASELINES)}, got {name!r}")
    validate_epochs(pretrain_epochs, finetune_epochs)
