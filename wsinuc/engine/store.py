"""The per-chunk result files of one run: the only code that knows their layout.

Pass 1 leaves one file per finished chunk in ``<work>/chunks/<row>_<col>.npz``
(written atomically, so a file that exists is complete and doubles as the
resume marker); pass 2 reads them back. Each holds the anchor keys of the
nuclei the chunk owns, their masks on the chunk's valid block, their
outlines as packed rings and their measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsinuc.tiling import Tile
from wsinuc.writers.atomic import atomic_file

_COLUMN_PREFIX = "m_"


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """What one chunk keeps: its owned nuclei, ``k`` of them.

    Attributes
    ----------
    keys : np.ndarray
        ``int64`` (k,) anchor keys, increasing; local label ``i + 1`` is ``keys[i]``.
    labels : np.ndarray
        Local labels ``0..k`` of the owned nuclei on the chunk's valid block.
    ring_coords : np.ndarray
        ``float64`` (n, 2) outline vertices ``(x, y)`` in level-0 pixel-edge coordinates.
    ring_starts : np.ndarray
        ``int64`` (k + 1,): the outline of nucleus ``i`` is ``ring_coords[ring_starts[i]:ring_starts[i + 1]]``.
    columns : dict of str to np.ndarray
        Measurements, one (k,) array per column.
    """

    keys: np.ndarray
    labels: np.ndarray
    ring_coords: np.ndarray
    ring_starts: np.ndarray
    columns: dict

    def __len__(self) -> int:
        return int(self.keys.size)


class ChunkStore:
    """Result files of the chunks of one run, under ``<work_dir>/chunks/``.

    Parameters
    ----------
    work_dir : str or Path
        The run's work folder.
    """

    def __init__(self, work_dir: str | Path) -> None:
        self.folder = Path(work_dir) / "chunks"

    def path(self, tile: Tile) -> Path:
        """File of ``tile``'s result (exists only once the chunk is finished)."""
        row, col = tile.index
        return self.folder / f"{row:05d}_{col:05d}.npz"

    def is_done(self, tile: Tile) -> bool:
        """Whether ``tile`` has a finished result."""
        return self.path(tile).is_file()

    def save(self, tile: Tile, result: ChunkResult) -> None:
        """Write ``tile``'s result atomically (the file appears only when complete)."""
        arrays = {"keys": result.keys, "labels": _narrow(result.labels, len(result)),
                  "ring_coords": result.ring_coords, "ring_starts": result.ring_starts}
        arrays.update({_COLUMN_PREFIX + name: np.asarray(v) for name, v in result.columns.items()})
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path(tile), "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def load(self, tile: Tile) -> ChunkResult:
        """Everything ``tile``'s file holds."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            columns = {name[len(_COLUMN_PREFIX):]: data[name] for name in data.files
                       if name.startswith(_COLUMN_PREFIX)}
            return ChunkResult(data["keys"], data["labels"], data["ring_coords"], data["ring_starts"], columns)

    def keys(self, tile: Tile) -> np.ndarray:
        """The anchor keys of ``tile``'s nuclei (reads only that array)."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return data["keys"]

    def masks(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, labels)`` of ``tile``: what painting the label image needs."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return data["keys"], data["labels"]


def _narrow(labels: np.ndarray, count: int) -> np.ndarray:
    """``labels`` as uint16 when ids fit (half the bytes to compress), else int32."""
    return labels.astype(np.uint16 if count < 2**16 else np.int32, copy=False)
