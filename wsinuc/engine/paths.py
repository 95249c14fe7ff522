"""Paths the client hands to workers: absolute, so that every worker finds the same files.

A Dask worker resolves a relative path in its own working folder, not in the
one ``wsinuc`` was started in; every path leaving the client is therefore made
absolute first (``..`` folded, symbolic links kept, as a shared mount names them).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from wsinuc.config import SegmentConfig


def absolute(path: str | Path) -> Path:
    """``path`` made absolute against the current folder, ``~`` expanded and ``..`` folded."""
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def absolute_model(model: str) -> str:
    """A weights path made absolute; ``auto`` and bundled model names unchanged."""
    from wsinuc.models.cards import list_bundled_weights

    if model == "auto" or model in list_bundled_weights():
        return model
    return str(absolute(model))


def absolute_config(config: SegmentConfig) -> SegmentConfig:
    """``config`` with its weights path (if any) made absolute."""
    model = absolute_model(config.inference.model)
    if model == config.inference.model:
        return config
    return replace(config, inference=replace(config.inference, model=model))
