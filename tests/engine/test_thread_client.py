"""ThreadClient: distributed.Client's map / cancel / as_completed on local threads, in submission order."""

from __future__ import annotations

import threading
import time

import pytest

from wsinuc.engine.dask_glue import collect_tasks, submit_tasks
from wsinuc.engine.thread_client import ThreadClient


def test_results_come_back_for_every_item():
    with ThreadClient(2) as client:
        futures = client.map(lambda x: x * 10, [1, 2, 3], pure=False)
        assert [f.result() for f in futures] == [10, 20, 30]
        assert sorted(f.result() for f in client.as_completed(futures)) == [10, 20, 30]


def test_the_workers_run_at_once():
    barrier = threading.Barrier(2, timeout=10)
    with ThreadClient(2) as client:
        futures = client.map(lambda _: barrier.wait() is not None, [0, 1])
        assert all(f.result(timeout=20) for f in futures)


def test_tasks_start_in_submission_order_on_one_worker():
    started = []
    with ThreadClient(1) as client:
        futures = client.map(started.append, [3, 1, 2])
        [f.result() for f in futures]
    assert started == [3, 1, 2]


def test_cancel_drops_tasks_not_started_and_waits_for_the_running_one():
    started, gate, ran = threading.Event(), threading.Event(), []

    def task(item):
        if item == 0:
            started.set()
            gate.wait(10)
        ran.append(item)
        return item

    client = ThreadClient(1)
    futures = client.map(task, [0, 1, 2])
    assert started.wait(10)
    threading.Timer(0.2, gate.set).start()
    client.cancel(futures)  # returns once the running task is done
    assert ran == [0] and futures[0].result() == 0
    assert futures[1].cancelled() and futures[2].cancelled()
    client.close()


def test_a_failing_task_is_raised_by_collect_tasks_and_the_rest_cancelled():
    def task(shared, item):
        if item == 1:
            raise OSError(f"{shared}: chunk {item} unreadable")
        time.sleep(0.01)
        return [item]

    with ThreadClient(1) as client:
        futures = submit_tasks(client, task, "slide.svs", [0, 1, 2, 3])
        with pytest.raises(OSError, match="slide.svs: chunk 1 unreadable"):
            collect_tasks(client, futures, lambda done: None)
        assert futures[3].cancelled() or futures[3].done()


def test_collect_tasks_reports_each_result_as_it_arrives():
    seen = []
    with ThreadClient(2) as client:
        futures = submit_tasks(client, lambda shared, item: shared + item, 100, [1, 2, 3])
        results = collect_tasks(client, futures, seen.append)
    assert sorted(results) == sorted(seen) == [101, 102, 103]


def test_at_least_one_worker():
    with pytest.raises(ValueError, match="at least 1"):
        ThreadClient(0)
