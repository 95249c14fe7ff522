"""Automatic execution per runtime: processes on CUDA, 2 OpenVINO threads with a stream each, 1 torch thread."""

from __future__ import annotations

import pytest

from wsinuc.config import RunConfig
from wsinuc.engine.dask_glue import openvino_streams, resolve_execution
from wsinuc.inference.runtime import Runtime

OPENVINO = Runtime("cpu", "openvino", "bf16", "test")
TORCH_CPU = Runtime("cpu", "torch", "fp32", "test")
TORCH_CUDA = Runtime("cuda:0", "torch", "bf16", "test")


@pytest.mark.parametrize(("runtime", "scheduler", "workers"), [
    (TORCH_CUDA, "processes", 4), (OPENVINO, "threads", 2), (TORCH_CPU, "threads", 1)])
def test_auto_execution_follows_the_runtime(runtime, scheduler, workers):
    run = resolve_execution(RunConfig(), runtime)
    assert (run.scheduler, run.workers) == (scheduler, workers)


def test_explicit_choices_and_addresses_are_kept():
    assert resolve_execution(RunConfig("processes", 3), OPENVINO) == RunConfig("processes", 3)
    assert resolve_execution(RunConfig("threads", 1), TORCH_CUDA) == RunConfig("threads", 1)
    assert resolve_execution(RunConfig("tcp://host:8786"), OPENVINO).scheduler == "tcp://host:8786"


def test_openvino_gets_one_stream_per_thread_worker_only():
    threads = resolve_execution(RunConfig(workers=3), OPENVINO)
    assert openvino_streams(threads, OPENVINO).streams == 3
    assert openvino_streams(resolve_execution(RunConfig("processes", 3), OPENVINO), OPENVINO).streams == 1
    assert openvino_streams(threads, TORCH_CPU) == TORCH_CPU
    assert "3 streams" in openvino_streams(threads, OPENVINO).describe()
