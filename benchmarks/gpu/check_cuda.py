"""Every model on the GPU in fp32 and bf16: shapes, finite outputs, agreement, one backward step.

Issue 4 asks that all models accept any H, W divisible by 32 and run on
CPU and CUDA, in fp32 and bf16; CI has no GPU, so ``session.sh train`` runs
this first on the lent one (about 20 s) and brings the JSON back with the
logs. For each model at the paper's widths (and cascade-lite) it checks:

1. fp32 and bf16-autocast forward passes on a square and a non-square
   batch give one finite logit per pixel;
2. bf16 probabilities stay within ``--tolerance`` of fp32 ones;
3. one weighted-BCE backward pass (bf16, channels-last, as in training)
   gives finite gradients;
4. model-only speed: bf16 forward Mpx/s on a batch of 256-px patches in
   channels-last memory format (what wsinuc uses) and in plain NCHW.

    python3 benchmarks/gpu/check_cuda.py --device cuda --out /tmp/wsinuc-runs/logs/cuda_check.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from wsinuc.models import create_model
from wsinuc.training.losses import weighted_bce_with_logits

MODELS = {
    "unet": {"width": 64},
    "attention_unet": {"width": 64},
    "vgg16_unet": {"encoder": "vgg16"},
    "cascade": {},
    "cascade-lite": {},
}
SHAPES = ((2, 256, 256), (1, 64, 96))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    parser.add_argument("--models", default=",".join(MODELS), help="comma list of MODELS keys")
    parser.add_argument("--batch", type=int, default=16, help="patches per timed forward pass")
    parser.add_argument("--tolerance", type=float, default=0.05, help="max |p_bf16 - p_fp32|")
    return parser.parse_args(argv)


def forward(model: torch.nn.Module, x: torch.Tensor, bf16: bool) -> torch.Tensor:
    """Logits of ``x`` in eval mode, fp32 or under bf16 autocast."""
    with torch.inference_mode(), torch.autocast(x.device.type, torch.bfloat16, enabled=bf16):
        return model(x).float()


def check_model(name: str, device: torch.device, args: argparse.Namespace) -> dict:
    """Steps 1-4 for one model; returns its report row (``ok`` False on any failure)."""
    torch.manual_seed(0)
    model = create_model(name, **MODELS[name])
    model = model.to(device).eval()
    row: dict = {"model": name, "parameters": sum(p.numel() for p in model.parameters())}
    problems = []
    for n, h, w in SHAPES:
        x = torch.rand(n, 3, h, w, device=device)
        full, half = forward(model, x, False), forward(model, x, True)
        if full.shape != (n, 1, h, w) or not (torch.isfinite(full).all() and torch.isfinite(half).all()):
            problems.append(f"{h}x{w}: shape {tuple(full.shape)} or non-finite output")
        gap = float((torch.sigmoid(full) - torch.sigmoid(half)).abs().max())
        row[f"bf16_gap_{h}x{w}"] = round(gap, 4)
        if gap > args.tolerance:
            problems.append(f"{h}x{w}: bf16 differs from fp32 by {gap:.3f}")
    model = model.to(memory_format=torch.channels_last).train()  # as wsinuc trains
    x = torch.rand(2, 3, 256, 256, device=device).contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, torch.bfloat16):
        logits = model(x)
    target = (x[:, :1] < 0.5).float()
    weighted_bce_with_logits(logits.float(), target, torch.ones_like(target)).backward()
    if not all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None):
        problems.append("non-finite gradient")
    row["bf16_channels_last_mpx_s"] = round(timed_forward(model.eval(), device, args.batch, True), 2)
    model = model.to(memory_format=torch.contiguous_format)
    row["bf16_nchw_mpx_s"] = round(timed_forward(model, device, args.batch), 2)
    return {**row, "ok": not problems, "problems": problems}


def timed_forward(
    model: torch.nn.Module, device: torch.device, batch: int, channels_last: bool = False
) -> float:
    """Model-only bf16 throughput (Mpx/s) on ``batch`` 256-px patches, after one warm-up."""
    x = torch.rand(batch, 3, 256, 256, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    forward(model, x, True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started, repeats = time.perf_counter(), 5 if device.type == "cuda" else 1
    for _ in range(repeats):
        forward(model, x, True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return repeats * batch * 256 * 256 / 1e6 / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Check every model, print one line each, write the JSON; exit 1 if any failed."""
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        row = check_model(name, device, args)
        rows.append(row)
        print(json.dumps(row))
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "models": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
