"""Size, arithmetic and model-only speed of several networks, measured in one run.

For each model: parameters, multiply-accumulates per input pixel (every
convolution counted by a forward hook) and the engine predictor's throughput
on the same in-memory tiles of a synthetic slide, so that the speed ratio
between models (e.g. ``cascade`` over ``cascade-lite``, the issue's "at least
5x on a CPU") comes from one run on one machine. Models without bundled
weights are timed UNTRAINED (same architecture, same cost). With
``--precisions fp32,bf16`` every model is timed in both, one after the other
on the same tiles, and the table gives each model's bf16 / fp32 speed-up.
Writes ``results/model_cost-<device>-<date>-<label>.json``.

Examples::

    python benchmarks/model_cost.py --models cascade,cascade-lite --device cpu --tile 512 --tiles 3
    python benchmarks/model_cost.py --models cascade,cascade-lite --device cpu --precisions fp32,bf16
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from common import (
    choose_model,
    console,
    device_info,
    ensure_slide,
    model_only,
    print_table,
    read_tiles,
    versions,
    write_result,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    from common import DEFAULT_WORK, PRECISIONS, RESULTS_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="cascade,cascade-lite", help="comma list of models to compare")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tile", type=int, default=512, help="tile side, px (multiple of 32)")
    parser.add_argument("--tiles", type=int, default=3, help="timed tiles per model (after one warm-up batch)")
    parser.add_argument("--batch-size", type=int, default=1, help="tiles per forward pass")
    parser.add_argument("--precisions", default="auto", help="comma list of auto, fp32, bf16: each model in each")
    parser.add_argument("--work", default=DEFAULT_WORK, help="slide cache and scratch folder")
    parser.add_argument("--results", default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument("--label", default=None, help="suffix of the result file name")
    args = parser.parse_args(argv)
    if args.tile < 64 or args.tile % 32:
        parser.error(f"--tile must be a multiple of 32 and >= 64, got {args.tile}")
    if args.tiles < 1 or args.batch_size < 1:
        parser.error("--tiles and --batch-size must be >= 1")
    args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    if not args.precisions or not set(args.precisions) <= set(PRECISIONS):
        listed = ",".join(args.precisions) or "nothing"
        parser.error(f"--precisions must list {', '.join(PRECISIONS)}, got {listed}")
    return args


def macs_per_pixel(model: torch.nn.Module, side: int = 256) -> float:
    """Convolution multiply-accumulates per input pixel on a ``side`` x ``side`` RGB tile.

    Counted with forward hooks on one tile, on the device the model is on.
    """
    total = 0

    def count(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight.shape[2] * module.weight.shape[3]
        if isinstance(module, torch.nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels // module.groups * kernel
        else:
            total += output.numel() * module.in_channels // module.groups * kernel

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    try:
        with torch.inference_mode():
            model.eval()(torch.rand(1, 3, side, side, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (side * side)


def measure_model(name: str, args: argparse.Namespace, tiles, device: dict) -> list[dict] | None:
    """Parameters, MAC/px and model-only Mpx/s of one model in each precision (None when it cannot be resolved)."""
    from wsinuc.inference.model_cache import load_card_and_model
    from wsinuc.device import precision_label

    choice = choose_model(name, args.work)
    if choice is None:
        return None
    model, _ = load_card_and_model(choice.argument, device["device"])  # the predictor's (cached) network
    size = {"parameters": sum(p.numel() for p in model.parameters()), "kmac_per_px": macs_per_pixel(model) / 1e3}
    rows = []
    for precision in args.precisions:
        timing = model_only(choice.argument, device["device"], args.batch_size, tiles, precision)
        megapixels = timing["tiles"] * args.tile**2 / 1e6
        rows.append({"model": name, "precision": precision_label(precision, device["device"]),
                     "weights": choice.source, **size, "mpx_per_s": megapixels / timing["seconds"], **timing})
    fp32 = next((r for r in rows if r["precision"] == "fp32"), None)
    for row in rows:
        if fp32 is not None and row["precision"] == "bf16":
            row["speed_vs_fp32"] = row["mpx_per_s"] / fp32["mpx_per_s"]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure every model on the same tiles, print a table with speed ratios, write the JSON."""
    args = parse_args(argv)
    device = device_info(args.device)
    slide = ensure_slide(args.work, max(2048, 4 * args.tile))
    tiles = read_tiles(slide, args.tile, args.tiles + args.batch_size)
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        measured = measure_model(name, args, tiles, device)
        if measured is None:
            return 2
        rows.extend(measured)
    fastest = max(row["mpx_per_s"] for row in rows)
    for row in rows:
        row["speed_vs_fastest"] = row["mpx_per_s"] / fastest
    print_table(f"model cost on {device['device_name']}", [
        (f"{row['model']} {row['precision']}",
         f"{row['parameters'] / 1e6:.2f} M params, {row['kmac_per_px']:.1f} kMAC/px, "
         f"{row['mpx_per_s']:.3f} Mpx/s (x{row['speed_vs_fastest']:.3f} of fastest"
         + (f", x{row['speed_vs_fp32']:.2f} of fp32)" if "speed_vs_fp32" in row else ")"))
        for row in rows])
    record = {"benchmark": "model_cost", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device": device,
              "versions": versions(), "parameters": {k: str(v) for k, v in vars(args).items()}, "models": rows}
    if len(rows) == 2 and len(args.precisions) == 1:
        record["speed_ratio_second_over_first"] = rows[1]["mpx_per_s"] / rows[0]["mpx_per_s"]
        console.print(f"{rows[1]['model']} / {rows[0]['model']} speed: "
                      f"{record['speed_ratio_second_over_first']:.2f}x")
    label = args.label or f"{args.models.replace(',', '-vs-')}-{args.tile}"
    console.print(f"wrote {write_result(record, args.results, 'model_cost', label)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
