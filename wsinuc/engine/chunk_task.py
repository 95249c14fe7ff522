"""The chunk task Dask runs: read → infer (one forward per batch of chunks) → nuclei → store.

A task gets a few :class:`~wsinuc.tiling.Tile` objects of equal working shape
(small, picklable) and the shared :class:`ChunkContext`; the model and the
slide handle are opened once per worker and cached, never shipped through the
task graph. The chunks of a task go through the network as one batch
(``--batch-size`` chunks per forward pass); each chunk's result is saved in the
run's :class:`~wsinuc.engine.store.ChunkStore` and a small summary returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsinuc.engine.nuclei import chunk_nuclei, lap
from wsinuc.engine.store import ChunkStore
from wsinuc.errors import WsinucError
from wsinuc.instances import InstanceRule
from wsinuc.inference.model_cache import runtime_predictor
from wsinuc.inference.runtime import Runtime, resolve_runtime
from wsinuc.slide.resample import to_working, working_box
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
        Working pixels per level-0 pixel: ``level0_mpp / target_mpp`` on the slide's
        resampling grid (:func:`wsinuc.slide.resample.grid_scale`; exactly 1.0 when
        no resampling is needed).
    model, device : str
        Model name / weights path and the ``--device`` asked for.
    batch_size : int
        Chunks per forward pass (resolved: never 0).
    precision : str
        ``--precision`` as asked for: ``auto``, ``fp32`` or ``bf16``.
    tta : bool
        Test-time augmentation (the 8 flips / rotations, averaged).
    rule : InstanceRule
        Post-processing method and parameters, lengths in working pixels
        (:meth:`InstanceRule.at_scale` turns them into level-0 pixels).
    simplify : float
        Douglas-Peucker tolerance of the outlines, level-0 pixels (0: exact staircase).
    work_dir : str
        Folder of the run's chunk store.
    runtime : Runtime or None
        Device, backend and precision as decided once by the client
        (:func:`~wsinuc.inference.runtime.resolve_runtime`); None: decide from
        ``device`` and ``precision`` with the ``auto`` backend.
    """

    slide_path: str
    mpp_override: float | None
    level0_mpp: float
    scale: float
    model: str
    device: str
    batch_size: int
    precision: str
    tta: bool
    rule: InstanceRule
    simplify: float
    work_dir: str
    runtime: Runtime | None = None

    def resolved_runtime(self) -> Runtime:
        """:attr:`runtime`, or the decision for ``device`` and ``precision`` when none was carried."""
        if self.runtime is not None:
            return self.runtime
        return resolve_runtime(self.device, "auto", self.precision, self.model)


def working_shape(tile: Tile, scale: float) -> tuple[int, int]:
    """Shape of ``tile``'s valid block at the working resolution (chunks batch by it)."""
    _, _, width, height = working_box(*tile.valid_box.xywh, scale)
    return height, width


def run_batch(context: ChunkContext, tiles: Sequence[Tile]) -> list[dict]:
    """Segment a batch of chunks of equal working shape and store each result.

    1. Read each chunk's valid box at level 0 and resample it to the working
       resolution on the slide's global working grid.
    2. Predict nucleus probability for the whole batch in one forward pass.
    3. Per chunk: nuclei (labelled on the finer of the working and level-0
       grids, then at level 0), ownership, outlines, measurements
       (:func:`wsinuc.engine.nuclei.chunk_nuclei`).
    4. Save each chunk's result atomically (a finished file is its resume marker).

    Returns
    -------
    list of dict
        Per chunk: ``index``, ``count``, ``too_large``, ``megapixels`` and
        per-stage ``seconds`` (the forward pass split evenly).
    """
    clock = time.perf_counter()
    blocks = [_read_valid_block(context, tile) for tile in tiles]
    working = np.stack([_to_working(context, tile, block) for tile, block in zip(tiles, blocks)])
    read_s, clock = lap(clock)
    probs = _predict(context, working)
    infer_s, clock = lap(clock)
    store, summaries = ChunkStore(context.work_dir), []
    for tile, block, prob in zip(tiles, blocks, probs):
        result, summary = chunk_nuclei(context, tile, block, prob)
        write_clock = time.perf_counter()
        store.save(tile, result)
        summary["seconds"] |= {"read": read_s / len(tiles), "inference": infer_s / len(tiles),
                               "write": time.perf_counter() - write_clock}
        summary["working_megapixels"] = working[0].shape[0] * working[0].shape[1] / 1e6
        summaries.append(summary)
    return summaries


def _slide(context: ChunkContext):
    """The slide handle of this thread (opened once per worker thread)."""
    from wsinuc.slide import open_slide

    cache = getattr(_LOCAL, "slides", None)
    if cache is None:
        cache = _LOCAL.slides = {}
    key = (context.slide_path, context.mpp_override)
    if key not in cache:
        cache[key] = open_slide(context.slide_path, mpp=context.mpp_override, verify=False)  # the plan checked it
    return cache[key]


def _read_valid_block(context: ChunkContext, tile: Tile) -> np.ndarray:
    return _slide(context).read_region(*tile.valid_box.xywh, 0)


def _to_working(context: ChunkContext, tile: Tile, block: np.ndarray) -> np.ndarray:
    box = tile.valid_box
    return to_working(block, (box.x0, box.y0), context.scale)


def _predict(context: ChunkContext, batch: np.ndarray) -> np.ndarray:
    predictor = runtime_predictor(context.model, context.resolved_runtime(), context.batch_size, context.tta)
    return finite(predictor.predict(batch), context)


def finite(prob: np.ndarray, context: ChunkContext) -> np.ndarray:
    """``prob``, or a one-line error naming the model when the network returned NaN or inf."""
    if not np.isfinite(prob).all():
        raise WsinucError(f"{context.model}: the network returned NaN or infinite probabilities "
                          f"(precision {context.precision}); its weights or this device are at fault")
    return prob
