"""Train a comparison model with the paper's protocol and score it beside the shipped cascade.

Usage::

    python examples/train_baseline.py [NAME] [OUT]          # NAME default attention_unet-lite

The same as ``wsinuc train --baseline NAME --out OUT`` followed by
``wsinuc benchmark table1 --splits test --models OUT/NAME,cascade-lite``,
from Python. The settings below are a smoke run (1 TNBC epoch, 1 MoNuSeg
epoch of 10 steps, the first 2 test images: a few minutes on a laptop CPU);
the README's table used ``pretrain_tnbc_epochs=4, finetune_epochs=8`` and no
step cap. Data come from ``$WSINUC_DATA`` or ``../shared/data``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wsinuc.benchmark.monuseg import MonusegConfig
from wsinuc.benchmark.table_one import ModelSpec, evaluate_table_one, table_one, table_one_markdown
from wsinuc.datasets import default_data_root
from wsinuc.training.baselines import train_baseline
from wsinuc.training.config import TrainConfig


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "attention_unet-lite"
    out = Path(argv[1]) if len(argv) > 1 else Path("training-runs") / f"example-{name}"
    config = TrainConfig(batch_size=8, lr=2e-3, device="auto", max_steps_per_epoch=10, resume=True)
    result = train_baseline(default_data_root(), out, name, config, pretrain_tnbc_epochs=1, finetune_epochs=1)
    print(f"{result.weights_path}: validation {result.metrics}")
    rows = evaluate_table_one(
        default_data_root() / "monuseg",
        [ModelSpec(str(result.weights_path)), ModelSpec("cascade-lite")],
        ["test"],
        MonusegConfig(limit=2),
    )
    print(table_one_markdown(table_one(rows), "first 2 MoNuSeg test images"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
