"""Run a wsinuc network through TIAToolbox's own whole-slide engine.

Used by ``benchmarks/vs_tiatoolbox.py`` to compare engines, not models: the
same network, device, batch size and patch geometry go through TIAToolbox
2.x's :class:`~tiatoolbox.models.engine.semantic_segmentor.SemanticSegmentor`
(its data loader, patch extraction, canvas merging and zarr output), and
the result is a nucleus probability map at the working resolution.

The forward pass itself is wsinuc's :class:`~wsinuc.inference.Predictor`
(same dtype, autocast and memory format as the wsinuc engine), called from
the model's ``infer_batch`` hook, which is where TIAToolbox expects a model
to run its batches. Each patch of ``patch_input`` pixels is predicted whole
and its centre ``patch_output`` pixels are kept, the same halo geometry as a
wsinuc chunk of ``chunk_size`` plus ``halo`` on each side.

TIAToolbox is an optional dependency (``pip install wsinuc[tiatoolbox]``);
this module imports it at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tiatoolbox import rcParam
from tiatoolbox.models.engine.io_config import IOSegmentorConfig
from tiatoolbox.models.engine.semantic_segmentor import SemanticSegmentor
from tiatoolbox.models.models_abc import ModelABC

from wsinuc.device import resolve_device
from wsinuc.inference import Predictor
from wsinuc.engine.nuclei import drop_larger_than
from wsinuc.instances import probability_to_instances
from wsinuc.metrics import match_instances

log = logging.getLogger(__name__)

PROBABILITY_KEY = "probabilities"


@dataclass(frozen=True)
class TiaRunConfig:
    """How TIAToolbox runs the network.

    Attributes
    ----------
    chunk_size : int
        Side of the kept centre of every patch (TIAToolbox's
        ``patch_output_shape`` and stride), in working pixels.
    halo : int
        Context on each side, so the patch read is ``chunk_size + 2 * halo``.
    mpp : float
        Working resolution (um/px) the patches are read at.
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    batch_size : int
        Patches per forward pass.
    num_workers : int
        TIAToolbox data-loader worker processes (0 reads in the main process).
    threshold : float
        Probability above which TIAToolbox's post-processing calls a pixel
        nucleus (its ``predictions`` output).
    """

    chunk_size: int
    halo: int
    mpp: float
    device: str = "cpu"
    batch_size: int = 4
    num_workers: int = 0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.chunk_size < 32 or self.chunk_size % 32:
            raise ValueError(f"chunk_size must be a positive multiple of 32, got {self.chunk_size}")
        if self.halo < 0 or self.halo % 16:
            raise ValueError(
                f"halo must be a non-negative multiple of 16 (patch side a multiple of 32), got {self.halo}"
            )
        if self.batch_size < 1 or self.num_workers < 0:
            raise ValueError(f"batch_size must be >= 1 and num_workers >= 0, got "
                             f"{self.batch_size} and {self.num_workers}")

    @property
    def patch_input(self) -> int:
        """Side of the patch read around each centre."""
        return self.chunk_size + 2 * self.halo


class TiaNucleusModel(ModelABC):
    """A wsinuc network seen by TIAToolbox as a one-class semantic segmenter.

    Parameters
    ----------
    network : torch.nn.Module
        Maps float (N, 3, H, W) RGB in [0, 1] to (N, 1, H, W) logits.
    device : str
        Where the predictor runs the network.
    batch_size : int
        Predictor batch size (TIAToolbox's batches are passed through whole).
    halo : int
        Pixels cropped from each side of every predicted patch.
    threshold : float
        Probability threshold of :meth:`postproc`.
    """

    def __init__(self, network: torch.nn.Module, device: str, batch_size: int, halo: int,
                 threshold: float = 0.5) -> None:
        super().__init__()
        self.network = network
        self.predictor = Predictor(network, resolve_device(device), batch_size=batch_size)
        self.halo = halo
        self.threshold = threshold
        self.class_dict = {0: "background", 1: "nucleus"}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of ``images`` (float NCHW RGB in [0, 1])."""
        return self.network(images)

    @staticmethod
    def infer_batch(model: torch.nn.Module, batch_data: torch.Tensor, *, device: str) -> np.ndarray:
        """Probabilities of the centre of each patch, shape ``(N, h, w, 1)`` float32.

        ``batch_data`` is TIAToolbox's uint8 ``(N, H, W, 3)`` batch; ``device``
        is already fixed in the wrapped predictor.
        """
        wrapper = _unwrap(model)
        tiles = np.asarray(batch_data.numpy() if torch.is_tensor(batch_data) else batch_data, dtype=np.uint8)
        probs = wrapper.predictor.predict(tiles)
        halo = wrapper.halo
        if halo:
            probs = probs[:, halo:-halo, halo:-halo]
        return probs[..., None]

    def postproc(self, image):
        """Nucleus mask of a ``(H, W, 1)`` probability map (NumPy or Dask)."""
        return image[..., 0] > self.threshold


def _unwrap(model: torch.nn.Module) -> TiaNucleusModel:
    """The :class:`TiaNucleusModel` inside DataParallel / torch.compile wrappers."""
    for attribute in ("module", "_orig_mod"):
        model = getattr(model, attribute, model)
    return model


def io_config(config: TiaRunConfig) -> IOSegmentorConfig:
    """TIAToolbox patch geometry equal to a wsinuc chunk plus halo."""
    resolution = [{"units": "mpp", "resolution": config.mpp}]
    return IOSegmentorConfig(
        input_resolutions=resolution,
        output_resolutions=resolution,
        patch_input_shape=(config.patch_input, config.patch_input),
        patch_output_shape=(config.chunk_size, config.chunk_size),
        stride_shape=(config.chunk_size, config.chunk_size),
        save_resolution=resolution[0],
    )


def run_tiatoolbox(
    slide_path: str | Path, network: torch.nn.Module, config: TiaRunConfig, save_dir: str | Path,
    tissue: np.ndarray | None = None,
) -> tuple[Path, int]:
    """Segment a slide with TIAToolbox's engine; return its zarr and the patch count.

    1. Wrap ``network`` as a TIAToolbox model (torch.compile off, so both
       engines run the same eager network).
    2. Run ``SemanticSegmentor`` in WSI mode with the wsinuc patch geometry,
       keeping the probabilities (``return_probabilities=True``).

    Parameters
    ----------
    slide_path : str or Path
        The slide.
    network : torch.nn.Module
        The wsinuc network (already loaded).
    config : TiaRunConfig
        Patch geometry, device and batch size.
    save_dir : str or Path
        Folder TIAToolbox writes into (replaced if it exists).
    tissue : ndarray or None
        Low-resolution boolean tissue mask covering the whole slide; None
        lets TIAToolbox compute its own.

    Returns
    -------
    (Path, int)
        The zarr group holding ``probabilities`` ``(H, W, 1)`` float32 at the
        working resolution, and the number of patches the engine ran.
    """
    rcParam["torch_compile_mode"] = "disable"
    model = TiaNucleusModel(network, config.device, config.batch_size, config.halo, config.threshold)
    segmentor = SemanticSegmentor(model=model, batch_size=config.batch_size, num_workers=config.num_workers,
                                  device=_tia_device(config.device), verbose=False)
    masks = None if tissue is None else [np.asarray(tissue, dtype=np.uint8)]
    output = segmentor.run(
        [Path(slide_path)], masks=masks, ioconfig=io_config(config), patch_mode=False,
        save_dir=Path(save_dir), overwrite=True, output_type="zarr", return_probabilities=True,
        auto_get_mask=tissue is None, batch_size=config.batch_size,
    )
    zarr_path = Path(next(iter(output.values())))
    patches = len(segmentor.dataloader.dataset.inputs)
    log.info("TIAToolbox ran %d patches of %d px into %s", patches, config.patch_input, zarr_path)
    return zarr_path, patches


def _tia_device(device: str) -> str:
    """Device string for TIAToolbox (``auto`` resolved)."""
    return str(resolve_device(device))


def agreement_with_labels(
    labels, probabilities, *, threshold: float = 0.5, kernel_size: int = 5, max_size: int = 128,
    block: int = 4096, iou: float = 0.5,
) -> dict:
    """Match nuclei from a probability map against a label image, block by block.

    The probability map goes through the same post-processing as a wsinuc
    chunk (:func:`~wsinuc.instances.probability_to_instances`, then objects
    wider than ``max_size`` dropped), with ``max_size`` pixels of context
    around each block, and its nuclei are matched one-to-one to the labels'
    at IoU > ``iou``. Only one block of each array is in memory at a time, so
    both may be zarr or dask arrays of a whole slide. A nucleus cut by a
    block border is cut the same way in both images and matched per part.

    Parameters
    ----------
    labels : array-like, shape (H, W), integer
        Reference instance labels (wsinuc's level 0).
    probabilities : array-like, shape (H, W) or (H, W, 1), float
        Nucleus probability at the same resolution.
    threshold, kernel_size : float, int
        Post-processing settings (those of the wsinuc run).
    max_size : int
        Objects taller or wider than this are dropped (wsinuc's halo).
    block : int
        Side of the blocks compared.
    iou : float
        Matching threshold.

    Returns
    -------
    dict
        ``reference_nuclei``, ``other_nuclei``, ``matched``, and
        ``matched_fraction_of_reference``, ``matched_fraction_of_other``,
        ``f1`` (``2 * matched / (reference + other)``); a fraction is None
        when there is nothing to divide by (no nuclei).
    """
    height, width = _validate_agreement_inputs(labels, probabilities, block)
    counts = {"reference_nuclei": 0, "other_nuclei": 0, "matched": 0}
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            y1, x1 = min(height, y0 + block), min(width, x0 + block)
            reference = np.asarray(labels[y0:y1, x0:x1])
            ys, xs = max(0, y0 - max_size), max(0, x0 - max_size)
            prob = np.asarray(probabilities[ys : min(height, y1 + max_size), xs : min(width, x1 + max_size)])
            prob = prob[..., 0] if prob.ndim == 3 else prob
            other, _ = drop_larger_than(probability_to_instances(prob, threshold=threshold,
                                                                 kernel_size=kernel_size), max_size)
            other = other[y0 - ys : y1 - ys, x0 - xs : x1 - xs]
            if not reference.any() and not other.any():
                continue
            match = match_instances(reference, other, iou=iou)
            counts["reference_nuclei"] += match.tp + match.fn
            counts["other_nuclei"] += match.tp + match.fp
            counts["matched"] += match.tp
    return counts | _fractions(counts)


def _validate_agreement_inputs(labels, probabilities, block: int) -> tuple[int, int]:
    if len(labels.shape) != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    if tuple(probabilities.shape[:2]) != tuple(labels.shape) or len(probabilities.shape) not in (2, 3):
        raise ValueError(f"probabilities of shape {probabilities.shape} do not cover labels of shape {labels.shape}")
    if block < 64:
        raise ValueError(f"block must be at least 64 px, got {block}")
    return int(labels.shape[0]), int(labels.shape[1])


def _fractions(counts: dict) -> dict:
    reference, other, matched = counts["reference_nuclei"], counts["other_nuclei"], counts["matched"]
    return {
        "matched_fraction_of_reference": matched / reference if reference else None,
        "matched_fraction_of_other": matched / other if other else None,
        "f1": 2 * matched / (reference + other) if reference + other else None,
    }
