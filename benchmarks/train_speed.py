"""Training steps per second of each network of a cascade preset: loader cost vs compute cost.

For each network (stage 1: 3-channel U-Net, weighted BCE; stage 2: 4-channel
VGG16 U-Net, soft Dice) and each loader

* ``threads`` -- the numpy loader of :func:`wsinuc.training.data.epoch_batches`
  (augmentation in ``--loader-threads`` threads, then a copy to the device),
* ``device`` -- the training set resident on the device, batches cropped,
  flipped/rotated and stain-jittered there (:mod:`wsinuc.training.device_data`),

it reports, at the given batch size (or ``auto``: the largest power of two
that fits half the free GPU memory) and precision (bf16 autocast on CUDA by
default):

* ``data ms/step`` -- making one batch alone (the threads loader with 0
  threads, i.e. the CPU work per batch, plus the copy to the device),
* ``compute ms/step`` -- one AdamW step on a batch already on the device,
* ``steps/s`` -- the real training loop (loader + step), best of ``--repeat``.

The training images are the MoNuSeg training images (``--data``) or, with
``--data synthetic`` (or when the folder is missing), 1000 x 1000 synthetic
nuclei images -- the cost does not depend on the content. Results go to
``benchmarks/results/train_speed-<device>-<date>-<label>.json``.

To see whether networks gain from training concurrently on one GPU, start
the script several times at once (``--loaders device --label cN``) and add
their steps/s.

Examples::

    python benchmarks/train_speed.py --preset cascade-lite --networks stage1 --batch-size 8 --steps 10
    python benchmarks/train_speed.py --preset cascade-lite --batch-size 8,32,auto --steps 200  # on a GPU
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from common import RESULTS_DIR, console, device_info, synchronize, versions, write_result

from wsinuc.datasets import default_data_root, list_monuseg_ids, load_monuseg_image
from wsinuc.device import autocast, precision_label, resolve_device
from wsinuc.training.augment import AugmentConfig
from wsinuc.training.batch_probe import probe_batch_size
from wsinuc.training.cascade import build_stage, stage_configs
from wsinuc.training.config import TrainConfig
from wsinuc.training.data import PatchSet, make_patch_set, with_probabilities
from wsinuc.training.device_data import to_device
from wsinuc.training.loaders import training_batches
from wsinuc.training.objective import batch_loss

LOSS_OF = {"stage1": "weighted_bce", "stage2": "dice"}
AUTO = 10**9  # batch-size placeholder for "probe it" (TrainConfig needs an integer)


def synthetic_images(count: int, size: int = 1000, seed: int = 0) -> list[SimpleNamespace]:
    """``count`` pink images with ~600 dark square nuclei each, with instance maps."""
    rng = np.random.default_rng(seed)
    images = []
    for index in range(count):
        image = np.empty((size, size, 3), np.uint8)
        image[:] = (225, 175, 205)
        instances = np.zeros((size, size), np.int32)
        corners = rng.integers(0, size - 12, size=(600, 2))
        for label, (top, left) in enumerate(corners, start=1):
            instances[top : top + 10, left : left + 10] = label
        image[instances > 0] = (70, 40, 120)
        images.append(SimpleNamespace(image_id=f"syn{index}", image=image, instances=instances))
    return images


def training_patches(data: str, count: int, patch_size: int) -> tuple[PatchSet, str]:
    """Patches of ``count`` MoNuSeg training images (or synthetic ones) and where they came from."""
    root = default_data_root() / "monuseg" if data == "auto" else Path(data)
    if data != "synthetic" and (root / "train").is_dir():
        ids = list_monuseg_ids(root, "train")[:count]
        samples = [load_monuseg_image(root, "train", i) for i in ids]
        return make_patch_set(samples, patch_size), f"MoNuSeg train ({len(ids)} images)"
    return make_patch_set(synthetic_images(count), patch_size), f"synthetic ({count} images)"


def _step(model, optimizer, batch, loss: str, config: TrainConfig, device) -> None:
    batch = batch.to(device)
    with autocast(config.precision, device):
        logits = model(batch.inputs)
    value = batch_loss(logits, batch, loss, 0.0)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()


def _timed(function, device: str, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, CUDA synchronised."""
    best = np.inf
    for _ in range(repeat):
        synchronize(device)
        started = time.perf_counter()
        function()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def measure(network: str, loader: str, patches: PatchSet, config: TrainConfig, args) -> dict:
    """Data, compute and loop time per step of one network with one loader (``config.batch_size``;
    0 = probe the largest that fits on CUDA, 8 elsewhere)."""
    device = resolve_device(config.device)
    stage = stage_configs(args.preset)[0 if network == "stage1" else 1]
    model = build_stage(stage, 0).to(device).to(memory_format=torch.channels_last).train()
    if config.batch_size == AUTO:
        channels = 3 if patches.probabilities is None else 4
        probed = (probe_batch_size(model, channels, config.patch_size, config.precision)
                  if device.type == "cuda" else 8)
        config = _with_batch(config, min(probed, len(patches)))
    data = to_device(patches, device) if loader == "device" else patches
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    loss, steps, epoch = LOSS_OF[network], args.steps, iter(range(10**6))
    fixed = next(iter(training_batches(data, config, next(epoch)))).to(device)
    for _ in range(args.warmup):
        _step(model, optimizer, fixed, loss, config, device)
    compute = _timed(lambda: [_step(model, optimizer, fixed, loss, config, device) for _ in range(steps)],
                     str(device), args.repeat)
    serial = _with_threads(config, 0) if loader == "threads" else config
    data_time = _timed(lambda: [b.to(device) for b in _batches_of(data, serial, steps, epoch)],
                       str(device), args.repeat)
    loop = _timed(lambda: [_step(model, optimizer, b, loss, config, device)
                           for b in _batches_of(data, config, steps, epoch)], str(device), args.repeat)
    megapixels = config.batch_size * config.patch_size**2 / 1e6
    return {"network": network, "loader": loader, "batch_size": config.batch_size,
            "precision": precision_label(config.precision, device), "steps": steps,
            "data_ms_per_step": 1e3 * data_time / steps, "compute_ms_per_step": 1e3 * compute / steps,
            "steps_per_s": steps / loop, "mpx_per_s": steps * megapixels / loop}


def _batches_of(data, config: TrainConfig, count: int, epoch):
    """``count`` batches from consecutive epochs (a generator, so loader threads overlap the steps)."""
    while count > 0:
        for batch in training_batches(data, _with_max(config, count), next(epoch)):
            count -= 1
            yield batch


def _with_batch(config: TrainConfig, batch_size: int) -> TrainConfig:
    return _replace(config, batch_size=batch_size)


def _with_max(config: TrainConfig, steps: int) -> TrainConfig:
    return _replace(config, max_steps_per_epoch=steps)


def _with_threads(config: TrainConfig, threads: int) -> TrainConfig:
    return _replace(config, loader_threads=threads)


def _replace(config: TrainConfig, **changes) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(config, **changes)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cascade-lite", help="cascade or cascade-lite")
    parser.add_argument("--networks", default="stage1,stage2", help="comma list of stage1, stage2")
    parser.add_argument("--loaders", default="threads,device", help="comma list of threads, device")
    parser.add_argument("--batch-size", default="8",
                        help="comma list of patches per step; auto: the largest power of two "
                             "whose step fits half the free GPU memory")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    parser.add_argument("--loader-threads", type=int, default=2, help="threads of the numpy loader")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--data", default="auto", help="MoNuSeg folder, auto ($WSINUC_DATA) or synthetic")
    parser.add_argument("--images", type=int, default=24, help="training images (MoNuSeg split: 24)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument("--label", default=None, help="suffix of the result file name (default: preset)")
    return parser.parse_args(argv)


def main(argv=None) -> Path:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = TrainConfig(device=args.device, precision=args.precision,
                         loader_threads=args.loader_threads, augment=AugmentConfig(), progress=False)
    patches, source = training_patches(args.data, args.images, config.patch_size)
    rows = []
    for network in args.networks.split(","):
        if network == "stage2":  # the 4th channel: a stage-1 probability (any values for speed)
            rng = np.random.default_rng(0)
            patches = with_probabilities(patches, rng.random(patches.instances.shape, dtype=np.float32))
        for batch in args.batch_size.split(","):
            sized = _with_batch(config, AUTO if batch == "auto" else int(batch))
            for loader in args.loaders.split(","):
                rows.append(measure(network, loader, patches, sized, args))
                console.print(_row_text(rows[-1]))
    record = {"what": __doc__.splitlines()[0], "preset": args.preset, "data": source,
              "patches": len(patches), "device": device_info(args.device), "versions": versions(),
              "arguments": vars(args) | {"results": str(args.results)}, "rows": rows}
    path = write_result(record, args.results, "train_speed", args.label or args.preset)
    console.print(f"wrote {path}")
    return path


def _row_text(row: dict) -> str:
    return (f"{row['network']:7s} {row['loader']:8s} batch {row['batch_size']:4d} {row['precision']:5s} "
            f"data {row['data_ms_per_step']:8.1f} ms  compute {row['compute_ms_per_step']:8.1f} ms  "
            f"loop {row['steps_per_s']:7.2f} steps/s  {row['mpx_per_s']:7.2f} Mpx/s")


if __name__ == "__main__":
    main()
