"""The per-chunk result files of one run: the only code that knows their layout.

Pass 1 leaves one file per finished chunk in ``<work>/chunks/<row>_<col>.npz``
(written atomically, so a file that exists is complete and doubles as the
resume marker); pass 2 reads them back. Each holds the anchor keys of the
nuclei the chunk owns, their masks on the chunk's valid block, their
outlines as packed rings and their measurements.

Layout: an uncompressed ``.npz`` (reading one array touches only its bytes),
whose ``labels_zstd`` is the label raster (uint16 when ids fit, else int32)
compressed with Zstandard level 1 (about 10x faster than zlib both ways, as
small), ``labels_meta`` its ``(height, width, itemsize)``, and whose
``ring_coords`` are int32 when every vertex is integral (restored to float64
on reading), and whose float64 measurement columns are the rows of one
``column_table`` named by ``column_names``. The vector pass (:meth:`ChunkStore.vectors`) never decompresses
the labels; the painting pass (:meth:`ChunkStore.masks`) reads only them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numcodecs import Zstd

from wsinuc.tiling import Tile
from wsinuc.writers.atomic import atomic_file

_COLUMN_PREFIX = "m_"
_LABEL_CODEC = Zstd(level=1)
_LABEL_DTYPES = {2: np.uint16, 4: np.int32}


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """What one chunk keeps: its owned nuclei, ``k`` of them.

    Attributes
    ----------
    keys : np.ndarray
        ``int64`` (k,) anchor keys, increasing; local label ``i + 1`` is ``keys[i]``.
    labels : np.ndarray or None
        Local labels ``0..k`` of the owned nuclei on the chunk's valid block
        (None when read by :meth:`ChunkStore.vectors`).
    ring_coords : np.ndarray
        ``float64`` (n, 2) outline vertices ``(x, y)`` in level-0 pixel-edge coordinates.
    ring_starts : np.ndarray
        ``int64`` (k + 1,): the outline of nucleus ``i`` is ``ring_coords[ring_starts[i]:ring_starts[i + 1]]``.
    columns : dict of str to np.ndarray
        Measurements, one (k,) array per column.
    """

    keys: np.ndarray
    labels: np.ndarray | None
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
        if result.labels is None or np.ndim(result.labels) != 2:
            raise ValueError(f"result.labels must be a 2-D array, got {type(result.labels).__name__}")
        labels = _narrow(result.labels, len(result))
        arrays = {"keys": result.keys, "labels_zstd": encode_labels(labels),
                  "labels_meta": np.array([*labels.shape, labels.dtype.itemsize], np.int64),
                  "ring_coords": _compact_coords(result.ring_coords), "ring_starts": result.ring_starts}
        arrays.update(_pack_columns(result.columns))
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path(tile), "wb") as handle:
            np.savez(handle, **arrays)

    def load(self, tile: Tile) -> ChunkResult:
        """Everything ``tile``'s file holds."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return _vectors(data, _labels(data))

    def vectors(self, tile: Tile) -> ChunkResult:
        """``tile``'s keys, rings and measurements, without the labels (``labels`` is None)."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return _vectors(data, None)

    def keys(self, tile: Tile) -> np.ndarray:
        """The anchor keys of ``tile``'s nuclei (reads only that array)."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return data["keys"]

    def masks(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, labels)`` of ``tile``: what painting the label image needs."""
        with np.load(self.path(tile), allow_pickle=False) as data:
            return data["keys"], _labels(data)


def encode_labels(labels: np.ndarray) -> np.ndarray:
    """The bytes of a uint16/int32 label raster, Zstandard-compressed, as a uint8 array."""
    return np.frombuffer(_LABEL_CODEC.encode(np.ascontiguousarray(labels)), np.uint8)


def decode_labels(encoded: np.ndarray, meta: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_labels`; ``meta`` is ``(height, width, itemsize)``."""
    height, width, itemsize = (int(v) for v in meta)
    if itemsize not in _LABEL_DTYPES:
        raise ValueError(f"label itemsize must be 2 or 4, got {itemsize}")
    raw = _LABEL_CODEC.decode(np.ascontiguousarray(encoded))
    return np.frombuffer(raw, _LABEL_DTYPES[itemsize]).reshape(height, width)


def _labels(data) -> np.ndarray:
    if "labels" in data.files:  # files written before the Zstandard layout
        return data["labels"]
    return decode_labels(data["labels_zstd"], data["labels_meta"])


def _pack_columns(columns: dict) -> dict:
    """The measurement columns as one (columns, k) float64 table plus names when all are float64, else one by one."""
    values = [np.asarray(v) for v in columns.values()]
    if values and all(v.dtype == np.float64 and v.shape == values[0].shape and v.ndim == 1 for v in values):
        return {"column_names": np.array(list(columns), dtype=str), "column_table": np.stack(values)}
    return {_COLUMN_PREFIX + name: v for name, v in zip(columns, values)}


def _unpack_columns(data) -> dict:
    columns = {}
    if "column_names" in data.files:
        columns.update(zip(data["column_names"].tolist(), data["column_table"]))
    columns.update({name[len(_COLUMN_PREFIX):]: data[name] for name in data.files if name.startswith(_COLUMN_PREFIX)})
    return columns


def _vectors(data, labels: np.ndarray | None) -> ChunkResult:
    columns = _unpack_columns(data)
    coords = data["ring_coords"].astype(np.float64, copy=False)
    return ChunkResult(data["keys"], labels, coords, data["ring_starts"], columns)


def _narrow(labels: np.ndarray, count: int) -> np.ndarray:
    """``labels`` as uint16 when ids fit (half the bytes to compress), else int32."""
    return labels.astype(np.uint16 if count < 2**16 else np.int32, copy=False)


def _compact_coords(coords: np.ndarray) -> np.ndarray:
    """``coords`` as int32 when every vertex is an integer in range (exact on reading back), else as given."""
    coords = np.asarray(coords)
    if coords.dtype.kind != "f" or not coords.size:
        return coords
    as_int = coords.astype(np.int32)
    return as_int if np.array_equal(as_int, coords) else coords
