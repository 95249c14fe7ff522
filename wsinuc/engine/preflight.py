"""Pre-flight on a cluster: before the first chunk, every worker checks it sees what the client sees.

One small task per worker opens each slide (same size and pyramid as the
client), creates and removes a file in the output folder, and compares its
wsinuc version and the model's weights SHA-256 with the client's. The first
problem becomes one line naming the worker and what it lacks; nothing is
written. Nothing here runs on a local (threads or processes) scheduler.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from wsinuc.errors import WsinucError
from wsinuc.slide import open_slide

SHARED_STORAGE = "slides and --out must be on storage every worker mounts at the same path"
SAME_INSTALL = "install the same wsinuc version and weights on every worker"


class PreflightError(WsinucError):
    """A worker of the cluster lacks a slide, the output folder, the wsinuc version or the weights."""


@dataclass(frozen=True)
class Expectation:
    """What every worker must see, as the client sees it.

    Attributes
    ----------
    version : str
        The client's ``wsinuc.__version__``.
    model : str
        Resolved model name or absolute weights path.
    weights : tuple of str
        SHA-256 of each of the model's weights files.
    slides : tuple of (str, dict)
        Absolute slide path and its :func:`slide_layout`.
    mpp : float or None
        ``--mpp``, to open the slides as the run will.
    out_dir : str
        Absolute output folder (it may not exist yet).
    """

    version: str
    model: str
    weights: tuple[str, ...]
    slides: tuple[tuple[str, dict], ...]
    mpp: float | None
    out_dir: str


def slide_layout(slide) -> dict:
    """Size and pyramid of an open slide, as compared between client and worker."""
    return {"dimensions": list(slide.dimensions), "levels": [list(d) for d in slide.level_dimensions]}


def weights_digests(model: str) -> tuple[str, ...]:
    """SHA-256 of each weights file of a bundled model name or a weights path (hashed, not read from the card)."""
    from wsinuc.inference.model_cache import weights_stem
    from wsinuc.models.cards import CARD_SUFFIX, file_sha256, read_card, weight_files

    card_path = weights_stem(model).with_suffix(CARD_SUFFIX)
    return tuple(file_sha256(path) for path, _ in weight_files(read_card(card_path), card_path))


def preflight(client, expected: Expectation, timeout: float = 120.0) -> None:
    """Run :func:`check_worker` once on every worker; raise the first problem as one line.

    Raises
    ------
    PreflightError
        ``worker tcp://...: <what it lacks>``, or that the cluster has no workers.
    """
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:
        raise PreflightError(f"the cluster at {client.scheduler.address} has no workers; start some with dask worker")
    tag = uuid.uuid4().hex[:8]
    futures = {address: client.submit(check_worker, expected, workers=[address], allow_other_workers=False,
                                      pure=False, key=f"wsinuc-preflight-{tag}-{address}")
               for address in workers}
    problems = []
    for address, future in futures.items():
        try:
            found = future.result(timeout=timeout)
        except Exception as error:  # noqa: BLE001 - a worker that cannot run the check at all
            found = [f"cannot run wsinuc ({type(error).__name__}: {error}); {SAME_INSTALL}"]
        problems.extend(f"worker {address}: {problem}" for problem in found)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise PreflightError(problems[0] + more)


def check_worker(expected: Expectation) -> list[str]:
    """Run on a worker: what it lacks, one phrase each (empty when it sees everything as the client does).

    1. Its wsinuc version. 2. The model's weights. 3. Each slide's size and
    pyramid. 4. Creating and writing a file in the output folder (removed again).
    """
    problems = [problem for problem in (_check_version(expected.version), _check_weights(expected)) if problem]
    for path, layout in expected.slides:
        problem = _check_slide(path, layout, expected.mpp)
        if problem:
            problems.append(problem)
    problem = _check_out_dir(Path(expected.out_dir))
    return problems + ([problem] if problem else [])


def _check_version(version: str) -> str | None:
    import wsinuc

    if wsinuc.__version__ != version:
        return f"runs wsinuc {wsinuc.__version__}, the client {version}; {SAME_INSTALL}"
    return None


def _check_weights(expected: Expectation) -> str | None:
    try:
        found = weights_digests(expected.model)
    except (WsinucError, OSError) as error:
        return f"cannot find the weights of {expected.model} ({error}); {SAME_INSTALL}"
    if found != expected.weights:
        ours, theirs = ",".join(d[:12] for d in found), ",".join(d[:12] for d in expected.weights)
        return f"has other weights for {expected.model} (sha256 {ours}... vs {theirs}... on the client); {SAME_INSTALL}"
    return None


def _check_slide(path: str, layout: dict, mpp: float | None) -> str | None:
    if not Path(path).is_file():
        return f"cannot see {path} — {SHARED_STORAGE}"
    try:
        with open_slide(path, mpp=mpp) as slide:
            found = slide_layout(slide)
    except WsinucError as error:
        return f"cannot open {path} ({str(error).removeprefix(f'{path}: ')})"
    if found != layout:
        (width, height), (cw, ch) = found["dimensions"], layout["dimensions"]
        return (f"sees {path} as {width} x {height} px with {len(found['levels'])} levels, the client as {cw} x {ch} "
                f"with {len(layout['levels'])} — {SHARED_STORAGE}")
    return None


def _check_out_dir(out_dir: Path) -> str | None:
    """Create and write a file in ``out_dir`` (or, when it does not exist yet, in its nearest existing parent)."""
    folder = out_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".wsinuc-preflight-") as probe:
            (Path(probe) / "probe").write_bytes(b"wsinuc")
    except OSError as error:
        return f"cannot create files in {out_dir} ({folder}: {error.strerror or error}) — {SHARED_STORAGE}"
    return None
