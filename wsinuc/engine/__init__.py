"""The whole-slide engine: plan → chunk tasks on Dask → chunk store → merge into the outputs.

Modules, in the order a slide goes through them:

* :mod:`~wsinuc.engine.plan` - pixel sizes, model, working scale, the chunks and their batches;
* :mod:`~wsinuc.engine.chunk_task` - what Dask runs: read, resample, one forward pass per batch;
* :mod:`~wsinuc.engine.nuclei` - one chunk's probabilities → its owned nuclei, outlined and measured;
* :mod:`~wsinuc.engine.store` - the per-chunk result files (the only code that knows their layout);
* :mod:`~wsinuc.engine.merge` - pass 2: global ids, GeoJSON / table, label image;
* :mod:`~wsinuc.engine.execution` - device, backend, precision, scheduler and workers, decided once;
* :mod:`~wsinuc.engine.dask_glue` - local threads (:mod:`~wsinuc.engine.thread_client`), processes or a cluster;
* :mod:`~wsinuc.engine.record` - ``run.json`` and the resume fingerprint;
* :mod:`~wsinuc.engine.run` - :func:`segment_slide`, wiring the above;
* :mod:`~wsinuc.engine.pipeline` - the next slide's chunks start while the previous slide is written;
* :mod:`~wsinuc.engine.paths` - absolute paths before any task leaves the client;
* :mod:`~wsinuc.engine.preflight` - each cluster worker checks slides, output folder, version, weights;
* :mod:`~wsinuc.engine.cohort` - :func:`segment_cohort`: many slides, a summary, bad slides reported.

The names below are imported on first use, so that importing a light
module of the package (e.g. :mod:`~wsinuc.engine.execution`) does not import
the whole engine.
"""

from __future__ import annotations

import importlib

_HOMES = {"Reporter": "run", "engine_client": "run", "segment_slide": "run", "segment_slides": "run",
          "segment_cohort": "cohort"}

__all__ = ["Reporter", "engine_client", "segment_cohort", "segment_slide", "segment_slides"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"wsinuc.engine.{_HOMES[name]}"), name)
