"""OpenVINO nodes of wsinuc's layers, built from numpy weights named as in the torch state dict.

Each function extends a graph node with one layer of
:mod:`wsinuc.models.layers`, :mod:`wsinuc.models.unet` or
:mod:`wsinuc.models.vgg_unet`, reading its tensors from a :class:`StateView`
under the layer's state-dict prefix (``stage1.encoder.stem.0``, ...) and
checking their shapes. Batch norm (eval mode) is folded into the preceding
convolution in float64, then cast to float32. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from openvino import Node, Output
from openvino import opset13 as ops

from wsinuc.models.layout import BATCH_NORM_EPS

NodeLike = Node | Output
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


class StateView:
    """The tensors of a state dict, handed out by name with a shape check; remembers which were taken.

    Parameters
    ----------
    state : mapping of str to numpy.ndarray
        The state dict (as :func:`~wsinuc.models.cards.load_numpy_state` reads it).
    """

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        self._state = state
        self._taken: set[str] = set()

    def take(self, key: str, shape: Sequence[int]) -> np.ndarray:
        """The tensor ``key`` as float64.

        Raises
        ------
        ValueError
            When ``key`` is missing or its shape is not ``shape``.
        """
        if key not in self._state:
            raise ValueError(f"missing tensor {key!r}")
        value = self._state[key]
        if tuple(value.shape) != tuple(shape):
            raise ValueError(f"tensor {key!r} has shape {tuple(value.shape)}, the config needs {tuple(shape)}")
        self._taken.add(key)
        return np.asarray(value, dtype=np.float64)

    def mark_taken(self, key: str) -> None:
        """Count ``key`` as used when present (``num_batches_tracked``: unused at inference)."""
        if key in self._state:
            self._taken.add(key)

    def untaken(self) -> list[str]:
        """Keys of the state dict no layer has taken (a config/weights mismatch when not empty)."""
        return sorted(set(self._state) - self._taken)


def fold_batch_norm(
    weight: np.ndarray, batch_norm: Mapping[str, np.ndarray], eps: float = BATCH_NORM_EPS
) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weight and bias (float32) equal to a bias-free convolution followed by eval batch norm.

    ``batch_norm`` holds ``weight``, ``bias``, ``running_mean`` and
    ``running_var`` (one value per output channel); the folding is done in
    float64.
    """
    scale = batch_norm["weight"].astype(np.float64) / np.sqrt(batch_norm["running_var"].astype(np.float64) + eps)
    folded = weight.astype(np.float64) * scale[:, None, None, None]
    bias = batch_norm["bias"].astype(np.float64) - batch_norm["running_mean"].astype(np.float64) * scale
    return folded.astype(np.float32), bias.astype(np.float32)


def _channel_constant(values: np.ndarray | Sequence[float]) -> Node:
    """A (1, C, 1, 1) float32 constant, broadcast over batch, height and width."""
    return ops.constant(np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1))


def conv2d(x: NodeLike, weight: np.ndarray, bias: np.ndarray, name: str) -> Node:
    """Same-padding, stride-1 convolution (odd square kernel) plus a per-channel bias."""
    pad = weight.shape[-1] // 2
    y = ops.convolution(x, ops.constant(weight.astype(np.float32)), [1, 1], [pad, pad], [pad, pad], [1, 1],
                        name=name)
    return ops.add(y, _channel_constant(bias), name=f"{name}.bias")


def conv_bn_relu(x: NodeLike, state: StateView, prefix: str, channels: tuple[int, int]) -> Node:
    """:func:`wsinuc.models.layers.conv_bn_relu`: 3x3 conv ``prefix.0`` (no bias), batch norm ``prefix.1``, ReLU.

    ``channels`` is ``(in, out)``.
    """
    c_in, c_out = channels
    weight = state.take(f"{prefix}.0.weight", (c_out, c_in, 3, 3))
    batch_norm = {name: state.take(f"{prefix}.1.{name}", (c_out,)) for name in BN_TENSORS}
    state.mark_taken(f"{prefix}.1.num_batches_tracked")
    folded, bias = fold_batch_norm(weight, batch_norm)
    return ops.relu(conv2d(x, folded, bias, prefix), name=f"{prefix}.relu")


def head(x: NodeLike, state: StateView, prefix: str, channels: tuple[int, int], kernel: int) -> Node:
    """A ``kernel`` x ``kernel`` convolution with bias (the networks' last layer); ``channels`` is ``(in, out)``."""
    c_in, c_out = channels
    weight = state.take(f"{prefix}.weight", (c_out, c_in, kernel, kernel))
    return conv2d(x, weight, state.take(f"{prefix}.bias", (c_out,)), prefix)


def max_pool2(x: NodeLike, name: str) -> Output:
    """``torch.nn.MaxPool2d(2)``: 2x2 windows, stride 2, no padding."""
    return ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2], name=name).output(0)


def transposed_up2(x: NodeLike, state: StateView, prefix: str, channels: tuple[int, int]) -> Node:
    """``torch.nn.ConvTranspose2d(in, out, 2, stride=2)`` with bias; weight layout (in, out, 2, 2) as in torch."""
    c_in, c_out = channels
    weight = state.take(f"{prefix}.weight", (c_in, c_out, 2, 2)).astype(np.float32)
    y = ops.convolution_backprop_data(x, ops.constant(weight), [2, 2], pads_begin=[0, 0], pads_end=[0, 0],
                                     dilations=[1, 1], name=prefix)
    return ops.add(y, _channel_constant(state.take(f"{prefix}.bias", (c_out,))), name=f"{prefix}.bias")


def nearest_up2(x: NodeLike, name: str) -> Node:
    """``F.interpolate(x, scale_factor=2, mode="nearest")``: output pixel i copies input pixel i // 2."""
    scales = ops.constant(np.array([2.0, 2.0], dtype=np.float32))
    axes = ops.constant(np.array([2, 3], dtype=np.int64))
    return ops.interpolate(x, scales, "nearest", "scales", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor", axes=axes, name=name)


def normalize(x: NodeLike, mean: Sequence[float], std: Sequence[float], name: str) -> Node:
    """:class:`wsinuc.models.layers.Normalize`: per-channel ``(x - mean) / std``."""
    centred = ops.subtract(x, _channel_constant(mean), name=f"{name}.centre")
    return ops.divide(centred, _channel_constant(std), name=name)


def concat_channels(nodes: Sequence[NodeLike], name: str) -> Node:
    """``torch.cat(nodes, dim=1)``."""
    return ops.concat(list(nodes), 1, name=name)


def probability_maps(logits: NodeLike, classes: int) -> Node:
    """:func:`wsinuc.inference.torch_backend.probability_maps` on (N, classes, H, W) logits.

    1 class: sigmoid, (N, H, W). 3 classes: softmax over the channels, then
    ``stack([interior, interior + boundary], -1)``, (N, H, W, 2).

    Raises
    ------
    ValueError
        For another number of classes.
    """
    def channel(node: NodeLike, index: int) -> Node:
        return ops.gather(node, ops.constant(np.int64(index)), ops.constant(np.int64(1)))

    if classes == 1:
        return ops.sigmoid(channel(logits, 0), name="maps")
    if classes != 3:
        raise ValueError(f"a model must return 1 or 3 channels, got {classes}")
    probabilities = ops.softmax(logits, 1, name="probabilities")
    interior = channel(probabilities, 1)
    nucleus = ops.add(interior, channel(probabilities, 2), name="nucleus")
    last = ops.constant(np.int64(-1))
    return ops.concat([ops.unsqueeze(interior, last), ops.unsqueeze(nucleus, last)], -1, name="maps")
