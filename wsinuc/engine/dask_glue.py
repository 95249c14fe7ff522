"""Dask glue of the engine: local threads, local processes or a real cluster.

The task graph holds only small, picklable chunk descriptions; each worker
loads the model itself (see :mod:`wsinuc.inference.model_cache`). With
several GPUs, start one worker per GPU (``dask-cuda``'s
``LocalCUDACluster``) and pass its scheduler address.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dataclasses import replace

from wsinuc.config import RunConfig
from wsinuc.inference.runtime import Runtime

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


@contextlib.contextmanager
def dask_client(run: RunConfig) -> Iterator[Any]:
    """A ``distributed.Client`` for ``run.scheduler``; local clusters are closed on exit."""
    from distributed import Client, LocalCluster

    if "://" in run.scheduler:
        with Client(run.scheduler, timeout="20s") as client:
            yield client
        return
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    processes = run.scheduler == "processes"
    cluster = LocalCluster(
        n_workers=run.workers if processes else 1,
        threads_per_worker=1 if processes else run.workers,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


def submit_tasks(client: Any, task: Callable[..., dict], shared: Any, items: Sequence[Any]) -> list[Any]:
    """Submit ``task(shared, item)`` for every item without waiting; return the futures.

    Futures submitted earlier run first, so the tasks of the next slide of a
    cohort fill the workers only once those of the previous one are done.
    """
    if not items:
        return []
    return client.map(functools.partial(task, shared), list(items), pure=False)


def collect_tasks(client: Any, futures: Sequence[Any], on_done: Callable[[dict], None]) -> list[dict]:
    """Wait for ``futures``, calling ``on_done`` with each result as it arrives.

    The first failing task cancels the rest and its exception is raised.
    """
    from distributed import as_completed

    results = []
    try:
        for future in as_completed(list(futures)):
            result = future.result()
            results.append(result)
            on_done(result)
    except BaseException:
        client.cancel(list(futures))
        raise
    return results
