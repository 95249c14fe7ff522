"""The container of one chunk's result: named arrays in one file, each read with one system call.

Layout: the 8 bytes ``WSNCHK1\\n``, a little-endian uint64 header length, a JSON
header ``{name: [dtype, shape, offset, nbytes]}`` and the arrays' raw bytes.
Unlike ``.npz`` (a zip archive with a parsed header per array), an array is
one ``pread`` of its bytes after one small header read: the second pass reads
parts of every chunk file of a slide several times. Only plain numeric,
boolean and unicode arrays are stored (no pickles).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np

MAGIC = b"WSNCHK1\n"


def write_arrays(handle: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to an open binary file in the container layout."""
    header, blobs, offset = {}, [], 0
    for name, value in arrays.items():
        array = np.asarray(value)
        array = array if array.flags.c_contiguous else array.copy(order="C")
        if array.dtype.hasobject:
            raise ValueError(f"array {name!r} holds Python objects, which a chunk file does not store")
        header[name] = [array.dtype.str, list(array.shape), offset, array.nbytes]
        blobs.append(array)
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    handle.write(MAGIC + struct.pack("<Q", len(text)) + text)
    for array in blobs:
        handle.write(memoryview(array).cast("B") if array.nbytes else b"")


class ArrayFile(Mapping):
    """The arrays of a chunk file; each is read (one ``pread``) when first asked for.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`write_arrays`.

    Raises
    ------
    ValueError
        If the file is not in that layout.
    """

    def __init__(self, path: str | Path) -> None:
        self._fd = None
        self._fd = os.open(path, os.O_RDONLY)
        try:
            head = os.pread(self._fd, len(MAGIC) + 8, 0)
            if not head.startswith(MAGIC) or len(head) < len(MAGIC) + 8:
                raise ValueError(f"{path}: not a wsinuc chunk file")
            (length,) = struct.unpack_from("<Q", head, len(MAGIC))
            self._header = json.loads(os.pread(self._fd, length, len(head)))
            self._base = len(head) + length
        except BaseException:
            self.close()
            raise

    @property
    def files(self) -> list[str]:
        """Names of the stored arrays (as :class:`numpy.lib.npyio.NpzFile` calls them)."""
        return list(self._header)

    def __getitem__(self, name: str) -> np.ndarray:
        dtype, shape, offset, nbytes = self._header[name]
        kind = np.dtype(dtype)
        data = os.pread(self._fd, nbytes, self._base + offset) if nbytes else b""
        return np.frombuffer(data, kind, count=nbytes // kind.itemsize if kind.itemsize else 0).reshape(tuple(shape))

    def __iter__(self) -> Iterator[str]:
        return iter(self._header)

    def __len__(self) -> int:
        return len(self._header)

    def close(self) -> None:
        """Release the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ArrayFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
