"""The per-chunk result files of one run: the only code that knows their layout.

Pass 1 leaves one file per finished chunk in ``<work>/chunks/<row>_<col>.chunk``
(written atomically, so a file that exists is complete and doubles as the
resume marker); pass 2 reads them back. Each holds the anchor keys of the
nuclei the chunk owns, their masks on the chunk's valid block, their
outlines as packed rings and their measurements.

Layout: named arrays in one :mod:`~wsinuc.engine.chunk_file` container (read
with one system call), whose ``labels_zstd`` is the label raster (uint16 when ids fit, else int32)
compressed with Zstandard level 1 (about 10x faster than zlib both ways, as
small), ``labels_meta`` its ``(height, width, itemsize)``; outline vertices,
when all integral, are kept as Zstandard-compressed int32 steps from vertex
to vertex (restored exactly to float64 on reading); the float64 measurement
columns are the rows of one
``column_table`` named by ``column_names``. The labelled pixels outside the
chunk's core (all its neighbours' cells can receive) are also kept apart,
cropped and compressed (``overhang_*``). The vector pass
(:meth:`ChunkStore.vectors`) never decompresses labels; painting decodes each
chunk's full labels once (:meth:`ChunkStore.masks`, for its own cell) and
only the small overhang for its neighbours (:meth:`ChunkStore.overhang`).
The chunk's GeoJSON features, rendered in pass 1 with placeholder ids
(:class:`~wsinuc.writers.geojson_fast.RenderedFeatures`), are kept as
``features_text`` (raw uint8), ``features_keep``, ``features_id_offsets`` and
``features_style``; a result saved without them is rendered in pass 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numcodecs import Zstd

from wsinuc.engine.chunk_file import ArrayFile, write_arrays
from wsinuc.tiling import Box, Tile
from wsinuc.writers.atomic import atomic_file
from wsinuc.writers.geojson_fast import RenderedFeatures

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
    features : RenderedFeatures or None
        The nuclei's GeoJSON features rendered with placeholder ids (None: not rendered).
    """

    keys: np.ndarray
    labels: np.ndarray | None
    ring_coords: np.ndarray
    ring_starts: np.ndarray
    columns: dict
    features: RenderedFeatures | None = None

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
        return self.folder / f"{row:05d}_{col:05d}.chunk"

    def is_done(self, tile: Tile) -> bool:
        """Whether ``tile`` has a finished result."""
        return self.path(tile).is_file()

    def save(self, tile: Tile, result: ChunkResult) -> None:
        """Write ``tile``'s result atomically (the file appears only when complete)."""
        if result.labels is None or np.ndim(result.labels) != 2:
            raise ValueError(f"result.labels must be a 2-D array, got {type(result.labels).__name__}")
        if result.labels.size and not 0 <= int(result.labels.min()) <= int(result.labels.max()) <= len(result):
            raise ValueError(f"result.labels must lie in 0..{len(result)}, got "
                             f"{int(result.labels.min())}..{int(result.labels.max())}")
        labels = _narrow(result.labels, len(result))
        arrays = {"keys": result.keys, "labels_zstd": encode_labels(labels),
                  "labels_meta": np.array([*labels.shape, labels.dtype.itemsize], np.int64),
                  **_pack_coords(result.ring_coords), "ring_starts": result.ring_starts}
        arrays.update(_pack_overhang(overhang_pieces(labels, tile.valid_box, tile.core_box)))
        arrays.update(_pack_columns(result.columns))
        arrays.update(_pack_features(result.features, len(result)))
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path(tile), "wb") as handle:
            write_arrays(handle, arrays)

    def load(self, tile: Tile) -> ChunkResult:
        """Everything ``tile``'s file holds."""
        with ArrayFile(self.path(tile)) as data:
            return _vectors(data, decode_labels(data["labels_zstd"], data["labels_meta"]))

    def vectors(self, tile: Tile) -> ChunkResult:
        """``tile``'s keys, rings and measurements, without the labels (``labels`` is None)."""
        with ArrayFile(self.path(tile)) as data:
            return _vectors(data, None)

    def keys(self, tile: Tile) -> np.ndarray:
        """The anchor keys of ``tile``'s nuclei (reads only that array)."""
        with ArrayFile(self.path(tile)) as data:
            return data["keys"]

    def masks(self, tile: Tile, scratch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, labels)`` of ``tile``: what painting its cell needs.

        With ``scratch`` (a uint8 array large enough), the labels are decoded
        into it and returned as a view of it (valid until its next use).
        """
        with ArrayFile(self.path(tile)) as data:
            return data["keys"], decode_labels(data["labels_zstd"], data["labels_meta"], scratch)

    def overhang(self, tile: Tile) -> tuple[np.ndarray, list[tuple[Box, np.ndarray]]]:
        """``(keys, pieces)``: ``tile``'s labels outside its core, all a neighbouring cell can receive.

        Each piece is ``(box, labels)`` in level-0 pixels, cropped to its
        non-zero pixels (see :func:`overhang_pieces`); reads a few small arrays.
        """
        with ArrayFile(self.path(tile)) as data:
            return data["keys"], _unpack_overhang(data)


def overhang_pieces(labels: np.ndarray, valid_box: Box, core_box: Box) -> list[tuple[Box, np.ndarray]]:
    """The non-zero parts of ``labels`` (lying on ``valid_box``) outside ``core_box``, as at most 4 boxes.

    The band above the core, the one below, and the parts left and right of
    it in the core's rows, each cropped to the bounding box of its non-zero
    pixels (empty bands are left out). Together they hold every labelled
    pixel outside the core.
    """
    if labels.shape != valid_box.shape:
        raise ValueError(f"labels of shape {labels.shape} do not match valid_box {valid_box}")
    top, bottom = max(core_box.y0, valid_box.y0), min(core_box.y1, valid_box.y1)
    left, right = max(core_box.x0, valid_box.x0), min(core_box.x1, valid_box.x1)
    bands = [Box(valid_box.y0, valid_box.x0, top, valid_box.x1), Box(bottom, valid_box.x0, valid_box.y1, valid_box.x1),
             Box(top, valid_box.x0, bottom, left), Box(top, right, bottom, valid_box.x1)]
    pieces = []
    for band in bands:
        if band.y1 <= band.y0 or band.x1 <= band.x0:
            continue
        part = labels[band.y0 - valid_box.y0 : band.y1 - valid_box.y0, band.x0 - valid_box.x0 : band.x1 - valid_box.x0]
        rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if rows.size:
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            box = Box(band.y0 + y0, band.x0 + x0, band.y0 + y1, band.x0 + x1)
            pieces.append((box, part[y0:y1, x0:x1]))
    return pieces


def _pack_overhang(pieces: list[tuple[Box, np.ndarray]]) -> dict:
    """Boxes ``(m, 4)``, where each piece starts in the flat labels, and the flat labels Zstandard-compressed."""
    sizes = np.array([labels.size for _, labels in pieces], np.int64)
    flat = [labels.ravel() for _, labels in pieces]
    return {"overhang_boxes": np.array([[b.y0, b.x0, b.y1, b.x1] for b, _ in pieces], np.int64).reshape(-1, 4),
            "overhang_starts": np.cumsum(sizes) - sizes,
            "overhang_zstd": encode_labels(np.concatenate(flat) if flat else np.zeros(0, np.uint16))}


def _unpack_overhang(data) -> list[tuple[Box, np.ndarray]]:
    boxes, starts = data["overhang_boxes"], data["overhang_starts"]
    if not boxes.size:
        return []
    flat = _LABEL_CODEC.decode(np.ascontiguousarray(data["overhang_zstd"]))
    flat = np.frombuffer(flat, _LABEL_DTYPES[int(data["labels_meta"][2])])
    pieces = []
    for (y0, x0, y1, x1), start in zip(boxes.tolist(), starts.tolist()):
        shape = (y1 - y0, x1 - x0)
        pieces.append((Box(y0, x0, y1, x1), flat[start : start + shape[0] * shape[1]].reshape(shape)))
    return pieces


def encode_labels(labels: np.ndarray) -> np.ndarray:
    """The bytes of a uint16/int32 label raster, Zstandard-compressed, as a uint8 array."""
    return np.frombuffer(_LABEL_CODEC.encode(np.ascontiguousarray(labels)), np.uint8)


def decode_labels(encoded: np.ndarray, meta: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`encode_labels`; ``meta`` is ``(height, width, itemsize)``.

    A uint8 ``scratch`` array of at least ``height * width * itemsize`` bytes
    receives the labels (the result is a view of it); otherwise they get new memory.
    """
    height, width, itemsize = (int(v) for v in meta)
    if itemsize not in _LABEL_DTYPES:
        raise ValueError(f"label itemsize must be 2 or 4, got {itemsize}")
    encoded, size = np.ascontiguousarray(encoded), height * width * itemsize
    if scratch is None or scratch.dtype != np.uint8 or scratch.size < size or not scratch.flags.c_contiguous:
        raw = np.frombuffer(_LABEL_CODEC.decode(encoded), np.uint8)
    else:
        raw = scratch[:size]
        _LABEL_CODEC.decode(encoded, out=raw)
    if raw.size != size:
        raise ValueError(f"decoded {raw.size} bytes, expected {size} for labels {meta.tolist()}")
    return raw.view(_LABEL_DTYPES[itemsize]).reshape(height, width)


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


def _pack_features(features: RenderedFeatures | None, count: int) -> dict:
    """The rendered features' arrays (none when there are none)."""
    if features is None:
        return {}
    if features.keep.shape != (count,) or features.id_offsets.shape != (int(np.count_nonzero(features.keep)),):
        raise ValueError(f"features must keep one flag per nucleus ({count}) and one id offset per kept one, got "
                         f"{features.keep.shape} flags and {features.id_offsets.shape} offsets")
    return {"features_text": features.text, "features_keep": features.keep,
            "features_id_offsets": features.id_offsets, "features_style": np.array(features.style)}


def _unpack_features(data) -> RenderedFeatures | None:
    if "features_text" not in data.files:  # files written before features were rendered in pass 1
        return None
    return RenderedFeatures(data["features_text"], data["features_keep"], data["features_id_offsets"],
                            str(data["features_style"]))


def _vectors(data, labels: np.ndarray | None) -> ChunkResult:
    columns = _unpack_columns(data)
    coords = _unpack_coords(data)
    return ChunkResult(data["keys"], labels, coords, data["ring_starts"], columns, _unpack_features(data))


def _narrow(labels: np.ndarray, count: int) -> np.ndarray:
    """``labels`` as uint16 when ids fit (half the bytes to compress), else int32."""
    return labels.astype(np.uint16 if count < 2**16 else np.int32, copy=False)


def _pack_coords(coords: np.ndarray) -> dict:
    """``ring_coords`` as given, or, when every vertex is an int32 integer, its row-to-row steps Zstandard-compressed.

    Consecutive outline vertices are close, so the steps compress about 10x
    (the float64 vertices are restored exactly by a cumulative sum).
    """
    coords = np.asarray(coords)
    if coords.dtype.kind != "f" or coords.ndim != 2 or not coords.size:
        return {"ring_coords": coords}
    as_int = coords.astype(np.int32)
    if not np.array_equal(as_int, coords):
        return {"ring_coords": coords}
    steps = np.diff(as_int, axis=0, prepend=np.zeros((1, coords.shape[1]), np.int32))
    return {"ring_steps_zstd": np.frombuffer(_LABEL_CODEC.encode(steps), np.uint8),
            "ring_steps_shape": np.array(coords.shape, np.int64)}


def _unpack_coords(data) -> np.ndarray:
    if "ring_coords" in data.files:
        return data["ring_coords"].astype(np.float64, copy=False)
    shape = tuple(int(v) for v in data["ring_steps_shape"])
    steps = np.frombuffer(_LABEL_CODEC.decode(np.ascontiguousarray(data["ring_steps_zstd"])), np.int32)
    return np.cumsum(steps.reshape(shape), axis=0, dtype=np.int64).astype(np.float64)
