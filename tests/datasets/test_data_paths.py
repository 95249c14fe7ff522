"""default_data_root and require_dir."""

from __future__ import annotations

import pytest

from wsinuc.datasets import default_data_root, require_dir
from wsinuc.errors import DatasetError


def test_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("WSINUC_DATA", str(tmp_path / "elsewhere"))
    assert default_data_root() == (tmp_path / "elsewhere").resolve()


def test_default_is_shared_data_next_to_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("WSINUC_DATA", raising=False)
    project = tmp_path / "main"
    project.mkdir()
    monkeypatch.chdir(project)
    assert default_data_root() == (tmp_path / "shared" / "data").resolve()


def test_require_dir_returns_existing_folder(tmp_path):
    assert require_dir(str(tmp_path), "test data") == tmp_path


def test_require_dir_names_the_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="MoNuSeg images folder not found") as caught:
        require_dir(tmp_path / "absent", "MoNuSeg images")
    assert str(tmp_path / "absent") in str(caught.value)


def test_require_dir_rejects_a_file(tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        require_dir(file, "TNBC")
