"""Load a model once per worker process, by name, never through the task graph."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import torch

from wsinuc.device import resolve_device
from wsinuc.inference.predictor import Predictor
from wsinuc.models.weights import CARD_SUFFIX, bundled_weights_dir, list_bundled_weights, load_weights, read_card
from wsinuc.models.weights import saved_weights_exist
from wsinuc.models.weights import weights_not_found

_LOCK = threading.Lock()


#: Bundled models ``auto`` tries, in order, on each kind of device. ``cascade-ib-lite``
#: has the highest validation AJI of the bundled models through the engine
#: (0.564 vs 0.523 for ``cascade`` and 0.395 for ``cascade-lite``; see its card's
#: ``model_selection``) and is the fastest with ``cascade-lite``, so it is the
#: default everywhere; the others are fallbacks for installs without it.
DEFAULT_MODELS = {"cuda": ("cascade-ib-lite", "cascade", "cascade-lite"),
                  "cpu": ("cascade-ib-lite", "cascade-lite", "cascade")}


def resolve_model_name(model: str, device: str) -> str:
    """Turn ``auto`` into the first bundled model of :data:`DEFAULT_MODELS` for the device.

    Any other name or path is returned unchanged. When none is bundled, the
    first name is returned (loading it then says what is missing).
    """
    if model != "auto":
        return model
    preferred = DEFAULT_MODELS["cuda" if resolve_device(device).type == "cuda" else "cpu"]
    bundled = list_bundled_weights()
    return next((name for name in preferred if name in bundled), preferred[0])


def weights_stem(model: str) -> Path:
    """Path stem of a bundled model name or a user weights file.

    Raises
    ------
    WeightsError
        When ``model`` is neither a bundled name nor an existing file.
    """
    if model in list_bundled_weights():
        return bundled_weights_dir() / model
    path = Path(model)
    stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    if saved_weights_exist(stem):
        return stem
    raise weights_not_found(model, list_bundled_weights())


@functools.lru_cache(maxsize=4)
def load_card_and_model(model: str, device: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load (and cache per process) the model and its card."""
    with _LOCK:
        return load_weights(weights_stem(model), device=resolve_device(device))


def load_card(model: str) -> dict[str, Any]:
    """The model card of a bundled name or weights path, without loading the weights."""
    return read_card(weights_stem(model).with_suffix(CARD_SUFFIX))


@functools.lru_cache(maxsize=4)
def cached_predictor(
    model: str, device: str, batch_size: int, precision: str = "auto", tta: bool = False
) -> Predictor:
    """A :class:`Predictor` for ``model`` on ``device``, built once per process.

    ``tta=True`` averages the 8 flips and rotations of every tile (see
    :class:`~wsinuc.inference.predictor.Predictor`); both predictors of one
    model share the network.
    """
    network, _ = load_card_and_model(model, device)
    return Predictor(network, resolve_device(device), batch_size=batch_size, precision=precision, tta=tta)
