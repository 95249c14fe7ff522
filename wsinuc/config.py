"""Frozen configuration of a whole-slide segmentation run.

Options are grouped by the stage that uses them, so that no function needs
more than a handful of parameters: :class:`TilingConfig` (chunk grid),
:class:`InferenceConfig` (model and device), :class:`OutputConfig` (what is
written) and :class:`RunConfig` (execution), combined in
:class:`SegmentConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from wsinuc.errors import OptionError

ALL_OUTPUTS = ("geojson", "zarr", "table", "overlay")
POSTPROCESS_METHODS = ("auto", "opening", "watershed", "seeded")
PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("auto", "torch", "openvino")


def validate_precision(precision: str) -> None:
    """Raise :class:`OptionError` for ``--precision`` unless it is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise OptionError("--precision", f"must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def validate_backend(backend: str) -> None:
    """Raise :class:`OptionError` for ``--backend`` unless it is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise OptionError("--backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")


@dataclass(frozen=True)
class TilingConfig:
    """Chunk grid at level 0.

    Attributes
    ----------
    chunk_size : int
        Side of each chunk's core, in **working pixels** (the model's
        resolution), so a chunk costs the same memory whatever the slide's
        magnification; the engine turns it into level-0 pixels (a multiple
        of 32, also the zarr chunk side).
    halo : int
        Context added around each core, in working pixels. It should exceed
        the model's useful receptive field plus the largest nucleus diameter;
        objects wider than the halo are dropped as not single nuclei.
    tissue : bool
        Skip chunks with no tissue in the thumbnail-based tissue mask.
    region : tuple of int or None
        ``(x, y, w, h)`` in level-0 pixels to segment only part of a slide.
    """

    chunk_size: int = 1024
    halo: int = 128
    tissue: bool = True
    region: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if not 64 <= self.chunk_size <= 16384:
            raise OptionError("--chunk-size", f"must be in [64, 16384], got {self.chunk_size}")
        if self.chunk_size % 32:
            raise OptionError("--chunk-size", f"must be a multiple of 32, got {self.chunk_size}")
        if not 8 <= self.halo <= self.chunk_size:
            raise OptionError("--halo", f"must be in [8, chunk size {self.chunk_size}], got {self.halo}")
        if self.region is not None:
            if len(self.region) != 4 or self.region[2] <= 0 or self.region[3] <= 0:
                raise OptionError("--region", f"expected X,Y,W,H with W, H > 0, got {self.region}")
            if self.region[0] < 0 or self.region[1] < 0:
                raise OptionError("--region", f"X and Y must be >= 0, got {self.region}")


@dataclass(frozen=True)
class InferenceConfig:
    """Model, device and resolution.

    Attributes
    ----------
    model : str
        Bundled model name (``cascade-ib-lite-20x``, ``cascade-ib-lite``,
        ``cascade``, ``cascade-lite``) or a weights path; ``auto`` picks
        ``cascade-ib-lite-20x`` (0.5 um/px: validation AJI within 0.005 of the
        best, at a quarter of the network's pixels) on every device.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    mpp : float or None
        Override of the slide's own pixel size (um/px).
    target_mpp : float or None
        Working resolution; None means the model's training resolution.
    batch_size : int
        Chunks per forward pass (chunks of one working shape are batched);
        0 means automatic: 4 on CUDA, 1 on the CPU.
    precision : str
        ``auto`` (torch: bf16 autocast on CUDA, float32 on the CPU; OpenVINO:
        bf16 on CPUs with native bf16, else f32), ``fp32``, or ``bf16``
        (:mod:`wsinuc.inference.runtime`).
    backend : str
        ``auto`` (OpenVINO on the CPU when installed, torch on CUDA),
        ``torch`` or ``openvino``.
    postprocess : str
        ``opening`` (the paper: erosion, dilation, connected components),
        ``watershed`` (marker-controlled split of touching nuclei),
        ``seeded`` (interior components grown into the nucleus mask; for
        background / interior / boundary models) or ``auto``: the method
        recorded in the model card (chosen on validation AJI), else ``opening``.
    threshold : float or None
        Probability above which a pixel is nucleus (for ``seeded``, also
        interior); None means the model card's choice (made on validation
        AJI), else 0.5.
    tta : bool
        Test-time augmentation: average the probabilities of the 8 flips and
        rotations of each tile (about 8x the network's time).
    """

    model: str = "auto"
    device: str = "auto"
    mpp: float | None = None
    target_mpp: float | None = None
    batch_size: int = 0
    precision: str = "auto"
    postprocess: str = "auto"
    threshold: float | None = None
    tta: bool = False
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.mpp is not None and not 0.01 <= self.mpp <= 100:
            raise OptionError("--mpp", f"pixel size must be in [0.01, 100] um/px, got {self.mpp}")
        if self.target_mpp is not None and not 0.05 <= self.target_mpp <= 10:
            raise OptionError("--target-mpp", f"must be in [0.05, 10] um/px, got {self.target_mpp}")
        if not 0 <= self.batch_size <= 1024:
            raise OptionError("--batch-size", f"must be in [0 (auto), 1024], got {self.batch_size}")
        validate_precision(self.precision)
        if self.postprocess not in POSTPROCESS_METHODS:
            raise OptionError("--postprocess", f"must be one of {POSTPROCESS_METHODS}, got {self.postprocess!r}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise OptionError("--threshold", f"must be in (0, 1), got {self.threshold}")
        if not isinstance(self.tta, bool):
            raise OptionError("--tta", f"must be True or False, got {self.tta!r}")
        validate_backend(self.backend)


@dataclass(frozen=True)
class OutputConfig:
    """What is written, and how existing outputs are treated.

    ``simplify`` is the Douglas-Peucker tolerance of the GeoJSON outlines in
    level-0 pixels (0: the exact pixel staircase); outlines stay valid.
    """

    outputs: tuple[str, ...] = ALL_OUTPUTS
    gzip: bool = False
    simplify: float = 0.0
    table_format: str = "parquet"
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.outputs) - set(ALL_OUTPUTS))
        if unknown or not self.outputs:
            raise OptionError("--outputs", f"choose from {','.join(ALL_OUTPUTS)}, got {','.join(self.outputs)}")
        if not 0.0 <= self.simplify <= 4.0:
            raise OptionError("--simplify", f"must be in [0, 4] level-0 pixels, got {self.simplify}")
        if self.table_format not in ("parquet", "csv"):
            raise OptionError("--table-format", f"must be parquet or csv, got {self.table_format!r}")
        if self.resume and self.overwrite:
            raise OptionError("--resume", "cannot be combined with --overwrite")


@dataclass(frozen=True)
class RunConfig:
    """Execution: ``auto``, ``threads``, ``processes`` or a Dask scheduler address.

    ``threads`` are local worker threads on a thread pool
    (:class:`~wsinuc.engine.thread_client.ThreadClient`, no Dask scheduler);
    ``processes`` a local ``distributed`` cluster; an address an existing one.

    ``auto`` is 4 worker processes on CUDA (reading and post-processing of
    some batches overlap the inference of others without sharing one GIL;
    each process loads the model once), 2 threads on the CPU with OpenVINO
    (one OpenVINO stream each, so one thread post-processes while the other
    infers) and 1 thread on the CPU with torch (whose forward already uses
    every core); see :func:`wsinuc.engine.execution.resolve_execution`.
    ``workers=0`` means that automatic count.

    For several slides (a cohort): ``skip_unreadable`` segments the readable
    ones when some inputs cannot be opened (otherwise nothing starts), and
    ``fail_fast`` stops at the first slide that fails instead of going on
    with the others.
    """

    scheduler: str = "auto"
    workers: int = 0
    progress: bool = True
    skip_unreadable: bool = False
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.scheduler not in ("auto", "threads", "processes") and "://" not in self.scheduler:
            raise OptionError(
                "--scheduler", f"use auto, threads, processes or a tcp://host:port address, got {self.scheduler!r}"
            )
        if not 0 <= self.workers <= 256:
            raise OptionError("--workers", f"must be in [0 (auto), 256], got {self.workers}")


@dataclass(frozen=True)
class SegmentConfig:
    """Everything :func:`wsinuc.engine.segment_slide` needs besides paths."""

    tiling: TilingConfig = field(default_factory=TilingConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        """Plain-JSON form, recorded in ``run.json``."""
        return asdict(self)
