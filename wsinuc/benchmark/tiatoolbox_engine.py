"""Run a wsinuc network through TIAToolbox's own whole-slide engine.

Used by ``benchmarks/vs_tiatoolbox.py`` to compare engines, not models: the
same network, device, batch size and patch geometry go through TIAToolbox
2.x's :class:`~tiatoolbox.models.engine.semantic_segmentor.SemanticSegmentor`
(its data loader, patch extraction, canvas merging and zarr output), and
the result is the network's probability maps at the working resolution
(nucleus; or interior and nucleus for a background / interior / boundary
model), which :mod:`wsinuc.benchmark.engine_agreement` turns into nuclei
with the model card's rule, as the wsinuc engine does.

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
    precision : str
        ``auto``, ``fp32`` or ``bf16``, as the wsinuc engine's ``--precision``.
    """

    chunk_size: int
    halo: int
    mpp: float
    device: str = "cpu"
    batch_size: int = 4
    num_workers: int = 0
    threshold: float = 0.5
    precision: str = "auto"

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
    """A wsinuc network seen by TIAToolbox as a semantic segmenter of one or two maps.

    Parameters
    ----------
    network : torch.nn.Module
        Maps float (N, 3, H, W) RGB in [0, 1] to (N, 1, H, W) logits
        (nucleus) or (N, 3, H, W) logits (background, interior, boundary).
    device : str
        Where the predictor runs the network.
    batch_size : int
        Predictor batch size (TIAToolbox's batches are passed through whole).
    halo : int
        Pixels cropped from each side of every predicted patch.
    threshold : float
        Probability threshold of :meth:`postproc`.
    precision : str
        Predictor precision (``auto``, ``fp32`` or ``bf16``).
    """

    def __init__(self, network: torch.nn.Module, device: str, batch_size: int, halo: int,
                 threshold: float = 0.5, precision: str = "auto") -> None:
        super().__init__()
        self.network = network
        self.predictor = Predictor(network, resolve_device(device), batch_size=batch_size, precision=precision)
        self.halo = halo
        self.threshold = threshold
        self.class_dict = {0: "background", 1: "nucleus"}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of ``images`` (float NCHW RGB in [0, 1])."""
        return self.network(images)

    @staticmethod
    def infer_batch(model: torch.nn.Module, batch_data: torch.Tensor, *, device: str) -> np.ndarray:
        """Probability maps of the centre of each patch, shape ``(N, h, w, C)`` float32.

        ``C`` is 1 (nucleus) for a nucleus / background model and 2 (interior,
        nucleus) for a background / interior / boundary model: every map the
        predictor returns, in its order, so the instance rule sees what it
        sees in the wsinuc engine.

        ``batch_data`` is TIAToolbox's uint8 ``(N, H, W, 3)`` batch; ``device``
        is already fixed in the wrapped predictor.
        """
        wrapper = _unwrap(model)
        tiles = np.asarray(batch_data.numpy() if torch.is_tensor(batch_data) else batch_data, dtype=np.uint8)
        probs = wrapper.predictor.predict(tiles)
        halo = wrapper.halo
        if halo:
            probs = probs[:, halo:-halo, halo:-halo]
        return probs[..., None] if probs.ndim == 3 else probs

    def postproc(self, image):
        """Nucleus mask of a ``(H, W, C)`` probability map (NumPy or Dask; nucleus is the last map)."""
        return image[..., -1] > self.threshold


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
        The zarr group holding ``probabilities`` ``(H, W, C)`` float32 at the
        working resolution, and the number of patches the engine ran.
    """
    rcParam["torch_compile_mode"] = "disable"
    model = TiaNucleusModel(network, config.device, config.batch_size, config.halo, config.threshold,
                            config.precision)
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
