"""Smoke runs of the benchmark scripts so they do not rot.

Each script's ``main([...])`` runs in-process on a 768 x 768 synthetic slide
(three 256 px chunks a side) with the ``colour_threshold`` network on the
CPU, and the result JSON is checked for its keys and for numbers that the
slide geometry fixes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from wsinuc.models import create_model, save_weights

SIZE, CHUNK, HALO, BATCH = 768, 256, 64, 2
STAGES = {"read", "inference", "postprocess", "polygons", "measure", "write", "pass2_outputs", "other"}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Slide cache and scratch folder shared by the smoke runs."""
    return tmp_path_factory.mktemp("bench-work")


@pytest.fixture(scope="module")
def colour_weights(work: Path) -> Path:
    """Stem of ``colour_threshold`` weights (a local, training-free network)."""
    stem = work / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    return stem


def _engine_args(work: Path, results: Path, model: Path) -> list[str]:
    return ["--work", str(work), "--results", str(results), "--model", str(model), "--device", "cpu",
            "--chunk-size", str(CHUNK), "--halo", str(HALO), "--batch-size", str(BATCH)]


def _only_result(results: Path, kind: str) -> dict:
    files = sorted(results.glob(f"{kind}-cpu-*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


def _check_header(record: dict, kind: str) -> None:
    assert record["benchmark"] == kind
    assert record["device"]["device"] == "cpu" and record["device"]["device_name"].startswith("CPU")
    assert {"wsinuc", "torch", "cuda", "python"} <= set(record["versions"])
    assert record["model"]["source"] == "weights file"


def test_throughput_reports_both_rates_the_stage_split_and_rss(scripts, work, colour_weights, tmp_path):
    args = _engine_args(work, tmp_path, colour_weights) + ["--size", str(SIZE), "--model-batches", "1"]
    assert scripts("throughput").main(args) == 0
    record = _only_result(tmp_path, "throughput")
    _check_header(record, "throughput")
    e2e, only = record["end_to_end"], record["model_only"]
    assert 0 < e2e["chunks"] <= (SIZE // CHUNK) ** 2
    # every chunk of a 768 px slide cut in 256 px chunks is whole: chunks x 256^2 px at 0.25 um/px
    assert e2e["megapixels_at_0.25"] == pytest.approx(e2e["chunks"] * CHUNK**2 / 1e6)
    assert e2e["mpx_per_s"] == pytest.approx(e2e["megapixels_at_0.25"] / e2e["wall_s"])
    assert only["tiles"] == BATCH and only["tile_side"] == CHUNK + 2 * HALO
    assert only["mpx_per_s"] > 0 and e2e["mpx_per_s"] > 0
    assert record["ratio_end_to_end_to_model_only"] == pytest.approx(e2e["mpx_per_s"] / only["mpx_per_s"])
    assert set(e2e["stage_seconds"]) == STAGES
    assert all(seconds >= 0 for seconds in e2e["stage_seconds"].values())
    assert e2e["stage_seconds"]["inference"] > 0 and e2e["stage_seconds"]["pass2_outputs"] > 0
    assert record["peak_rss_mib"]["end_to_end"]["self"] > 100
    assert record["run_json"]["precision"] == "fp32"


def test_throughput_in_bf16_runs_both_timings_in_bf16(scripts, work, colour_weights, tmp_path):
    args = _engine_args(work, tmp_path, colour_weights) + ["--size", str(SIZE), "--model-batches", "1",
                                                          "--precision", "bf16"]
    assert scripts("throughput").main(args) == 0
    record = _only_result(tmp_path, "throughput")
    assert record["run_json"]["precision"] == "bf16" and record["parameters"]["precision"] == "bf16"


def test_memory_scaling_runs_each_size_in_its_own_process(scripts, work, colour_weights, tmp_path):
    args = _engine_args(work, tmp_path, colour_weights) + ["--sizes", f"{SIZE},512"]
    assert scripts("memory_scaling").main(args) == 0
    record = _only_result(tmp_path, "memory_scaling")
    _check_header(record, "memory_scaling")
    runs = record["runs"]
    assert [run["size"] for run in runs] == [512, SIZE]
    assert [run["slide_megapixels_at_0.25"] for run in runs] == pytest.approx([512**2 / 1e6, SIZE**2 / 1e6])
    assert all(run["wall_s"] > 0 and run["peak_rss_mib"]["self"] > 100 for run in runs)
    assert runs[1]["tissue_megapixels_at_0.25"] > runs[0]["tissue_megapixels_at_0.25"]
    assert record["growth"]["tissue_area"] == pytest.approx(
        runs[1]["tissue_megapixels_at_0.25"] / runs[0]["tissue_megapixels_at_0.25"])


def test_tiatoolbox_engine_finds_the_same_nuclei_with_a_local_model(scripts, work, colour_weights, tmp_path):
    pytest.importorskip("tiatoolbox")
    args = _engine_args(work, tmp_path, colour_weights) + ["--size", str(SIZE), "--oracle-size", "512"]
    assert scripts("vs_tiatoolbox").main(args) == 0
    record = _only_result(tmp_path, "vs_tiatoolbox")
    _check_header(record, "vs_tiatoolbox")
    ours, theirs, agreement = record["wsinuc"], record["tiatoolbox"], record["agreement"]
    assert record["versions"]["tiatoolbox"]
    assert ours["wall_s"] > 0 and theirs["wall_s"] > 0
    assert record["wall_ratio_tiatoolbox_to_wsinuc"] == pytest.approx(theirs["wall_s"] / ours["wall_s"])
    assert record["slide_megapixels"] == pytest.approx(SIZE**2 / 1e6)
    # TIAToolbox keeps a patch when its halo touches tissue, wsinuc when its core does
    assert theirs["patches"] >= ours["chunks"]
    nuclei = agreement["nuclei_wsinuc_labels_vs_tiatoolbox"]
    assert agreement["rule"] == "opening" and nuclei["all"]["first_nuclei"] >= ours["nuclei"] > 0
    assert nuclei["away_from_borders"]["f1"] == 1.0
    # a network without context: the engines' maps and the untiled oracle's are the same
    assert agreement["maps"]["tiatoolbox_vs_oracle"]["class_differs_pixels"] == 0
    assert agreement["nuclei_in_oracle_box"]["wsinuc_labels_vs_oracle"]["away_from_borders"]["f1"] == 1.0
    assert set(agreement["tiatoolbox_through_other_rules"]) == {"watershed"}


@pytest.fixture(scope="module")
def three_class_weights(work: Path) -> Path:
    """Stem of a tiny untrained background / interior / boundary cascade whose card asks for ``seeded``."""
    torch.manual_seed(0)
    model = create_model("cascade", stage1_width=4, stage1_depth=2, stage2_encoder="vgg16_lite", stage2_width=4,
                         stage2_decoder_channels=[8, 8, 8, 8, 8], classes=3)
    stem = work / "three-class"
    save_weights(model, stem, {"name": "three-class", "mpp": 0.25, "postprocess": "seeded",
                               "seeded": {"threshold": 0.3, "min_seed_size": 4}})
    return stem


def test_tiatoolbox_engine_runs_a_three_class_model_through_the_card_rule(scripts, work, three_class_weights,
                                                                          tmp_path):
    """Issue 22: a two-map model used to fail in TIAToolbox's merge ((h, w, 2) vs (h, w, 2, 1))."""
    pytest.importorskip("tiatoolbox")
    args = _engine_args(work, tmp_path, three_class_weights) + ["--size", "512", "--oracle-size", "256"]
    assert scripts("vs_tiatoolbox").main(args) == 0
    agreement = _only_result(tmp_path, "vs_tiatoolbox")["agreement"]
    assert agreement["rule"] == "seeded" and set(agreement["tiatoolbox_through_other_rules"]) == {
        "opening", "watershed"}
    # the box touches the slide edge, where TIAToolbox pads patches beyond the slide and wsinuc does not
    assert agreement["maps"]["tiatoolbox_vs_wsinuc"]["max_abs_difference"] < 1e-2
    away = agreement["nuclei_wsinuc_labels_vs_tiatoolbox"]["away_from_borders"]
    assert away["f1"] in (None, 1.0)


def _hand_made_results(folder: Path) -> None:
    """One minimal record of each benchmark, with the fields the figures use."""
    header = {"device": {"device_slug": "cpu"}, "model": {"argument": "/w/colour"}}
    stages = dict.fromkeys(STAGES, 0.5)
    records = {
        "throughput": header | {"parameters": {"size": 768}, "model_only": {"mpx_per_s": 4.0},
                                "end_to_end": {"megapixels_at_0.25": 2.0, "wall_s": 5.0, "stage_seconds": stages}},
        "memory_scaling": header | {"parameters": {"sizes": [512, 768]}, "runs": [
            {"tissue_megapixels_at_0.25": 1.0, "wall_s": 2.0, "peak_rss_mib": {"process_tree_sampled": 800.0}},
            {"tissue_megapixels_at_0.25": 2.0, "wall_s": 4.0, "peak_rss_mib": {"process_tree_sampled": 810.0}}]},
        "vs_tiatoolbox": header | {"parameters": {"size": 768}, "wsinuc": {"wall_s": 2.0},
                                   "tiatoolbox": {"wall_s": 3.0},
                                   "agreement": {"nuclei_wsinuc_labels_vs_tiatoolbox": {"all": {"f1": 0.97}}}},
    }
    for kind, record in records.items():
        (folder / f"{kind}-cpu-test.json").write_text(json.dumps(record | {"benchmark": kind}))
    (folder / "unrelated.json").write_text(json.dumps({"benchmark": "other"}))


def test_plots_draw_one_png_per_benchmark(scripts, tmp_path):
    pytest.importorskip("matplotlib")
    _hand_made_results(tmp_path)
    assert scripts("plots").main(["--results", str(tmp_path)]) == 0
    for name in ("throughput_stages.png", "memory_scaling.png", "vs_tiatoolbox.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_without_results_draw_nothing(scripts, tmp_path):
    assert scripts("plots").main(["--results", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("*.png"))


def test_model_cost_compares_models_on_the_same_tiles(scripts, work, colour_weights, tmp_path):
    args = ["--models", f"{colour_weights},cascade-lite", "--device", "cpu", "--tile", "64", "--tiles", "2",
            "--work", str(work), "--results", str(tmp_path)]
    assert scripts("model_cost").main(args) == 0
    record = _only_result(tmp_path, "model_cost")
    colour, lite = record["models"]
    assert colour["tiles"] == lite["tiles"] == 2 and colour["tile_side"] == 64
    assert lite["parameters"] == sum(p.numel() for p in create_model("cascade-lite").parameters())
    assert lite["kmac_per_px"] > 10 * colour["kmac_per_px"] > 0
    assert record["speed_ratio_second_over_first"] == pytest.approx(lite["mpx_per_s"] / colour["mpx_per_s"])
    assert max(colour["speed_vs_fastest"], lite["speed_vs_fastest"]) == 1.0


def test_model_cost_times_each_model_in_each_precision(scripts, work, tmp_path):
    args = ["--models", "cascade-lite", "--precisions", "fp32,bf16", "--device", "cpu", "--tile", "64",
            "--tiles", "2", "--work", str(work), "--results", str(tmp_path)]
    assert scripts("model_cost").main(args) == 0
    fp32, bf16 = _only_result(tmp_path, "model_cost")["models"]
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert fp32["parameters"] == bf16["parameters"] and "speed_vs_fp32" not in fp32
    assert bf16["speed_vs_fp32"] == pytest.approx(bf16["mpx_per_s"] / fp32["mpx_per_s"])


def test_model_cost_refuses_an_unknown_precision(scripts):
    with pytest.raises(SystemExit):
        scripts("model_cost").parse_args(["--precisions", "fp16"])


def test_macs_per_pixel_of_one_convolution_is_its_kernel_volume(scripts):
    model_cost = scripts("model_cost")
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
    assert model_cost.macs_per_pixel(conv, side=32) == 3 * 8 * 9
    up = torch.nn.ConvTranspose2d(3, 4, kernel_size=2, stride=2)
    assert model_cost.macs_per_pixel(up, side=32) == 3 * 4 * 4
