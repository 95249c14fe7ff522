"""Shared pytest fixtures.

Data-dependent tests read the shared data folder from ``$WSINUC_DATA`` or,
by default, ``../shared/data`` beside the project root, and skip cleanly when
it is absent. Torch runs single-threaded in tests so that two pytest workers
fit on CI's two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def openvino_cache_dir(tmp_path_factory) -> Path:
    """Converted OpenVINO models go to one folder per test session, never to the user's cache.

    The folder sits beside the per-worker temporary folders of pytest-xdist, so
    both workers share each conversion (entries are renamed into place whole).
    """
    folder = tmp_path_factory.getbasetemp().parent / "wsinuc-cache"
    os.environ["WSINUC_CACHE_DIR"] = str(folder)
    return folder


def shared_data_root() -> Path:
    """Return the shared data folder (may not exist)."""
    env = os.environ.get("WSINUC_DATA")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared data folder; skips the test when it is absent."""
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set WSINUC_DATA)")
    return root


@pytest.fixture(scope="session")
def monuseg_root(data_root: Path) -> Path:
    root = data_root / "monuseg"
    if not (root / "train" / "images").is_dir():
        pytest.skip(f"MoNuSeg not found under {root}")
    return root


@pytest.fixture(scope="session")
def tnbc_root(data_root: Path) -> Path:
    root = data_root / "tnbc"
    if not (root / "images").is_dir():
        pytest.skip(f"TNBC not found under {root}")
    return root


@pytest.fixture(scope="session")
def sample_svs(data_root: Path) -> Path:
    path = data_root / "slides" / "CMU-1-Small-Region.svs"
    if not path.is_file():
        pytest.skip(f"sample slide not found at {path}")
    return path
