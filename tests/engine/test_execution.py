"""Execution decided once: processes on CUDA, 2 OpenVINO threads with a stream each, 1 torch thread; the warm-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wsinuc.config import InferenceConfig, RunConfig, SegmentConfig
from wsinuc.engine import execution
from wsinuc.engine.execution import config_runtime, openvino_streams, resolve_execution, resolve_run
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


def test_resolve_run_decides_runtime_and_execution_once():
    config = SegmentConfig(inference=InferenceConfig(model="cascade-lite", device="cpu", backend="torch"),
                           run=RunConfig(workers=3))
    run, runtime = resolve_run(config)
    assert (run.scheduler, run.workers) == ("threads", 3)
    assert (runtime.device, runtime.backend, runtime.precision, runtime.streams) == ("cpu", "torch", "fp32", 1)
    assert config_runtime(config) == runtime


def test_the_warm_up_loads_the_network_of_a_local_threads_run(monkeypatch):
    loaded = []
    monkeypatch.setattr(execution, "warm_up", lambda model, runtime: loaded.append((model, runtime.backend)))
    config = SegmentConfig(inference=InferenceConfig(model="cascade-lite", device="cpu", backend="torch"))
    thread = execution.warm_up_in_background(config)
    thread.join(30)
    assert loaded == [("cascade-lite", "torch")]


def test_no_warm_up_for_worker_processes(monkeypatch):
    monkeypatch.setattr(execution, "warm_up", lambda *a: pytest.fail("loaded in the parent"))
    processes = SegmentConfig(inference=InferenceConfig(model="cascade-lite", device="cpu", backend="torch"),
                              run=RunConfig("processes", 2))
    assert execution.warm_up_in_background(processes) is None


def test_a_failed_warm_up_is_left_to_the_run(monkeypatch, caplog):
    def fail(model, runtime):
        raise OSError(f"{model}: weights unreadable")

    monkeypatch.setattr(execution, "warm_up", fail)
    config = SegmentConfig(inference=InferenceConfig(model="cascade-lite", device="cpu", backend="torch"))
    with caplog.at_level("DEBUG", logger="wsinuc.engine.execution"):
        execution.warm_up_in_background(config).join(30)
    assert "warm-up of cascade-lite failed" in caplog.text


def test_importing_the_execution_module_does_not_import_the_engine():
    code = ("import sys, wsinuc.engine.execution; "
            "print(sorted(m for m in ('wsinuc.engine.run', 'wsinuc.engine.chunk_task', 'distributed', 'torch') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
