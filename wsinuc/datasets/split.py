"""Patient-level train/validation split.

Tiles from one patient (or slide) look alike, so they must not sit on both
sides of a split. :func:`patient_split` groups ids by patient, then draws
whole groups for validation:

1. Group the ids by ``patient_of(id)``.
2. Order the groups by patient name, then permute them with
   ``numpy.random.default_rng(seed)``.
3. The first ``round(val_fraction * groups)`` groups (at least 1, at most
   ``groups - 1``) are validation; the rest are training.

The result depends only on the set of ids, ``val_fraction`` and ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wsinuc.datasets.patients import default_patient


def patient_split(
    ids: Sequence[str],
    val_fraction: float = 0.2,
    seed: int = 0,
    patient_of: Callable[[str], str] | None = None,
) -> tuple[list[str], list[str]]:
    """Split image ids into train and validation, keeping each patient on one side.

    Parameters
    ----------
    ids : sequence of str
        Image ids, no duplicates.
    val_fraction : float
        Share of patients (not images) sent to validation, ``0 < f < 1``.
    seed : int
        Seed of the permutation; the same seed gives the same split.
    patient_of : callable, optional
        Maps an id to its patient; default :func:`default_patient`.

    Returns
    -------
    train_ids, val_ids : list of str
        Disjoint, together equal to ``ids``, each in the input order.

    Raises
    ------
    ValueError
        Empty or duplicated ids, fewer than 2 patients, ``val_fraction``
        outside (0, 1), or a non-integer seed.

    Examples
    --------
    >>> patient_split(["01_1", "01_2", "02_1", "03_1", "04_1"], 0.25, seed=0)[1]
    ['03_1']
    """
    ids = list(ids)
    _validate_split_inputs(ids, val_fraction, seed)
    patient_of = patient_of or default_patient
    patients = [patient_of(image_id) for image_id in ids]
    groups = sorted(set(patients))
    if len(groups) < 2:
        raise ValueError(f"need at least 2 patients to split, got {groups}")
    n_val = min(max(round(val_fraction * len(groups)), 1), len(groups) - 1)
    order = np.random.default_rng(seed).permutation(len(groups))
    val_patients = {groups[i] for i in order[:n_val]}
    val = [i for i, p in zip(ids, patients, strict=True) if p in val_patients]
    train = [i for i, p in zip(ids, patients, strict=True) if p not in val_patients]
    return train, val


def _validate_split_inputs(ids: list[str], val_fraction: float, seed: int) -> None:
    if not ids:
        raise ValueError("ids must not be empty, got []")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"ids must be unique, got duplicates {duplicates[:5]}")
    if isinstance(val_fraction, bool) or not (0 < float(val_fraction) < 1):
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
