"""Wall-clock budgets for training: how many epochs fit, and how to share time between runs.

A lent GPU is held for minutes, not hours (one command may run 10 minutes),
and its speed is not known before the first epoch. ``TrainConfig.time_budget_s``
therefore bounds a training call in seconds instead of trusting a guessed
epoch count:

* one run (:func:`wsinuc.training.loop.train_model`) re-plans its epoch count
  after every epoch with :func:`planned_epochs`, from the median epoch time
  measured so far, and its learning-rate schedule follows the plan, so a
  run cut short still ends with a decayed learning rate;
* a protocol of several runs (TNBC pre-training, stage 1, the fold models,
  stage 2) gives each run :func:`run_budget`, its share of the time left in
  proportion to its planned work, so time a run does not use passes on to
  the later ones.

Everything here is arithmetic on numbers; the clock is read by the caller
(:class:`Deadline` takes it as an argument so tests can drive it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]

#: Share of a protocol's budget kept back for the work after the last run
#: (stage-2 inputs, final validation, writing weights and cards).
RESERVE_FRACTION = 0.05


@dataclass(frozen=True)
class Deadline:
    """A point in time (``clock()`` units) after which no new epoch should start.

    Attributes
    ----------
    end : float
        ``clock()`` value of the deadline; ``math.inf`` for no deadline.
    clock : callable
        Returns the current time in seconds (default :func:`time.monotonic`).
    """

    end: float
    clock: Clock = time.monotonic

    @classmethod
    def after(cls, seconds: float | None, clock: Clock | None = None) -> Deadline:
        """Deadline ``seconds`` from now; ``None`` gives one that never passes."""
        clock = clock or time.monotonic
        if seconds is None:
            return cls(math.inf, clock)
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0 or None, got {seconds!r}")
        return cls(clock() + float(seconds), clock)

    def remaining(self) -> float:
        """Seconds left (never negative; ``inf`` without a deadline)."""
        return max(0.0, self.end - self.clock())


def planned_epochs(
    done: int, max_epochs: int, seconds_left: float, epoch_seconds: Sequence[float]
) -> int:
    """Epochs a run should end with so that it finishes within ``seconds_left``.

    Parameters
    ----------
    done : int
        Epochs completed so far (>= 0).
    max_epochs : int
        Epochs asked for (>= 1); the plan never exceeds it.
    seconds_left : float
        Time left of the run's budget (``inf`` for none).
    epoch_seconds : sequence of float
        Durations of the epochs measured in this call; their median predicts
        the next ones (robust to a slow first epoch with CUDA start-up).

    Returns
    -------
    int
        ``done + floor(seconds_left / median)`` clamped to ``[max(done, 1), max_epochs]``;
        ``max_epochs`` when nothing was measured yet or there is no limit.
    """
    if done < 0 or max_epochs < 1:
        raise ValueError(f"need done >= 0 and max_epochs >= 1, got {done} and {max_epochs}")
    if math.isinf(seconds_left) or len(epoch_seconds) == 0:
        return max(max_epochs, done)
    per_epoch = max(_median(epoch_seconds), 1e-9)
    more = int(max(0.0, seconds_left) // per_epoch)
    return max(done, 1, min(max_epochs, done + more))


def run_budget(
    seconds_left: float | None, run_work: float, later_work: float
) -> float | None:
    """Seconds one run of a protocol may take: its share of the time left.

    Parameters
    ----------
    seconds_left : float or None
        Time left of the protocol's budget (None or ``inf``: no budget, returns None).
    run_work : float
        Planned work of this run (e.g. epochs x patches), > 0.
    later_work : float
        Planned work of the runs after it (>= 0).

    Returns
    -------
    float or None
        ``seconds_left * (1 - RESERVE_FRACTION) * run_work / (run_work + later_work)``,
        at least one second.
    """
    if seconds_left is None or math.isinf(seconds_left):
        return None
    if run_work <= 0 or later_work < 0:
        raise ValueError(f"need run_work > 0 and later_work >= 0, got {run_work} and {later_work}")
    share = seconds_left * (1.0 - RESERVE_FRACTION) * run_work / (run_work + later_work)
    return max(1.0, share)


def overshoot_message(
    budget_s: float | None, deadline: Deadline, epoch_seconds: Sequence[float]
) -> str | None:
    """A warning when a run ended more than 10% past its budget, else None.

    A run trains at least one epoch, so a budget under one epoch is overshot;
    the message gives the median epoch time so the budget can be sized.
    """
    if budget_s is None or len(epoch_seconds) == 0:
        return None
    over = deadline.clock() - deadline.end
    if over <= 0.1 * budget_s:
        return None
    return (
        f"{len(epoch_seconds)} epoch(s) took {over:.0f} s more than the {budget_s:.0f} s budget "
        f"(an epoch takes about {_median(epoch_seconds):.0f} s and every run trains at least one)"
    )


def _median(values: Sequence[float]) -> float:
    """Upper median (no interpolation): a measured epoch time."""
    return float(sorted(values)[len(values) // 2])
