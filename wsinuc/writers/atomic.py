"""Outputs that appear under their final name only when complete.

A file is written to a hidden sibling (``.nuclei.geojson.partial``) and moved
onto its final name with :func:`os.replace` once everything is written, so a
crash, a full disk or Ctrl-C never leaves a truncated file that looks
finished. A directory output (a Zarr store) is built in ``name.partial/`` and
renamed when complete; its partial folder is kept after an error so that an
interrupted run can resume from it.

Running out of disk space (``ENOSPC``) while writing becomes a one-line
:class:`OutputError` naming the output, instead of a long traceback.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from wsinuc.errors import WsinucError

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"


class OutputError(WsinucError):
    """An output cannot be written (disk full, already exists, ...)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


def partial_file_path(path: str | Path) -> Path:
    """Return the hidden sibling a file output is written to before it is complete.

    Parameters
    ----------
    path : str or Path
        Final path of the output, e.g. ``out/nuclei.geojson``.

    Returns
    -------
    Path
        ``out/.nuclei.geojson.partial``.
    """
    path = Path(path)
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def partial_dir_path(path: str | Path) -> Path:
    """Return the folder a directory output is built in, e.g. ``labels.ome.zarr.partial``."""
    path = Path(path)
    return path.with_name(f"{path.name}{PARTIAL_SUFFIX}")


def markers_dir_path(path: str | Path) -> Path:
    """Return the folder of per-unit "done" markers of a labels output being built."""
    path = Path(path)
    return path.with_name(f"{path.name}.partial-blocks")


def format_bytes(n_bytes: float) -> str:
    """Return a byte count as a short human-readable string (``"1.5 GiB"``)."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _existing_ancestor(path: Path) -> Path:
    """Return ``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free_space(path: str | Path, needed_bytes: int) -> None:
    """Raise :class:`OutputError` when the disk holding ``path`` has too little room.

    Parameters
    ----------
    path : str or Path
        The output (it need not exist yet; the nearest existing parent folder
        decides which disk is checked).
    needed_bytes : int
        Bytes the output is expected to take.

    Raises
    ------
    ValueError
        If ``needed_bytes`` is negative.
    OutputError
        ``"<path>: not enough disk space (need X, have Y)"``.
    """
    if needed_bytes < 0:
        raise ValueError(f"needed_bytes must be >= 0, got {needed_bytes}")
    free = shutil.disk_usage(_existing_ancestor(Path(path))).free
    if free < needed_bytes:
        raise OutputError(
            path,
            f"not enough disk space (need {format_bytes(needed_bytes)}, "
            f"have {format_bytes(free)})",
        )


@contextlib.contextmanager
def disk_full_guard(path: str | Path) -> Iterator[None]:
    """Turn ``OSError(ENOSPC)`` raised inside the block into a one-line :class:`OutputError`.

    Parameters
    ----------
    path : str or Path
        The output being written; named in the error message.
    """
    try:
        yield
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OutputError(path, "disk full while writing; free some space and run again") from error


def remove_quietly(path: Path) -> None:
    """Delete a file or folder if it exists; log (do not raise) on failure."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("could not remove %s: %s", path, error)


def _fsync_file(handle: IO) -> None:
    """Flush and fsync a file object when it has a real file descriptor."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        handle.flush()
        os.fsync(handle.fileno())


def commit_file(partial: str | Path, path: str | Path) -> Path:
    """Move a finished partial file onto its final name (atomic on one file system).

    Parameters
    ----------
    partial : str or Path
        The completely written temporary file.
    path : str or Path
        The final name; an existing file there is replaced.

    Returns
    -------
    Path
        The final path.
    """
    with disk_full_guard(path):
        os.replace(partial, path)
    return Path(path)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a file whose content appears under ``path`` only when the block succeeds.

    The data is written to :func:`partial_file_path` and moved onto ``path``
    with :func:`os.replace` when the ``with`` block ends without error. On any
    error the partial file is deleted and nothing appears under ``path`` (an
    older file already there is left untouched).

    Parameters
    ----------
    path : str or Path
        Final path.
    mode : str
        A write mode for :func:`open` (``"wb"``, ``"w"``, ...).
    **open_kwargs
        Passed to :func:`open` (e.g. ``encoding="utf-8"``, ``newline=""``).

    Yields
    ------
    file object
        Open on the partial file.

    Examples
    --------
    >>> with atomic_file(tmp_path / "a.txt", "w") as f:  # doctest: +SKIP
    ...     f.write("hello")
    """
    if not any(flag in mode for flag in "wx"):
        raise ValueError(f"mode must be a write mode ('w', 'wb', ...), got {mode!r}")
    path = Path(path)
    partial = partial_file_path(path)
    try:
        with disk_full_guard(path), open(partial, mode, **open_kwargs) as handle:
            yield handle
            _fsync_file(handle)
        commit_file(partial, path)
    except BaseException:
        remove_quietly(partial)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` through a partial file renamed when complete.

    ``sync=False`` skips the fsync, for the many small files inside a store
    that is itself renamed into place when complete (a zarr chunk file): a
    crash then loses the partial store, never leaves a torn chunk in it.
    """
    path = Path(path)
    partial = partial_file_path(path)
    try:
        with disk_full_guard(path), open(partial, "wb") as handle:
            handle.write(data)
            if sync:
                _fsync_file(handle)
        return commit_file(partial, path)
    except BaseException:
        remove_quietly(partial)
        raise


def commit_dir(partial: str | Path, path: str | Path, *, overwrite: bool = False) -> Path:
    """Rename a finished partial folder onto its final name.

    Parameters
    ----------
    partial : str or Path
        The completely built folder (e.g. ``labels.ome.zarr.partial``).
    path : str or Path
        The final folder name.
    overwrite : bool
        If False (default) an existing ``path`` raises :class:`OutputError`
        (outputs are never deleted without being asked). If True the old
        folder is moved aside, the new one renamed in, then the old removed.

    Returns
    -------
    Path
        The final path.
    """
    partial, path = Path(partial), Path(path)
    old = path.with_name(f".{path.name}.old")
    if path.exists():
        if not overwrite:
            raise OutputError(path, "already exists; delete it or ask to overwrite")
        remove_quietly(old)
        os.replace(path, old)
    os.replace(partial, path)
    remove_quietly(old)
    return path


@contextlib.contextmanager
def atomic_dir(
    path: str | Path, *, keep_partial_on_error: bool = True, overwrite: bool = False
) -> Iterator[Path]:
    """Build a folder output in ``name.partial/`` and rename it when the block succeeds.

    Parameters
    ----------
    path : str or Path
        Final folder, e.g. ``out/labels.ome.zarr``.
    keep_partial_on_error : bool
        If True (default) the partial folder stays after an error so that the
        run can resume from it; if False it is deleted.
    overwrite : bool
        Replace an existing final folder (see :func:`commit_dir`).

    Yields
    ------
    Path
        The partial folder to build in (created, possibly holding the files of
        an earlier interrupted run).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(path, "already exists; delete it or ask to overwrite")
    partial = partial_dir_path(path)
    partial.mkdir(parents=True, exist_ok=True)
    try:
        with disk_full_guard(path):
            yield partial
        commit_dir(partial, path, overwrite=overwrite)
    except BaseException:
        if not keep_partial_on_error:
            remove_quietly(partial)
        raise
