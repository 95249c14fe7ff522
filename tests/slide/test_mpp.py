"""Pixel size and objective power parsing, placeholders, overrides and require_mpp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from slide_files import random_rgb

from wsinuc.errors import MissingMppError, OptionError
from wsinuc.slide import open_slide, require_mpp, write_tiff_image
from wsinuc.slide.mpp import (
    magnification_from_mpp,
    mpp_from_aperio_description,
    mpp_from_ome_xml,
    mpp_from_openslide_properties,
    mpp_from_tiff_resolution,
    objective_from_aperio_description,
    objective_from_openslide_properties,
    parse_aperio_description,
    validate_mpp_override,
)

APERIO = "Aperio Image Library v11.2.1 \r\n46000x32914 (240x240) JPEG/RGB Q=30|AppMag = 20|MPP = 0.499|Left = 25.7"


def test_aperio_description_fields() -> None:
    fields = parse_aperio_description(APERIO)
    assert fields["AppMag"] == "20"
    assert fields["MPP"] == "0.499"
    assert fields["Left"] == "25.7"


def test_aperio_mpp_and_objective() -> None:
    assert mpp_from_aperio_description(APERIO) == (0.499, 0.499)
    assert objective_from_aperio_description(APERIO) == 20.0


def test_aperio_without_mpp_is_missing() -> None:
    assert mpp_from_aperio_description("Aperio Image Library v10 |AppMag = 40") is None
    assert objective_from_aperio_description("Aperio Image Library v10 |MPP = 0.25") is None


def test_openslide_properties() -> None:
    properties = {"openslide.mpp-x": "0.2522", "openslide.mpp-y": "0.2511", "openslide.objective-power": "40"}
    assert mpp_from_openslide_properties(properties) == (0.2522, 0.2511)
    assert objective_from_openslide_properties(properties) == 40.0


def test_openslide_properties_missing_or_placeholder() -> None:
    assert mpp_from_openslide_properties({}) is None
    assert mpp_from_openslide_properties({"openslide.mpp-x": "0.25"}) is None
    # a generic TIFF at 72 dpi: OpenSlide reports 25400 / 72 = 352.8 um/px
    assert mpp_from_openslide_properties({"openslide.mpp-x": "352.77", "openslide.mpp-y": "352.77"}) is None
    assert objective_from_openslide_properties({"aperio.AppMag": "20"}) == 20.0
    assert objective_from_openslide_properties({}) is None


@pytest.mark.parametrize(
    ("x_resolution", "unit", "expected"),
    [
        ((40000, 1), 3, 0.25),          # 40000 px/cm -> 0.25 um/px
        ((101600, 1), 2, 0.25),         # 101600 px/inch -> 0.25 um/px
        (20000.0, 3, 0.5),
        ((101600, 1), None, 0.25),      # TIFF default unit is inch
    ],
)
def test_tiff_resolution_to_mpp(x_resolution: object, unit: int | None, expected: float) -> None:
    assert mpp_from_tiff_resolution(x_resolution, x_resolution, unit) == pytest.approx((expected, expected))


@pytest.mark.parametrize(
    ("x_resolution", "unit"),
    [((72, 1), 2), ((96, 1), 2), ((300, 1), 2), ((600, 1), 2), ((72, 1), 1), ((40000, 1), 1), ((1, 1), 1),
     ((28, 1), 3), (None, 2), ((0, 1), 2), ((40000, 1), 7)],
)
def test_placeholder_or_unusable_resolution_is_missing(x_resolution: object, unit: int) -> None:
    assert mpp_from_tiff_resolution(x_resolution, x_resolution, unit) is None


def test_ome_physical_size_with_units() -> None:
    xml = (
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">'
        '<Pixels ID="Pixels:0" PhysicalSizeX="250" PhysicalSizeXUnit="nm" PhysicalSizeY="0.26"/>'
        "</Image></OME>"
    )
    assert mpp_from_ome_xml(xml) == pytest.approx((0.25, 0.26))  # Y has no unit: um


def test_ome_without_sizes_or_broken_is_missing() -> None:
    assert mpp_from_ome_xml('<OME><Image><Pixels SizeX="3"/></Image></OME>') is None
    assert mpp_from_ome_xml("<OME><Image>") is None


def test_ome_tiff_file_mpp(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.tif"
    metadata = {"axes": "YXS", "PhysicalSizeX": 0.5, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.5}
    tifffile.imwrite(path, random_rgb(32, 48), ome=True, photometric="rgb", metadata=metadata)
    with open_slide(path) as slide:
        assert slide.vendor == "ome"
        assert slide.mpp == pytest.approx((0.5, 0.5))


def test_tiff_with_real_resolution_has_mpp(tmp_path: Path) -> None:
    path = tmp_path / "scanned.tif"
    tifffile.imwrite(path, random_rgb(16, 16), photometric="rgb", resolution=(40000, 40000), resolutionunit="CENTIMETER")
    with open_slide(path) as slide:
        assert slide.mpp == pytest.approx((0.25, 0.25))


@pytest.mark.parametrize("dpi", [72, 96, None])
def test_placeholder_tiff_has_no_mpp_and_require_mpp_fails(tmp_path: Path, dpi: int | None) -> None:
    path = write_tiff_image(tmp_path / "tile.tif", random_rgb(20, 20), resolution_dpi=dpi)
    with open_slide(path) as slide:
        assert slide.mpp is None
        with pytest.raises(MissingMppError, match="--mpp") as info:
            require_mpp(slide)
    assert "tile.tif" in str(info.value)
    assert "\n" not in str(info.value)


def test_mpp_override_replaces_missing_mpp(tmp_path: Path) -> None:
    path = write_tiff_image(tmp_path / "tile.tif", random_rgb(20, 20), resolution_dpi=72)
    with open_slide(path, mpp=0.25) as slide:
        assert require_mpp(slide) == (0.25, 0.25)


def test_mpp_override_replaces_slide_mpp(lossless_svs: Path) -> None:
    with open_slide(lossless_svs, mpp=(0.24, 0.26)) as slide:
        assert slide.mpp == (0.24, 0.26)
        assert slide.objective_power == 20.0


@pytest.mark.parametrize("bad", [0, -0.5, 100, 250.0, float("nan"), (0.25,), (0.25, 0), "abc"])
def test_invalid_mpp_override_is_an_option_error(bad: object) -> None:
    with pytest.raises(OptionError, match="mpp"):
        validate_mpp_override(bad)


def test_valid_mpp_override_forms() -> None:
    assert validate_mpp_override(None) is None
    assert validate_mpp_override(0.5) == (0.5, 0.5)
    assert validate_mpp_override((0.24, 0.26)) == (0.24, 0.26)
    assert validate_mpp_override(np.float32(0.5)) == (0.5, 0.5)


def test_magnification_estimate_from_mpp() -> None:
    assert magnification_from_mpp((0.25, 0.25)) == 40.0
    assert magnification_from_mpp((0.5, 0.5)) == 20.0
    assert magnification_from_mpp(None) is None
