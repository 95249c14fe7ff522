"""write_synthetic_slide: an Aperio-style pyramid OpenSlide reads, with nuclei where tissue is."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import openslide
import pytest
from scipy import ndimage

from wsinuc.slide import open_slide, write_synthetic_slide
from wsinuc.slide.synthetic_scene import (
    NUCLEUS_RADIUS_UM,
    make_scene,
    nuclei_near,
    render_region,
    tissue_at,
)


@pytest.fixture(scope="module")
def synthetic_zlib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.svs"
    return write_synthetic_slide(path, 1024, 768, mpp=0.5, tile=128, seed=3, compression="zlib")


def test_openslide_reads_it_as_aperio_with_mpp_and_levels(tmp_path: Path) -> None:
    path = write_synthetic_slide(tmp_path / "slide.svs", 1024, 768)
    handle = openslide.OpenSlide(str(path))
    try:
        assert handle.properties["openslide.vendor"] == "aperio"
        assert float(handle.properties["openslide.mpp-x"]) == 0.25
        assert float(handle.properties["openslide.objective-power"]) == 40.0
        assert handle.level_dimensions == ((1024, 768), (256, 192), (64, 48))
        assert "thumbnail" in handle.associated_images
    finally:
        handle.close()


def test_open_slide_reports_the_written_metadata(synthetic_zlib: Path) -> None:
    with open_slide(synthetic_zlib) as slide:
        assert slide.backend == "openslide"
        assert slide.mpp == (0.5, 0.5)
        assert slide.objective_power == 20.0  # 10 / mpp
        assert slide.level_downsamples == pytest.approx([1.0, 4.0, 16.0])


@pytest.mark.parametrize("backend", ["openslide", "tifffile"])
@pytest.mark.parametrize(("x", "y", "level"), [(0, 0, 0), (200, 130, 0), (900, 700, 0), (300, 200, 1), (0, 0, 2)])
def test_lossless_slide_stores_the_rendered_scene(
    synthetic_zlib: Path, backend: str, x: int, y: int, level: int
) -> None:
    scene = make_scene(1024, 768, 0.5, 3)
    downsample = 4**level
    level_w, level_h = 1024 // downsample, 768 // downsample
    with open_slide(synthetic_zlib, backend=backend) as slide:
        region = slide.read_region(x, y, 160, 90, level)
    expected = render_region(scene, x // downsample * downsample, y // downsample * downsample, 160, 90, downsample)
    inside_w, inside_h = level_w - x // downsample, level_h - y // downsample
    np.testing.assert_array_equal(region[:inside_h, :inside_w], expected[:inside_h, :inside_w])
    assert (region[inside_h:] == 255).all() and (region[:, inside_w:] == 255).all()


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path: Path) -> None:
    paths = [write_synthetic_slide(tmp_path / f"{i}.tif", 256, 256, seed=s, levels=1, compression="zlib")
             for i, s in enumerate([7, 7, 8])]
    pixels = []
    for path in paths:
        with open_slide(path) as slide:
            pixels.append(slide.read_region(0, 0, 256, 256))
    np.testing.assert_array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[0], pixels[2])


def test_tissue_is_pink_glass_is_white_and_nuclei_are_dark(synthetic_zlib: Path) -> None:
    scene = make_scene(1024, 768, 0.5, 3)
    with open_slide(synthetic_zlib) as slide:
        image = slide.read_region(0, 0, 1024, 768).astype(int)
    xs, ys = np.meshgrid(np.arange(1024) + 0.5, np.arange(768) + 0.5)
    tissue = tissue_at(scene, xs, ys)
    dark = image.sum(axis=2) < 3 * 150
    glass = ~tissue & ~dark
    assert image[glass].min() >= 230  # white glass
    stroma = tissue & ~dark
    assert (image[stroma][:, 0] - image[stroma][:, 1]).mean() > 40  # pink: red well above green
    assert dark[tissue].mean() > 0.1  # nuclei cover part of the tissue
    assert dark[~tissue].mean() < 0.01  # and (almost) none of the glass


def test_nuclei_have_the_requested_physical_size() -> None:
    mpp = 0.5
    scene = make_scene(2000, 2000, mpp, 1)
    nuclei = nuclei_near(scene, 0, 0, 2000, 2000)
    radii_um = nuclei[:, 2] * mpp
    assert len(nuclei) > 100
    assert radii_um.min() >= NUCLEUS_RADIUS_UM[0] and radii_um.max() <= NUCLEUS_RADIUS_UM[1]
    assert tissue_at(scene, nuclei[:, 0], nuclei[:, 1]).all()


def test_an_isolated_nucleus_is_a_filled_ellipse_of_its_area() -> None:
    scene = make_scene(2000, 2000, 0.25, 0)
    nuclei = nuclei_near(scene, 0, 0, 2000, 2000)
    centres = nuclei[:, :2]
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(len(centres)) * 1e9
    cx, cy, rx, ry = nuclei[np.argmax(gaps.min(axis=1) - 2 * nuclei[:, 2])][:4]
    size = int(2 * rx + 10)
    patch = render_region(scene, round(cx) - size // 2, round(cy) - size // 2, size, size, 1.0)
    labels, _ = ndimage.label(patch.astype(int).sum(axis=2) < 3 * 150)
    area = (labels == labels[size // 2, size // 2]).sum()
    assert area == pytest.approx(np.pi * rx * ry, rel=0.1)


def _peak_memory_writing(path: Path, width: int, height: int) -> int:
    tracemalloc.start()
    try:
        write_synthetic_slide(path, width, height, tile=256, levels=2)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_streams_tiles_so_memory_does_not_grow_with_size(tmp_path: Path) -> None:
    small = _peak_memory_writing(tmp_path / "small.svs", 512, 256)
    large = _peak_memory_writing(tmp_path / "large.svs", 1536, 768)  # 9x the pixels
    assert large < 1.25 * small


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"width": 0}, "width"), ({"tile": 100}, "multiple of 16"), ({"mpp": 0}, "mpp"),
     ({"levels": 9}, "levels"), ({"compression": "webp"}, "compression")],
)
def test_invalid_arguments_raise_value_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"width": 256, "height": 256} | kwargs
    with pytest.raises(ValueError, match=message):
        write_synthetic_slide(tmp_path / "x.svs", arguments.pop("width"), arguments.pop("height"), **arguments)
