"""Model cards and weights files on disk, without torch: find, read and check them.

What the engine's client needs before any network runs (the card, the
SHA-256 of the weights, whether a bundled model is installed) lives here so
that a run served from the OpenVINO cache never imports torch;
:mod:`wsinuc.models.weights` re-exports every name and adds saving and loading.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from wsinuc.errors import WsinucError

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
#: Working pixel size of a card that records none (every model before ``--mpp``): MoNuSeg's 40x.
DEFAULT_CARD_MPP = 0.25


class WeightsError(WsinucError):
    """A weights file or model card is missing, corrupt or inconsistent."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


def card_mpp(card: dict[str, Any]) -> float:
    """The working pixel size (um/px) a model card records, :data:`DEFAULT_CARD_MPP` when it has none."""
    return float(card.get("mpp", DEFAULT_CARD_MPP))


def weight_files(card: dict[str, Any], card_path: str | Path) -> list[tuple[Path, str]]:
    """``(file, expected sha256)`` of every weights file a card describes."""
    card_path = Path(card_path)
    if "shards" in card:
        return [(card_path.with_name(shard["file"]), shard["sha256"]) for shard in card["shards"]]
    return [(card_path.with_suffix(WEIGHTS_SUFFIX), card["sha256"])]


def weights_sha256(card: dict[str, Any]) -> str | list[str] | None:
    """The SHA-256 a card records for its weights: one file's, or each shard's in order.

    None for a card that records none (e.g. an untrained network's).
    """
    if "shards" in card:
        return [shard["sha256"] for shard in card["shards"]]
    return card.get("sha256")


def verified_weight_files(card: dict[str, Any], card_path: str | Path) -> list[Path]:
    """The weights files of a card, each checked to exist and to match the SHA-256 the card records.

    Raises
    ------
    WeightsError
        A file is missing or its SHA-256 differs from the card's.
    """
    files = []
    for file, expected in weight_files(card, card_path):
        if not file.is_file():
            raise WeightsError(file, "weights file not found")
        digest = file_sha256(file)
        if digest != expected:
            raise WeightsError(file, f"sha256 {digest} does not match {expected} in {Path(card_path).name}")
        files.append(file)
    return files


def load_numpy_state(card_path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors of a saved model as numpy arrays (as stored, float16 mostly) and its card; no torch.

    The same checks as :func:`wsinuc.models.weights.load_weights` (SHA-256,
    readable safetensors, finite values), without building a network.

    Raises
    ------
    WeightsError
        Missing or corrupt file, SHA-256 mismatch, NaN or infinite values.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    card = read_card(card_path)
    state: dict[str, np.ndarray] = {}
    for file in verified_weight_files(card, card_path):
        try:
            tensors = load_file(str(file))
        except SafetensorError as error:
            raise WeightsError(file, f"not a safetensors file ({error})") from error
        broken = [key for key, value in tensors.items()
                  if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all()]
        if broken:
            raise WeightsError(file, f"{len(broken)} tensor(s) hold NaN or infinite values, e.g. {broken[0]!r}")
        state.update(tensors)
    return state, card


def saved_weights_exist(path: str | Path) -> bool:
    """Whether ``path`` (stem, ``.json`` or ``.safetensors``) has a card and all its weights files."""
    _, card_path = stem_paths(path)
    try:
        card = read_card(card_path)
    except WeightsError:
        return False
    return all(file.is_file() for file, _ in weight_files(card, card_path))


def weights_not_found(name_or_path: str | Path, bundled: list[str]) -> WeightsError:
    """The error for a model name that is neither bundled nor a weights file.

    A preset of :data:`wsinuc.models.PRESETS` without installed weights says
    how to get them: the paper-width ``cascade`` (110 MB) is in the source
    tree but not in the wheel, which stays under the package index's 100 MB.
    """
    listed = ", ".join(bundled) if bundled else "none installed"
    if str(name_or_path) == "cascade":
        return WeightsError(
            name_or_path,
            f"no trained weights in this install (bundled: {listed}): the paper-width weights (110 MB) are in "
            f"wsinuc's source tree, not in the wheel (install it with `pip install -e .`, or pass "
            f"--model <source>/wsinuc/weights/cascade), or train them with `wsinuc train --preset cascade`",
        )
    from wsinuc.models.registry import PRESETS

    if str(name_or_path) in PRESETS:
        return WeightsError(
            name_or_path,
            f"no trained weights ship with this version (bundled: {listed}); train them with "
            f"`wsinuc train --preset {name_or_path}` and pass the resulting .safetensors path",
        )
    return WeightsError(name_or_path, f"no such weights file and no bundled model of that name; bundled: {listed}")


def bundled_weights_dir() -> Path:
    """The package folder ``wsinuc/weights`` (it may not exist)."""
    return Path(str(resources.files("wsinuc").joinpath("weights")))


def list_bundled_weights(weights_dir: str | Path | None = None) -> list[str]:
    """Names whose card ``<name>.json`` and all its weights files are in ``weights_dir``."""
    folder = Path(weights_dir) if weights_dir is not None else bundled_weights_dir()
    if not folder.is_dir():
        return []
    return sorted(card.stem for card in folder.glob(f"*{CARD_SUFFIX}") if saved_weights_exist(card))


def read_card(card_path: str | Path) -> dict[str, Any]:
    """Read and check a model card (JSON object with ``config`` and ``sha256``)."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise WeightsError(card_path, "model card not found")
    try:
        card = json.loads(card_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(card_path, f"not valid JSON ({error})") from error
    has_config = isinstance(card, dict) and isinstance(card.get("config"), dict)
    if not has_config or not ("sha256" in card or _valid_shards(card.get("shards"))):
        raise WeightsError(card_path, "model card lacks a 'config' object or a 'sha256' (or 'shards') entry")
    return card


def _valid_shards(shards: object) -> bool:
    return isinstance(shards, list) and bool(shards) and all(
        isinstance(s, dict) and isinstance(s.get("file"), str) and "/" not in s["file"]
        and isinstance(s.get("sha256"), str) for s in shards
    )


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stem_paths(path: str | Path) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)`` for a stem or either file's path."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + CARD_SUFFIX)
