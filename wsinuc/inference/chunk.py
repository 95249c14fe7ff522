"""One chunk of a slide: read → infer → instances → ownership → polygons.

A chunk task is what Dask runs. It gets a small picklable description of
the chunk (a :class:`~wsinuc.tiling.Tile` in level-0 pixels) and the shared
:class:`ChunkContext`; the model and the slide handle are opened once per
worker process and cached, never shipped through the task graph. The
result is written to ``<work>/chunks/<row>_<col>.npz`` (atomically: a
finished chunk file is the resume marker) and a small summary is returned.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from wsinuc.errors import OptionError, WsinucError
from wsinuc.inference.model_cache import cached_predictor
from wsinuc.instances import label_polygons, measure_nuclei, probability_to_instances, watershed_instances
from wsinuc.stitching import own_objects
from wsinuc.tiling import Tile

_LOCAL = threading.local()


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one run shares.

    Attributes
    ----------
    slide_path : str
        The slide file.
    mpp_override : float or None
        ``--mpp`` given by the user, if any.
    level0_mpp : float
        Pixel size of level 0 (um/px), for measurements.
    scale : float
        Working pixels per level-0 pixel (``level0_mpp / target_mpp``).
    model, device : str
        Model name / weights path and device name (resolved in each worker).
    batch_size : int
        Forward-pass batch size.
    precision : str
        ``auto``, ``fp32`` or ``bf16`` (:mod:`wsinuc.models.precision`).
    postprocess : str
        ``opening`` or ``watershed``.
    threshold : float
        Probability threshold.
    work_dir : str
        Folder of the per-chunk result files.
    """

    slide_path: str
    mpp_override: float | None
    level0_mpp: float
    scale: float
    model: str
    device: str
    batch_size: int
    precision: str
    postprocess: str
    threshold: float
    work_dir: str


def chunk_file(work_dir: str | Path, tile: Tile) -> Path:
    """Result file of ``tile`` (exists only once the chunk is finished)."""
    row, col = tile.index
    return Path(work_dir) / "chunks" / f"{row:05d}_{col:05d}.npz"


def run_chunk(context: ChunkContext, tile: Tile) -> dict:
    """Segment one chunk and write its result file.

    1. Read the tile's valid box at level 0 (white outside the slide).
    2. Predict nucleus probability at the working resolution.
    3. Turn probabilities into instances at level 0.
    4. Keep the objects this chunk owns (anchor in its core).
    5. Trace polygons and measure the owned nuclei.
    6. Write the chunk file atomically: keys, the owned objects' labels on
       the valid box (for the label image), polygons, measurements.

    Returns
    -------
    dict
        ``index``, ``count`` and per-stage ``seconds``.
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    block = _read_valid_block(context, tile)
    seconds["read"], clock = _lap(clock)
    prob = _predict(context, block)
    seconds["inference"], clock = _lap(clock)
    labels, too_large = drop_larger_than(_instances(context, prob), tile.halo)
    owned = _own(labels, tile)
    seconds["postprocess"], clock = _lap(clock)
    offset = (tile.valid_box.x0, tile.valid_box.y0)
    polygons = label_polygons(owned.labels, offset=offset)
    seconds["polygons"], clock = _lap(clock)
    table = measure_nuclei(owned.labels, block, mpp=context.level0_mpp, offset=offset)
    seconds["measure"], clock = _lap(clock)
    _write_chunk(chunk_file(context.work_dir, tile), owned, polygons, table)
    seconds["write"], _ = _lap(clock)
    core_height, core_width = tile.core_box.shape
    return {"index": tile.index, "count": len(owned), "too_large": too_large, "seconds": seconds,
            "megapixels": core_height * core_width / 1e6}


def _lap(start: float) -> tuple[float, float]:
    now = time.perf_counter()
    return now - start, now


def _slide(context: ChunkContext):
    """The slide handle of this thread (opened once per worker thread)."""
    from wsinuc.slide import open_slide

    cache = getattr(_LOCAL, "slides", None)
    if cache is None:
        cache = _LOCAL.slides = {}
    key = (context.slide_path, context.mpp_override)
    if key not in cache:
        cache[key] = open_slide(context.slide_path, mpp=context.mpp_override)
    return cache[key]


def _read_valid_block(context: ChunkContext, tile: Tile) -> np.ndarray:
    box = tile.valid_box
    height, width = box.shape
    return _slide(context).read_region(box.x0, box.y0, width, height, 0)


def _predict(context: ChunkContext, block: np.ndarray) -> np.ndarray:
    predictor = cached_predictor(context.model, context.device, context.batch_size, context.precision)
    if abs(context.scale - 1.0) < 1e-3:
        return _finite(predictor.predict_image(block), context)
    height, width = block.shape[:2]
    size = (max(2, round(height * context.scale)), max(2, round(width * context.scale)))
    working = resize(block, size, order=1, preserve_range=True, anti_aliasing=context.scale < 1)
    prob = _finite(predictor.predict_image(working.round().astype(np.uint8)), context)
    return resize(prob, (height, width), order=1, preserve_range=True).astype(np.float32)


def _finite(prob: np.ndarray, context: ChunkContext) -> np.ndarray:
    """``prob``, or a one-line error naming the model when the network returned NaN or inf."""
    if not np.isfinite(prob).all():
        raise WsinucError(f"{context.model}: the network returned NaN or infinite probabilities "
                          f"(precision {context.precision}); its weights or this device are at fault")
    return prob


def opening_kernel(scale: float) -> int:
    """Odd level-0 kernel side equivalent to the paper's 5 px at the working resolution."""
    size = max(1, round(5.0 / scale))
    return size if size % 2 else size + 1


def _instances(context: ChunkContext, prob: np.ndarray) -> np.ndarray:
    kernel = opening_kernel(context.scale)
    if context.postprocess == "watershed":
        return watershed_instances(prob, threshold=context.threshold, kernel_size=kernel)
    return probability_to_instances(prob, threshold=context.threshold, kernel_size=kernel)


def drop_larger_than(labels: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Remove objects whose bounding box is taller or wider than ``size`` pixels.

    Such an object is not one nucleus (the halo is also the largest nucleus
    diameter the engine accepts), and only objects no wider than the halo are
    guaranteed to be seen whole by the chunk that owns them. The same rule
    applies in every chunk, so the result does not depend on the chunk size.

    Returns
    -------
    (ndarray, int)
        The labels without those objects, and how many were removed (objects
        cut by the read border count in every chunk that sees them).
    """
    boxes = ndimage.find_objects(labels)
    large = [index + 1 for index, box in enumerate(boxes)
             if box is not None and max(box[0].stop - box[0].start, box[1].stop - box[1].start) > size]
    if not large:
        return labels, 0
    keep = np.ones(len(boxes) + 1, dtype=bool)
    keep[large] = False
    return np.where(keep[labels], labels, 0), len(large)


def _own(labels: np.ndarray, tile: Tile):
    try:
        return own_objects(labels, tile)
    except ValueError as error:
        if "halo" in str(error):
            raise OptionError("--halo", str(error)) from None
        raise


def _write_chunk(path: Path, owned, polygons, table: dict) -> None:
    """Save the chunk's keys, label core, polygons and measurements atomically."""
    coords, starts = _pack_polygons(polygons, len(owned))
    arrays = {
        "keys": owned.keys,
        "owned_labels": owned.labels,
        "poly_coords": coords,
        "poly_starts": starts,
    }
    arrays.update({f"m_{name}": np.asarray(values) for name, values in table.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _pack_polygons(polygons: list, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Flatten exterior rings into one ``(n, 2)`` array plus start offsets (object order)."""
    rings = [np.zeros((0, 2))] * count
    for label_id, polygon in polygons:
        rings[int(label_id) - 1] = np.asarray(polygon.exterior.coords, dtype=np.float64)
    lengths = np.array([len(ring) for ring in rings], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    coords = np.concatenate(rings) if rings else np.zeros((0, 2))
    return coords.astype(np.float64), starts


def load_chunk(path: Path) -> dict[str, np.ndarray]:
    """Read a chunk result file written by :func:`run_chunk`."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
