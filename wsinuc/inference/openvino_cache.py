"""The OpenVINO model of a weights file, built or converted once and cached on disk.

The model returns the very maps the engine post-processes (the network
followed by :func:`~wsinuc.inference.torch_backend.probability_maps`) for
inputs of dynamic batch, height and width. A cascade with a ``vgg16_lite``
stage 2 (the bundled lite models) is built straight from its weights with
OpenVINO's opset API (:mod:`~wsinuc.inference.openvino_graph`, no torch);
any other network is converted from torch by ``openvino.convert_model``.
It is saved as ``model.xml`` + ``model.bin`` (float32; the inference
precision is chosen when compiling) in the user cache folder:

* ``$WSINUC_CACHE_DIR`` when set (the tests use a temporary folder);
* else ``$XDG_CACHE_HOME/wsinuc``, ``~/.cache/wsinuc`` on Linux,
  ``~/Library/Caches/wsinuc`` on macOS, ``%LOCALAPPDATA%\\wsinuc\\Cache`` on Windows;

under ``openvino/<model name>-<key>/``, where the key hashes the weights'
SHA-256 (from the model card), the OpenVINO version and
:data:`CONVERSION_VERSION`. A folder is written under a temporary name and
renamed when complete; ``meta.json`` records the SHA-256 of both files, so a
corrupt or stale entry is rebuilt with a warning, never used. Finding a
cached model, or building a lite cascade's, imports neither torch nor the
model code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from wsinuc.models.cards import file_sha256, weights_sha256

if TYPE_CHECKING:
    import openvino

log = logging.getLogger(__name__)

#: Bump when the converted graph changes (wrapper, input layout), to retire older cache entries.
#: 2: the lite cascades are built from their weights (openvino_graph), not converted from torch.
CONVERSION_VERSION = 2
#: Side of the example input traced by the conversion (small: tracing cost grows with it).
EXAMPLE_SIDE = 32
FILES = ("model.xml", "model.bin")


def cache_dir() -> Path:
    """The user cache folder of wsinuc (see the module docstring); not created here."""
    override = os.environ.get("WSINUC_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "wsinuc" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wsinuc"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wsinuc"


def cache_key(card: dict) -> str:
    """Hex key of a converted model: weights SHA-256, OpenVINO version, :data:`CONVERSION_VERSION`."""
    import openvino

    content = {"weights_sha256": weights_sha256(card), "config": card.get("config"),
               "openvino": openvino.get_version(), "conversion": CONVERSION_VERSION}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:20]


def entry_dir(model: str) -> Path:
    """The cache folder of ``model`` (a bundled name or a weights path); it may not exist."""
    from wsinuc.inference.model_cache import load_card, weights_stem

    return cache_dir() / "openvino" / f"{weights_stem(model).name}-{cache_key(load_card(model))}"


def openvino_model_path(model: str) -> Path:
    """Path of ``model.xml`` of ``model``'s converted model, converting it first when needed.

    A cache entry that fails its check (missing file, wrong SHA-256, other
    key) is removed with a warning and converted again.
    """
    entry = entry_dir(model)
    if entry.exists():
        problem = entry_problem(entry)
        if problem is None:
            return entry / FILES[0]
        log.warning("%s: cached OpenVINO model is unusable (%s); converting it again", entry, problem)
        shutil.rmtree(entry, ignore_errors=True)
    return _convert_into(model, entry) / FILES[0]


def entry_problem(entry: Path) -> str | None:
    """Why the cache entry ``entry`` cannot be used, or None when it is complete and intact."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return "meta.json missing or unreadable"
    if not isinstance(meta, dict) or meta.get("key") != entry.name.rsplit("-", 1)[-1]:
        return "meta.json belongs to another model or version"
    for name in FILES:
        path = entry / name
        if not path.is_file():
            return f"{name} missing"
        if file_sha256(path) != meta.get("sha256", {}).get(name):
            return f"{name} does not match its SHA-256"
    return None


def _convert_into(model: str, entry: Path) -> Path:
    """Convert ``model``, write it to a temporary sibling of ``entry`` and rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        write_openvino_model(model, staging / FILES[0])
        sha = {name: file_sha256(staging / name) for name in FILES}
        key = entry.name.rsplit("-", 1)[-1]
        (staging / "meta.json").write_text(json.dumps({"model": model, "key": key, "sha256": sha}, indent=1))
        try:
            staging.rename(entry)
        except OSError:
            if entry_problem(entry) is not None:  # another process finished first with a bad entry
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("converted %s to OpenVINO in %s", model, entry)
    return entry


def write_openvino_model(model: str, xml_path: Path) -> None:
    """Write ``model``'s (bundled name or weights path) OpenVINO model (f32) to ``xml_path`` and its ``.bin``.

    A cascade with a ``vgg16_lite`` stage 2 (the bundled lite models) is built
    straight from its weights, without torch
    (:mod:`~wsinuc.inference.openvino_graph`); any other network is
    converted from torch (:func:`convert_torch_model`).
    """
    import openvino

    from wsinuc.inference.model_cache import load_card
    from wsinuc.inference.openvino_graph import build_openvino_model, can_build_directly

    if can_build_directly(load_card(model)):
        built = build_openvino_model(model)
    else:
        built = convert_torch_model(model)
    openvino.save_model(built, str(xml_path), compress_to_fp16=False)


def convert_torch_model(model: str) -> openvino.Model:
    """The torch network of ``model`` followed by its probability maps, traced and converted by OpenVINO.

    Returns
    -------
    openvino.Model
        Input (N, 3, H, W) float RGB in [0, 1] of dynamic batch, height and width.
    """
    import openvino
    import torch

    from wsinuc.inference.model_cache import load_card_and_model
    from wsinuc.inference.torch_backend import MapsModule

    network, _ = load_card_and_model(model, "cpu")
    wrapper = MapsModule(network).eval()
    example = torch.rand(1, 3, EXAMPLE_SIDE, EXAMPLE_SIDE)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks, constant for any input
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace: still what convert_model reads best
        traced = torch.jit.trace(wrapper, example, check_trace=False)
        return openvino.convert_model(traced, input=[openvino.PartialShape([-1, 3, -1, -1])])
