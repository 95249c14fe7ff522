"""Model inference on tile batches (no I/O)."""

from wsinuc.inference.predictor import Predictor, resolve_device

__all__ = ["Predictor", "resolve_device"]
