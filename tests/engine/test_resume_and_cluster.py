"""Kill -9 then --resume; a real dask.distributed scheduler on localhost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from engine_files import read_labels

from wsinuc.config import InferenceConfig, OutputConfig, RunConfig, SegmentConfig, TilingConfig
from wsinuc.engine import segment_slide
from wsinuc.slide import write_synthetic_slide


def _config(model: Path, **output) -> SegmentConfig:
    return SegmentConfig(
        tiling=TilingConfig(chunk_size=256, halo=160),
        inference=InferenceConfig(model=str(model), device="cpu"),
        output=OutputConfig(outputs=("zarr", "table"), **output),
        run=RunConfig(progress=False),
    )


@pytest.fixture(scope="module")
def resume_slide(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "big.svs"
    return write_synthetic_slide(path, 2048, 2048, mpp=0.25, seed=5)


def _kill_after_chunks(command: list[str], work: Path, chunks: int, timeout: float = 240) -> int:
    """Start ``command``; SIGKILL it once ``chunks`` chunk files exist. Returns files seen."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            done = list((work / "chunks").glob("*.chunk")) if (work / "chunks").is_dir() else []
            if len(done) >= chunks:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    return len(list((work / "chunks").glob("*.chunk")))


def test_kill_then_resume_gives_the_uninterrupted_result(tmp_path, resume_slide, colour_model):
    reference = segment_slide(resume_slide, tmp_path / "ref", _config(colour_model))
    out = tmp_path / "killed"
    command = [
        sys.executable, "-m", "wsinuc", "segment", str(resume_slide), "--out", str(out),
        "--model", str(colour_model), "--device", "cpu", "--chunk-size", "256", "--halo", "160",
        "--outputs", "zarr,table", "--quiet",
    ]
    finished_before = _kill_after_chunks(command, out / resume_slide.stem / ".work", chunks=3)
    assert not (out / resume_slide.stem / "labels.ome.zarr").exists()
    assert not (out / resume_slide.stem / "nuclei.parquet").exists()

    record = segment_slide(resume_slide, out, _config(colour_model, resume=True))

    total = reference["counts"]["chunks"]
    assert 3 <= finished_before < total
    assert record["counts"]["chunks_run_now"] == total - finished_before
    np.testing.assert_array_equal(
        read_labels(out / resume_slide.stem / "labels.ome.zarr"),
        read_labels(tmp_path / "ref" / resume_slide.stem / "labels.ome.zarr"),
    )
    assert pq.read_table(out / resume_slide.stem / "nuclei.parquet").equals(
        pq.read_table(tmp_path / "ref" / resume_slide.stem / "nuclei.parquet")
    )


def test_runs_on_a_localhost_distributed_cluster(tmp_path, small_slide, colour_model):
    from distributed import LocalCluster

    local = segment_slide(small_slide, tmp_path / "local", _config(colour_model))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        config = _config(colour_model)
        config = SegmentConfig(config.tiling, config.inference, config.output,
                               RunConfig(scheduler=cluster.scheduler_address, progress=False))
        remote = segment_slide(small_slide, tmp_path / "remote", config)
    assert remote["counts"]["nuclei"] == local["counts"]["nuclei"] > 0
    np.testing.assert_array_equal(
        read_labels(tmp_path / "remote" / small_slide.stem / "labels.ome.zarr"),
        read_labels(tmp_path / "local" / small_slide.stem / "labels.ome.zarr"),
    )
