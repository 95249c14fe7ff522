"""Draw the border weight maps of the paper's Fig. 1 for one MoNuSeg tile.

Panels: image, binary mask, and w(x) = w_c(x) + w0 exp(-(d1 + d2)^2 / (2 sigma^2))
normalised to [0, 1] for (w0, sigma) = (5, 10), (3, 10) and (10, 5).

Usage::

    python examples/weight_map_figure.py [--data ../shared/data] [--out weight_maps.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image  # noqa: E402
from wsinuc.training.weight_maps import border_weight_map  # noqa: E402

SETTINGS = ((5.0, 10.0), (3.0, 10.0), (10.0, 5.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (has monuseg/)")
    parser.add_argument("--out", type=Path, default=Path("weight_maps.png"))
    parser.add_argument("--crop", type=int, default=256, help="side of the crop shown")
    args = parser.parse_args(argv)
    root = (args.data or default_data_root()) / "monuseg"
    sample = load_monuseg_image(root, "train", list_monuseg_ids(root, "train")[1])
    crop = (slice(0, args.crop), slice(0, args.crop))
    instances = sample.instances[crop]
    panels = [("image", sample.image[crop]), ("binary mask", instances > 0)]
    panels += [(f"w0={w0:g}, sigma={sigma:g}", border_weight_map(instances, w0, sigma)) for w0, sigma in SETTINGS]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4))
    for axis, (title, array) in zip(axes, panels):
        axis.imshow(array, cmap=None if array.ndim == 3 else "jet" if array.dtype.kind == "f" else "gray")
        axis.set_title(title)
        axis.axis("off")
    figure.suptitle(f"Border weight maps, MoNuSeg {sample.image_id}")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
