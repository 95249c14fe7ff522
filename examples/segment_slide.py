"""Segment a slide from Python and read the outputs back.

Usage::

    python examples/segment_slide.py SLIDE [OUT]

The same as ``wsinuc segment SLIDE --out OUT``; shows the config objects and
how to open each output (GeoJSON for QuPath, the table, the label image).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import zarr

from wsinuc.config import InferenceConfig, SegmentConfig, TilingConfig
from wsinuc.engine import segment_slide


def main(argv: list[str]) -> int:
    slide = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else Path("results")
    config = SegmentConfig(
        tiling=TilingConfig(chunk_size=1024, halo=128),
        inference=InferenceConfig(model="auto", device="auto"),
    )
    record = segment_slide(slide, out, config)
    folder = out / slide.stem
    table = pq.read_table(folder / "nuclei.parquet").to_pydict()
    labels = zarr.open_group(folder / "labels.ome.zarr", mode="r")["0"]
    features = json.loads((folder / "nuclei.geojson").read_text())["features"]
    print(f"{record['counts']['nuclei']} nuclei; label image {labels.shape}; {len(features)} polygons")
    areas = table["area_um2"]
    if areas:
        print(f"median nucleus area {sorted(areas)[len(areas) // 2]:.1f} um^2")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
