"""Global object ids: anchor keys -> sequential ids (pure numpy kernels).

Chunks record the anchor keys of the nuclei they own (large, sparse int64,
:mod:`wsinuc.stitching.ownership`). To get ids ``1..N``:

1. :func:`build_key_lookup` - a sorted key -> id table from every chunk's
   keys, in plan order (fails if a key is owned twice);
2. :func:`apply_key_lookup` - map any array of keys to ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class KeyLookup:
    """Sorted table from anchor keys to sequential ids.

    Attributes
    ----------
    keys : np.ndarray
        ``int64`` keys, strictly increasing.
    ids : np.ndarray
        ``int64`` id of each key (``1..N``, in plan order of the owners).
    """

    keys: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.size)


def build_key_lookup(keys_per_tile: Sequence[np.ndarray]) -> KeyLookup:
    """Give ids ``1..N`` to the keys of all tiles, in the order given.

    Parameters
    ----------
    keys_per_tile : sequence of np.ndarray
        ``OwnedObjects.keys`` of every tile, in plan order.

    Returns
    -------
    KeyLookup
        Keys sorted for :func:`apply_key_lookup`.

    Raises
    ------
    ValueError
        If a key is not positive or appears twice (owned by two tiles).
    """
    arrays = [np.asarray(keys, dtype=np.int64).reshape(-1) for keys in keys_per_tile]
    all_keys = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if all_keys.size and all_keys.min() <= 0:
        raise ValueError(f"keys must be positive, got minimum {all_keys.min()}")
    ids = np.arange(1, all_keys.size + 1, dtype=np.int64)
    order = np.argsort(all_keys, kind="stable")
    sorted_keys = all_keys[order]
    repeated = sorted_keys[1:][np.diff(sorted_keys) == 0]
    if repeated.size:
        raise ValueError(
            f"{repeated.size} key(s) owned by more than one tile, e.g. {int(repeated[0])}"
        )
    return KeyLookup(keys=sorted_keys, ids=ids[order])


def apply_key_lookup(block: np.ndarray, lookup: KeyLookup) -> np.ndarray:
    """Replace keys by ids in ``block`` (0 stays 0); returns int64 of the same shape.

    Raises
    ------
    ValueError
        If ``block`` holds a non-zero key missing from ``lookup``.
    """
    block = np.asarray(block, dtype=np.int64)
    out = np.zeros(block.shape, dtype=np.int64)
    nonzero = block != 0
    values = block[nonzero]
    position = np.searchsorted(lookup.keys, values)
    position = np.minimum(position, max(len(lookup) - 1, 0))
    found = lookup.keys[position] == values if len(lookup) else np.zeros(values.shape, bool)
    if not found.all():
        missing = int(values[~found][0])
        raise ValueError(f"block holds key {missing} that no tile owns")
    out[nonzero] = lookup.ids[position]
    return out
