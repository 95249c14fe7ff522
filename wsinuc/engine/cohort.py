"""A cohort: many slides in one run that survives a bad slide.

1. Every path is made absolute (:mod:`~wsinuc.engine.paths`) and every input
   opened; unreadable ones are listed together and nothing starts unless
   ``skip_unreadable``.
2. On a cluster, every worker checks it sees the same slides, output folder,
   wsinuc version and weights (:mod:`~wsinuc.engine.preflight`).
3. The slides run one after another, the next one's chunks starting while
   the previous one's outputs are written (:mod:`~wsinuc.engine.pipeline`).
   A slide that fails is reported and the others go on (unless
   ``fail_fast``); its finished chunks stay in its work folder for ``--resume``.
4. A summary (done / failed with the reason / skipped) is written atomically
   beside the outputs as :data:`SUMMARY_NAME` when two or more slides are given.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from wsinuc import __version__
from wsinuc.config import SegmentConfig
from wsinuc.engine.paths import absolute, absolute_config
from wsinuc.engine.pipeline import Outcome, overlapped
from wsinuc.engine.plan import WORK_DIR
from wsinuc.engine.preflight import Expectation, preflight, slide_layout, weights_digests
from wsinuc.engine.run import Reporter, engine_client, finish_slide, start_slide
from wsinuc.errors import WsinucError
from wsinuc.slide import open_slide, require_mpp
from wsinuc.writers.atomic import atomic_file

log = logging.getLogger(__name__)

SUMMARY_NAME = "wsinuc-summary.json"


class UnreadableInputsError(WsinucError):
    """Some inputs cannot be opened; the message names every one of them."""


def open_inputs(paths: Sequence[Path], mpp: float | None) -> tuple[dict[Path, dict], dict[Path, str]]:
    """Open every slide once: ``(layout of each readable one, reason of each unreadable one)``."""
    readable, unreadable = {}, {}
    for path in paths:
        try:
            with open_slide(path, mpp=mpp) as slide:
                require_mpp(slide)
                readable[path] = slide_layout(slide)
        except WsinucError as error:
            unreadable[path] = str(error).removeprefix(f"{path}: ")
        except OSError as error:
            unreadable[path] = error.strerror or str(error)
    return readable, unreadable


def unreadable_error(unreadable: dict[Path, str], total: int) -> WsinucError:
    """One line naming every unreadable input (just its own error when it is the only input)."""
    listed = "; ".join(f"{path}: {reason}" for path, reason in unreadable.items())
    if total == 1:
        return UnreadableInputsError(listed)
    return UnreadableInputsError(f"{len(unreadable)} of {total} inputs cannot be read, nothing was started "
                                 f"(pass --skip-unreadable to segment the others): {listed}")


def segment_cohort(
    slide_paths: Sequence[str | Path], out_dir: str | Path, config: SegmentConfig = SegmentConfig(),
    reporter: Reporter | None = None, on_slide: Callable[[dict], None] | None = None,
) -> dict:
    """Segment every slide of a cohort; return the summary (see the module docstring for the steps).

    Parameters
    ----------
    slide_paths : sequence of str or Path
        The slides (relative paths are taken from the current folder).
    out_dir : str or Path
        Receives ``<slide stem>/`` per slide and the summary.
    config : SegmentConfig
        Every option; ``config.run.skip_unreadable`` and ``config.run.fail_fast`` apply here.
    reporter : Reporter, optional
        Progress hooks of each slide.
    on_slide : callable, optional
        Called with each slide's summary entry as it is known, in input order.

    Returns
    -------
    dict
        ``counts`` (done, failed, skipped) and ``slides`` (one entry each).

    Raises
    ------
    UnreadableInputsError
        Unreadable inputs without ``skip_unreadable``.
    PreflightError
        A cluster worker lacks something; nothing was written.
    WsinucError
        With ``fail_fast``, the first slide's failure.
    """
    paths, out, config = [absolute(p) for p in slide_paths], absolute(out_dir), absolute_config(config)
    readable, unreadable = open_inputs(paths, config.inference.mpp)
    if unreadable and not (config.run.skip_unreadable and readable):
        raise unreadable_error(unreadable, len(paths))
    entries = [_skipped(path, reason) for path, reason in unreadable.items()]
    with engine_client(config) as client:
        if "://" in config.run.scheduler:
            preflight(client, _expectation(readable, out, config))
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            for entry in entries:
                (on_slide or _ignore)(entry)
            for entry in _run(client, list(readable), out, config, reporter):
                entries.append(entry)
                (on_slide or _ignore)(entry)
        finally:
            summary = _summary(paths, entries, out, started)
            if len(paths) > 1:
                _write_summary(out / SUMMARY_NAME, summary)
    return summary


def _run(client, paths: list[Path], out: Path, config: SegmentConfig, reporter: Reporter | None):
    """Each slide's summary entry, in order; with ``fail_fast`` the first failure is raised."""
    def start(path: Path):
        return _finished_earlier(path, out, config) or start_slide(path, out, config, client)

    def finish(handle):
        return handle if isinstance(handle, dict) else finish_slide(handle, config, client, reporter)

    def cancel(handle) -> None:
        if not isinstance(handle, dict):
            client.cancel(handle.futures)

    outcomes = overlapped(paths, start, finish, cancel)
    with contextlib.closing(outcomes):
        for outcome in outcomes:
            yield _entry(outcome, out)
            if outcome.error is not None and config.run.fail_fast:
                raise outcome.error


def _finished_earlier(path: Path, out: Path, config: SegmentConfig) -> dict | None:
    """With ``--resume``, a slide whose earlier run finished is done: its ``run.json`` and no work folder."""
    folder = out / path.stem
    if config.output.resume and (folder / "run.json").is_file() and not (folder / WORK_DIR).exists():
        return json.loads((folder / "run.json").read_text()) | {"finished_earlier": True}
    return None


def _entry(outcome: Outcome, out: Path) -> dict:
    path, folder = outcome.item, out / outcome.item.stem
    if outcome.error is None:
        record = outcome.value
        entry = {"slide": str(path), "status": "done", "out_dir": str(folder), "nuclei": record["counts"]["nuclei"],
                 "seconds": record["timings_s"]["total"]}
        return entry | ({"note": "finished by an earlier run"} if record.get("finished_earlier") else {})
    log.debug("%s failed", path, exc_info=outcome.error)
    chunks = folder / WORK_DIR / "chunks"
    resumable = len(list(chunks.glob("*.chunk"))) if chunks.is_dir() else 0
    return {"slide": str(path), "status": "failed", "reason": failure_reason(outcome.error), "out_dir": str(folder),
            "finished_chunks": resumable}


def failure_reason(error: BaseException) -> str:
    """One line saying why a slide failed."""
    if isinstance(error, WsinucError):
        text = str(error)
    elif isinstance(error, OSError) and error.filename:
        text = f"{error.filename}: {error.strerror or error}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def _skipped(path: Path, reason: str) -> dict:
    return {"slide": str(path), "status": "skipped", "reason": " ".join(reason.split())}


def _summary(paths: list[Path], entries: list[dict], out: Path, started: str) -> dict:
    counts = {status: sum(e["status"] == status for e in entries) for status in ("done", "failed", "skipped")}
    order = {str(path): index for index, path in enumerate(paths)}
    return {"wsinuc_version": __version__, "out_dir": str(out), "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": counts | {"not_started": len(paths) - len(entries)},
            "slides": sorted(entries, key=lambda e: order.get(e["slide"], len(order)))}


def _write_summary(path: Path, summary: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w") as handle:
        json.dump(summary, handle, indent=2)


def _expectation(readable: dict[Path, dict], out: Path, config: SegmentConfig) -> Expectation:
    from wsinuc.inference.model_cache import resolve_model_name

    model = resolve_model_name(config.inference.model, config.inference.device)
    return Expectation(version=__version__, model=model, weights=weights_digests(model),
                       slides=tuple((str(path), layout) for path, layout in readable.items()),
                       mpp=config.inference.mpp, out_dir=str(out))


def _ignore(entry: dict) -> None:
    """Default ``on_slide``."""
