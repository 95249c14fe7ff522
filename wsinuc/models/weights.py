"""Save and load trained networks as safetensors + a JSON model card.

A saved model is two files side by side:

* ``<stem>.safetensors``: the state dict (floating tensors stored as
  float16), with the ``create_model`` config as JSON in the metadata;
* ``<stem>.json``: the card: ``name``, ``config``, ``sha256`` of the
  ``.safetensors`` file, ``n_parameters``, ``dtype`` and whatever the caller
  adds (metrics, training data, epochs, device, date).

Loading rebuilds the network from the card's config through
:func:`~wsinuc.models.registry.create_model`, checks the sha256 and reads the
tensors with safetensors: nothing is ever unpickled. Bundled weights live in
the package folder ``wsinuc/weights/`` and are found by name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from wsinuc.errors import WsinucError
from wsinuc.models.registry import create_model, model_config

logger = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
STORED_DTYPE = torch.float16


class WeightsError(WsinucError):
    """A weights file or model card is missing, corrupt or inconsistent."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


def save_weights(
    model: nn.Module, path: str | Path, card: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` and its card ``<path>.json``.

    Parameters
    ----------
    model : torch.nn.Module
        A network built by ``create_model`` (it carries ``wsinuc_config``).
    path : str or Path
        Output stem; a ``.safetensors`` or ``.json`` suffix is dropped.
    card : dict, optional
        Extra JSON-serialisable card entries (metrics, data, epochs, device,
        date, ``name``). ``config``, ``sha256``, ``n_parameters`` and ``dtype``
        are always computed here.

    Returns
    -------
    (Path, Path)
        The weights file and the card file.
    """
    config = model_config(model)
    weights_path, card_path = _stem_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        key: (value.to(STORED_DTYPE) if value.is_floating_point() else value)
        .detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    temporary = weights_path.with_name(weights_path.name + ".tmp")
    save_file(tensors, str(temporary), metadata={"wsinuc_config": json.dumps(config)})
    os.replace(temporary, weights_path)
    full_card = {
        "name": config["name"],
        **(card or {}),
        "config": config,
        "sha256": file_sha256(weights_path),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(STORED_DTYPE).removeprefix("torch."),
    }
    card_path.write_text(json.dumps(full_card, indent=2, sort_keys=True) + "\n")
    logger.info("saved %s (%d parameters)", weights_path, full_card["n_parameters"])
    return weights_path, card_path


def load_weights(
    path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved network and load its tensors.

    Parameters
    ----------
    path : str or Path
        Stem, ``.safetensors`` or ``.json`` path of a model saved by :func:`save_weights`.
    device : str or torch.device
        Where to put the model.
    dtype : torch.dtype
        Floating dtype of the loaded parameters.

    Returns
    -------
    (torch.nn.Module, dict)
        The model in eval mode and its card.

    Raises
    ------
    WeightsError
        Missing or corrupt file, sha256 mismatch, or tensors that do not fit the config.
    """
    weights_path, card_path = _stem_paths(path)
    card = read_card(card_path)
    if not weights_path.is_file():
        raise WeightsError(weights_path, "weights file not found")
    digest = file_sha256(weights_path)
    if digest != card.get("sha256"):
        raise WeightsError(
            weights_path, f"sha256 {digest} does not match {card.get('sha256')} in {card_path.name}"
        )
    try:
        model = create_model(**card["config"])
        state = load_file(str(weights_path), device="cpu")
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as error:
        problem = " ".join(str(error).split())[:300]
        raise WeightsError(
            weights_path, f"cannot load into the card's config: {problem}"
        ) from error
    return model.to(device=device, dtype=dtype).eval(), card


def load_model(
    name_or_path: str | Path,
    device: str | torch.device = "cpu",
    *,
    weights_dir: str | Path | None = None,
) -> nn.Module:
    """Load bundled weights by name (``"cascade"``, ``"cascade-lite"``) or saved weights by path.

    Parameters
    ----------
    name_or_path : str or Path
        A bundled name (a ``<name>.json`` card in ``weights_dir``) or the
        stem / file path of weights saved by :func:`save_weights`.
    device : str or torch.device
        Where to put the model.
    weights_dir : str or Path, optional
        Folder of bundled weights; default the package folder ``wsinuc/weights``.

    Returns
    -------
    torch.nn.Module
        The model in eval mode (float32).

    Raises
    ------
    WeightsError
        Neither a bundled name nor an existing file (the message lists the
        bundled names), or a corrupt / mismatching file.
    """
    folder = Path(weights_dir) if weights_dir is not None else bundled_weights_dir()
    available = list_bundled_weights(folder)
    if str(name_or_path) in available:
        return load_weights(folder / str(name_or_path), device)[0]
    weights_path, card_path = _stem_paths(name_or_path)
    if weights_path.is_file() or card_path.is_file():
        return load_weights(weights_path, device)[0]
    listed = ", ".join(available) if available else "none installed"
    raise WeightsError(
        name_or_path, f"no such weights file and no bundled model of that name; bundled: {listed}"
    )


def bundled_weights_dir() -> Path:
    """The package folder ``wsinuc/weights`` (it may not exist)."""
    return Path(str(resources.files("wsinuc").joinpath("weights")))


def list_bundled_weights(weights_dir: str | Path | None = None) -> list[str]:
    """Names with both ``<name>.json`` and ``<name>.safetensors`` in ``weights_dir``."""
    folder = Path(weights_dir) if weights_dir is not None else bundled_weights_dir()
    if not folder.is_dir():
        return []
    return sorted(
        card.stem for card in folder.glob(f"*{CARD_SUFFIX}")
        if card.with_suffix(WEIGHTS_SUFFIX).is_file()
    )


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
    if not has_config or "sha256" not in card:
        raise WeightsError(card_path, "model card lacks a 'config' object or a 'sha256' entry")
    return card


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stem_paths(path: str | Path) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)`` for a stem or either file's path."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + CARD_SUFFIX)
