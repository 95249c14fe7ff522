"""benchmarks/gpu/weights_aside.sh: the bundled cascade stays out of a device call, then comes back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "weights_aside.sh"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _aside(repo: Path, step: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), step], cwd=repo, capture_output=True, text=True, timeout=60)


@pytest.fixture
def repo(tmp_path):
    weights = tmp_path / "wsinuc" / "weights"
    weights.mkdir(parents=True)
    for name in ("cascade.json", "cascade-00001-of-00002.safetensors", "cascade-00002-of-00002.safetensors",
                 "cascade-lite.json", "cascade-lite.safetensors"):
        (weights / name).write_bytes(name.encode() * 100)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "weights")
    return tmp_path


def test_out_untracks_only_the_paper_cascade_and_in_restores_a_clean_tree(repo):
    before = {p: p.read_bytes() for p in (repo / "wsinuc" / "weights").iterdir()}
    result = _aside(repo, "out")
    assert result.returncode == 0, result.stderr
    assert _git(repo, "ls-files").split() == ["wsinuc/weights/cascade-lite.json",
                                              "wsinuc/weights/cascade-lite.safetensors"]
    assert sorted(p.name for p in (repo / ".weights-aside").iterdir()) == [
        "cascade-00001-of-00002.safetensors", "cascade-00002-of-00002.safetensors", "cascade.json"]
    assert "/.weights-aside/" in (repo / ".git" / "info" / "exclude").read_text()
    result = _aside(repo, "in")
    assert result.returncode == 0, result.stderr
    assert _git(repo, "status", "--porcelain") == ""
    assert {p: p.read_bytes() for p in (repo / "wsinuc" / "weights").iterdir()} == before


def test_out_refuses_changed_weights(repo):
    (repo / "wsinuc" / "weights" / "cascade.json").write_text("{}")
    result = _aside(repo, "out")
    assert result.returncode == 2 and "differ from HEAD" in result.stderr
    assert "wsinuc/weights/cascade.json" in _git(repo, "ls-files")


def test_an_unknown_step_prints_the_usage(repo):
    result = _aside(repo, "away")
    assert result.returncode == 2 and "usage" in result.stderr
