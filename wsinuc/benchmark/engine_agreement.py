"""Do two engines find the same nuclei? Object F1 between two label or probability images.

Each side is either an instance label image (an engine's output) or a
stitched probability map, which is turned into nuclei here with the run's
:class:`~wsinuc.instances.InstanceRule` (the model card's post-processing),
objects wider than the halo dropped as the engine drops them. The images are
compared block by block, so both may be zarr arrays of a whole slide; the
blocks are whole chunks, so a block border is a chunk border.

Every nucleus is also classed as *near a border* when its bounding box,
grown by ``border_margin``, meets a chunk border or the image edge: a
stitching fault shows at chunk borders, and at the image edge engines pad
patches differently (TIAToolbox reads beyond the slide, wsinuc predicts
only the part inside it); away from both, two engines that run the same
network on the same pixels with the same rule must agree.

>>> config = AgreementConfig(InstanceRule(), max_size=128, chunk_size=1024)
>>> config.block
4096
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wsinuc.engine.nuclei import drop_larger_than
from wsinuc.instances import InstanceRule
from wsinuc.metrics import match_instances
from wsinuc.tiling import Box

COUNT_KEYS = ("first_nuclei", "second_nuclei", "first_matched", "second_matched")
AREAS = ("all", "away_from_image_edge", "away_from_borders")
"""Nuclei counted: all; those away from the image edge; those away from it and from every chunk border."""


@dataclass(frozen=True)
class AgreementConfig:
    """How nuclei are made from probabilities and which ones count as near a border.

    Attributes
    ----------
    rule : InstanceRule
        Post-processing of probability maps, lengths in pixels of the images.
    max_size : int
        Objects taller or wider than this are dropped (the engines' halo),
        and the rule sees this much context around each block.
    chunk_size : int
        Side of the chunk grid (cores start at multiples of it).
    border_margin : int
        A nucleus within this many pixels of a chunk border or the image
        edge is *near a border*.
    block : int
        Side of the blocks compared, a multiple of ``chunk_size`` (0: the
        multiple nearest 4096).
    iou : float
        Matching threshold (one-to-one pairs above it).
    """

    rule: InstanceRule
    max_size: int
    chunk_size: int
    border_margin: int = 32
    block: int = 0
    iou: float = 0.5

    def __post_init__(self) -> None:
        if self.chunk_size < 32 or self.max_size < 1 or self.border_margin < 0:
            raise ValueError(f"chunk_size must be >= 32, max_size >= 1 and border_margin >= 0, got "
                             f"{self.chunk_size}, {self.max_size} and {self.border_margin}")
        if self.block == 0:
            object.__setattr__(self, "block", self.chunk_size * max(1, round(4096 / self.chunk_size)))
        if self.block % self.chunk_size:
            raise ValueError(f"block ({self.block}) must be a multiple of chunk_size ({self.chunk_size})")


def nucleus_agreement(first, second, config: AgreementConfig, cores: list[Box] | None = None) -> dict:
    """Object F1 between the nuclei of ``first`` and ``second``, overall and away from borders.

    1. Per block of the chunk grid: labels of each side (a label image as
       is; a probability map through ``config.rule`` with ``max_size`` of
       context, objects wider than ``max_size`` dropped).
    2. Keep the nuclei whose anchor (first pixel in raster order) lies in
       one of ``cores`` (the chunks an engine computed; None: everywhere).
    3. Match them one to one at IoU > ``config.iou``.
    4. Count nuclei and matched nuclei of each side: all of them, those
       away from the image edge (chunk borders included), and those away
       from the image edge and every chunk border.

    Parameters
    ----------
    first, second : array-like, shape (H, W) integer, or (H, W, C) float
        Instance labels, or probability maps (1 map: nucleus; 2 maps:
        interior, nucleus) at the same resolution.
    config : AgreementConfig
        Rule, halo, chunk grid and matching settings.
    cores : list of Box, optional
        Area compared.

    Returns
    -------
    dict
        One entry per :data:`AREAS`, each with ``first_nuclei``,
        ``second_nuclei``, ``first_matched``, ``second_matched`` and ``f1``
        (matched nuclei of both sides over all nuclei of both; None when
        there are none).
    """
    height, width = _validate_pair(first, second, config)
    totals = {name: dict.fromkeys(COUNT_KEYS, 0) for name in AREAS}
    for y0 in range(0, height, config.block):
        for x0 in range(0, width, config.block):
            box = Box(y0, x0, min(height, y0 + config.block), min(width, x0 + config.block))
            area = _area(box, cores)
            if area is not None and not area.any():
                continue
            a = _keep_anchored(block_labels(first, box, config), area)
            b = _keep_anchored(block_labels(second, box, config), area)
            _add(totals, a, b, box, (height, width), config)
    return {name: counts | {"f1": _f1(counts)} for name, counts in totals.items()}


def block_labels(source, box: Box, config: AgreementConfig) -> np.ndarray:
    """Instance labels of ``box``: read from a label image, or made from a probability map."""
    if len(source.shape) == 2:
        return np.asarray(source[box.slices])
    height, width = source.shape[:2]
    pad = config.max_size
    outer = Box(max(0, box.y0 - pad), max(0, box.x0 - pad), min(height, box.y1 + pad), min(width, box.x1 + pad))
    return rule_labels(source[outer.slices], config)[box.relative_to(outer)]


def rule_labels(prob, config: AgreementConfig) -> np.ndarray:
    """Nuclei of an ``(H, W, C)`` probability map under ``config.rule``, objects wider than ``max_size`` dropped."""
    prob = np.asarray(prob, dtype=np.float32)
    labels, _ = drop_larger_than(config.rule(prob[..., 0] if prob.shape[-1] == 1 else prob), config.max_size)
    return labels


def near_border(labels: np.ndarray, box: Box, shape: tuple[int, int], config: AgreementConfig,
                *, grid: bool = True) -> np.ndarray:
    """For each object of ``labels`` (ids 1..max), whether it lies within the margin of a border.

    A border is an edge of the image of ``shape`` and, when ``grid``, a line
    of the chunk grid (multiples of ``chunk_size``); ``box`` places
    ``labels`` in the image. Ids without pixels count as near (they are
    never counted).
    """
    slices = ndimage.find_objects(labels)
    near = np.ones(len(slices), dtype=bool)
    margin, size = config.border_margin, config.chunk_size
    for index, found in enumerate(slices):
        if found is None:
            continue
        spans = ((found[0].start + box.y0, found[0].stop + box.y0, shape[0]),
                 (found[1].start + box.x0, found[1].stop + box.x0, shape[1]))
        near[index] = any(start - margin < 0 or stop + margin > extent
                          or (grid and (start - margin) // size != (stop - 1 + margin) // size)
                          for start, stop, extent in spans)
    return near


def _add(totals: dict, a: np.ndarray, b: np.ndarray, box: Box, shape: tuple[int, int],
         config: AgreementConfig) -> None:
    """Add one block's counts (overall, away from the image edge, away from all borders) to ``totals``."""
    ids_a, ids_b = _ids(a), _ids(b)
    if not ids_a.size and not ids_b.size:
        return
    match = match_instances(a, b, iou=config.iou)
    matched_a, matched_b = np.isin(ids_a, match.gt_ids), np.isin(ids_b, match.pred_ids)
    for name in totals:
        keep_a, keep_b = slice(None), slice(None)
        if name != "all":
            grid = name == "away_from_borders"
            keep_a = ~near_border(a, box, shape, config, grid=grid)[ids_a - 1]
            keep_b = ~near_border(b, box, shape, config, grid=grid)[ids_b - 1]
        counts = totals[name]
        counts["first_nuclei"] += int(ids_a[keep_a].size)
        counts["second_nuclei"] += int(ids_b[keep_b].size)
        counts["first_matched"] += int(matched_a[keep_a].sum())
        counts["second_matched"] += int(matched_b[keep_b].sum())


def _ids(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels)
    return ids[ids > 0]


def _area(box: Box, cores: list[Box] | None) -> np.ndarray | None:
    """Pixels of ``box`` inside one of ``cores`` (None: no restriction)."""
    if cores is None:
        return None
    area = np.zeros(box.shape, dtype=bool)
    for core in cores:
        inside = Box(max(core.y0, box.y0), max(core.x0, box.x0), min(core.y1, box.y1), min(core.x1, box.x1))
        if inside.y0 < inside.y1 and inside.x0 < inside.x1:
            area[inside.relative_to(box)] = True
    return area


def _keep_anchored(labels: np.ndarray, area: np.ndarray | None) -> np.ndarray:
    """``labels`` without the objects whose first pixel (raster order) lies outside ``area``."""
    if area is None or area.all():
        return labels
    ids, first = np.unique(labels.ravel(), return_index=True)
    outside = ids[(ids > 0) & ~area.ravel()[first]]
    return np.where(np.isin(labels, outside), 0, labels) if outside.size else labels


def _f1(counts: dict) -> float | None:
    total = counts["first_nuclei"] + counts["second_nuclei"]
    return (counts["first_matched"] + counts["second_matched"]) / total if total else None


def _validate_pair(first, second, config: AgreementConfig) -> tuple[int, int]:
    for name, source in (("first", first), ("second", second)):
        if len(source.shape) not in (2, 3):
            raise ValueError(f"{name} must be (H, W) labels or (H, W, C) probabilities, got shape {source.shape}")
    if tuple(first.shape[:2]) != tuple(second.shape[:2]):
        raise ValueError(f"first {tuple(first.shape)} and second {tuple(second.shape)} differ in height and width")
    if not isinstance(config, AgreementConfig):
        raise ValueError(f"config must be an AgreementConfig, got {type(config).__name__}")
    return int(first.shape[0]), int(first.shape[1])
