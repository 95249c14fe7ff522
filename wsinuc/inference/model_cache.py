"""Load a model once per worker process, by name, never through the task graph.

Torch is imported only when a torch network is loaded: finding cards and
building an OpenVINO predictor from the cache need neither torch nor the
model code.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsinuc.inference.predictor import Predictor
from wsinuc.inference.runtime import Runtime, resolve_device_name
from wsinuc.models.cards import CARD_SUFFIX, bundled_weights_dir, list_bundled_weights, read_card
from wsinuc.models.cards import saved_weights_exist
from wsinuc.models.cards import weights_not_found

if TYPE_CHECKING:
    import torch

_LOCK = threading.RLock()


#: Bundled models ``auto`` tries, in order, on each kind of device.
#: ``cascade-ib-lite-20x`` works at 0.5 um/px: its validation AJI through the
#: engine, 0.562, is within 0.005 of ``cascade-ib-lite``'s (0.25 um/px, 0.564;
#: ``cascade`` 0.523, ``cascade-lite`` 0.395), a near tie that goes to the
#: model whose network sees a quarter of the pixels (see its card's
#: ``model_selection``). It is the default everywhere; the others are
#: fallbacks for installs without it.
DEFAULT_MODELS = {"cuda": ("cascade-ib-lite-20x", "cascade-ib-lite", "cascade", "cascade-lite"),
                  "cpu": ("cascade-ib-lite-20x", "cascade-ib-lite", "cascade-lite", "cascade")}


def resolve_model_name(model: str, device: str) -> str:
    """Turn ``auto`` into the first bundled model of :data:`DEFAULT_MODELS` for the device.

    Any other name or path is returned unchanged. When none is bundled, the
    first name is returned (loading it then says what is missing).
    """
    if model != "auto":
        return model
    preferred = DEFAULT_MODELS["cuda" if resolve_device_name(device).startswith("cuda") else "cpu"]
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


def load_card_and_model(model: str, device: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load (and cache per process) the torch model and its card; threads asking at once share one load."""
    with _LOCK:
        return _load_card_and_model(model, device)


@functools.lru_cache(maxsize=4)
def _load_card_and_model(model: str, device: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    from wsinuc.device import resolve_device

    return load_weights(weights_stem(model), device=resolve_device(device))


def load_weights(*args, **kwargs):
    """:func:`wsinuc.models.weights.load_weights`, imported (with torch) on first use."""
    from wsinuc.models.weights import load_weights as load

    return load(*args, **kwargs)


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
    from wsinuc.device import resolve_device

    network, _ = load_card_and_model(model, device)
    return Predictor(network, resolve_device(device), batch_size=batch_size, precision=precision, tta=tta)


def runtime_predictor(model: str, runtime: Runtime, batch_size: int, tta: bool = False) -> Predictor:
    """A :class:`Predictor` for ``model`` on a resolved :class:`Runtime`; the network is loaded once per process.

    With the ``openvino`` backend the converted model comes from the cache
    (:func:`~wsinuc.inference.openvino_cache.openvino_model_path`, converting
    it when missing) and torch is not imported. Threads asking at once share
    one load.
    """
    if runtime.backend == "torch":
        return cached_predictor(model, runtime.device, batch_size, runtime.precision, tta)
    return Predictor(openvino_network(model, runtime), runtime.device, batch_size=batch_size, tta=tta)


def openvino_network(model: str, runtime: Runtime):
    """The compiled OpenVINO network of ``model`` for ``runtime``'s precision and streams, compiled once per process."""
    with _LOCK:
        return _compiled_openvino(model, runtime.precision, runtime.streams)


@functools.lru_cache(maxsize=4)
def _compiled_openvino(model: str, precision: str, streams: int):
    from wsinuc.inference.openvino_backend import OpenVinoBackend
    from wsinuc.inference.openvino_cache import openvino_model_path

    return OpenVinoBackend(openvino_model_path(model), precision, streams)


def warm_up(model: str, runtime: Runtime) -> None:
    """Load the network :func:`runtime_predictor` will use, so that its first call finds it ready."""
    if runtime.backend == "torch":
        load_card_and_model(model, runtime.device)
    else:
        openvino_network(model, runtime)
