"""Shared fixtures of the training tests: tiny synthetic nuclei images."""

from __future__ import annotations

import contextlib
import functools
from types import SimpleNamespace

import numpy as np
import pytest

from wsinuc.training import baselines, budget, loop, protocol
from wsinuc.training import epoch as epoch_module
from wsinuc.training.data import make_patch_set, make_validation_set

PATCH = 32
EPOCH_SECONDS = 10.0


def _sample(image_id: str, seed: int, size: int = 64) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), (225, 175, 205), np.uint8)
    instances = np.zeros((size, size), np.int32)
    for label, (top, left) in enumerate(rng.integers(2, size - 12, size=(5, 2)), start=1):
        instances[top : top + 9, left : left + 9] = label
    image[instances > 0] = (70, 40, 120)
    return SimpleNamespace(image_id=image_id, image=image, instances=instances)


@pytest.fixture
def synthetic_data(monkeypatch):
    """Four 64-px training images, one validation image, one TNBC image; replaces data loading."""
    train = [_sample(f"TCGA-{i}", i) for i in range(4)]
    data = protocol.ProtocolData(
        train=make_patch_set(train, PATCH),
        val=make_validation_set([_sample("TCGA-val", 9, size=70)]),
        tnbc=make_patch_set([_sample("01_1", 20)], PATCH),
        train_ids=tuple(s.image_id for s in train),
        val_ids=("TCGA-val",),
    )
    for module in (protocol, baselines):
        monkeypatch.setattr(module, "load_protocol_data", lambda *args: data)
    return data


@pytest.fixture
def fake_clock(monkeypatch):
    """Every training epoch takes EPOCH_SECONDS on a clock read by the loop and the deadline."""
    now = [1000.0]
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(budget.time, "monotonic", lambda: now[0])
    real_epoch = loop._run_epoch

    def slow_epoch(*args, **kwargs):
        now[0] += EPOCH_SECONDS
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "_run_epoch", slow_epoch)
    return now


@contextlib.contextmanager
def _interrupted_at_call(monkeypatch, module, name: str, call: int):
    """Training inside the block is interrupted (KeyboardInterrupt) as its ``call``-th ``module.name(...)`` starts."""
    real, calls = getattr(module, name), []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupting)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        monkeypatch.setattr(module, name, real)


@pytest.fixture
def interrupt_at_epoch(monkeypatch):
    """``with interrupt_at_epoch(n): train(...)``: a kill as epoch ``n`` starts, asserted to happen."""
    return functools.partial(_interrupted_at_call, monkeypatch, loop, "_run_epoch")


@pytest.fixture
def interrupt_at_step(monkeypatch):
    """``with interrupt_at_step(n): train(...)``: a kill inside an epoch, before step ``n``, asserted to happen."""
    return functools.partial(_interrupted_at_call, monkeypatch, epoch_module, "train_step")
