"""The OpenVINO backend of the predictor: padded uint8 tiles → probability maps, no torch.

The converted model (:mod:`wsinuc.inference.openvino_cache`) already ends in
the probability maps, so its output is used as it comes. The inference
precision (``f32`` or ``bf16``) is a property given when compiling, so one
cached model serves both.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

#: ``--precision`` value → OpenVINO ``INFERENCE_PRECISION_HINT``.
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoBackend:
    """Run a converted model on the CPU with OpenVINO.

    Parameters
    ----------
    xml_path : str or Path
        ``model.xml`` of the converted model.
    precision : {"fp32", "bf16"}
        Inference precision (``bf16``: on CPUs with native bf16 about 2.5x f32).
    streams : int
        Requests that run at once, one per calling thread. With more than one
        the cores are split between them (OpenVINO's ``THROUGHPUT`` hint), so
        one thread's forward pass runs while another post-processes.
    """

    name = "openvino"

    def __init__(self, xml_path: str | Path, precision: str = "fp32", streams: int = 1) -> None:
        import openvino

        if precision not in PRECISION_HINTS:
            raise ValueError(f"OpenVINO precision must be fp32 or bf16, got {precision!r}")
        if streams < 1:
            raise ValueError(f"OpenVINO streams must be at least 1, got {streams}")
        self.precision = precision
        self.streams = streams
        properties = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision]}
        if streams > 1:
            properties |= {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams)}
        self.compiled = openvino.Core().compile_model(str(xml_path), "CPU", properties)
        self._local = threading.local()

    def forward_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps of a (N, H, W, 3) uint8 batch whose sides are multiples of the stride."""
        tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        tensor /= np.float32(255.0)
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        request.infer({0: tensor})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
