"""Smoke runs of the validation-choice scripts and the training-curve plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wsinuc.models import create_model, save_weights


def test_postprocess_choice_scores_every_candidate_and_keeps_the_best(scripts, monuseg_root, tmp_path):
    stem = tmp_path / "ib"
    save_weights(create_model("cascade-ib-lite"), stem, {"name": "ib", "mpp": 0.25, "postprocess": "seeded"})
    scripts("postprocess_choice").main([
        "--model", str(stem), "--data", str(monuseg_root), "--threads", "1", "--thresholds", "0.5",
        "--min-seed-sizes", "0,8", "--expansions", "2,4", "--seed-peaks", "0", "--merge-dips", "0",
        "--results", str(tmp_path / "results")])
    record = json.loads(next((tmp_path / "results").glob("postprocess_choice-*.json")).read_text())
    assert len(record["images"]) == 6 and record["split"] == "val"
    assert len(record["candidates"]) == 2 + 4
    methods = {row["candidate"]["method"] for row in record["candidates"]}
    assert methods == {"opening", "watershed", "seeded"}
    assert record["highest_aji"]["metrics"]["aji"] == max(row["metrics"]["aji"] for row in record["candidates"])
    assert record["best"]["metrics"]["aji"] >= record["highest_aji"]["metrics"]["aji"] - 0.5
    assert all(len(row["metrics"]["aji_per_image"]) == 6 for row in record["candidates"])
    assert record["shift"] == [1, 2]


def test_a_nucleus_only_model_gets_no_seeded_candidates(scripts):
    grid = scripts("postprocess_choice").candidates(False, [0.4, 0.5], [0, 8], [2])
    assert {c["method"] for c in grid} == {"opening", "watershed"} and len(grid) == 4


def test_seeded_candidates_label_touching_nuclei_apart(scripts):
    interior = np.zeros((20, 30), np.float32)
    interior[5:15, 3:12] = interior[5:15, 16:26] = 0.9
    nucleus = np.zeros_like(interior)
    nucleus[3:17, 1:28] = 0.9
    labels = scripts("postprocess_choice").instances(
        np.stack([interior, nucleus], axis=-1),
        {"method": "seeded", "threshold": 0.5, "min_seed_size": 0, "max_expansion": 3})
    assert labels.max() == 2 and labels[10, 13] != 0 and labels[10, 14] != 0


def test_training_curves_read_every_log_and_draw_a_png(scripts, tmp_path):
    for folder, aji in (("stage1", "0.3"), ("stage1_oof/fold0", "")):
        (tmp_path / "run" / folder).mkdir(parents=True)
        (tmp_path / "run" / folder / "log.csv").write_text(
            "epoch,step,train_loss,val_loss,val_aji,val_f1,lr,seconds\n"
            f"1,10,0.5,0.4,{aji},{aji},0.001,1.0\n2,20,0.4,,,,0.0005,1.0\n")
    module = scripts("training_curves")
    logs = module.read_logs(tmp_path / "run")
    assert sorted(logs) == ["stage1", "stage1_oof/fold0"]
    assert logs["stage1"][0]["val_aji"] == 0.3 and "val_aji" not in logs["stage1"][1]
    out = module.plot_logs(logs, "run", tmp_path / "curves.png")
    assert out.stat().st_size > 1000


def test_training_curves_of_a_folder_without_logs_say_so(scripts, tmp_path):
    with pytest.raises(FileNotFoundError, match="no log.csv"):
        scripts("training_curves").read_logs(tmp_path)


def test_tta_choice_scores_interior_boundary_maps_with_the_cards_seeded_rule(scripts, monkeypatch):
    from types import SimpleNamespace

    from wsinuc.instances import InstanceRule

    module = scripts("tta_choice")
    monkeypatch.setitem(module.RULES, "seeded", InstanceRule(method="seeded", min_seed_size=0, max_expansion=3))
    truth = np.zeros((20, 30), np.int32)
    truth[4:16, 2:13], truth[4:16, 15:27] = 1, 2
    interior = np.zeros((20, 30), np.float32)
    interior[6:14, 4:11] = interior[6:14, 17:25] = 0.9
    nucleus = (truth > 0).astype(np.float32) * 0.9
    nucleus[4:16, 13:15] = 0.9  # the two nuclei touch: one blob for opening
    scores = module.score_image(SimpleNamespace(instances=truth), np.stack([interior, nucleus], axis=-1))
    assert set(scores) == {"opening", "watershed", "seeded"}
    assert scores["seeded"]["f1"] == 1.0 and scores["opening"]["f1"] < 1.0
    assert "seeded" not in module.score_image(SimpleNamespace(instances=truth), nucleus)


def test_near_equal_ajis_are_ties_broken_by_object_f1(scripts):
    module = scripts("postprocess_choice")
    scored = [{"candidate": {"method": "seeded", "min_seed_size": size}, "metrics": {"aji": aji, "f1": f1}}
              for size, aji, f1 in ((0, 0.5674, 0.69), (8, 0.5663, 0.70), (16, 0.55, 0.75))]
    assert module.best_of(scored, 0.002)["candidate"]["min_seed_size"] == 8
    assert module.best_of(scored, 0.0)["candidate"]["min_seed_size"] == 0


def _scored(*rows):
    return [{"candidate": {"method": "seeded", "min_seed_size": size},
             "metrics": {"aji": float(np.mean(images)), "aji_per_image": images, "f1": f1, "shift_f1": shift}}
            for size, images, f1, shift in rows]


def test_a_candidate_within_two_paired_standard_errors_ties_and_the_most_stable_tie_wins(scripts):
    module = scripts("postprocess_choice")
    scored = _scored((0, [0.50, 0.60, 0.70, 0.55, 0.65, 0.52], 0.70, 0.94),
                     (8, [0.48, 0.61, 0.69, 0.55, 0.645, 0.515], 0.72, 0.96),  # 0.005 lower, noisily
                     (16, [0.40, 0.50, 0.60, 0.45, 0.55, 0.42], 0.75, 0.99))   # 0.1 lower on every image
    assert [row["candidate"]["min_seed_size"] for row in module.ties(scored, 0.002, 2.0)] == [0, 8]
    assert module.best_of(scored, 0.002, 2.0)["candidate"]["min_seed_size"] == 8
    assert module.best_of(scored, 0.002, 0.0)["candidate"]["min_seed_size"] == 0


def test_a_large_loss_is_never_a_tie_however_noisy_the_images(scripts):
    module = scripts("postprocess_choice")
    scored = _scored((0, [0.50, 0.60, 0.70, 0.55, 0.65, 0.52], 0.70, 0.94),
                     (8, [0.40, 0.62, 0.66, 0.56, 0.60, 0.52], 0.72, 0.99))   # 0.023 lower, very noisy
    assert [row["candidate"]["min_seed_size"] for row in module.ties(scored, 0.002, 2.0, 1.0)] == [0, 8]
    assert module.best_of(scored, 0.002, 2.0, 0.005)["candidate"]["min_seed_size"] == 0


def test_a_steady_small_loss_on_every_image_is_not_a_tie(scripts):
    module = scripts("postprocess_choice")
    scored = _scored((0, [0.50, 0.60, 0.70, 0.55, 0.65, 0.52], 0.70, 0.94),
                     (8, [0.494, 0.595, 0.693, 0.546, 0.644, 0.515], 0.72, 0.99))
    assert module.best_of(scored, 0.002, 2.0)["candidate"]["min_seed_size"] == 0


def test_shift_counts_match_an_image_with_its_shifted_copy(scripts):
    module = scripts("postprocess_choice")
    labels = np.zeros((160, 160), np.int32)
    for k, (r, c) in enumerate(((40, 40), (40, 70), (70, 50), (80, 80)), start=1):
        labels[r : r + 10, c : c + 12] = k
    shifted = labels[1:, 2:]
    assert module.shift_counts(labels, shifted, (1, 2), 32) == (8, 8)
    moved = np.roll(shifted, 6, axis=1)
    matched, total = module.shift_counts(labels, moved, (1, 2), 32)
    assert total == 8 and matched < total


def test_monuseg_20x_halves_images_and_truth_and_scores_through_the_engine(scripts, monuseg_root, tmp_path):
    stem = tmp_path / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.25})
    path = scripts("monuseg_20x").main(["--model", str(stem), "--data", str(monuseg_root), "--split", "val",
                                       "--limit", "1", "--results", str(tmp_path / "results")])
    record = json.loads(path.read_text())
    assert record["split"] == "val" and record["mpp"] == 0.5 and len(record["per_image"]) == 1
    row = record["per_image"][0]
    assert row["n_gt"] > 50 and row["n_pred"] > 0 and 0 < row["aji"] <= 1
    assert path.name.endswith("-colour-val.json")


def test_halving_keeps_ids_and_takes_every_other_pixel(scripts):
    module = scripts("monuseg_20x")
    labels = np.zeros((10, 12), np.int32)
    labels[2:6, 2:8] = 5
    halved = module.halve_labels(labels)
    assert halved.shape == (5, 6) and set(np.unique(halved)) == {0, 5}
    assert module.halve_image(np.zeros((10, 12, 3), np.uint8)).shape == (5, 6, 3)


def test_phase_stability_pools_object_f1_per_pixel_size(scripts, monuseg_root, tmp_path):
    stem = tmp_path / "colour"
    save_weights(create_model("colour_threshold"), stem, {"name": "colour", "mpp": 0.5})
    path = scripts("phase_stability").main(["--model", str(stem), "--data", str(monuseg_root), "--split", "val",
                                            "--limit", "1", "--mpps", "0.25,0.4", "--results", str(tmp_path)])
    record = json.loads(path.read_text())
    assert set(record["results"]) == {"0.25", "0.4"}
    for row in record["results"].values():
        assert row["nuclei_compared"] > 50 and 0.5 < row["object_f1"] <= 1.0
    assert record["results"]["0.4"]["working_pixels_per_shift"] == 0.8  # shifts in the 0.5 um/px model's pixels


def test_shifted_pair_counts_undo_the_one_pixel_shift(scripts):
    module = scripts("phase_stability")
    image = np.zeros((120, 121), np.int32)
    for k, (r, c) in enumerate(((30, 30), (30, 60), (70, 45)), start=1):
        image[r : r + 10, c : c + 12] = k
    assert module.shifted_pair_counts(image[:, :-1], image[:, 1:], 20) == (6, 6)
    matched, total = module.shifted_pair_counts(image[:, :-1], np.roll(image[:, 1:], 7, axis=1), 20)
    assert total == 6 and matched < 6


def test_both_instance_grids_give_the_same_two_nuclei_on_level0(scripts):
    from wsinuc.instances import InstanceRule

    grid = scripts("instance_grid_choice")
    interior = np.zeros((20, 30), np.float32)  # working grid of a 0.5 um/px model
    interior[5:15, 3:12] = interior[5:15, 16:26] = 0.9
    nucleus = np.zeros_like(interior)
    nucleus[3:17, 1:28] = 0.9
    prob = np.stack([interior, nucleus], axis=-1)
    rule = InstanceRule(method="seeded", threshold=0.5, min_seed_size=1, max_expansion=3)
    for make in grid.WAYS.values():
        labels = make(rule, prob, 0.5, (40, 60))
        assert labels.shape == (40, 60)
        sizes = np.bincount(labels.ravel())[1:]
        assert np.count_nonzero(sizes) == 2
        assert abs(int(np.count_nonzero(labels)) - 4 * int(np.count_nonzero(nucleus > 0.5))) < 0.15 * 4 * 14 * 27
