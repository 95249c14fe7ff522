"""How a run executes, decided in one place: device, backend, precision, scheduler and workers.

:func:`resolve_run` turns a :class:`~wsinuc.config.SegmentConfig`'s ``auto``
choices into a concrete :class:`~wsinuc.config.RunConfig` and
:class:`~wsinuc.inference.runtime.Runtime`; the plan, the Dask client and
``run.json`` all read that one answer. :func:`warm_up_in_background` starts
loading the network of a local-threads run while the rest of the engine is
still being imported. This module imports neither the engine nor a network.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from wsinuc.config import RunConfig, SegmentConfig
from wsinuc.inference.model_cache import resolve_model_name, warm_up
from wsinuc.inference.runtime import Runtime, resolve_runtime

log = logging.getLogger(__name__)

#: Local workers of ``--scheduler auto`` when ``--workers`` is 0 (auto), per kind of runtime.
AUTO_WORKERS = {"cuda": 4, "openvino": 2, "torch": 1}


def resolve_execution(run: RunConfig, runtime: Runtime) -> RunConfig:
    """``run`` with ``auto`` scheduler and worker count made concrete for ``runtime``.

    * CUDA: 4 worker processes (reading and post-processing of some batches
      overlap the inference of others without sharing one GIL);
    * CPU with OpenVINO: 2 threads sharing one compiled model with one
      inference stream each, so one thread's forward pass runs while the
      other post-processes;
    * CPU with torch: 1 thread (torch's forward already uses every core).

    A scheduler address is returned unchanged.
    """
    kind = "cuda" if runtime.device.startswith("cuda") else runtime.backend
    if run.scheduler == "auto":
        run = replace(run, scheduler="processes" if kind == "cuda" else "threads")
    if not run.workers:
        run = replace(run, workers=AUTO_WORKERS[kind])
    return run


def openvino_streams(run: RunConfig, runtime: Runtime) -> Runtime:
    """``runtime`` with one OpenVINO stream per thread worker of the (resolved) local ``run``."""
    if runtime.backend != "openvino" or run.scheduler != "threads":
        return runtime
    return replace(runtime, streams=max(1, run.workers))



def resolve_run(config: SegmentConfig) -> tuple[RunConfig, Runtime]:
    """The resolved execution of ``config``: (scheduler and workers, runtime with its OpenVINO streams).

    Device, backend and precision come from
    :func:`~wsinuc.inference.runtime.resolve_runtime` (with the reason for
    each choice), scheduler and workers from :func:`resolve_execution`.
    """
    inference = config.inference
    model = resolve_model_name(inference.model, inference.device)
    runtime = resolve_runtime(inference.device, inference.backend, inference.precision, model)
    run = resolve_execution(config.run, runtime)
    return run, openvino_streams(run, runtime)


def config_runtime(config: SegmentConfig) -> Runtime:
    """The run's :class:`Runtime`: device, backend and precision, and one OpenVINO stream per thread worker."""
    return resolve_run(config)[1]


def warm_up_in_background(config: SegmentConfig) -> threading.Thread | None:
    """Load the network of a local-threads run in a daemon thread; ``None`` when there is nothing to do.

    The worker threads of such a run share this process's model cache
    (:func:`~wsinuc.inference.model_cache.warm_up`), so compiling the
    OpenVINO model (or loading the torch one) here overlaps the engine's
    imports instead of delaying the first chunk. Worker processes and
    clusters load their own copy: nothing is loaded then. A failure is left
    for the chunk tasks to report, with the usual one-line error.
    """
    try:
        run, runtime = resolve_run(config)
        model = resolve_model_name(config.inference.model, config.inference.device)
    except Exception:  # noqa: BLE001 - the run itself reports bad options
        return None
    if run.scheduler != "threads":
        return None
    thread = threading.Thread(target=_warm_up, args=(model, runtime), name="wsinuc-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up(model: str, runtime: Runtime) -> None:
    try:
        warm_up(model, runtime)
    except Exception:  # noqa: BLE001 - reported by the first chunk task that loads the model
        log.debug("warm-up of %s failed", model, exc_info=True)
