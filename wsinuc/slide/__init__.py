"""Reading whole-slide images: one small interface over OpenSlide, tifffile, PIL and TIAToolbox.

>>> from wsinuc.slide import open_slide, require_mpp
>>> with open_slide("slide.svs") as slide:                  # doctest: +SKIP
...     mpp_x, mpp_y = require_mpp(slide)
...     region = slide.read_region(0, 0, 512, 512, level=0)  # (512, 512, 3) uint8
"""

from wsinuc.slide.base import Slide, SlideMetadata
from wsinuc.slide.mpp import require_mpp
from wsinuc.slide.reader import BACKENDS, describe_slide, open_slide
from wsinuc.slide.synthetic import write_synthetic_slide, write_tiff_image
from wsinuc.slide.tissue import TissueMaskConfig, tissue_mask

__all__ = [
    "BACKENDS",
    "Slide",
    "SlideMetadata",
    "TissueMaskConfig",
    "describe_slide",
    "open_slide",
    "require_mpp",
    "tissue_mask",
    "write_synthetic_slide",
    "write_tiff_image",
]
