"""Model inference on tile batches (no I/O): the predictor and the per-worker model cache."""

from wsinuc.inference.predictor import Predictor

__all__ = ["Predictor"]
