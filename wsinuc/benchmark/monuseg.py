"""MoNuSeg evaluation as a special case of the whole-slide engine.

Each 1000 x 1000 MoNuSeg tile is treated as a small slide. Two protocols:

``engine``
    The tile goes through :func:`wsinuc.engine.segment_slide` exactly as a
    slide would (chunks with a halo, ownership, OME-Zarr labels), with
    ``--mpp 0.25`` since the TIFFs carry a 72 dpi placeholder.
``paper``
    The paper's set-up: pad to 1024, predict 16 non-overlapping 256 x 256
    tiles (no halo), stitch the probabilities, post-process the whole tile.

Scores are computed against the XML ground truth with :mod:`wsinuc.metrics`
and summarised as the mean over images (MoNuSeg ranks by mean per-image AJI).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsinuc.config import (
    POSTPROCESS_METHODS,
    InferenceConfig,
    OutputConfig,
    RunConfig,
    SegmentConfig,
    TilingConfig,
    validate_backend,
    validate_precision,
)
from wsinuc.datasets import list_monuseg_ids, load_monuseg_image, patient_split
from wsinuc.errors import OptionError
from wsinuc.inference.model_cache import load_card, runtime_predictor
from wsinuc.inference.runtime import resolve_runtime
from wsinuc.instances import InstanceRule
from wsinuc.metrics import aji_ceilings, evaluate_instances, mean_metrics
from wsinuc.training.patches import cut_patches, pad_to_multiple, reassemble_patches

MONUSEG_MPP = 0.25
PROTOCOLS = ("engine", "paper")
SPLITS = ("train", "val", "test")
#: Test-set AJI / object F1 of Table I of the paper, by our model names.
PAPER_TABLE = {
    "attention_unet": {"aji": 0.67, "f1": 0.74},
    "vgg16_unet": {"aji": 0.68, "f1": 0.76},
    "unet": {"aji": 0.70, "f1": 0.79},
    "cascade": {"aji": 0.72, "f1": 0.83},
}


@dataclass(frozen=True)
class MonusegConfig:
    """How to run the benchmark.

    Attributes
    ----------
    split : str
        ``test`` (14 images), ``train`` (the 80 % training part) or ``val``
        (the 20 % validation part of the patient split, seed 0).
    protocol : str
        ``engine`` or ``paper`` (see the module docstring).
    device : str
        ``auto``, ``cpu`` or ``cuda[:N]``.
    postprocess : str
        ``auto`` (the model card's choice, as ``segment`` does), ``opening``
        (the paper), ``watershed`` or ``seeded`` (interior/boundary models).
    precision : str
        ``auto``, ``fp32`` or ``bf16`` (:mod:`wsinuc.inference.runtime`).
    backend : str
        ``auto``, ``torch`` or ``openvino`` (:mod:`wsinuc.inference.runtime`).
    chunk_size, halo : int
        Chunk grid of the ``engine`` protocol, in pixels.
    limit : int or None
        Evaluate only the first ``limit`` images (smoke runs).
    tta : bool
        Test-time augmentation: mean probability of the 8 flips / rotations.
    """

    split: str = "test"
    protocol: str = "engine"
    device: str = "auto"
    postprocess: str = "auto"
    precision: str = "auto"
    chunk_size: int = 512
    halo: int = 128
    limit: int | None = None
    tta: bool = False
    backend: str = "auto"

    def __post_init__(self) -> None:
        validate_backend(self.backend)
        if self.split not in SPLITS:
            raise OptionError("--split", f"must be one of {SPLITS}, got {self.split!r}")
        if self.protocol not in PROTOCOLS:
            raise OptionError("--protocol", f"must be one of {PROTOCOLS}, got {self.protocol!r}")
        validate_precision(self.precision)
        if self.postprocess not in POSTPROCESS_METHODS:
            raise OptionError("--postprocess", f"must be one of {POSTPROCESS_METHODS}, got {self.postprocess!r}")
        if self.limit is not None and self.limit < 1:
            raise OptionError("--limit", f"must be >= 1, got {self.limit}")


def split_ids(root: Path, split: str) -> list[str]:
    """Image ids of ``split``; ``train``/``val`` follow the training split (seed 0)."""
    if split == "test":
        return list_monuseg_ids(root, "test")
    train_ids, val_ids = patient_split(list_monuseg_ids(root, "train"), val_fraction=0.2, seed=0)
    return list(train_ids if split == "train" else val_ids)


def split_folder(split: str) -> str:
    """The MoNuSeg folder holding ``split``'s images: ``test``, or ``train`` for both train and val."""
    return "test" if split == "test" else "train"


def tile_segment_config(inference: InferenceConfig, chunk_size: int = 512, halo: int = 128) -> SegmentConfig:
    """How the ``engine`` protocol segments one tile: every chunk (no tissue mask), labels only, no progress bar."""
    return SegmentConfig(tiling=TilingConfig(chunk_size=chunk_size, halo=halo, tissue=False), inference=inference,
                         output=OutputConfig(outputs=("zarr",)), run=RunConfig(progress=False))


def evaluate_model(
    root: Path, model: str, config: MonusegConfig, on_image: Callable[[dict], None] | None = None
) -> list[dict]:
    """Score ``model`` on every image of the split; one row of metrics per image.

    1. Load the image and its ground truth (XML when present, else PNG).
    2. Predict instance labels with the chosen protocol.
    3. Score with :func:`wsinuc.metrics.evaluate_instances`, and add the two
       AJI ceilings of :func:`wsinuc.metrics.aji_ceilings` (what a perfect
       parting of the predicted mask, or a perfect mask under the predicted
       nuclei, would reach).
    """
    folder = split_folder(config.split)
    ids = split_ids(root, config.split)[: config.limit]
    rows = []
    for image_id in ids:
        sample = load_monuseg_image(root, folder, image_id)
        path = root / folder / "images" / f"{image_id}.tif"
        labels = predict_labels(path, sample.image, model, config)
        row = {"model": model, "image_id": image_id, "organ": sample.organ or "",
               "n_gt": int(len(np.unique(sample.instances)) - 1), "n_pred": int(len(np.unique(labels)) - 1)}
        scored = labels.astype(np.int64)
        row |= evaluate_instances(sample.instances, scored) | aji_ceilings(sample.instances, scored)
        rows.append(row)
        if on_image is not None:
            on_image(row | {"labels": labels, "sample": sample})
    return rows


def predict_labels(path: Path, image: np.ndarray, model: str, config: MonusegConfig) -> np.ndarray:
    """Instance labels of one MoNuSeg tile under ``config.protocol``."""
    if config.protocol == "paper":
        return _paper_protocol(image, model, config)
    return _engine_protocol(path, model, config)


def _paper_protocol(image: np.ndarray, model: str, config: MonusegConfig) -> np.ndarray:
    """The paper's protocol: 16 non-overlapping 256 x 256 patches of the padded tile, reassembled."""
    runtime = resolve_runtime(config.device, config.backend, config.precision, model)
    predictor = runtime_predictor(model, runtime, 16, config.tta)
    padded = pad_to_multiple(image, 1024, mode="reflect")
    maps = predictor.predict(cut_patches(padded, 256))
    prob = reassemble_patches(maps, padded.shape[:2])[: image.shape[0], : image.shape[1]]
    return InstanceRule.from_card(load_card(model), config.postprocess)(prob, model)


def _engine_protocol(path: Path, model: str, config: MonusegConfig) -> np.ndarray:
    import zarr

    from wsinuc.engine import segment_slide

    segment = tile_segment_config(
        InferenceConfig(model=model, device=config.device, mpp=MONUSEG_MPP, precision=config.precision,
                        postprocess=config.postprocess, tta=config.tta, backend=config.backend),
        config.chunk_size, config.halo)
    with tempfile.TemporaryDirectory(prefix="wsinuc-monuseg-") as tmp:
        segment_slide(path, tmp, segment)
        return zarr.open_group(Path(tmp) / path.stem / "labels.ome.zarr", mode="r")["0"][...]


def summarise(rows: list[dict]) -> list[dict]:
    """Mean per-image metrics for each model, with the paper's numbers beside them."""
    summary = []
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        means = mean_metrics([{k: v for k, v in r.items() if k not in ("n_gt", "n_pred")} for r in mine])
        paper = PAPER_TABLE.get(paper_key(model), {})
        summary.append({"model": model, "images": len(mine), **means,
                        "paper_aji": paper.get("aji"), "paper_f1": paper.get("f1")})
    return summary


def paper_key(model: str) -> str:
    """The :data:`PAPER_TABLE` key of a model name or weights path (by its file-name prefix)."""
    name = Path(model).name
    for key in ("attention_unet", "vgg16_unet", "cascade", "unet"):
        if name.startswith(key):
            return key
    return name
