"""Learning rate of each optimiser step (pure; no torch scheduler state to save)."""

from __future__ import annotations

import math

from wsinuc.training.config import TrainConfig

COSINE_FLOOR = 0.01
STEP_AT = 2.0 / 3.0
STEP_FACTOR = 0.1


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based) out of ``total_steps``.

    Parameters
    ----------
    step : int
        Steps completed before this one.
    total_steps : int
        Steps of the whole run (epochs x steps per epoch).
    config : TrainConfig
        ``lr``, ``schedule`` and ``warmup_steps``.

    Returns
    -------
    float
        Linear warm-up over ``warmup_steps``; then ``"constant"``: ``lr``;
        ``"step"``: ``lr``, x0.1 from 2/3 of the run; ``"cosine"``: from
        ``lr`` down to 1% of ``lr`` at the last step.
    """
    if step < 0 or total_steps < 1:
        raise ValueError(f"need step >= 0 and total_steps >= 1, got {step} and {total_steps}")
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, total_steps - config.warmup_steps - 1)
    progress = min(1.0, (step - config.warmup_steps) / span)
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":
        return config.lr * (STEP_FACTOR if progress >= STEP_AT else 1.0)
    floor = COSINE_FLOOR * config.lr
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
