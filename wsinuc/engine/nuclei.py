"""One chunk's probability map → the nuclei it owns, outlined and measured.

Nuclei are labelled on the finer of two grids: the working resolution when
the slide is coarser than the model (a 20x slide read for a 0.25 um/px
model: the grid the rule's parameters were chosen on), level 0 otherwise.
Everything after that works on the chunk's valid block at level 0 and on all
of its nuclei at once (no per-nucleus Python loop): ownership, outlines as
packed rings, measurements.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage

from wsinuc.engine.store import ChunkResult
from wsinuc.errors import OptionError
from wsinuc.instances import InstanceRule, keep_largest_pieces, label_rings, measure_nuclei, simplify_rings
from wsinuc.slide.resample import labels_to_level0, to_level0, working_box
from wsinuc.stitching import own_objects
from wsinuc.tiling import Tile
from wsinuc.writers.geojson import render_features


def chunk_nuclei(context, tile: Tile, block: np.ndarray, prob: np.ndarray) -> tuple[ChunkResult, dict]:
    """The nuclei ``tile`` owns, from its level-0 RGB ``block`` and working-resolution probability ``prob``.

    1. Probabilities → labelled nuclei at level 0 (the run's post-processing,
       :func:`chunk_labels`).
    2. Drop objects wider than the halo (not single nuclei).
    3. Keep the nuclei whose anchor lies in the tile's core.
    4. Outline them (packed rings, level-0 pixel edges), measure them, and
       simplify the outlines when asked (``--simplify``; measured unsimplified).
    5. Render their GeoJSON features, ids left as placeholders (pass 2 fills them in).

    Parameters
    ----------
    context : ChunkContext
        The run's shared settings (post-processing, threshold, scale, pixel size).
    tile : Tile
        The chunk.
    block : np.ndarray
        Level-0 RGB of ``tile.valid_box``.
    prob : np.ndarray
        ``(h, w)`` or ``(h, w, 2)`` probability of the working box of
        ``tile.valid_box`` (:func:`wsinuc.slide.resample.working_box`).

    Returns
    -------
    (ChunkResult, dict)
        The result to store, and a summary with ``index``, ``count``,
        ``too_large``, ``megapixels`` and ``seconds`` per stage.
    """
    clock = time.perf_counter()
    labels, too_large = drop_larger_than(chunk_labels(context, tile, prob), tile.halo)
    owned = _own(labels, tile)
    post_s, clock = lap(clock)
    offset = (float(tile.valid_box.x0), float(tile.valid_box.y0))
    rings = label_rings(owned.labels, offset=offset)
    poly_s, clock = lap(clock)
    columns = measure_nuclei(owned.labels, block, mpp=context.level0_mpp, offset=offset, rings=rings)
    columns.pop("id", None)
    measure_s, clock = lap(clock)
    if context.simplify > 0 and len(rings):
        rings = simplify_rings(rings, context.simplify)
    features = render_features(rings.coords, rings.starts, columns)
    features_s, _ = lap(clock)
    result = ChunkResult(owned.keys, owned.labels, rings.coords, rings.starts, columns, features)
    height, width = tile.core_box.shape
    summary = {"index": tile.index, "count": len(owned), "too_large": too_large,
               "megapixels": height * width / 1e6, "valid_megapixels": tile.valid_box.shape[0] * tile.valid_box.shape[1] / 1e6,
               "seconds": {"postprocess": post_s, "polygons": poly_s, "measure": measure_s, "features": features_s}}
    return result, summary


def lap(start: float) -> tuple[float, float]:
    """Seconds since ``start`` and the time now (the engine's per-stage clock)."""
    now = time.perf_counter()
    return now - start, now


def opening_kernel(scale: float) -> int:
    """Odd level-0 kernel side equivalent to the paper's 5 px at the working resolution."""
    return InstanceRule(kernel_size=5).at_scale(scale).kernel_size


def chunk_labels(context, tile: Tile, prob: np.ndarray) -> np.ndarray:
    """Labelled nuclei of ``tile.valid_box`` at level 0, from its working-resolution probabilities.

    Nuclei are made on the finer grid: :func:`labels_on_working_grid` when
    the working grid is finer than level 0 (``context.scale > 1``),
    :func:`labels_on_level0` otherwise.
    """
    level0_box = tile.valid_box.xywh
    wx0, wy0, _, _ = working_box(*level0_box, context.scale)
    make = labels_on_working_grid if context.scale > 1.0 else labels_on_level0
    return make(context.rule, prob, (wx0, wy0), context.scale, level0_box, context.model)


def labels_on_working_grid(rule: InstanceRule, prob: np.ndarray, working_origin: tuple[int, int], scale: float,
                           level0_box: tuple[int, int, int, int], model: str = "this model") -> np.ndarray:
    """``rule`` on the working-resolution map with its own lengths, labels to ``level0_box`` by nearest neighbour.

    Each object is kept as its largest 4-connected piece. ``working_origin``
    is the working ``(x0, y0)`` of ``prob[0, 0]``; ``model`` names the maps'
    model in the rule's errors.
    """
    labels = rule(prob, model)
    return keep_largest_pieces(labels_to_level0(labels, working_origin, scale, level0_box))


def labels_on_level0(rule: InstanceRule, prob: np.ndarray, working_origin: tuple[int, int], scale: float,
                     level0_box: tuple[int, int, int, int], model: str = "this model") -> np.ndarray:
    """The maps resampled to ``level0_box`` (:func:`maps_to_level0`), then ``rule`` with its lengths converted."""
    return rule.at_scale(scale)(maps_to_level0(prob, working_origin, scale, level0_box), model)


def maps_to_level0(prob: np.ndarray, working_origin: tuple[int, int], scale: float,
                   level0_box: tuple[int, int, int, int]) -> np.ndarray:
    """``(h, w)`` or ``(h, w, C)`` working-resolution maps resampled (bilinear) to ``level0_box``."""
    if prob.ndim == 2:
        return to_level0(prob, working_origin, scale, level0_box)
    return np.stack([to_level0(np.ascontiguousarray(prob[..., m]), working_origin, scale, level0_box)
                     for m in range(prob.shape[-1])], axis=-1)


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
    if not boxes:
        return labels, 0
    extents = np.array([[b[0].stop - b[0].start, b[1].stop - b[1].start] if b is not None else [0, 0]
                        for b in boxes])
    large = np.flatnonzero(extents.max(axis=1) > size) + 1
    if not large.size:
        return labels, 0
    keep = np.ones(len(boxes) + 1, dtype=bool)
    keep[large] = False
    return np.where(keep[labels], labels, 0), int(large.size)


def _own(labels: np.ndarray, tile: Tile):
    try:
        return own_objects(labels, tile)
    except ValueError as error:
        if "halo" in str(error):
            raise OptionError("--halo", str(error)) from None
        raise
