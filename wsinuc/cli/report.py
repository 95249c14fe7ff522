"""What the commands print: the slide table of ``info``, and the per-slide lines and summary of ``segment``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def info_table(description: dict) -> Table:
    """The ``wsinuc info`` table of a slide description."""
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


def print_slide(console: Console, entry: dict, typed: dict[str, str]) -> None:
    """One line per slide as it finishes: its nuclei, or why it failed or was skipped (stderr)."""
    slide = typed.get(entry["slide"], entry["slide"])
    if entry["status"] == "done":
        console.print(f"{slide}: {entry['nuclei']} nuclei in {entry['seconds']:.1f} s -> {entry['out_dir']}/",
                      highlight=False)
    else:
        typer.echo(f"wsinuc: {entry['status']}: {slide}: {entry['reason']}", err=True)


def print_summary(console: Console, summary: dict, typed: dict[str, str]) -> None:
    """The end-of-run summary of a cohort: counts, then each failed or skipped slide and why."""
    counts = summary["counts"]
    console.print(f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped "
                  f"-> {Path(summary['out_dir']) / 'wsinuc-summary.json'}", highlight=False)
    for entry in summary["slides"]:
        if entry["status"] != "done":
            slide = typed.get(entry["slide"], entry["slide"])
            console.print(f"  {entry['status']}: {slide}: {entry['reason']}", highlight=False, markup=False)
