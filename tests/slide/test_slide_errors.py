"""Unreadable inputs fail at open time with one-line SlideError messages naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from slide_files import random_rgb

from wsinuc.errors import OptionError, SlideError
from wsinuc.slide import open_slide, write_tiff_image


def assert_one_line_naming(error: pytest.ExceptionInfo, name: str) -> None:
    message = str(error.value)
    assert name in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SlideError, match="not found") as error:
        open_slide(tmp_path / "absent.svs")
    assert_one_line_naming(error, "absent.svs")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "slides.svs"
    folder.mkdir()
    with pytest.raises(SlideError, match="directory") as error:
        open_slide(folder)
    assert_one_line_naming(error, "slides.svs")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tif"
    path.touch()
    with pytest.raises(SlideError, match="empty") as error:
        open_slide(path)
    assert_one_line_naming(error, "empty.tif")


@pytest.mark.parametrize("backend", ["auto", "openslide", "tifffile", "pil"])
def test_text_file_renamed_svs(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "notes.svs"
    path.write_text("patient notes\nnot a slide\n")
    with pytest.raises(SlideError) as error:
        open_slide(path, backend=backend)
    assert_one_line_naming(error, "notes.svs")


def test_unsupported_image_format(tmp_path: Path) -> None:
    path = tmp_path / "image.gif"
    Image.fromarray(random_rgb(8, 8)).save(path)
    with pytest.raises(SlideError, match="not a supported") as error:
        open_slide(path)
    assert_one_line_naming(error, "image.gif")


@pytest.mark.parametrize("backend", ["auto", "openslide", "tifffile"])
def test_truncated_pyramid_fails_at_open(lossless_svs: Path, backend: str) -> None:
    data = lossless_svs.read_bytes()
    truncated = lossless_svs.with_name("truncated.svs")
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SlideError, match="truncated") as error:
        open_slide(truncated, backend=backend)
    assert_one_line_naming(error, "truncated.svs")


def test_without_verify_a_truncated_slide_opens_and_fails_where_it_is_read(lossless_svs: Path) -> None:
    data = lossless_svs.read_bytes()
    truncated = lossless_svs.with_name("truncated-late.svs")
    truncated.write_bytes(data[: len(data) // 2])
    with open_slide(truncated, backend="tifffile", verify=False) as slide:  # a slide checked a moment ago
        width, height = slide.dimensions
        with pytest.raises(SlideError, match="cannot read region") as error:
            slide.read_region(0, 0, width, height, 0)
    assert_one_line_naming(error, "truncated-late.svs")


def test_truncated_plain_tiff_fails_at_open(tmp_path: Path) -> None:
    path = write_tiff_image(tmp_path / "plain.tif", random_rgb(64, 64))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SlideError, match="truncated") as error:
        open_slide(path)
    assert_one_line_naming(error, "plain.tif")


def test_file_cut_before_a_directory_is_truncated(lossless_svs: Path) -> None:
    with tifffile.TiffFile(lossless_svs) as tiff:
        second_directory = tiff.pages[1].offset
    cut = lossless_svs.with_name("cut.svs")
    cut.write_bytes(lossless_svs.read_bytes()[:second_directory])
    with pytest.raises(SlideError, match="truncated") as error:
        open_slide(cut)
    assert_one_line_naming(error, "cut.svs")


def test_unknown_backend_is_an_option_error(lossless_svs: Path) -> None:
    with pytest.raises(OptionError, match="bioformats"):
        open_slide(lossless_svs, backend="bioformats")


def test_corrupt_tile_data_is_a_slide_error_at_open(tmp_path: Path) -> None:
    path = tmp_path / "garbled.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(random_rgb(64, 64), tile=(64, 64), photometric="rgb", compression="jpeg", metadata=None)
    with tifffile.TiffFile(path) as tiff:
        offset = int(tiff.pages[0].dataoffsets[0])
        count = int(tiff.pages[0].databytecounts[0])
    data = bytearray(path.read_bytes())
    data[offset : offset + count] = np.zeros(count, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(SlideError) as error:
        open_slide(path, backend="tifffile")
    assert_one_line_naming(error, "garbled.tif")
