"""Save and load trained networks as safetensors + a JSON model card.

A saved model is two files side by side:

* ``<stem>.safetensors``: the state dict (floating tensors stored as
  float16), with the ``create_model`` config as JSON in the metadata;
* ``<stem>.json``: the card: ``name``, ``config``, ``sha256`` of the
  ``.safetensors`` file, ``n_parameters``, ``dtype`` and whatever the caller
  adds (metrics, training data, epochs, device, date).

A model larger than ``max_shard_bytes`` (64 MiB by default, e.g. the
paper-width cascade at 110 MB in float16) is split by whole tensors into
``<stem>-00001-of-0000N.safetensors`` files; its card then lists them under
``shards`` (file name, sha256 and size of each) instead of one ``sha256``.
Every file stays far below the 100 MB that git hosts accept per file.

Loading rebuilds the network from the card's config through
:func:`~wsinuc.models.registry.create_model`, checks the sha256 and reads the
tensors with safetensors: nothing is ever unpickled. Bundled weights live in
the package folder ``wsinuc/weights/`` and are found by name. Reading cards
and finding files (no torch) is :mod:`wsinuc.models.cards`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from wsinuc.models.cards import (
    CARD_SUFFIX,
    WEIGHTS_SUFFIX,
    WeightsError,
    bundled_weights_dir,
    file_sha256,
    list_bundled_weights,
    read_card,
    saved_weights_exist,
    stem_paths,
    verified_weight_files,
    weight_files,
    weights_not_found,
    weights_sha256,
)
from wsinuc.models.registry import create_model, model_config

logger = logging.getLogger(__name__)

STORED_DTYPE = torch.float16
MAX_SHARD_BYTES = 64 * 2**20

__all__ = [
    "CARD_SUFFIX", "WEIGHTS_SUFFIX", "WeightsError", "bundled_weights_dir", "file_sha256", "list_bundled_weights",
    "load_model", "load_weights", "read_card", "save_weights", "saved_weights_exist", "weight_files",
    "weights_not_found", "weights_sha256",
]


def save_weights(
    model: nn.Module,
    path: str | Path,
    card: dict[str, Any] | None = None,
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` (or its shards) and the card ``<path>.json``.

    Parameters
    ----------
    model : torch.nn.Module
        A network built by ``create_model`` (it carries ``wsinuc_config``).
    path : str or Path
        Output stem; a ``.safetensors`` or ``.json`` suffix is dropped.
    card : dict, optional
        Extra JSON-serialisable card entries (metrics, data, epochs, device,
        date, ``name``). ``config``, ``sha256`` (or ``shards``),
        ``n_parameters`` and ``dtype`` are always computed here.
    max_shard_bytes : int
        Largest weights file; a bigger state dict is split into shards.

    Returns
    -------
    (Path, Path)
        The (first) weights file and the card file.
    """
    config = model_config(model)
    weights_path, card_path = stem_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: _stored(value).detach().cpu().contiguous() for key, value in model.state_dict().items()}
    kept_float32 = sorted(key for key, value in tensors.items() if value.dtype == torch.float32)
    groups = _shard_groups(tensors, max_shard_bytes)
    _remove_old_weight_files(weights_path)
    if len(groups) == 1:
        files = [weights_path]
    else:
        stem = weights_path.name.removesuffix(WEIGHTS_SUFFIX)
        files = [weights_path.with_name(f"{stem}-{i:05d}-of-{len(groups):05d}{WEIGHTS_SUFFIX}")
                 for i in range(1, len(groups) + 1)]
    for file, group in zip(files, groups):
        temporary = file.with_name(file.name + ".tmp")
        save_file(group, str(temporary), metadata={"wsinuc_config": json.dumps(config)})
        os.replace(temporary, file)
    if len(files) == 1:
        integrity: dict[str, Any] = {"sha256": file_sha256(weights_path)}
    else:
        integrity = {"shards": [{"file": f.name, "sha256": file_sha256(f), "bytes": f.stat().st_size}
                                for f in files]}
    full_card = {
        "name": config["name"],
        **{k: v for k, v in (card or {}).items() if k not in ("sha256", "shards")},
        "config": config,
        **integrity,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(STORED_DTYPE).removeprefix("torch."),
        **({"float32_tensors": kept_float32} if kept_float32 else {}),
    }
    card_path.write_text(json.dumps(full_card, indent=2, sort_keys=True) + "\n")
    logger.info("saved %s (%d parameters, %d file(s))", weights_path, full_card["n_parameters"], len(files))
    return files[0], card_path


def _stored(value: torch.Tensor) -> torch.Tensor:
    """``value`` as stored: float16, unless a value lies beyond float16's range (then float32).

    Such tensors are rare but real: batch-norm running statistics after an
    encoder without normalisation (the VGG16 U-Net's decoder reached running
    variances of 1e5), where float16 would store ``inf`` and break the model.
    """
    if not value.is_floating_point():
        return value
    if value.numel() and value.detach().abs().max() > torch.finfo(STORED_DTYPE).max:
        return value.to(torch.float32)
    return value.to(STORED_DTYPE)


def _shard_groups(tensors: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    """Split a state dict, in order and by whole tensors, into groups of at most ``max_bytes``."""
    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > max_bytes:
            groups.append({})
            size = 0
        groups[-1][key] = tensor
        size += nbytes
    return groups


def _remove_old_weight_files(weights_path: Path) -> None:
    """Delete a previous save at this stem (single file or shards) before writing a new one."""
    stem = weights_path.name.removesuffix(WEIGHTS_SUFFIX)
    for old in [weights_path, *weights_path.parent.glob(f"{stem}-?????-of-?????{WEIGHTS_SUFFIX}")]:
        old.unlink(missing_ok=True)


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
    weights_path, card_path = stem_paths(path)
    card = read_card(card_path)
    state: dict[str, torch.Tensor] = {}
    for file in verified_weight_files(card, card_path):
        try:
            tensors = load_file(str(file), device="cpu")
        except SafetensorError as error:
            raise WeightsError(file, f"not a safetensors file ({error})") from error
        broken = [key for key, value in tensors.items() if value.is_floating_point() and not value.isfinite().all()]
        if broken:
            raise WeightsError(file, f"{len(broken)} tensor(s) hold NaN or infinite values, e.g. {broken[0]!r}")
        state.update(tensors)
    try:
        model = create_model(**card["config"])
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
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
    """Load bundled weights by name (``"cascade-ib-lite-20x"``, ``"cascade-ib-lite"``, ``"cascade"``...) or by path.

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
    weights_path, card_path = stem_paths(name_or_path)
    if weights_path.is_file() or card_path.is_file():
        return load_weights(card_path, device)[0]
    raise weights_not_found(name_or_path, available)


