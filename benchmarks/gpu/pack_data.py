"""Pack the training data small enough to travel to a lent GPU machine.

The device tool sends the repository plus at most 64 MiB of carried,
git-ignored paths per call, and ``../shared/data`` does not travel. MoNuSeg's
training TIFFs alone are 67 MB (LZW), so ``pack`` re-writes them as lossless
WebP (about 1.1-1.4 MB each; deflate TIFFs would be 1.5-2 MB), stores every
label map as a uint16 PNG (the 13 XML-annotated training images rasterise to
exactly their published PNGs, so nothing changes) and copies TNBC as it is.
Every packed image is decoded again and compared with the original. On the
device, ``unpack`` turns the WebP files back into the ``<id>.tif`` files
that :mod:`wsinuc.datasets` reads.

    python benchmarks/gpu/pack_data.py pack --out .devdata        # here: train + TNBC, ~38 MiB
    python benchmarks/gpu/pack_data.py unpack --out .devdata      # there, before training

Then carry ``.devdata`` in the device tool's ``run`` call and train with
``--data .devdata``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("pack", "unpack"), help="pack here, unpack on the device")
    parser.add_argument("--data", type=Path, default=None, help="folder with monuseg/ and tnbc/")
    parser.add_argument("--out", type=Path, default=Path(".devdata"), help="packed copy (git-ignored)")
    parser.add_argument("--splits", default="train", help="comma list of MoNuSeg splits (train, test)")
    parser.add_argument("--no-tnbc", action="store_true", help="leave TNBC out")
    return parser.parse_args(argv)


def pack_split(source: Path, target: Path, split: str) -> None:
    """Write ``target/<split>/{images/*.webp, instance_masks/*.png}``, checked against the originals."""
    (target / split / "images").mkdir(parents=True, exist_ok=True)
    (target / split / "instance_masks").mkdir(parents=True, exist_ok=True)
    for image_id in list_monuseg_ids(source, split):
        sample = load_monuseg_image(source, split, image_id)
        if sample.instances.max() > np.iinfo(np.uint16).max:
            raise ValueError(f"{image_id}: more than 65535 nuclei do not fit a uint16 PNG")
        webp = target / split / "images" / f"{image_id}.webp"
        Image.fromarray(sample.image).save(webp, lossless=True, quality=100, method=6)
        mask = target / split / "instance_masks" / f"{image_id}.png"
        Image.fromarray(sample.instances.astype(np.uint16)).save(mask)
        same_image = np.array_equal(np.asarray(Image.open(webp).convert("RGB")), sample.image)
        same_mask = np.array_equal(np.asarray(Image.open(mask)).astype(np.int32), sample.instances)
        if not (same_image and same_mask):
            raise RuntimeError(f"{image_id}: packed copy differs from the original")


def unpack(target: Path) -> int:
    """Write ``<id>.tif`` beside every packed ``<id>.webp``; returns the number of images."""
    webps = sorted(target.glob("monuseg/*/images/*.webp"))
    for webp in webps:
        tifffile.imwrite(webp.with_suffix(".tif"), np.asarray(Image.open(webp).convert("RGB")))
    return len(webps)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> None:
    """Pack the chosen splits (and TNBC) and print the size, or unpack on the device."""
    args = parse_args(argv)
    if args.action == "unpack":
        print(f"{args.out}: {unpack(args.out)} images unpacked")
        return
    data = args.data or default_data_root()
    monuseg = args.out / "monuseg"
    for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
        pack_split(data / "monuseg", monuseg, split)
    counts = data / "monuseg" / "counts.csv"
    if counts.is_file():
        shutil.copy2(counts, monuseg / counts.name)
    if not args.no_tnbc:
        shutil.copytree(data / "tnbc", args.out / "tnbc", dirs_exist_ok=True)
    print(f"{args.out}: {folder_bytes(args.out) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
