"""Plan a run: pixel sizes, model, working scale, the chunks to compute and their batches.

Chunk size and halo are given in **working pixels** (the model's resolution,
0.25 um/px by default), so a chunk costs the same memory and compute whatever
the slide's magnification; they are turned into level-0 pixels here. With
``--region`` only the chunks that meet the region are planned, their cores cut
down to it, so only nuclei anchored inside the region are computed and kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from wsinuc.config import SegmentConfig
from wsinuc.engine.chunk_task import ChunkContext, working_shape
from wsinuc.engine.execution import config_runtime
from wsinuc.errors import OptionError
from wsinuc.inference.model_cache import load_card, resolve_model_name
from wsinuc.inference.runtime import resolve_device_name
from wsinuc.instances import InstanceRule
from wsinuc.models.cards import card_mpp
from wsinuc.slide import open_slide, require_mpp, tissue_mask
from wsinuc.slide.resample import grid_scale
from wsinuc.tiling import Box, Tile, crop_to_region, plan_tiles, select_tiles

THUMBNAIL_SIZE = 2048
WORK_DIR = ".work"
STRIDE = 32
TISSUE_MASK_MPP = 4.0
"""Pixel size (um/px) the tissue mask is computed at, at the finest (16 working pixels)."""


@dataclass(frozen=True)
class RunPlan:
    """What planning decided: where things go and which chunks to run.

    Attributes
    ----------
    out_dir : Path
        ``<out>/<slide stem>``.
    context : ChunkContext
        Shared by every chunk task.
    tiles : tuple of Tile
        The chunks to compute (level-0 pixels), in plan order.
    chunk_size, halo : int
        Core side and halo in level-0 pixels (the label image's chunk side is ``chunk_size``).
    slide_shape : tuple of int
        ``(height, width)`` at level 0.
    mpp : tuple of float
        Level-0 pixel size ``(x, y)``.
    card : dict
        The model card.
    thumbnail : np.ndarray or None
        The slide's thumbnail (read once for the tissue mask, reused for the overlay).
    """

    out_dir: Path
    context: ChunkContext
    tiles: tuple[Tile, ...]
    chunk_size: int
    halo: int
    slide_shape: tuple[int, int]
    mpp: tuple[float, float]
    card: dict
    thumbnail: np.ndarray | None = None


def plan_run(slide_path: Path, out_dir: Path, config: SegmentConfig) -> RunPlan:
    """Open the slide, resolve pixel size, model and scale, and choose the chunks.

    1. Read the slide's size, pixel size and (for ``--tissue``) a thumbnail.
    2. Resolve the model, the runtime (device, backend, precision; the
       OpenVINO model converted or found in the cache) and the working
       resolution (the card's ``mpp``). The network is not loaded here.
    3. Turn chunk size and halo from working into level-0 pixels.
    4. Plan the grid; keep the chunks meeting ``--region`` (cut down to it) and tissue.
    """
    inference, tiling = config.inference, config.tiling
    with open_slide(slide_path, mpp=inference.mpp) as slide:
        mpp = require_mpp(slide)
        width, height = slide.dimensions
        thumbnail = slide.thumbnail(THUMBNAIL_SIZE) if tiling.tissue else None
    model = resolve_model_name(inference.model, inference.device)
    card = load_card(model)
    runtime = config_runtime(config)
    target = inference.target_mpp or card_mpp(card)
    level0_mpp = float(np.mean(mpp))
    scale = working_scale(level0_mpp, target)
    chunk_size, halo = level0_chunking(tiling.chunk_size, tiling.halo, scale)
    grid = plan_tiles((height, width), chunk_size, halo, stride_multiple=STRIDE)
    tiles = _select(grid, tiling.region, thumbnail, level0_mpp)
    rule = InstanceRule.from_card(card, inference.postprocess, inference.threshold)
    context = ChunkContext(
        slide_path=str(slide_path), mpp_override=inference.mpp, level0_mpp=level0_mpp, scale=scale,
        model=model, device=inference.device, batch_size=inference.batch_size or auto_batch_size(runtime.device),
        precision=inference.precision, tta=inference.tta,
        rule=rule,
        simplify=float(config.output.simplify),
        work_dir=str(out_dir / slide_path.stem / WORK_DIR),
        runtime=runtime,
    )
    return RunPlan(out_dir / slide_path.stem, context, tuple(tiles), chunk_size, halo, (height, width), mpp, card,
                   thumbnail)


#: A slide whose pixel size is within this fraction of the model's is read on its own grid, not resampled:
#: scanners' "20x" (0.499-0.505 um/px) and "40x" (0.248-0.253 um/px) differ from 0.5 / 0.25 by about 1 %,
#: a size change the networks do not notice, while a resampling would blur every pixel and cost time.
MPP_TOLERANCE = 0.03


def working_scale(level0_mpp: float, target_mpp: float) -> float:
    """Working pixels per level-0 pixel on the slide's resampling grid (exactly 1.0 within :data:`MPP_TOLERANCE`)."""
    scale = level0_mpp / target_mpp
    return 1.0 if abs(scale - 1.0) <= MPP_TOLERANCE else grid_scale(scale)


def level0_chunking(chunk_size: int, halo: int, scale: float) -> tuple[int, int]:
    """Chunk core side (a multiple of 32) and halo in level-0 pixels for working-pixel values."""
    core = max(STRIDE, STRIDE * round(chunk_size / scale / STRIDE))
    return core, min(core, max(8, math.ceil(halo / scale)))


def batches(tiles: Sequence[Tile], batch_size: int, scale: float) -> list[tuple[Tile, ...]]:
    """Group chunks of equal working shape, ``batch_size`` at a time, in plan order.

    Chunks inside the slide all share one shape; those on the right and bottom
    edges form smaller groups of their own, so no chunk is padded for the sake
    of another and each chunk's probabilities do not depend on its batch.
    """
    groups: dict[tuple[int, int], list[Tile]] = {}
    for tile in tiles:
        groups.setdefault(working_shape(tile, scale), []).append(tile)
    out = []
    for members in groups.values():
        out.extend(tuple(members[i : i + batch_size]) for i in range(0, len(members), batch_size))
    order = {tile.index: position for position, tile in enumerate(tiles)}
    return sorted(out, key=lambda batch: order[batch[0].index])


def auto_batch_size(device: str) -> int:
    """Chunks per forward pass for ``--batch-size 0``: 4 on CUDA, 1 on the CPU (torch uses every core)."""
    return 4 if resolve_device_name(device).startswith("cuda") else 1


def _select(grid, region, thumbnail, level0_mpp: float) -> list[Tile]:
    tiles = list(grid)
    if region is not None:
        x, y, w, h = region
        height, width = grid.image_shape
        if x >= width or y >= height:
            raise OptionError("--region", f"{x},{y},{w},{h} lies outside the slide ({width} x {height})")
        tiles = crop_to_region(tiles, Box(y, x, y + h, x + w), stride_multiple=STRIDE)
    if thumbnail is not None:
        mask = tissue_mask(mask_thumbnail(thumbnail, level0_mpp * grid.image_shape[1] / thumbnail.shape[1]))
        downsample = grid.image_shape[1] / mask.shape[1]
        keep = {t.index for t in select_tiles(tiles, mask, downsample)}
        tiles = [t for t in tiles if t.index in keep]
    return tiles


def mask_thumbnail(thumbnail: np.ndarray, thumbnail_mpp: float) -> np.ndarray:
    """``thumbnail`` reduced (box filter) to about :data:`TISSUE_MASK_MPP` um/px when it is finer.

    Chunks are hundreds of micrometres wide, so a tissue mask finer than a
    few micrometres per pixel selects the same chunks at many times the cost
    (a small slide's thumbnail is the slide itself).
    """
    factor = int(TISSUE_MASK_MPP // thumbnail_mpp)
    if factor < 2 or min(thumbnail.shape[:2]) // factor < 8:
        return thumbnail
    return np.asarray(Image.fromarray(thumbnail).reduce(factor))
