"""Real nucleus probability maps of the 14 MoNuSeg test images, computed once and cached.

The engine-overhead benchmark replays these maps through the non-model
stages, so that the model costs nothing there. Each image is stored as
``<work>/probabilities/<model>/<image id>.npz`` with ``prob`` (float32,
H x W) and ``image`` (uint8 RGB, H x W x 3). A map is computed with the
engine's own predictor on the whole image (one forward pass, reflect-padded
to the model stride), which is what ``wsinuc segment --mpp 0.25`` does for a
1000 x 1000 tile.

Example::

    python benchmarks/stored_probabilities.py --model cascade-lite
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from wsinuc.datasets import paths
from wsinuc.datasets.image_io import read_rgb
from wsinuc.datasets.monuseg import list_monuseg_ids

DEFAULT_WORK = Path(os.environ.get("WSINUC_BENCH_WORK", Path.home() / ".cache" / "wsinuc-bench"))


def probability_dir(model: str, work: Path = DEFAULT_WORK) -> Path:
    """Folder of the cached maps of ``model`` (a bundled name or a weights stem)."""
    return Path(work) / "probabilities" / Path(model).name


def stored_probabilities(
    model: str = "cascade-lite", *, data_root: Path | None = None, work: Path = DEFAULT_WORK,
    split: str = "test", device: str = "cpu",
) -> list[Path]:
    """Paths of the cached ``.npz`` maps of every image of ``split``, computing the missing ones."""
    root = Path(data_root or paths.default_data_root()) / "monuseg"
    folder = probability_dir(model, work)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for image_id in list_monuseg_ids(root, split):
        path = folder / f"{image_id}.npz"
        if not path.is_file():
            _compute(root, split, image_id, model, device, path)
        files.append(path)
    return files


def load_stored(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(prob, image)`` of one cached file."""
    with np.load(path, allow_pickle=False) as data:
        return data["prob"], data["image"]


def _compute(root: Path, split: str, image_id: str, model: str, device: str, path: Path) -> None:
    from wsinuc.inference.model_cache import cached_predictor

    image = read_rgb(_image_path(root, split, image_id))
    prob = cached_predictor(model, device, 1).predict_image(image)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, prob=prob.astype(np.float32), image=image)
    os.replace(partial, path)


def _image_path(root: Path, split: str, image_id: str) -> Path:
    matches = sorted((root / split / "images").glob(f"{image_id}.*"))
    if not matches:
        raise FileNotFoundError(f"{root / split / 'images'}: no image named {image_id}")
    return matches[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cascade-lite")
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $WSINUC_DATA)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    for path in stored_probabilities(args.model, data_root=args.data, work=args.work, device=args.device):
        print(path)


if __name__ == "__main__":
    main()
