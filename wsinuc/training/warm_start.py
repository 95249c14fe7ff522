"""Warm start: the stages of a trained cascade as the starting weights of a new protocol run.

If a long run's checkpoints are lost with a machine, ``wsinuc train --init-from
cascade-ib-lite`` starts stage 1 (and its fold models) and stage 2 from the
shipped weights instead of from TNBC pre-training and a random stage 2.
"""

from __future__ import annotations

import torch

from wsinuc.errors import OptionError
from wsinuc.models import WeightsError, load_model


def shipped_stages(name_or_path: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """CPU ``state_dict`` s of stage 1 and stage 2 of a bundled cascade or weights file.

    Raises
    ------
    OptionError
        (``--init-from``) when the weights cannot be loaded or hold no two-stage cascade.
    """
    try:
        model = load_model(name_or_path, torch.device("cpu"))
    except WeightsError as error:
        raise OptionError("--init-from", str(error)) from error
    if not (hasattr(model, "stage1") and hasattr(model, "stage2")):
        raise OptionError("--init-from", f"{name_or_path} is not a two-stage cascade")
    return tuple(
        {k: v.detach().float().clone() if v.is_floating_point() else v.clone()
         for k, v in stage.state_dict().items()}
        for stage in (model.stage1, model.stage2)
    )


def load_stage(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> torch.nn.Module:
    """Load ``state`` into ``model``; a preset that does not fit the weights is an ``--init-from`` error."""
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        problem = " ".join(str(error).split())[:160]
        raise OptionError("--init-from", f"{source} does not fit the chosen --preset ({problem})") from error
    return model
