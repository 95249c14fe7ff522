"""Dask glue of the engine: local threads, local processes or a real cluster.

The task graph holds only small, picklable chunk descriptions; each worker
loads the model itself (see :mod:`wsinuc.inference.model_cache`). With
several GPUs, start one worker per GPU (``dask-cuda``'s
``LocalCUDACluster``) and pass its scheduler address.

Local threads need no scheduler: they run on a
:class:`~wsinuc.engine.thread_client.ThreadClient`, which offers the same
three calls (``map``, ``cancel``, ``as_completed``) without importing
``distributed`` or starting its event loop (about 0.3 s of every CPU run).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from wsinuc.config import RunConfig
from wsinuc.engine.thread_client import ThreadClient

@contextlib.contextmanager
def dask_client(run: RunConfig) -> Iterator[Any]:
    """A client for ``run.scheduler``, closed on exit.

    Local threads get a :class:`~wsinuc.engine.thread_client.ThreadClient`;
    local processes a ``distributed.LocalCluster``; an address a
    ``distributed.Client`` connected to it.
    """
    if run.scheduler == "threads":
        with ThreadClient(run.workers) as client:
            yield client
        return
    from distributed import Client, LocalCluster

    if "://" in run.scheduler:
        with Client(run.scheduler, timeout="20s") as client:
            yield client
        return
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cluster = LocalCluster(n_workers=run.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
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
    results = []
    try:
        for future in _as_completed(client, list(futures)):
            result = future.result()
            results.append(result)
            on_done(result)
    except BaseException:
        client.cancel(list(futures))
        raise
    return results


def _as_completed(client: Any, futures: list[Any]) -> Iterator[Any]:
    """``futures`` in the order they finish, for a :class:`ThreadClient` or a ``distributed.Client``."""
    if isinstance(client, ThreadClient):
        return client.as_completed(futures)
    from distributed import as_completed

    return as_completed(futures)
