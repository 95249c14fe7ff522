"""open_slide and the Slide interface on files whose pixels the tests wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from slide_files import smooth_rgb
from PIL import Image

from wsinuc.slide import describe_slide, open_slide, write_tiff_image

BACKENDS_FOR_TIFF = ["openslide", "tifffile"]


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
def test_pyramid_dimensions_and_downsamples(lossless_svs: Path, backend: str) -> None:
    with open_slide(lossless_svs, backend=backend) as slide:
        assert slide.backend == backend
        assert slide.dimensions == (640, 480)
        assert slide.level_count == 3
        assert slide.level_dimensions == [(640, 480), (320, 240), (160, 120)]
        assert slide.level_downsamples == pytest.approx([1.0, 2.0, 4.0])
        assert slide.vendor == "aperio"


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
@pytest.mark.parametrize("level", [0, 1, 2])
def test_read_region_returns_written_pixels(
    lossless_svs: Path, pyramid_levels: list[np.ndarray], backend: str, level: int
) -> None:
    downsample = 2**level
    with open_slide(lossless_svs, backend=backend) as slide:
        region = slide.read_region(40 * downsample, 24 * downsample, 70, 50, level)
    assert region.shape == (50, 70, 3)
    assert region.dtype == np.uint8
    np.testing.assert_array_equal(region, pyramid_levels[level][24:74, 40:110])


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_whole_level_read_at_once_equals_the_windowed_reads(
    lossless_svs: Path, pyramid_levels: list[np.ndarray], level: int
) -> None:
    downsample = 2**level
    with open_slide(lossless_svs, backend="tifffile") as slide:
        width, height = slide.level_dimensions[level]
        whole = slide.read_region(0, 0, width, height, level)  # tifffile decodes the level at once
        top = slide.read_region(0, 0, width, height - 1, level)  # through zarr
        bottom = slide.read_region(0, (height - 1) * downsample, width, 1, level)
    np.testing.assert_array_equal(whole, pyramid_levels[level])
    np.testing.assert_array_equal(np.concatenate([top, bottom]), whole)


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
def test_region_start_is_floor_of_level0_position_over_downsample(
    lossless_svs: Path, pyramid_levels: list[np.ndarray], backend: str
) -> None:
    with open_slide(lossless_svs, backend=backend) as slide:
        region = slide.read_region(163, 99, 20, 10, level=2)  # 163 / 4 -> 40, 99 / 4 -> 24
    np.testing.assert_array_equal(region, pyramid_levels[2][24:34, 40:60])


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
def test_out_of_bounds_is_white(lossless_svs: Path, pyramid_levels: list[np.ndarray], backend: str) -> None:
    with open_slide(lossless_svs, backend=backend) as slide:
        region = slide.read_region(-10, 470, 30, 20, level=0)
    assert (region[:, :10] == 255).all()
    assert (region[10:] == 255).all()
    np.testing.assert_array_equal(region[:10, 10:], pyramid_levels[0][470:480, 0:20])


def test_region_entirely_outside_is_white(lossless_svs: Path) -> None:
    with open_slide(lossless_svs) as slide:
        region = slide.read_region(5000, 5000, 8, 6)
    np.testing.assert_array_equal(region, np.full((6, 8, 3), 255, np.uint8))


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
def test_jpeg_pyramid_reads_close_to_written(tmp_path: Path, write_pyramid, backend: str) -> None:
    levels = [smooth_rgb(256, 384), smooth_rgb(128, 192)]
    path = write_pyramid("jpeg.svs", levels, compression="jpeg")
    with open_slide(path, backend=backend) as slide:
        region = slide.read_region(64, 32, 96, 64, level=1)
    error = np.abs(region.astype(int) - levels[1][16:80, 32:128].astype(int))
    assert error.mean() < 3.0
    assert error.max() < 30


@pytest.mark.parametrize(
    ("args", "message"),
    [((0, 0, -1, 10, 0), "positive"), ((0, 0, 10, 0, 0), "positive"), ((0, 0, 10, 10, 3), "level"),
     ((0, 0, 10, 10, -1), "level"), ((0.5, 0, 10, 10, 0), "integer")],
)
def test_bad_region_arguments_raise_value_error(lossless_svs: Path, args: tuple, message: str) -> None:
    with open_slide(lossless_svs) as slide, pytest.raises(ValueError, match=message) as info:
        slide.read_region(*args)
    assert "lossless.svs" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS_FOR_TIFF)
def test_thumbnail_keeps_aspect_ratio(lossless_svs: Path, pyramid_levels: list[np.ndarray], backend: str) -> None:
    with open_slide(lossless_svs, backend=backend) as slide:
        thumbnail = slide.thumbnail(160)
        small = slide.thumbnail(64)
    assert thumbnail.shape == (120, 160, 3)
    np.testing.assert_array_equal(thumbnail, pyramid_levels[2])  # exactly level 2
    assert small.shape == (48, 64, 3)


def test_thumbnail_never_upscales(lossless_svs: Path, pyramid_levels: list[np.ndarray]) -> None:
    with open_slide(lossless_svs) as slide:
        thumbnail = slide.thumbnail(5000)
    np.testing.assert_array_equal(thumbnail, pyramid_levels[0])  # level 0 as it is


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, :, 3] = 255
    rgba[1, :, 3] = 0
    rgba[2, :, 3] = 51  # 20 % opaque
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    with open_slide(path) as slide:
        assert slide.backend == "pil"
        region = slide.read_region(0, 0, 5, 4)
    assert tuple(region[0, 0]) == (200, 0, 0)
    assert tuple(region[1, 0]) == (255, 255, 255)
    assert tuple(region[2, 0]) == (244, 204, 204)  # 0.2 * colour + 0.8 * 255


def test_rgba_tiff_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 1] = 100
    rgba[:3, :, 3] = 255
    path = write_tiff_image(tmp_path / "alpha.tif", rgba)
    with open_slide(path) as slide:
        region = slide.read_region(0, 0, 6, 6)
    assert tuple(region[0, 0]) == (0, 100, 0)
    assert (region[3:] == 255).all()


def test_greyscale_tiff_becomes_rgb(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = write_tiff_image(tmp_path / "grey.tif", grey)
    with open_slide(path) as slide:
        region = slide.read_region(0, 0, 4, 3)
    np.testing.assert_array_equal(region, np.repeat(grey[..., None], 3, axis=2))


def test_generic_tiff_pyramid_in_subifds_is_read_with_all_levels(tmp_path: Path) -> None:
    base = smooth_rgb(256, 256)
    path = tmp_path / "subifds.tif"
    with tifffile.TiffWriter(path) as writer:
        options = {"tile": (128, 128), "photometric": "rgb", "metadata": None}
        writer.write(base, subifds=1, **options)
        writer.write(base[::2, ::2], subfiletype=1, **options)
    with open_slide(path) as slide:
        assert slide.level_dimensions == [(256, 256), (128, 128)]
        np.testing.assert_array_equal(slide.read_region(0, 0, 8, 8, level=1), base[::2, ::2][:8, :8])


def test_describe_slide_lists_levels_and_mpp(lossless_svs: Path) -> None:
    with open_slide(lossless_svs) as slide:
        info = describe_slide(slide)
    assert info["path"] == str(lossless_svs)
    assert info["vendor"] == "aperio"
    assert info["dimensions"] == [640, 480]
    assert [level["downsample"] for level in info["levels"]] == [1.0, 2.0, 4.0]
    assert info["levels"][1]["dimensions"] == [320, 240]
    assert info["mpp"] == [0.5, 0.5]
    assert info["objective_power"] == 20.0
    assert info["magnification_estimate"] == 20.0


def test_close_via_context_manager_releases_file(lossless_svs: Path) -> None:
    with open_slide(lossless_svs, backend="tifffile") as slide:
        slide.read_region(0, 0, 4, 4)
    assert slide._tiff.filehandle.closed  # noqa: SLF001 - the handle is the thing under test


def test_importing_the_package_does_not_import_tiatoolbox() -> None:
    code = "import sys, wsinuc.slide; print('tiatoolbox' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_tiatoolbox_backend_reads_same_pixels(lossless_svs: Path, pyramid_levels: list[np.ndarray]) -> None:
    with open_slide(lossless_svs, backend="tiatoolbox") as slide:
        assert slide.level_dimensions == [(640, 480), (320, 240), (160, 120)]
        assert slide.mpp == (0.5, 0.5)
        region = slide.read_region(80, 48, 30, 20, level=1)
        outside = slide.read_region(-8, 0, 4, 4)
    np.testing.assert_array_equal(region, pyramid_levels[1][24:44, 40:70])
    assert (outside == 255).all()


@pytest.mark.data
def test_real_aperio_slide(sample_svs: Path) -> None:
    with open_slide(sample_svs) as slide:
        assert slide.backend == "openslide"
        assert slide.vendor == "aperio"
        assert slide.dimensions == (2220, 2967)
        assert slide.level_count == 1
        assert slide.mpp == pytest.approx((0.499, 0.499))
        assert slide.objective_power == 20.0
        region = slide.read_region(1000, 1000, 64, 48)
    assert region.shape == (48, 64, 3)
    assert region.std() > 5  # tissue, not blank


@pytest.mark.data
@pytest.mark.parametrize("split", ["train", "test"])
def test_monuseg_tile_opens_without_mpp(monuseg_root: Path, split: str) -> None:
    path = sorted((monuseg_root / split / "images").glob("*.tif"))[0]
    with open_slide(path) as slide:
        assert slide.dimensions == (1000, 1000)
        assert slide.level_count == 1
        assert slide.mpp is None  # no resolution (train) or a 72 dpi placeholder (test)
        assert slide.read_region(0, 0, 1000, 1000).shape == (1000, 1000, 3)


@pytest.mark.data
def test_openslide_fast_read_equals_float_compositing(sample_svs: Path) -> None:
    """The opaque fast path returns what compositing every pixel on white returned, edges included."""
    import openslide

    with open_slide(sample_svs) as slide, openslide.OpenSlide(str(sample_svs)) as handle:
        for x, y, w, h in ((1000, 1000, 300, 200), (2100, 2900, 200, 100), (-50, -20, 100, 60)):
            fast = slide.read_region(x, y, w, h)
            rgba = np.asarray(handle.read_region((x, y), 0, (w, h))).astype(np.float32)
            alpha = rgba[..., 3:] / 255.0
            reference = np.clip(np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)), 0, 255).astype(np.uint8)
            np.testing.assert_array_equal(fast, reference)
            assert fast.flags.writeable and fast.flags.c_contiguous
