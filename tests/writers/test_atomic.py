"""Outputs appear under their final names only when complete."""

from __future__ import annotations

import errno

import pytest

from wsinuc.errors import WsinucError
from wsinuc.writers.atomic import (
    OutputError,
    atomic_dir,
    atomic_file,
    check_free_space,
    format_bytes,
    partial_dir_path,
    partial_file_path,
)


def test_partial_names_are_siblings_of_the_final_name(tmp_path):
    assert partial_file_path(tmp_path / "nuclei.geojson") == tmp_path / ".nuclei.geojson.partial"
    assert partial_dir_path(tmp_path / "labels.ome.zarr") == tmp_path / "labels.ome.zarr.partial"


def test_atomic_file_moves_content_to_final_name_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_file(target, "w") as handle:
        handle.write("hello")
        assert not target.exists()
        assert partial_file_path(target).exists()
    assert target.read_text() == "hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_file_leaves_nothing_after_an_exception(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_file(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_keeps_an_older_file_when_the_new_one_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target, "w") as handle:
            handle.write("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old"


def test_atomic_file_refuses_a_read_mode(tmp_path):
    with pytest.raises(ValueError, match="'r'"):
        with atomic_file(tmp_path / "x", "r"):
            pass


def test_disk_full_becomes_a_one_line_error_naming_the_file(tmp_path):
    target = tmp_path / "nuclei.geojson"
    with pytest.raises(OutputError) as caught:
        with atomic_file(target, "wb"):
            raise OSError(errno.ENOSPC, "No space left on device")
    message = str(caught.value)
    assert isinstance(caught.value, WsinucError)
    assert "\n" not in message and str(target) in message and "disk full" in message
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_file(tmp_path / "x", "wb"):
            raise PermissionError(errno.EACCES, "denied")


def test_check_free_space_raises_with_need_and_have(tmp_path):
    with pytest.raises(OutputError, match=r"not enough disk space \(need 1024\.0 TiB, have "):
        check_free_space(tmp_path / "not" / "yet" / "made.zarr", 1024**5)


def test_check_free_space_accepts_what_fits(tmp_path):
    check_free_space(tmp_path / "missing_dir" / "file", 0)


def test_check_free_space_rejects_negative_sizes(tmp_path):
    with pytest.raises(ValueError, match="-1"):
        check_free_space(tmp_path, -1)


@pytest.mark.parametrize(
    ("n_bytes", "expected"),
    [(512, "512 B"), (1536, "1.5 KiB"), (3 * 1024**3, "3.0 GiB")],
)
def test_format_bytes(n_bytes, expected):
    assert format_bytes(n_bytes) == expected


def test_atomic_dir_renames_the_partial_folder_on_success(tmp_path):
    target = tmp_path / "labels.ome.zarr"
    with atomic_dir(target) as partial:
        assert partial == tmp_path / "labels.ome.zarr.partial"
        (partial / "zarr.json").write_text("{}")
        assert not target.exists()
    assert (target / "zarr.json").read_text() == "{}"
    assert not partial.exists()


def test_atomic_dir_keeps_the_partial_folder_after_an_error_for_resuming(tmp_path):
    target = tmp_path / "labels.ome.zarr"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as partial:
            (partial / "block").write_text("done")
            raise RuntimeError("crash")
    assert not target.exists()
    assert (partial_dir_path(target) / "block").read_text() == "done"


def test_atomic_dir_can_remove_the_partial_folder_after_an_error(tmp_path):
    target = tmp_path / "labels.ome.zarr"
    with pytest.raises(RuntimeError):
        with atomic_dir(target, keep_partial_on_error=False):
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_never_replaces_an_existing_output_unless_asked(tmp_path):
    target = tmp_path / "labels.ome.zarr"
    target.mkdir()
    (target / "old").write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        with atomic_dir(target):
            pass
    assert (target / "old").exists()
    with atomic_dir(target, overwrite=True) as partial:
        (partial / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.ome.zarr"]
