"""Overlap the slides of one call: the next slide starts while the previous one finishes.

Starting a slide plans it and submits its chunk tasks without waiting;
finishing it waits for those tasks and writes its outputs (pass 2). Starting
slide ``i + 1`` before finishing slide ``i`` keeps the workers busy while the
client writes slide ``i``'s outputs, so a folder of small tiles keeps the
network busy. The functions here know nothing of Dask: the caller passes what
starts, finishes and cancels one item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What became of one item: its value, or the exception that stopped it."""

    item: Any
    value: Any = None
    error: Exception | None = None


def overlapped(
    items: Iterable[Any],
    start: Callable[[Any], Any],
    finish: Callable[[Any], Any],
    cancel: Callable[[Any], None],
) -> Iterator[Outcome]:
    """Yield the :class:`Outcome` of every item, in order, starting each before finishing the previous.

    1. ``start(item)`` returns a handle (or raises: that item's outcome is the error).
    2. Then the previous item's handle goes through ``finish`` (its outcome is
       the value, or the error it raised) and that outcome is yielded.
    3. Closing the generator early calls ``cancel`` on a handle started but not finished.

    Exceptions other than :class:`Exception` (Ctrl-C) are not caught.
    """
    waiting: tuple[Any, Any, Exception | None] | None = None
    try:
        for item in items:
            step = _attempt(item, start)
            previous, waiting = waiting, step
            if previous is not None:
                yield _complete(previous, finish)
        if waiting is not None:
            last, waiting = waiting, None
            yield _complete(last, finish)
    finally:
        if waiting is not None and waiting[2] is None:
            cancel(waiting[1])


def _attempt(item: Any, start: Callable[[Any], Any]) -> tuple[Any, Any, Exception | None]:
    try:
        return item, start(item), None
    except Exception as error:  # noqa: BLE001 - the item's outcome, reported by the caller
        return item, None, error


def _complete(step: tuple[Any, Any, Exception | None], finish: Callable[[Any], Any]) -> Outcome:
    item, handle, error = step
    if error is not None:
        return Outcome(item, error=error)
    try:
        return Outcome(item, value=finish(handle))
    except Exception as failure:  # noqa: BLE001 - the item's outcome, reported by the caller
        return Outcome(item, error=failure)
