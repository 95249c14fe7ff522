"""Choose the boundary width of the interior/boundary variant on validation AJI.

The width only changes stage 2's targets, so stage 1 is trained once:

1. ``<out>/base``: the whole protocol (``train_cascade``) for the first width,
   within ``--max-minutes``; its card says how many epochs stage 2 ran (E).
2. ``<out>/w<width>`` for every width (the first one included, so that all
   are trained alike): the stage-1 run folders of ``base`` are copied in and
   resumed (they are finished, so nothing retrains), then stage 2 is trained
   for E epochs (or ``--stage2-epochs``) on that width's targets and the
   cascade is validated with ``seeded`` instances, as ``wsinuc train`` does.

The record lists each width's validation AJI / F1 (the 6 held-out MoNuSeg
training images of the card's split; the test images are not touched) and
the width with the best AJI; ``<out>/w<best>/<preset>.safetensors`` is a
finished model with its card. Written to
``results/boundary_width_choice-<device>-<date>-<preset>.json``.

Example (GPU: the base run takes 4 minutes, each width's stage 2 about a quarter of that)::

    python benchmarks/boundary_width_choice.py --preset cascade-ib-lite --device cuda \\
        --widths 1,2,3 --max-minutes 4 --epochs 300 --pretrain-epochs 100 \\
        --auto-batch-size --val-every 5 --out runs/boundary-width
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import shutil
import time
from pathlib import Path

from common import device_info, versions, write_result

from wsinuc.datasets import default_data_root
from wsinuc.training import protocol
from wsinuc.training.config import TrainConfig

STAGE1_RUNS = ("stage1_tnbc", "stage1", "stage1_oof")


def parse_widths(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``; at least one width, no repeats."""
    widths = [int(part) for part in text.split(",") if part.strip()]
    if not widths or len(set(widths)) != len(widths):
        raise ValueError(f"--widths must list distinct integers, got {text!r}")
    return widths


def copy_stage1(base: Path, target: Path) -> None:
    """Copy the finished stage-1 run folders of ``base`` into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in STAGE1_RUNS:
        if (base / name).is_dir() and not (target / name).exists():
            shutil.copytree(base / name, target / name)


def width_record(folder: Path, preset: str, seconds: float) -> dict:
    """Validation metrics and training facts of one width, from its card."""
    card = json.loads((folder / f"{preset}.json").read_text())
    return {"boundary_width": card["boundary_width"], "metrics": card["metrics"],
            "stage2_epochs": card["epochs"]["stage2"], "seeded": card["seeded"],
            "class_weights": card["class_weights"], "seconds": round(seconds, 1),
            "weights": str(folder / f"{preset}.safetensors")}


def run_widths(args: argparse.Namespace, config: TrainConfig) -> tuple[int, list[dict]]:
    """Train the base protocol, then stage 2 of every width; ``(stage-2 epochs, records)``.

    The images, patches and weight maps are loaded once for all runs (a cache
    around :func:`wsinuc.training.protocol.load_protocol_data`).
    """
    protocol.load_protocol_data = functools.lru_cache(maxsize=2)(protocol.load_protocol_data)
    data, base = args.data or default_data_root(), args.out / "base"
    protocol_args = dict(pretrain_tnbc_epochs=args.pretrain_epochs, folds=args.folds)
    widths = parse_widths(args.widths)
    budget = None if args.max_minutes is None else args.max_minutes * 60.0
    first = dataclasses.replace(config, boundary_width=widths[0], time_budget_s=budget)
    protocol.train_cascade(data, base, args.preset, first, finetune_epochs=args.epochs, **protocol_args)
    epochs = args.stage2_epochs or json.loads((base / f"{args.preset}.json").read_text())["epochs"]["stage2"]
    records = []
    for width in widths:
        folder = args.out / f"w{width}"
        copy_stage1(base, folder)
        started = time.perf_counter()
        again = dataclasses.replace(config, boundary_width=width, resume=True)
        protocol.train_cascade(data, folder, args.preset, again, finetune_epochs=epochs, **protocol_args)
        records.append(width_record(folder, args.preset, time.perf_counter() - started))
    return epochs, records


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cascade-ib-lite")
    parser.add_argument("--widths", default="1,2,3", help="comma list of boundary widths (working px)")
    parser.add_argument("--boundary-weight", type=float, default=3.0)
    parser.add_argument("--data", type=Path, default=None, help="folder with monuseg/ and tnbc/")
    parser.add_argument("--out", type=Path, default=Path("runs/boundary-width"))
    parser.add_argument("--max-minutes", type=float, default=None, help="budget of the base protocol run")
    parser.add_argument("--epochs", type=int, default=30, help="MoNuSeg epochs of the base run")
    parser.add_argument("--stage2-epochs", type=int, default=None,
                        help="stage-2 epochs of each width (default: what the base run's stage 2 ran)")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--auto-batch-size", action="store_true",
                        help="on CUDA, the largest batch that fits (TrainConfig.auto_batch_size)")
    parser.add_argument("--val-every", type=int, default=1, help="validate every N epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and write the record."""
    args = parse_args(argv)
    config = TrainConfig(
        batch_size=args.batch_size, auto_batch_size=args.auto_batch_size, val_every=args.val_every,
        device=args.device, precision=args.precision,
        boundary_weight=args.boundary_weight, max_steps_per_epoch=args.max_steps, progress=False,
    )
    epochs, records = run_widths(args, config)
    best = max(records, key=lambda record: record["metrics"]["val_aji"])
    record = {
        "kind": "boundary_width_choice", "preset": args.preset, "split": "val",
        "stage2_epochs": epochs, "base_max_minutes": args.max_minutes,
        "chosen_boundary_width": best["boundary_width"], "chosen_on": "val_aji",
        "widths": records, "device": device_info(args.device), "versions": versions(),
    }
    print(write_result(record, args.results, "boundary_width_choice", args.preset))


if __name__ == "__main__":
    main()
