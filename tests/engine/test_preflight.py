"""A real local Dask cluster: relative paths, pre-flight failures, a killed worker, a cohort with bad slides.

The scheduler and workers are ``dask scheduler`` / ``dask worker``
subprocesses on 127.0.0.1, started in a folder other than the client's; the
client runs ``wsinuc segment`` in-process with relative paths.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from pathlib import Path

import pytest
from bad_slides import copy_slide, slide_with_a_bad_tile, truncated_copy
from local_cluster import local_cluster, port_is_free
from typer.testing import CliRunner

import wsinuc
from wsinuc.cli.app import app
from wsinuc.engine import cohort
from wsinuc.engine.cohort import SUMMARY_NAME
from wsinuc.slide import write_synthetic_slide

pytestmark = pytest.mark.timeout(240)
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with local_cluster(tmp_path_factory.mktemp("dask-cwd"), workers=2) as running:
        yield running
    assert all(process.poll() is not None for process in [running.scheduler, *running.workers])
    assert port_is_free(running.port)


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """The client's working folder (not the workers')."""
    folder = tmp_path / "client"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def segment(here: Path, model: Path, slides: list[Path], out: str, *args: str):
    relative = [os.path.relpath(slide, here) for slide in slides]
    return runner.invoke(app, ["segment", *relative, "--out", out, "--model", os.path.relpath(model, here),
                               "--device", "cpu", "--chunk-size", "256", "--halo", "160", "--no-tissue",
                               "--outputs", "geojson", "--quiet", *args])


def one_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_relative_paths_give_the_geojson_of_the_threads_scheduler(here, cluster, small_slide, colour_model):
    threads = segment(here, colour_model, [small_slide], "threads-out", "--scheduler", "threads")
    remote = segment(here, colour_model, [small_slide], "cluster-out", "--scheduler", cluster.address)
    assert threads.exit_code == 0 and remote.exit_code == 0, remote.output
    ours = (here / "cluster-out" / small_slide.stem / "nuclei.geojson").read_bytes()
    assert ours == (here / "threads-out" / small_slide.stem / "nuclei.geojson").read_bytes()
    record = json.loads((here / "cluster-out" / small_slide.stem / "run.json").read_text())
    assert record["slide"] == str(small_slide) and record["out_dir"] == str(here / "cluster-out" / small_slide.stem)
    assert record["config"]["inference"]["model"] == str(colour_model)
    assert not (cluster.folder / "cluster-out").exists()


def test_a_slide_no_worker_can_see_is_one_line_and_nothing_is_written(here, cluster, small_slide, colour_model,
                                                                       monkeypatch):
    slide = copy_slide(small_slide, here / "local-only.svs")
    real = cohort.preflight

    def after_the_client_opened_it(client, expected):  # the slide leaves the storage workers share
        slide.rename(here / "elsewhere.svs")
        real(client, expected)

    monkeypatch.setattr(cohort, "preflight", after_the_client_opened_it)
    result = segment(here, colour_model, [slide], "out", "--scheduler", cluster.address)
    one_line(result, "wsinuc: error: worker tcp://127.0.0.1:", f"cannot see {slide} — slides and --out must be on")
    assert not (here / "out").exists()


def test_an_output_folder_workers_cannot_create_is_one_line(here, cluster, small_slide, colour_model):
    (here / "blocker").write_text("a file where a folder should be")
    result = segment(here, colour_model, [small_slide], "blocker/out", "--scheduler", cluster.address)
    one_line(result, "wsinuc: error: worker tcp://127.0.0.1:", f"cannot create files in {here / 'blocker' / 'out'}")


def test_a_worker_with_another_wsinuc_version_is_named(here, cluster, small_slide, colour_model):
    from distributed import Client

    with Client(cluster.address) as client:
        address = sorted(client.scheduler_info()["workers"])[0]
        client.run(functools.partial(setattr, wsinuc, "__version__", "0.0.0-other"), workers=[address])
        try:
            result = segment(here, colour_model, [small_slide], "out", "--scheduler", cluster.address)
        finally:
            client.run(functools.partial(setattr, wsinuc, "__version__", wsinuc.__version__), workers=[address])
    one_line(result, f"wsinuc: error: worker {address}: runs wsinuc 0.0.0-other, the client {wsinuc.__version__}")
    assert not (here / "out").exists()


def test_a_cohort_with_bad_slides_in_the_middle(here, cluster, small_slide, colour_model):
    slides = [copy_slide(small_slide, here / "good1.svs"), truncated_copy(small_slide, here / "truncated.svs"),
              slide_with_a_bad_tile(here / "bad_tile.svs"), copy_slide(small_slide, here / "good2.svs")]
    result = segment(here, colour_model, slides, "out", "--scheduler", cluster.address, "--skip-unreadable")
    assert result.exit_code == 1, result.output
    summary = json.loads((here / "out" / SUMMARY_NAME).read_text())
    assert [e["status"] for e in summary["slides"]] == ["done", "skipped", "failed", "done"]
    assert "truncated TIFF" in summary["slides"][1]["reason"]
    assert "bad_tile.svs: cannot read region" in summary["slides"][2]["reason"]
    assert (here / "out" / "good1" / "nuclei.geojson").read_bytes() == (here / "out" / "good2" / "nuclei.geojson").read_bytes()


@pytest.fixture(scope="module")
def larger_slide(tmp_path_factory) -> Path:
    return write_synthetic_slide(tmp_path_factory.mktemp("larger") / "larger.svs", 2048, 1536, mpp=0.25, seed=7)


def test_a_worker_killed_mid_run_changes_nothing(here, cluster, larger_slide, colour_model):
    reference = segment(here, colour_model, [larger_slide], "threads-out", "--scheduler", "threads")
    assert reference.exit_code == 0, reference.output
    chunks = here / "out" / larger_slide.stem / ".work" / "chunks"
    killed, seen = threading.Event(), []

    def kill_after_three_chunks() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if chunks.is_dir() and len(list(chunks.glob("*.chunk"))) >= 3:
                seen.append(len(list(chunks.glob("*.chunk"))))
                cluster.kill_worker(cluster.workers[0])
                killed.set()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_three_chunks, daemon=True)
    killer.start()
    try:
        result = segment(here, colour_model, [larger_slide], "out", "--scheduler", cluster.address)
    finally:
        killer.join(timeout=60)
        cluster.add_worker()
        cluster.wait_for_workers(2)
    assert killed.is_set() and result.exit_code == 0, result.output
    record = json.loads((here / "out" / larger_slide.stem / "run.json").read_text())
    assert seen[0] < record["counts"]["chunks"]
    name = f"{larger_slide.stem}/nuclei.geojson"
    assert (here / "out" / name).read_bytes() == (here / "threads-out" / name).read_bytes()


def test_check_worker_names_another_pyramid_and_other_weights(tmp_path, small_slide, colour_model):
    from wsinuc.engine.preflight import Expectation, check_worker, weights_digests

    layout = {"dimensions": [640, 512], "levels": [[640, 512]]}
    expected = Expectation(version=wsinuc.__version__, model=str(colour_model), weights=("0" * 64,),
                           slides=((str(small_slide), layout),), mpp=None, out_dir=str(tmp_path / "out"))
    problems = check_worker(expected)
    assert len(problems) == 2
    assert problems[0].startswith(f"has other weights for {colour_model} (sha256 {weights_digests(str(colour_model))[0][:12]}")
    assert problems[1].startswith(f"sees {small_slide} as 1280 x 1024 px with 3 levels, the client as 640 x 512 with 1")
    assert list(tmp_path.iterdir()) == []
