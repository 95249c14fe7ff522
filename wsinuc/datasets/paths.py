"""Where the datasets live on disk.

The data folder holds ``monuseg/`` and ``tnbc/`` (see its README.txt). It is
``$WSINUC_DATA`` when set, else ``../shared/data`` relative to the current
directory (the layout of a checkout next to the shared data).
"""

from __future__ import annotations

import os
from pathlib import Path

from wsinuc.errors import DatasetError

DATA_ROOT_VARIABLE = "WSINUC_DATA"
"""Environment variable naming the data folder."""

DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
"""Data folder relative to the current directory when the variable is unset."""


def default_data_root() -> Path:
    """Return the data folder: ``$WSINUC_DATA`` or ``../shared/data`` (absolute).

    The folder is not checked; call :func:`require_dir` before reading it.
    """
    configured = os.environ.get(DATA_ROOT_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return (Path.cwd() / DEFAULT_DATA_ROOT).resolve()


def require_dir(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, raising DatasetError when it is not a folder.

    Parameters
    ----------
    path : str or Path
        Folder that must exist.
    what : str
        What the folder should hold, for the message (e.g. "MoNuSeg train images").

    Raises
    ------
    DatasetError
        The folder does not exist (or is a file).
    """
    folder = Path(path)
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "folder not found"
        raise DatasetError(
            folder, f"{what} {problem} (set {DATA_ROOT_VARIABLE} to the data folder)"
        )
    return folder
