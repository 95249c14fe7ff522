"""Steps per second of the real training loop, and the share of time outside forward/backward.

Runs :func:`wsinuc.training.loop.train_model` (loader threads, bf16 autocast or
float32, EMA, no validation) for ``--steps`` optimiser steps on each network of a
cascade preset, with the MoNuSeg training images at ``--mpp`` (downsampled from
0.25 um/px as ``wsinuc train --mpp`` does), and reports what the run log
records: ``steps_per_s`` and ``outside_share`` (time not spent in the forward,
backward and optimiser step: waiting for batches, averaging weights), from the
last epoch of each run (the first one warms up). Stage 2 gets random stage-1
probabilities as its 4th channel (the cost does not depend on them).
Results go to ``benchmarks/results/train_loop_speed-<device>-<date>-<label>.json``.

Example::

    python benchmarks/train_loop_speed.py --mpp 0.5 --steps 24 --precisions bf16,fp32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from common import RESULTS_DIR, console, device_info, versions, write_result

from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image
from wsinuc.training.cascade import build_stage, stage_configs
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet, make_patch_set, with_probabilities
from wsinuc.training.interior_boundary import stage2_loss, stage2_patches
from wsinuc.training.loop import train_model
from wsinuc.training.protocol_data import prepare_image

LOSS_OF_STAGE1 = "weighted_bce"


def training_patches(root: Path, count: int, mpp: float, patch_size: int) -> PatchSet:
    """Patches of the first ``count`` MoNuSeg training images on the ``mpp`` grid."""
    ids = list_monuseg_ids(root, "train")[:count]
    return make_patch_set([prepare_image(load_monuseg_image(root, "train", i), mpp) for i in ids], patch_size)


def measure(preset: str, network: str, patches: PatchSet, config: TrainConfig) -> dict:
    """One short run of ``network``; the log figures of its last epoch."""
    stage1_config, stage2_config = stage_configs(preset)
    if network == "stage1":
        model, data, loss = build_stage(stage1_config, 0), patches, LOSS_OF_STAGE1
    else:
        probabilities = np.random.default_rng(0).random(patches.images.shape[:3], dtype=np.float32)
        data = stage2_patches(preset, with_probabilities(patches, probabilities), config)
        model, loss = build_stage(stage2_config, 0), stage2_loss(preset)
    started = time.perf_counter()
    result = train_model(model, data, None, config, loss=loss)
    last = result.history[-1]
    return {"network": network, "precision": config.precision, "ema_decay": config.ema_decay,
            "steps": result.steps, "seconds": round(time.perf_counter() - started, 2),
            "steps_per_s": last["steps_per_s"], "outside_share": last["outside_share"],
            "s_per_step": round(1.0 / last["steps_per_s"], 3)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="MoNuSeg folder (default: shared data)")
    parser.add_argument("--preset", default="cascade-ib-lite")
    parser.add_argument("--networks", default="stage1,stage2")
    parser.add_argument("--precisions", default="bf16,fp32")
    parser.add_argument("--mpp", type=float, default=0.5)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--label", default=None)
    return parser.parse_args(argv)


def main(argv=None) -> Path:
    args = parse_args(argv)
    root = args.data or default_data_root() / "monuseg"
    patches = training_patches(root, args.images, args.mpp, 256)
    rows = []
    for network in args.networks.split(","):
        for precision in args.precisions.split(","):
            config = TrainConfig(batch_size=args.batch_size, device="cpu", precision=precision,
                                 total_steps=args.steps, ema_decay=args.ema_decay, progress=False)
            rows.append(measure(args.preset, network, patches, config))
            console.print(rows[-1])
    record = {"kind": "train_loop_speed", "device": device_info("cpu"), "versions": versions(),
              "preset": args.preset, "mpp": args.mpp, "patches": len(patches),
              "batch_size": args.batch_size, "torch_threads": torch.get_num_threads(), "rows": rows}
    label = args.label or f"{args.preset}-mpp{args.mpp:g}"
    path = write_result(record, RESULTS_DIR, "train_loop_speed", label)
    console.print(f"-> {path}")
    return path


if __name__ == "__main__":
    main()
