"""Chunk files of a label store read and written directly, and a pyramid built while level 0 is written.

The arrays :class:`~wsinuc.writers.zarr_labels.LabelsZarrWriter` creates
without shards hold one file per chunk: the Zstandard frame of the chunk's
C-order little-endian uint32 bytes (edge chunks padded with the fill value
0; an all-zero chunk has no file). :func:`write_region` and
:func:`read_region` handle those files themselves, which costs the encoding
alone instead of zarr's several milliseconds per call, and fall back to zarr
for any other layout.

:class:`StreamingPyramid` fills levels 1.. from the level-0 blocks as they
are written (``level k == level(k - 1)[::2, ::2]``), so level 0 is never read
back when the blocks arrive in row-major order. A destination chunk waits in
memory until every pixel of it has arrived; at most ``2 * columns + 2``
chunks wait per level, and never more than :data:`MAX_WAITING_CHUNKS`, so
memory stays flat whatever the slide's width (on a slide wider than about
``MAX_WAITING_CHUNKS`` level-1 chunks, the oldest waiting chunks are
completed from the level below on disk instead). :meth:`StreamingPyramid.finish` completes the
waiting ones and computes from disk every chunk no written block reached
(e.g. cells outside the tissue, or blocks written before a resume).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import zarr
from numcodecs import Zstd
from zarr.codecs import BytesCodec, ZstdCodec
from zarr.storage import LocalStore

from wsinuc.writers.atomic import atomic_write_bytes

LABEL_DTYPE = np.dtype("uint32")


def direct_codec(array: zarr.Array) -> Zstd | None:
    """The Zstandard codec of ``array`` if its chunks are plain files this module can handle, else None."""
    codecs = array.metadata.codecs
    plain = (
        array.shards is None and isinstance(array.store, LocalStore) and len(codecs) == 2
        and isinstance(codecs[0], BytesCodec) and codecs[0].endian is not None and codecs[0].endian.value == "little"
        and isinstance(codecs[1], ZstdCodec) and not array.config.write_empty_chunks
        and array.dtype == LABEL_DTYPE and array.metadata.fill_value == 0 and array.order == "C"
    )
    return Zstd(level=codecs[1].level, checksum=codecs[1].checksum) if plain else None


def _chunk_path(array: zarr.Array, index: tuple[int, int]) -> Path:
    return Path(array.store.root) / array.path / array.metadata.encode_chunk_key(index)


def write_region(array: zarr.Array, y0: int, x0: int, labels: np.ndarray) -> None:
    """``array[y0:, x0:] = labels`` for a chunk-aligned block (ragged only at the array's edge).

    Writes the chunk files zarr would (atomically, one per chunk; an all-zero
    chunk's file is removed) without zarr's per-call overhead.
    """
    codec = direct_codec(array)
    height, width = labels.shape
    if codec is None:
        array[y0 : y0 + height, x0 : x0 + width] = labels
        return
    ch, cw = array.chunks
    if y0 % ch or x0 % cw:
        raise ValueError(f"region corner ({y0}, {x0}) must lie on the chunk grid {array.chunks}")
    for top in range(0, height, ch):
        for left in range(0, width, cw):
            piece = labels[top : top + ch, left : left + cw]
            path = _chunk_path(array, ((y0 + top) // ch, (x0 + left) // cw))
            if not piece.any():
                path.unlink(missing_ok=True)
                continue
            if piece.shape != (ch, cw):
                piece = np.pad(piece, ((0, ch - piece.shape[0]), (0, cw - piece.shape[1])))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, codec.encode(np.ascontiguousarray(piece, dtype="<u4")), sync=False)


def read_region(array: zarr.Array, rows: slice, cols: slice) -> np.ndarray:
    """``array[rows, cols]`` (clipped to the array), decoding the chunk files directly when possible."""
    rows = slice(rows.start, min(rows.stop, array.shape[0]))
    cols = slice(cols.start, min(cols.stop, array.shape[1]))
    codec = direct_codec(array)
    if codec is None:
        return array[rows, cols]
    ch, cw = array.chunks
    out = np.zeros((rows.stop - rows.start, cols.stop - cols.start), LABEL_DTYPE)
    for row in range(rows.start // ch, -(-rows.stop // ch)):
        for col in range(cols.start // cw, -(-cols.stop // cw)):
            path = _chunk_path(array, (row, col))
            if not path.is_file():
                continue
            chunk = np.frombuffer(codec.decode(path.read_bytes()), "<u4").reshape(ch, cw)
            y0, x0 = max(row * ch, rows.start), max(col * cw, cols.start)
            y1, x1 = min((row + 1) * ch, rows.stop), min((col + 1) * cw, cols.stop)
            out[y0 - rows.start : y1 - rows.start, x0 - cols.start : x1 - cols.start] = chunk[
                y0 - row * ch : y1 - row * ch, x0 - col * cw : x1 - col * cw
            ]
    return out


def _chunk_box(array: zarr.Array, index: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(y0, x0, y1, x1)`` of chunk ``index``, clipped to the array."""
    (ch, cw), (height, width) = array.chunks, array.shape
    y0, x0 = index[0] * ch, index[1] * cw
    return y0, x0, min(y0 + ch, height), min(x0 + cw, width)


MAX_WAITING_CHUNKS = 16
"""Chunks one pyramid level may hold in memory (16 x 1024² x 5 bytes = 80 MiB at most per level)."""


class StreamingPyramid:
    """Levels 1.. of a label store, filled as blocks of the level below are written.

    Parameters
    ----------
    arrays : list of zarr.Array
        Level 0, 1, ... of the store (each half the size of the one before).
    """

    def __init__(self, arrays: list[zarr.Array]) -> None:
        self._arrays = list(arrays)
        self._pending: list[OrderedDict] = [OrderedDict() for _ in self._arrays]
        self._done: list[set] = [set() for _ in self._arrays]
        self._caps = [min(2 * -(-a.shape[1] // a.chunks[1]) + 2, MAX_WAITING_CHUNKS) for a in self._arrays]

    def wrote(self, level: int, y0: int, x0: int, block: np.ndarray) -> None:
        """Take ``block``, just written to ``level`` at ``(y0, x0)``, into ``level + 1`` (and on up)."""
        target = level + 1
        if target >= len(self._arrays):
            return
        sub = block[y0 % 2 :: 2, x0 % 2 :: 2]
        ty0, tx0 = (y0 + 1) // 2, (x0 + 1) // 2
        array = self._arrays[target]
        ch, cw = array.chunks
        for row in range(ty0 // ch, -(-(ty0 + sub.shape[0]) // ch)):
            for col in range(tx0 // cw, -(-(tx0 + sub.shape[1]) // cw)):
                cy0, cx0, cy1, cx1 = _chunk_box(array, (row, col))
                data, covered = self._entry(target, (row, col))
                y_0, y_1 = max(cy0, ty0), min(cy1, ty0 + sub.shape[0])
                x_0, x_1 = max(cx0, tx0), min(cx1, tx0 + sub.shape[1])
                data[y_0 - cy0 : y_1 - cy0, x_0 - cx0 : x_1 - cx0] = sub[y_0 - ty0 : y_1 - ty0, x_0 - tx0 : x_1 - tx0]
                covered[y_0 - cy0 : y_1 - cy0, x_0 - cx0 : x_1 - cx0] = True
                if covered.all():
                    self._complete(target, (row, col))
        while len(self._pending[target]) > self._caps[target]:
            self._complete(target, next(iter(self._pending[target])))

    def finish(self) -> None:
        """Complete every level: waiting chunks first, then each chunk no block reached, from disk."""
        for level in range(1, len(self._arrays)):
            while self._pending[level]:
                self._complete(level, next(iter(self._pending[level])))
            array = self._arrays[level]
            rows, cols = (-(-size // chunk) for size, chunk in zip(array.shape, array.chunks))
            for index in ((row, col) for row in range(rows) for col in range(cols)):
                if index not in self._done[level]:
                    self._entry(level, index)
                    self._complete(level, index)

    def _entry(self, level: int, index: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        pending = self._pending[level]
        if index not in pending:
            y0, x0, y1, x1 = _chunk_box(self._arrays[level], index)
            # pixels not covered when the chunk is completed come from the level below
            pending[index] = (np.empty((y1 - y0, x1 - x0), LABEL_DTYPE), np.zeros((y1 - y0, x1 - x0), bool))
            self._done[level].discard(index)
        return pending[index]

    def _complete(self, level: int, index: tuple[int, int]) -> None:
        """Write a waiting chunk (its missing pixels from the level below on disk) and pass it up."""
        data, covered = self._pending[level].pop(index)
        y0, x0, y1, x1 = _chunk_box(self._arrays[level], index)
        if not covered.all():
            source = read_region(self._arrays[level - 1], slice(2 * y0, 2 * y1), slice(2 * x0, 2 * x1))[::2, ::2]
            np.copyto(data, source, where=~covered)
        write_region(self._arrays[level], y0, x0, data)
        self._done[level].add(index)
        self.wrote(level, y0, x0, data)
