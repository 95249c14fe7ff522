"""Broken slide files for the cohort tests (helpers, no fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import tifffile

from wsinuc.slide import write_synthetic_slide


def truncated_copy(source: Path, target: Path) -> Path:
    """``source`` cut to half its bytes: it cannot be opened (a download that stopped)."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def slide_with_a_bad_tile(path: Path, width: int = 1280, height: int = 1024) -> Path:
    """A synthetic slide whose third-last level-0 tile is garbage.

    It opens (its coarsest level decodes) but a chunk that reads that tile
    fails in the middle of the run, after the chunks before it have finished.
    """
    write_synthetic_slide(path, width, height, mpp=0.25, seed=11)
    with tifffile.TiffFile(path) as tiff:
        offset = int(tiff.pages[0].dataoffsets[-3])
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff" * 200)
    return path


def copy_slide(source: Path, target: Path) -> Path:
    """A copy of ``source`` under another name (so its outputs go to another folder)."""
    shutil.copyfile(source, target)
    return target
