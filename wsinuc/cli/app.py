"""The ``wsinuc`` command: ``info``, ``segment``, ``train``, ``benchmark``.

Each command parses its options, calls one library function and reports.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from wsinuc import __version__
from wsinuc.cli.errors import reports_errors
from wsinuc.config import (
    ALL_OUTPUTS,
    InferenceConfig,
    OutputConfig,
    RunConfig,
    SegmentConfig,
    TilingConfig,
)
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
    console.print(_info_table(description))


def _info_table(description: dict) -> Table:
    table = Table(title=str(description.get("path", "")), show_header=False)
    width, height = description["dimensions"]
    mpp = description.get("mpp")
    mpp_text = f"{mpp[0]:.4g} x {mpp[1]:.4g} um/px" if mpp else "unknown (pass --mpp)"
    power = description.get("objective_power")
    table.add_row("size", f"{width} x {height} px")
    table.add_row("mpp", mpp_text)
    table.add_row("magnification", f"{power:g}x" if power else "unknown")
    table.add_row("vendor", str(description.get("vendor")))
    table.add_row("backend", str(description.get("backend")))
    for index, level in enumerate(description.get("levels", [])):
        (lw, lh), down = level["dimensions"], level["downsample"]
        table.add_row(f"level {index}", f"{lw} x {lh} px (downsample {down:.4g})")
    return table


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
    model: Annotated[str, typer.Option(help="cascade, cascade-lite, a weights path, or auto (cascade on GPU, cascade-lite on CPU).")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    mpp: Annotated[Optional[float], typer.Option(help="Override the slide's pixel size (um/px).")] = None,
    target_mpp: Annotated[Optional[float], typer.Option(help="Working resolution (um/px); default: the model's.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tiles per forward pass.")] = 4,
    chunk_size: Annotated[int, typer.Option(help="Chunk core side in level-0 pixels (multiple of 32).")] = 1024,
    halo: Annotated[int, typer.Option(help="Context around each chunk in level-0 pixels (> largest nucleus + receptive field).")] = 128,
    tissue: Annotated[bool, typer.Option("--tissue/--no-tissue", help="Skip chunks without tissue.")] = True,
    region: Annotated[Optional[str], typer.Option(help="X,Y,W,H in level-0 pixels; rounded out to whole chunks.")] = None,
    outputs: Annotated[str, typer.Option(help="Comma list of geojson,zarr,table,overlay.")] = ",".join(ALL_OUTPUTS),
    gzip: Annotated[bool, typer.Option("--gzip", help="Write nuclei.geojson.gz.")] = False,
    table_format: Annotated[str, typer.Option(help="parquet or csv.")] = "parquet",
    postprocess: Annotated[str, typer.Option(help="opening (paper) or watershed.")] = "opening",
    scheduler: Annotated[str, typer.Option(help="threads, processes or a dask scheduler address (tcp://host:port).")] = "threads",
    workers: Annotated[int, typer.Option(help="Worker threads or processes.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run, skipping finished chunks.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Segment every nucleus; write GeoJSON (QuPath), OME-Zarr labels, a table and an overlay."""
    from wsinuc.cli.progress import RichReporter
    from wsinuc.pipeline import segment_slide

    config = SegmentConfig(
        tiling=TilingConfig(chunk_size=chunk_size, halo=halo, tissue=tissue, region=_parse_region(region)),
        inference=InferenceConfig(model=model, device=device, mpp=mpp, target_mpp=target_mpp,
                                  batch_size=batch_size, postprocess=postprocess),
        output=OutputConfig(outputs=tuple(o.strip() for o in outputs.split(",") if o.strip()), gzip=gzip,
                            table_format=table_format, resume=resume, overwrite=overwrite),
        run=RunConfig(scheduler=scheduler, workers=workers),
    )
    for slide in slides:
        record = segment_slide(slide, out, config, RichReporter(enabled=not quiet))
        where = Path(out) / Path(slide).stem
        seconds = record["timings_s"]["total"]
        console.print(f"{slide}: {record['counts']['nuclei']} nuclei in {seconds:.1f} s -> {where}/")
    console.print("Open in QuPath: drag the slide in, then drag nuclei.geojson onto it (File > Import objects).")


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="wsinuc: %(levelname)s %(name)s: %(message)s")
    for noisy in ("tifffile", "distributed"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    app()
