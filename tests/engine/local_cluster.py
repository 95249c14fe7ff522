"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` subprocesses on 127.0.0.1.

The processes run in a folder of their own (not the test's), import this
checkout's ``wsinuc`` (``PYTHONPATH`` set to the repository root) and are
killed, and their ports freed, when the context exits, even after a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class LocalDaskCluster:
    """Scheduler and worker subprocesses; :meth:`close` kills whatever is still running."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                        OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{args[0]}-{len(self.workers)}.log", "wb")  # noqa: SIM115 - closed with the process
        with log:
            return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.folder, env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT)

    def start(self, workers: int) -> None:
        """Start the scheduler and ``workers`` single-thread workers (no nanny: one process each)."""
        self.scheduler = self._spawn("scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard")
        for _ in range(workers):
            self.add_worker()
        self.wait_for_workers(workers)

    def add_worker(self) -> subprocess.Popen:
        """Start one more worker process."""
        worker = self._spawn("worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                             "--host", "127.0.0.1", "--death-timeout", "60")
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        """Block until ``count`` workers are connected (or fail after :data:`START_TIMEOUT_S`)."""
        from distributed import Client

        with Client(self.address, timeout=f"{START_TIMEOUT_S}s") as client:
            client.wait_for_workers(count, timeout=START_TIMEOUT_S)

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL one worker process and reap it."""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        self.workers.remove(worker)
        self.wait_for_count(len(self.workers))

    def wait_for_count(self, count: int) -> None:
        """Block until the scheduler lists exactly ``count`` workers."""
        from distributed import Client

        deadline = time.monotonic() + START_TIMEOUT_S
        with Client(self.address, timeout=f"{START_TIMEOUT_S}s") as client:
            while len(client.scheduler_info()["workers"]) != count and time.monotonic() < deadline:
                time.sleep(0.1)

    def close(self) -> None:
        """Kill every process still running and wait for it."""
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.kill()
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                process.wait(timeout=30)


@contextlib.contextmanager
def local_cluster(folder: Path, workers: int = 2) -> Iterator[LocalDaskCluster]:
    """A started :class:`LocalDaskCluster` whose processes run in ``folder``; closed on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = LocalDaskCluster(folder)
    try:
        cluster.start(workers)
        yield cluster
    finally:
        cluster.close()
