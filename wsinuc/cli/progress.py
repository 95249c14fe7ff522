"""Rich progress bar for ``wsinuc segment``: chunks done, Mpx/s, ETA."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wsinuc.engine import Reporter


class RichReporter(Reporter):
    """Show pass-1 progress on stderr; quiet when ``enabled`` is False."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None
        self._pixels = 0.0
        self._started = 0.0

    def start(self, slide: Path, total: int, done: int) -> None:
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("chunks  {task.fields[rate]}"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(slide.name, total=total, completed=done, rate="")
        self._pixels, self._started = 0.0, time.perf_counter()

    def advance(self, summary: dict) -> None:
        if self._progress is None:
            return
        self._pixels += summary.get("megapixels", 0.0)
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        self._progress.update(self._task, advance=1, rate=f"{self._pixels / elapsed:.2f} Mpx/s")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
