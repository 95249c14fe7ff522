"""The ``wsinuc`` command: ``info``, ``segment``, ``train``, ``benchmark``.

Each command parses its options, calls one library function and reports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from wsinuc import __version__
from wsinuc.cli.errors import EXIT_SLIDES_FAILED, reports_errors
from wsinuc.cli.report import info_table, print_slide, print_summary
from wsinuc.config import (
    ALL_OUTPUTS,
    InferenceConfig,
    OutputConfig,
    RunConfig,
    SegmentConfig,
    TilingConfig,
)
from wsinuc.engine.execution import warm_up_in_background
from wsinuc.errors import OptionError

app = typer.Typer(
    name="wsinuc",
    help="Find and outline every cell nucleus in whole-slide pathology images.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=False)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"wsinuc {__version__}")
        raise typer.Exit()

@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """wsinuc: nucleus segmentation for whole-slide images."""

@app.command()
@reports_errors
def info(
    slide: Annotated[Path, typer.Argument(help="Slide or image file (svs, ndpi, mrxs, tiff, png, ...).")],
    mpp: Annotated[Optional[float], typer.Option(help="Override the pixel size (um/px).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print a slide's size, pyramid levels, pixel size, magnification and vendor."""
    from wsinuc.slide import describe_slide, open_slide

    with open_slide(slide, mpp=mpp) as handle:
        description = describe_slide(handle)
    if as_json:
        typer.echo(json.dumps(description, indent=2, default=str))
        return
    console.print(info_table(description))

def _parse_region(text: Optional[str]) -> Optional[tuple[int, int, int, int]]:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise OptionError("--region", f"expected X,Y,W,H in level-0 pixels, got {text!r}")
    return values  # type: ignore[return-value]

@app.command()
@reports_errors
def segment(
    slides: Annotated[list[Path], typer.Argument(help="Slide file(s) to segment.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder; one subfolder per slide.")] = Path("results"),
    model: Annotated[str, typer.Option(help="cascade-ib-lite-20x, cascade-ib-lite, cascade, cascade-lite, a weights path, or auto (cascade-ib-lite-20x: 0.5 um/px, validation AJI within 0.005 of the best, the fastest).")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    mpp: Annotated[Optional[float], typer.Option(help="Override the slide's pixel size (um/px).")] = None,
    target_mpp: Annotated[Optional[float], typer.Option(help="Working resolution (um/px); default: the model's.")] = None,
    batch_size: Annotated[int, typer.Option(help="Chunks per forward pass (0 = auto: 4 on GPU, 1 on CPU).")] = 0,
    precision: Annotated[str, typer.Option(help="auto (bf16 on GPU; on CPU: bf16 with OpenVINO where the CPU has native bf16, else fp32), fp32, or bf16.")] = "auto",
    backend: Annotated[str, typer.Option(help="auto (OpenVINO on CPU when installed, torch on GPU), torch or openvino.")] = "auto",
    chunk_size: Annotated[int, typer.Option(help="Chunk core side in working pixels (0.25 um/px by default; multiple of 32), whatever the slide's magnification.")] = 1024,
    halo: Annotated[int, typer.Option(help="Context around each chunk in working pixels (> largest nucleus + receptive field).")] = 128,
    tissue: Annotated[bool, typer.Option("--tissue/--no-tissue", help="Skip chunks without tissue.")] = True,
    region: Annotated[Optional[str], typer.Option(help="X,Y,W,H in level-0 pixels: only this part is computed (plus context) and only nuclei anchored inside it are written.")] = None,
    outputs: Annotated[str, typer.Option(help="Comma list of geojson,zarr,table,overlay.")] = ",".join(ALL_OUTPUTS),
    gzip: Annotated[bool, typer.Option("--gzip", help="Write nuclei.geojson.gz.")] = False,
    simplify: Annotated[float, typer.Option(help="Simplify the GeoJSON outlines within this many level-0 pixels (0: exact pixel staircase; outlines stay valid).")] = 0.0,
    table_format: Annotated[str, typer.Option(help="parquet or csv.")] = "parquet",
    postprocess: Annotated[str, typer.Option(help="auto (the model card's choice), opening (paper), watershed, or seeded (interior/boundary models).")] = "auto",
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Test-time augmentation: average the 8 flips/rotations of each tile (~8x the network time).")] = False,
    scheduler: Annotated[str, typer.Option(help="auto (processes on GPU, threads on CPU), threads, processes or a dask scheduler address (tcp://host:port).")] = "auto",
    workers: Annotated[int, typer.Option(help="Worker threads or processes (0 = auto: 4 on GPU, 2 on CPU with OpenVINO, 1 with torch).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run, skipping finished chunks.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
    skip_unreadable: Annotated[bool, typer.Option("--skip-unreadable", help="Several slides: segment the readable ones when some cannot be opened (otherwise nothing starts).")] = False,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Several slides: stop at the first slide that fails (otherwise the others go on).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Segment every nucleus; write GeoJSON (QuPath), OME-Zarr labels, a table and an overlay.

    Several slides form a cohort: every input is opened first, a slide that
    fails does not stop the others (unless --fail-fast), and a summary is
    printed and written to <out>/wsinuc-summary.json; the exit code is 1 when
    any slide failed or was skipped.
    """
    config = SegmentConfig(
        tiling=TilingConfig(chunk_size=chunk_size, halo=halo, tissue=tissue, region=_parse_region(region)),
        inference=InferenceConfig(model=model, device=device, mpp=mpp, target_mpp=target_mpp,
                                  batch_size=batch_size, precision=precision, postprocess=postprocess, tta=tta,
                                  backend=backend),
        output=OutputConfig(outputs=tuple(o.strip() for o in outputs.split(",") if o.strip()), gzip=gzip, simplify=simplify,
                            table_format=table_format, resume=resume, overwrite=overwrite),
        run=RunConfig(scheduler=scheduler, workers=workers, skip_unreadable=skip_unreadable,
                      fail_fast=fail_fast or len(slides) == 1),
    )
    warm_up_in_background(config)  # the network compiles while the engine below is imported
    from wsinuc.cli.progress import RichReporter
    from wsinuc.engine import cohort

    typed = {str(cohort.absolute(slide)): str(slide) for slide in slides}
    summary = cohort.segment_cohort(slides, out, config, RichReporter(enabled=not quiet),
                                    lambda entry: print_slide(console, entry, typed))
    if len(slides) > 1:
        print_summary(console, summary, typed)
    if summary["counts"]["done"]:
        console.print("Open in QuPath: drag the slide in, then drag nuclei.geojson onto it (File > Import objects).")
    if summary["counts"]["done"] < len(slides):
        raise typer.Exit(EXIT_SLIDES_FAILED)

def _train_batch_size(value: str) -> int:
    """``--batch-size``: a positive integer, or ``auto`` (8 until probed on CUDA)."""
    if value == "auto":
        return 8
    if not value.isdigit() or int(value) < 1:
        raise OptionError("--batch-size", f"must be a positive integer or auto, got {value!r}")
    return int(value)

@app.command()
@reports_errors
def train(
    data: Annotated[Optional[Path], typer.Option(help="Folder with monuseg/ and tnbc/ (default: $WSINUC_DATA or ../shared/data).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (logs, checkpoints, weights).")] = Path("training-runs"),
    preset: Annotated[str, typer.Option(help="cascade (paper widths), cascade-lite, or their interior/boundary variants cascade-ib, cascade-ib-lite.")] = "cascade-lite",
    baseline: Annotated[Optional[str], typer.Option(help="Train one comparison model instead of the cascade: unet, attention_unet, vgg16_unet (paper widths) or their -lite versions.")] = None,
    pretrain_epochs: Annotated[int, typer.Option(help="Stage-1 pre-training epochs on TNBC (0 skips).")] = 10,
    epochs: Annotated[int, typer.Option(help="MoNuSeg epochs of each stage (and of each fold model).")] = 30,
    folds: Annotated[int, typer.Option(help="Folds for out-of-fold stage-1 inputs of stage 2.")] = 3,
    stage2_input: Annotated[str, typer.Option(help="out-of-fold or stage1-final.")] = "out-of-fold",
    batch_size: Annotated[str, typer.Option(help="Patches per step, or auto: on CUDA the largest power of two that fits half the free memory (8 on the CPU).")] = "8",
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = 1e-3,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch.")] = None,
    precision: Annotated[str, typer.Option(help="auto (bf16 on CUDA and on CPUs with native bf16, i.e. AVX512-BF16 or AMX: ~2x faster; fp32 elsewhere), fp32, or bf16.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the split, initialisation and augmentation.")] = 0,
    teacher: Annotated[Optional[str], typer.Option(help="Distil from this model (bundled name or weights path).")] = None,
    distill_weight: Annotated[float, typer.Option(help="Weight of the distillation loss (with --teacher).")] = 0.0,
    max_steps: Annotated[Optional[int], typer.Option(help="Cap steps per epoch (smoke runs).")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(help="Wall-clock budget of the whole command: each run shortens its epoch count to its share (for lent GPUs).")] = None,
    val_every: Annotated[int, typer.Option(help="Validate every N epochs (the last epoch always).")] = 1,
    loader_threads: Annotated[int, typer.Option(help="Threads preparing augmented batches.")] = 2,
    data_on_device: Annotated[str, typer.Option(help="auto (on for CUDA, off for the CPU), on or off: keep the training set on the device and crop/flip/jitter batches there.")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoints in --out.")] = False,
    boundary_width: Annotated[int, typer.Option(help="cascade-ib*: boundary band width of the stage-2 targets, working px (at --mpp).")] = 2,
    boundary_weight: Annotated[float, typer.Option(help="cascade-ib*: loss weight of boundary pixels.")] = 3.0,
    steps: Annotated[Optional[int], typer.Option(help="Optimiser steps of each MoNuSeg run (stage 1, each fold model, stage 2): the schedule spans them; replaces --epochs.")] = None,
    pretrain_steps: Annotated[Optional[int], typer.Option(help="Optimiser steps of the TNBC pre-training run; replaces --pretrain-epochs.")] = None,
    checkpoint_minutes: Annotated[float, typer.Option(help="Also write the checkpoint every N minutes, inside epochs if need be (0: off).")] = 5.0,
    checkpoint_steps: Annotated[Optional[int], typer.Option(help="Also write the checkpoint every N optimiser steps.")] = None,
    ema_decay: Annotated[float, typer.Option(help="Average the weights (EMA) with this decay, e.g. 0.999; validation and the saved weights use the average (0: off).")] = 0.0,
    mpp: Annotated[float, typer.Option(help="Working pixel size (um/px) of the model: MoNuSeg/TNBC (0.25) are area-downsampled to it; the card records it.")] = 0.25,
    hed_sigma: Annotated[float, typer.Option(help="HED stain augmentation: multiplicative jitter half-width.")] = 0.05,
    hed_bias: Annotated[float, typer.Option(help="HED stain augmentation: additive jitter half-width.")] = 0.005,
    stain_normalisation: Annotated[str, typer.Option(help="none or macenko (normalise the training and validation images' stains).")] = "none",
    init_from: Annotated[Optional[str], typer.Option(help="Warm start from this cascade (bundled name or weights path); skips TNBC pre-training.")] = None,
    patience: Annotated[int, typer.Option(help="Stop each run after N validations without a better validation AJI; the best weights are kept (0: never).")] = 0,
    detach: Annotated[bool, typer.Option("--detach", help="Run in the background, detached from this terminal: log in <out>/train.log, pid in <out>/train.pid.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log one line per epoch.")] = False,
) -> None:
    """Train the cascade (or, with --baseline, one comparison model) with the paper's protocol: TNBC pre-training, MoNuSeg fine-tuning."""
    from wsinuc.datasets import default_data_root
    from wsinuc.training.augment import AugmentConfig
    from wsinuc.training.baselines import train_baseline
    from wsinuc.training.config import TrainConfig
    from wsinuc.training.detach import LOG_NAME, PID_NAME, detached_command, spawn_detached
    from wsinuc.training.protocol import train_cascade

    if max_minutes is not None and not 0 < max_minutes < 10**6:
        raise OptionError("--max-minutes", f"must be > 0, got {max_minutes}")
    if verbose or detach:
        logging.getLogger("wsinuc").setLevel(logging.INFO)
    augment = _train_augment(AugmentConfig, hed_sigma, hed_bias)
    config = TrainConfig(
        batch_size=_train_batch_size(batch_size), auto_batch_size=batch_size == "auto",
        data_on_device=data_on_device, lr=lr, device=device, num_threads=threads, seed=seed,
        precision=precision, max_steps_per_epoch=max_steps, resume=resume, stage2_input=stage2_input,
        teacher=teacher, distill_weight=distill_weight, val_every=val_every,
        loader_threads=loader_threads, progress=not verbose,
        boundary_width=boundary_width, boundary_weight=boundary_weight,
        time_budget_s=None if max_minutes is None else max_minutes * 60.0,
        total_steps=steps, pretrain_steps=pretrain_steps, checkpoint_minutes=checkpoint_minutes,
        checkpoint_steps=checkpoint_steps, ema_decay=ema_decay, mpp=mpp, augment=augment,
        stain_normalisation=stain_normalisation, init_from=init_from, patience=patience,
    )
    if detach:
        pid = spawn_detached(detached_command(sys.argv[1:]), out)
        console.print(f"training in the background, pid {pid}: log {out / LOG_NAME}, pid file {out / PID_NAME}",
                      soft_wrap=True)
        console.print(f"stop: kill $(cat {out / PID_NAME}); continue later: the same command with --resume",
                      soft_wrap=True)
        return
    if baseline is not None:
        if teacher is not None:
            raise OptionError("--teacher", "distillation applies to the cascade, not to --baseline")
        result = train_baseline(
            data or default_data_root(), out, baseline, config,
            pretrain_tnbc_epochs=pretrain_epochs, finetune_epochs=epochs,
        )
    else:
        result = train_cascade(
            data or default_data_root(), out, preset, config,
            pretrain_tnbc_epochs=pretrain_epochs, finetune_epochs=epochs, folds=folds,
        )
    console.print(f"weights: {result.weights_path}")
    console.print(json.dumps(result.metrics, indent=2, default=str))

def _train_augment(augment_type: type, hed_sigma: float, hed_bias: float):
    """``AugmentConfig`` with the HED stain jitter of ``--hed-sigma`` / ``--hed-bias``."""
    for name, value in (("--hed-sigma", hed_sigma), ("--hed-bias", hed_bias)):
        if not 0.0 <= value < 1.0:
            raise OptionError(name, f"must be in [0, 1), got {value}")
    return augment_type(hed_sigma=hed_sigma, hed_bias=hed_bias)

benchmark_app = typer.Typer(help="Accuracy and speed benchmarks.", no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")

@benchmark_app.command("monuseg")
@reports_errors
def benchmark_monuseg(
    data: Annotated[Path, typer.Argument(help="The MoNuSeg folder (train/, test/).")],
    models: Annotated[str, typer.Option(help="Comma list of bundled names or weights paths; 'all' = every bundled model.")] = "all",
    split: Annotated[str, typer.Option(help="test, train or val.")] = "test",
    protocol: Annotated[str, typer.Option(help="engine (chunks with halo, as segment) or paper (16 tiles of 256, no halo).")] = "engine",
    postprocess: Annotated[str, typer.Option(help="auto (the model card's choice, as segment), opening (paper), watershed, or seeded (interior/boundary models).")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 on GPU; on CPU: bf16 with OpenVINO where the CPU has native bf16, else fp32), fp32 or bf16.")] = "auto",
    backend: Annotated[str, typer.Option(help="auto (OpenVINO on CPU when installed, torch on GPU), torch or openvino.")] = "auto",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for CSV, summary and figures.")] = Path("results/monuseg"),
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write a TP/FP/FN figure per image.")] = True,
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Test-time augmentation: average the 8 flips/rotations of each tile (~8x the network time).")] = False,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N images (smoke runs).")] = None,
) -> None:
    """MoNuSeg AJI / AJI+ / PQ / F1 / Dice through the same engine as `segment`, beside the paper's Table I."""
    from wsinuc.benchmark.monuseg import MonusegConfig, evaluate_model, summarise
    from wsinuc.benchmark.report import save_match_figure, summary_markdown, write_rows_csv, write_summary
    from wsinuc.datasets import require_dir
    from wsinuc.models import list_bundled_weights

    require_dir(data / "test" / "images", "MoNuSeg test images")
    out.mkdir(parents=True, exist_ok=True)
    config = MonusegConfig(split=split, protocol=protocol, device=device, postprocess=postprocess,
                           precision=precision, limit=limit, tta=tta, backend=backend)
    names = list_bundled_weights() if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise OptionError("--models", "no bundled weights found; pass weights paths")

    def on_image(result: dict) -> None:
        console.print(f"{result['model']} {result['image_id']}: AJI {result['aji']:.3f}  F1 {result['f1']:.3f}")
        if figures:
            sample = result["sample"]
            path = out / "figures" / f"{Path(result['model']).name}_{sample.image_id}.png"
            save_match_figure(path, sample.image, sample.instances, result["labels"])

    rows = [row for name in names for row in evaluate_model(data, name, config, on_image)]
    summary = summarise(rows)
    write_rows_csv(out / "per_image.csv", rows)
    write_summary(out, summary, {"split": split, "protocol": protocol, "postprocess": postprocess,
                                       "precision": precision, "backend": backend, "tta": tta, "models": names})
    console.print(summary_markdown(summary, f"MoNuSeg {split} ({protocol} protocol)"))

@benchmark_app.command("table1")
@reports_errors
def benchmark_table1(
    data: Annotated[Optional[Path], typer.Argument(help="The MoNuSeg folder (default: $WSINUC_DATA/monuseg or ../shared/data/monuseg).")] = None,
    models: Annotated[str, typer.Option(help="Comma list of rows: bundled name or weights path, '@watershed', '@seeded' or '@auto' (the card's choice) for that post-processing; 'all' = every bundled model with opening and with its card's choice.")] = "all",
    splits: Annotated[str, typer.Option(help="Comma list of train, val, test.")] = "train,val,test",
    protocol: Annotated[str, typer.Option(help="engine (chunks with halo, as segment) or paper (16 tiles of 256, no halo).")] = "engine",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 on GPU, fp32 on CPU), fp32 or bf16.")] = "auto",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for table1.md, table1.json and per_image.csv.")] = Path("results/table1"),
    limit: Annotated[Optional[int], typer.Option(help="Only the first N images of each split (smoke runs).")] = None,
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Test-time augmentation: average the 8 flips/rotations of each tile (~8x the network time).")] = False,
) -> None:
    """The paper's Table I: AJI / F1 on train, val and test for each model, the paper's numbers beside them."""
    from wsinuc.benchmark.monuseg import MonusegConfig
    from wsinuc.benchmark.report import write_rows_csv, write_table_one
    from wsinuc.benchmark.table_one import all_rows, evaluate_table_one, parse_model_spec, table_one
    from wsinuc.datasets import default_data_root, require_dir
    from wsinuc.models import list_bundled_weights

    data = data or default_data_root() / "monuseg"
    require_dir(data / "test" / "images", "MoNuSeg test images")
    if models == "all":
        models = ",".join(all_rows(list_bundled_weights()))
    specs = [parse_model_spec(text) for text in models.split(",") if text.strip()]
    chosen = [s.strip() for s in splits.split(",") if s.strip()]
    if not specs:
        raise OptionError("--models", "no bundled weights found; pass weights paths")
    config = MonusegConfig(protocol=protocol, device=device, precision=precision, limit=limit, tta=tta)
    for split in chosen:
        MonusegConfig(split=split)  # validates the name

    def on_image(result: dict) -> None:
        console.print(f"{result['model']} {result['image_id']}: AJI {result['aji']:.3f}  F1 {result['f1']:.3f}")

    rows = evaluate_table_one(data, specs, chosen, config, on_image)
    table = table_one(rows)
    write_rows_csv(out / "per_image.csv", rows)
    markdown = write_table_one(out, table, {"splits": chosen, "protocol": protocol, "precision": precision, "tta": tta,
                                            "models": [dataclasses.asdict(s) for s in specs]})
    console.print(markdown)

def main() -> None:
    """Console-script entry point.

    The process ends with :func:`os._exit` once the command has returned:
    every output is closed and renamed by then, and the interpreter's
    ordinary teardown (unloading torch's libraries) would add about a second
    to every run.
    """
    logging.basicConfig(level=logging.WARNING, format="wsinuc: %(levelname)s %(name)s: %(message)s")
    for noisy in ("tifffile", "distributed"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    code = 0
    try:
        app()
    except SystemExit as done:
        code = done.code
    _exit_now(code)

def _exit_now(code: object) -> None:
    """Flush, then end the process with ``code`` (as :class:`SystemExit` reads it) at once."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)
