"""Local worker threads with the three calls of ``distributed.Client`` the engine uses.

A run on the CPU's own threads needs no scheduler, no event loop and no
``distributed`` import: a :class:`ThreadClient` runs the same chunk tasks on a
:class:`concurrent.futures.ThreadPoolExecutor`. Tasks run in the order they
were submitted, as on a Dask cluster, so the chunks of the next slide of a
cohort start once those of the previous one are running.
"""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


class ThreadClient:
    """``map``, ``cancel`` and ``as_completed`` on ``workers`` local threads.

    Parameters
    ----------
    workers : int
        Number of worker threads (at least 1).

    Examples
    --------
    >>> with ThreadClient(2) as client:
    ...     futures = client.map(lambda x: x * x, [1, 2, 3], pure=False)
    ...     sorted(f.result() for f in client.as_completed(futures))
    [1, 4, 9]
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="wsinuc-worker")

    def map(
        self, func: Callable[[Any], Any], items: Iterable[Any], pure: bool = False
    ) -> list[concurrent.futures.Future]:
        """Submit ``func(item)`` for every item, in order; ``pure`` is accepted for ``distributed`` parity."""
        del pure
        return [self._pool.submit(functools.partial(func, item)) for item in items]

    @staticmethod
    def cancel(futures: Sequence[concurrent.futures.Future]) -> None:
        """Cancel the futures that have not started and wait for the running ones to finish their chunk.

        A thread cannot be stopped mid-task; waiting means that no task of a
        cancelled slide still writes once the caller reports it.
        """
        for future in futures:
            future.cancel()
        concurrent.futures.wait(futures)

    @staticmethod
    def as_completed(futures: Sequence[concurrent.futures.Future]) -> Iterator[concurrent.futures.Future]:
        """``futures`` in the order they finish."""
        return concurrent.futures.as_completed(futures)

    def close(self) -> None:
        """Drop the tasks not started and wait for the running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ThreadClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
