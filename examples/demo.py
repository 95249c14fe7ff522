"""``make demo``: segment a region of the sample slide (or of a synthetic slide).

Uses the real Aperio sample slide from the shared data folder
(``$WSINUC_DATA``, default ``../shared/data``) when it is there, otherwise
writes a small synthetic H&E slide, then runs the ``wsinuc segment``
command exactly as a user would and says where the outputs are.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

OUT = Path("demo-output")
SAMPLE = Path(os.environ.get("WSINUC_DATA", "../shared/data")) / "slides" / "CMU-1-Small-Region.svs"


def pick_slide() -> tuple[Path, list[str]]:
    """The slide to segment and the region options for it."""
    if SAMPLE.is_file():
        return SAMPLE, ["--region", "1024,1536,1024,1024", "--chunk-size", "512"]
    from wsinuc.slide import write_synthetic_slide

    OUT.mkdir(exist_ok=True)
    synthetic = write_synthetic_slide(OUT / "synthetic.svs", 2048, 2048, mpp=0.25, seed=1)
    return synthetic, ["--chunk-size", "512"]


def main() -> int:
    slide, options = pick_slide()
    command = [sys.executable, "-m", "wsinuc", "segment", str(slide), "--out", str(OUT),
               "--overwrite", *options]
    print("$ wsinuc " + " ".join(command[3:]), flush=True)
    completed = subprocess.run(command)
    if completed.returncode:
        return completed.returncode
    folder = OUT / slide.stem
    print(f"\nOutputs in {folder}/:")
    for path in sorted(folder.iterdir()):
        print(f"  {path.name}")
    print(
        "\nTo view in QuPath: open the slide ("
        f"{slide}), then File > Import objects from file... > {folder / 'nuclei.geojson'}"
        f"\nQuick look: {folder / 'overlay.jpg'}; per-nucleus measurements: {folder / 'nuclei.parquet'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
