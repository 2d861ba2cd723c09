"""Model spec -> `torch.nn.Module` (its Keras-style summary, from the spec alone: :mod:`mnistlab.summary`).

    from mnistlab.presets import resolve_model
    from mnistlab.models import build_model
    spec = resolve_model("seed000-cnn")
    model = build_model(spec, seed=0)        # same seed, same weights (a local generator)
    logits = model(images)                   # images: float32 (N, 1, 28, 28) in [0, 1] -> (N, 10)

What the built model does:
- One child module per spec layer, named as Keras names them (`conv2d`, `max_pooling2d`,
  `conv2d_1`, ...), so `model[i](x)` or iterating over `model` gives each layer's output as Keras
  computes it (activation included): feature-map figures rely on that. A block layer is one child
  too (`residual_block`, or a Residual named after its Add), holding its Keras-named layers.
- A softmax on the output layer is dropped: the model returns LOGITS and the trainer's
  cross-entropy applies the softmax (numerically safer; same maths as Keras's softmax +
  sparse_categorical_crossentropy). A sigmoid output is dropped the same way, because that is
  what Keras trains: its cross-entropy reads the pre-sigmoid logits of a sigmoid output, even
  with from_logits=True (seed 003 depends on it). `model.folded_activation` names what was
  dropped ("softmax", "sigmoid" or None). Other output activations (tanh, relu...) are kept, and
  `spec_warnings` explains why that is a problem.
- Weights are initialised as Keras does (glorot_uniform kernels, zero biases unless the spec says
  otherwise), from a local `torch.Generator`: the global RNG is never touched.
- Inputs are (N, C, H, W); (N, H, W) is accepted for single-channel models. Channels-last inputs
  (`x.to(memory_format=torch.channels_last)`) work unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab import specs as S
from mnistlab.errors import SpecError, SpecWarning, user_level
from mnistlab.specs import ModelSpec, Shape, output_activation, spec_warnings

__all__ = ["ACTIVATION_MODULES", "INITIALIZER_FUNCTIONS", "SequentialModel", "adapt_normalization", "build_model",
           "count_parameters", "keras_names", "layer_outputs", "num_classes"]

# ---------------------------------------------------------------------------------------------
# Registries: activation and initializer names -> objects, in one place.
# ---------------------------------------------------------------------------------------------
ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    # Keras 3's leaky_relu default slope (tf.nn.leaky_relu agrees); Keras 2's LeakyReLU layer used 0.3.
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,          # exact erf form, Keras's default (approximate=False)
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softmax": lambda: nn.Softmax(dim=1),   # dim 1 = features, or channels of an NCHW map: Keras's last axis
    "swish": nn.SiLU,
    "relu6": nn.ReLU6,        # min(max(x, 0), 6)
    "hard_sigmoid": nn.Hardsigmoid,   # relu6(x + 3) / 6: Keras 3's (Keras 2's was clip(0.2 x + 0.5, 0, 1))
    "hard_silu": nn.Hardswish,        # x * hard_sigmoid(x) (MobileNetV3's hard swish)
    "softplus": nn.Softplus,  # log(1 + exp(x)); torch returns x itself above 20, where they agree in float32
    "softsign": nn.Softsign,  # x / (1 + |x|)
    "mish": nn.Mish,          # x * tanh(softplus(x))
    "exponential": lambda: _Exponential(),
}


class _Exponential(nn.Module):
    """Keras's ``exponential`` activation: exp(x), element-wise (torch has no module of it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


_TRUNC = 0.87962566103423978  # std of a unit normal truncated at +-2: Keras divides by it


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's fan computation on a kernel in Keras layout: (in, out) or (kh, kw, in, out)."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _variance_scaling(scale: float, mode: str, dist: str) -> Callable[[torch.Tensor, torch.Generator], None]:
    def init(t: torch.Tensor, g: torch.Generator) -> None:
        fan_in, fan_out = _fans(tuple(t.shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if dist == "uniform":
            limit = math.sqrt(3.0 * scale / n)
            nn.init.uniform_(t, -limit, limit, generator=g)
        else:
            std = math.sqrt(scale / n) / _TRUNC
            nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std, generator=g)
    return init


def _orthogonal(t: torch.Tensor, g: torch.Generator) -> None:
    # Keras: flatten to (prod(shape[:-1]), shape[-1]), QR of a normal matrix, fix the signs.
    rows, cols = math.prod(t.shape[:-1]), t.shape[-1]
    a = torch.randn(max(rows, cols), min(rows, cols), generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    if rows < cols:
        q = q.T
    t.copy_(q.reshape(t.shape))


# Each fills its tensor in place; what it returns (torch's init_ functions return the tensor) is ignored.
INITIALIZER_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Generator], object]] = {
    # Each fills a kernel given in KERAS layout, so fans and orthogonality match Keras exactly.
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "truncated_normal"),
    "he_normal": _variance_scaling(2.0, "fan_in", "truncated_normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "truncated_normal"),
    "random_normal": lambda t, g: nn.init.normal_(t, 0.0, 0.05, generator=g),   # Keras RandomNormal
    "random_uniform": lambda t, g: nn.init.uniform_(t, -0.05, 0.05, generator=g),  # Keras RandomUniform
    "zeros": lambda t, g: nn.init.zeros_(t),
    "ones": lambda t, g: nn.init.ones_(t),
    "orthogonal": _orthogonal,
}


def _init_kernel(weight: torch.Tensor, name: str, g: torch.Generator) -> None:
    """Initialise a torch weight (out, in[, kh, kw]) through its Keras layout (in, out) / (kh, kw, in, out)."""
    if weight.dim() == 2:
        keras = torch.empty(weight.shape[1], weight.shape[0])
        INITIALIZER_FUNCTIONS[name](keras, g)
        weight.copy_(keras.T)
    else:
        o, i, kh, kw = weight.shape
        keras = torch.empty(kh, kw, i, o)
        INITIALIZER_FUNCTIONS[name](keras, g)
        weight.copy_(keras.permute(3, 2, 0, 1))


def _init_depthwise(weight: torch.Tensor, name: str, channels: int, g: torch.Generator) -> None:
    """Initialise a depthwise torch weight (C * m, 1, kh, kw) through Keras's depthwise kernel
    (kh, kw, C, m), whose fans Keras computes from that shape (``kh * kw * C`` in, ``kh * kw * m`` out)."""
    out, _, kh, kw = weight.shape
    keras = torch.empty(kh, kw, channels, out // channels)
    INITIALIZER_FUNCTIONS[name](keras, g)
    weight.copy_(keras.permute(2, 3, 0, 1).reshape(out, 1, kh, kw))


# ---------------------------------------------------------------------------------------------
# Layer modules: each computes exactly what the Keras layer outputs.
# ---------------------------------------------------------------------------------------------
def _same_pads(shape: Shape, size: tuple[int, int], strides: tuple[int, int]) -> tuple[int, int, int, int]:
    """TF "same" padding (left, right, top, bottom): the extra pixel goes right/bottom."""
    pads = []
    for side, k, s in zip(shape[:2], size, strides):
        total = max((-(-side // s) - 1) * s + k - side, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom)


def _regularizers(**by_parameter: S.Regularizer | None) -> dict[str, S.Regularizer]:
    """A layer's penalties by its module's parameter name (``weight``: Keras's kernel, ``bias``, a
    separable convolution's ``depthwise_weight`` and ``pointwise_weight``), those it has."""
    return {name: reg for name, reg in by_parameter.items() if reg is not None}


def penalised(model: nn.Module) -> bool:
    """Whether a layer of ``model`` has a weight penalty on a trainable weight (:func:`regularization_loss`
    is not None), without computing it."""
    return any(getattr(module, name).requires_grad for module in model.modules()
               for name in getattr(module, "regularizers", {}))


def regularization_loss(model: nn.Module) -> torch.Tensor | None:
    """Keras's ``sum(model.losses)`` of a model's weight penalties: for each Dense and Conv2D
    ``kernel_regularizer`` / ``bias_regularizer``, ``l1 * sum(|w|) + l2 * sum(w ** 2)``
    (:class:`~mnistlab.specs.Regularizer`), a float32 scalar (float64 for float64 weights) on the weights' device that carries
    their gradient; None where no layer has one. Keras adds it to the loss it trains on and
    reports (``loss``, ``val_loss``, the test loss); layouts do not matter (sums over all weights).
    A frozen layer's weights are left out, as Keras 3 sums the penalties of ``trainable_weights`` alone
    (``keras/src/layers/layer.py``, ``_get_regularization_losses``)."""
    total: torch.Tensor | None = None
    for module in model.modules():
        for name, reg in getattr(module, "regularizers", {}).items():
            w = getattr(module, name)
            if not w.requires_grad:
                continue
            w = w if w.dtype == torch.float64 else w.float()  # float32 at least (bf16 weights summed in float32)
            term = torch.zeros((), device=w.device, dtype=w.dtype)
            if reg.l1:
                term = term + reg.l1 * w.abs().sum()
            if reg.l2:
                term = term + reg.l2 * w.square().sum()
            total = term if total is None else total + term
    return total


class Dense(nn.Linear):
    """nn.Linear followed by the layer's activation."""

    def __init__(self, in_features: int, spec: S.Dense) -> None:
        super().__init__(in_features, spec.units, bias=spec.use_bias)
        self.activation = ACTIVATION_MODULES[spec.activation]()
        self.kernel_initializer = spec.kernel_initializer
        self.regularizers = _regularizers(weight=spec.kernel_regularizer, bias=spec.bias_regularizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(super().forward(x))


def _conv_padding(in_shape: Shape, spec: S.Conv2D | S.DepthwiseConv2D | S.SeparableConv2D
                  ) -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
    """A convolution's padding as torch takes it: the symmetric (height, width) padding for the conv
    itself, and where TF's "same" padding is asymmetric, (0, 0) and the whole (left, right, top,
    bottom) padding to apply first with ``F.pad``."""
    pads = _same_pads(in_shape, spec.kernel_size, spec.strides) if spec.padding == "same" else (0, 0, 0, 0)
    if pads[0] == pads[1] and pads[2] == pads[3]:
        return (pads[2], pads[0]), None
    return (0, 0), pads


class Conv2D(nn.Conv2d):
    """nn.Conv2d with TF "same" padding (asymmetric when needed) and the layer's activation."""

    def __init__(self, in_shape: Shape, spec: S.Conv2D) -> None:
        padding, self.extra_pad = _conv_padding(in_shape, spec)
        super().__init__(in_shape[2], spec.filters, spec.kernel_size, spec.strides, padding=padding, bias=spec.use_bias)
        self.activation = ACTIVATION_MODULES[spec.activation]()
        self.kernel_initializer = spec.kernel_initializer
        self.regularizers = _regularizers(weight=spec.kernel_regularizer, bias=spec.bias_regularizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv_forward(x))

    def zero_pads(self) -> tuple[int, int, int, int]:
        """The whole zero padding (left, right, top, bottom), symmetric or not."""
        if self.extra_pad is not None:
            return self.extra_pad
        assert not isinstance(self.padding, str)  # narrowing: __init__ always passes a pair of ints
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def conv_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution without the activation (accel.conv_pool applies the ReLU after the pool).

        A strided 1x1 convolution without padding (a ResNet's projection shortcut) is the 1x1
        convolution of every ``stride``-th pixel, and is computed so: torch 2.13's CPU kernel for
        it, on a channels-last input, gave a wrong kernel gradient in about 1 to 6 calls in 100
        at small channel counts (4 to 8 channels; bench/results/strided_pointwise_grad.txt), and
        once aborted the process."""
        if self.extra_pad is not None:
            x = F.pad(x, self.extra_pad)
        if self.kernel_size == (1, 1) and self.stride != (1, 1) and self.padding == (0, 0):
            sh, sw = self.stride
            return F.conv2d(x[:, :, ::sh, ::sw], self.weight, self.bias)
        return super().forward(x)


class DepthwiseConv2D(nn.Conv2d):
    """Keras's DepthwiseConv2D: nn.Conv2d grouped by input channel (``groups`` = C, C * depth_multiplier
    outputs, channel ``c * depth_multiplier + m`` from input ``c``, as TF orders them), TF "same" padding,
    the layer's activation. Its kernel is drawn through Keras's shape (kh, kw, C, depth_multiplier)."""

    def __init__(self, in_shape: Shape, spec: S.DepthwiseConv2D) -> None:
        padding, self.extra_pad = _conv_padding(in_shape, spec)
        channels = in_shape[2]
        super().__init__(channels, channels * spec.depth_multiplier, spec.kernel_size, spec.strides, padding=padding,
                         groups=channels, bias=spec.use_bias)
        self.activation = ACTIVATION_MODULES[spec.activation]()
        self.depthwise_initializer = spec.depthwise_initializer
        self.regularizers = _regularizers(weight=spec.depthwise_regularizer, bias=spec.bias_regularizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extra_pad is not None:
            x = F.pad(x, self.extra_pad)
        return self.activation(super().forward(x))


class SeparableConv2D(nn.Module):
    """Keras's SeparableConv2D: the depthwise convolution (``depthwise_weight``, (C * depth_multiplier,
    1, kh, kw), its strides and TF padding, no bias), then the 1x1 convolution to ``filters`` channels
    (``pointwise_weight``, (filters, C * depth_multiplier, 1, 1)) with the ``bias`` and the activation,
    as ``tf.nn.separable_conv2d`` computes it."""

    bias: nn.Parameter | None

    def __init__(self, in_shape: Shape, spec: S.SeparableConv2D) -> None:
        super().__init__()
        self.padding, self.extra_pad = _conv_padding(in_shape, spec)
        self.stride, self.groups = spec.strides, in_shape[2]
        mid = in_shape[2] * spec.depth_multiplier
        self.depthwise_weight = nn.Parameter(torch.empty(mid, 1, *spec.kernel_size))
        self.pointwise_weight = nn.Parameter(torch.empty(spec.filters, mid, 1, 1))
        self.bias = nn.Parameter(torch.zeros(spec.filters)) if spec.use_bias else None
        self.activation = ACTIVATION_MODULES[spec.activation]()
        self.depthwise_initializer, self.pointwise_initializer = spec.depthwise_initializer, spec.pointwise_initializer
        self.regularizers = _regularizers(depthwise_weight=spec.depthwise_regularizer,
                                          pointwise_weight=spec.pointwise_regularizer, bias=spec.bias_regularizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extra_pad is not None:
            x = F.pad(x, self.extra_pad)
        x = F.conv2d(x, self.depthwise_weight, None, self.stride, self.padding, 1, self.groups)
        return self.activation(F.conv2d(x, self.pointwise_weight, self.bias))


class GaussianNoise(nn.Module):
    """Keras's GaussianNoise: ``x + N(0, stddev)`` in training, ``x`` otherwise."""

    def __init__(self, stddev: float) -> None:
        super().__init__()
        self.stddev = stddev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stddev == 0:
            return x
        return x + torch.randn_like(x) * self.stddev

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


class GaussianDropout(nn.Module):
    """Keras's GaussianDropout: ``x * N(1, sqrt(rate / (1 - rate)))`` in training, ``x`` otherwise."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        return x * (1.0 + torch.randn_like(x) * math.sqrt(self.rate / (1.0 - self.rate)))

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Pool2D(nn.Module):
    """Max or average pooling with Keras semantics for "same" padding (padding never counts)."""

    def __init__(self, in_shape: Shape, spec: S.Pooling2D) -> None:
        super().__init__()
        self.kind = "max" if isinstance(spec, S.MaxPooling2D) else "avg"
        self.kernel_size, self.stride = spec.pool_size, spec.effective_strides
        self.pads = _same_pads(in_shape, self.kernel_size, self.stride) if spec.padding == "same" else None
        if self.pads == (0, 0, 0, 0):
            self.pads = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            if self.pads is not None:
                x = F.pad(x, self.pads, value=float("-inf"))
            return F.max_pool2d(x, self.kernel_size, self.stride)
        if self.pads is None:
            return F.avg_pool2d(x, self.kernel_size, self.stride)
        ones = F.pad(torch.ones_like(x[:1, :1]), self.pads)
        total = F.avg_pool2d(F.pad(x, self.pads), self.kernel_size, self.stride)
        return total / F.avg_pool2d(ones, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"{self.kind}, kernel_size={self.kernel_size}, stride={self.stride}, pads={self.pads}"


class GlobalAveragePooling2D(nn.Module):
    """The mean over height and width: (N, C, H, W) -> (N, C), as Keras's GlobalAveragePooling2D."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class Normalization(nn.Module):
    """Keras's Normalization: ``(x - mean) / max(sqrt(variance), 1e-7)`` over the channel axis (dim 1).

    Given values are constants (non-persistent buffers: the spec holds them, as Keras's config
    does). A layer to be adapted holds Keras's weights instead, persistent buffers ``mean`` (zeros),
    ``variance`` (ones) and ``count`` (0): the identity until :func:`adapt_normalization` gives the
    spec its values.
    """

    EPSILON = 1e-7  # Keras's backend.epsilon(): the floor of sqrt(variance)
    mean: torch.Tensor  # buffers, (C, 1, 1) or (C,)
    variance: torch.Tensor

    def __init__(self, in_shape: Shape, spec: S.Normalization) -> None:
        super().__init__()
        channels = in_shape[-1]
        persistent = spec.needs_adapt
        mean = torch.zeros(channels) if spec.mean is None else torch.tensor(spec.mean, dtype=torch.float32)
        variance = torch.ones(channels) if spec.variance is None else torch.tensor(spec.variance, dtype=torch.float32)
        # (C,) or one value, broadcast over (N, C, H, W) or (N, C) as Keras broadcasts over its last axis
        view = (-1, 1, 1) if len(in_shape) == 3 else (-1,)
        self.register_buffer("mean", mean.reshape(view).expand(channels, *view[1:]).clone(), persistent=persistent)
        self.register_buffer("variance", variance.reshape(view).expand(channels, *view[1:]).clone(),
                             persistent=persistent)
        if persistent:
            self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / torch.clamp(torch.sqrt(self.variance), min=self.EPSILON)


class _KerasMoments:
    """Keras's BatchNormalization moving statistics for a torch BatchNorm (Keras 3,
    ``keras/src/layers/normalization/batch_normalization.py``): in training, ``moving = m * moving
    + (1 - m) * batch`` with the batch's *biased* variance (``ops.moments``), where torch's own
    BatchNorm moves toward the unbiased one (n / (n - 1) times it: 32/31 for a Dense layer's BN at
    batch 32; helper-139). The output is torch's (the batch's biased statistics, as Keras's);
    inference, the state dict and an export are torch's unchanged. ``momentum = None`` (as
    ``torch.optim.swa_utils.update_bn`` sets it) is an equal-weight mean over the batches.

    The batch's statistics come from the normalisation itself (``torch.native_batch_norm``'s mean
    and 1 / sqrt(var + eps), in float32 under bf16 autocast too): as fast as torch's BatchNorm,
    where a second pass for them cost half as much again (86x32x28x28 bf16, one thread)."""

    frozen = False  # Keras's trainable = False (:func:`freeze`): inference mode in training too

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn: Any = self
        if self.frozen and bn.training:
            return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        if not bn.training or not bn.track_running_stats:
            return super().forward(x)  # type: ignore[misc]
        out, mean, invstd = torch.native_batch_norm(x, bn.weight, bn.bias, None, None, True, 0.0, bn.eps)
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            weight = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            bn.running_mean.lerp_(mean.to(bn.running_mean.dtype), weight)
            var = (invstd.float().pow(-2) - bn.eps).clamp_(min=0.0)  # float32: MPS has no float64; a constant channel: 0
            bn.running_var.lerp_(var.to(bn.running_var.dtype), weight)
        return out


class BatchNorm1d(_KerasMoments, nn.BatchNorm1d):
    """A Dense layer's BatchNormalization (N, C): torch's, moving as Keras's (:class:`_KerasMoments`)."""


class BatchNorm2d(_KerasMoments, nn.BatchNorm2d):
    """A conv map's BatchNormalization (N, C, H, W): torch's, moving as Keras's (:class:`_KerasMoments`)."""


def _make_layer(layer: S.LayerSpec, in_shape: Shape) -> nn.Module:
    if isinstance(layer, S.Dense):
        return Dense(in_shape[0], layer)
    if isinstance(layer, S.Conv2D):
        return Conv2D(in_shape, layer)
    if isinstance(layer, S.DepthwiseConv2D):
        return DepthwiseConv2D(in_shape, layer)
    if isinstance(layer, S.SeparableConv2D):
        return SeparableConv2D(in_shape, layer)
    if isinstance(layer, S.SpatialDropout2D):
        return nn.Dropout2d(layer.rate)  # whole channels of each image, the rest scaled by 1 / (1 - rate): Keras's
    if isinstance(layer, S.GaussianNoise):
        return GaussianNoise(layer.stddev)
    if isinstance(layer, S.GaussianDropout):
        return GaussianDropout(layer.rate)
    if isinstance(layer, S.Pooling2D):
        return Pool2D(in_shape, layer)
    if isinstance(layer, S.Flatten):
        return nn.Flatten()
    if isinstance(layer, S.GlobalAveragePooling2D):
        return GlobalAveragePooling2D()
    if isinstance(layer, S.Dropout):
        return nn.Dropout(layer.rate)
    if isinstance(layer, S.ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        return nn.ZeroPad2d((left, right, top, bottom))  # torch's order: the last axis (width) first
    if isinstance(layer, S.BatchNormalization):
        # Keras updates moving = m * moving + (1 - m) * batch; torch's momentum is that (1 - m).
        bn = BatchNorm2d if len(in_shape) == 3 else BatchNorm1d
        return bn(in_shape[-1], eps=layer.epsilon, momentum=1.0 - layer.momentum)
    if isinstance(layer, S.Activation):  # (Keras's LeakyReLU layer of its own slope)
        return ACTIVATION_MODULES[layer.activation]() if layer.negative_slope is None else nn.LeakyReLU(layer.negative_slope)
    if isinstance(layer, S.Normalization):
        return Normalization(in_shape, layer)
    raise TypeError(f"no module for layer type {type(layer).__name__}")  # a new LayerSpec without a builder


class Residual(nn.Module):
    """Keras's ``Add()([branch(x), shortcut(x)])`` then the activation: a spec's Residual.

    `branch` and `shortcut` are Sequentials of the layers above, children named as Keras names
    them (an empty shortcut is the identity).
    """

    def __init__(self, branch: nn.Sequential, shortcut: nn.Sequential, activation: nn.Module) -> None:
        super().__init__()
        self.branch, self.shortcut, self.activation = branch, shortcut, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.branch(x) + self.shortcut(x))


def _make_block(layer: S.LayerSpec, in_shape: Shape, names: list[str]) -> nn.Module:
    """The module of a block layer (ResidualBlock, Residual). `names` holds Keras's names of the
    layers it stands for, in `specs.keras_graph`'s order; each is consumed from the front."""
    if isinstance(layer, S.Residual):
        paths = []
        for path in (layer.branch, layer.shortcut):
            modules: OrderedDict[str, nn.Module] = OrderedDict()
            shape = in_shape
            for sub in path:
                modules[names.pop(0)] = _make_layer(sub, shape)
                shape = sub.output_shape(shape)
            paths.append(nn.Sequential(modules))
        del names[:1 + (layer.activation != "linear")]  # the Add and its Activation: no weights
        return Residual(paths[0], paths[1], ACTIVATION_MODULES[layer.activation]())
    assert isinstance(layer, S.ResidualBlock), type(layer)  # _build_layer sends only blocks here
    modules = OrderedDict()
    for sub in layer.expand(in_shape):
        # a Residual is named after its Add (its first name after its branch and shortcut layers)
        key = names[len(sub.branch) + len(sub.shortcut)] if isinstance(sub, S.Residual) else names[0]
        modules[key] = _build_layer(sub, in_shape, names)
        in_shape = sub.output_shape(in_shape)
    return nn.Sequential(modules)


def _build_layer(layer: S.LayerSpec, in_shape: Shape, names: list[str]) -> nn.Module:
    """One spec layer's module; consumes its Keras names from the front of `names`."""
    if type(layer).__name__ in S.BLOCK_TYPES:
        return _make_block(layer, in_shape, names)
    names.pop(0)
    return _make_layer(layer, in_shape)


class SequentialModel(nn.Sequential):
    """The built model: children named like Keras layers; `spec` and `folded_activation` attached."""

    def __init__(self, modules: OrderedDict[str, nn.Module], spec: ModelSpec, folded_activation: str | None) -> None:
        super().__init__(modules)
        self.spec = spec
        self.folded_activation = folded_activation
        self.folded_softmax = folded_activation == "softmax"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes) of float32 images (N, C, H, W) or, single-channel, (N, H, W)."""
        return super().forward(x.unsqueeze(1) if x.dim() == 3 else x)


def keras_names(spec: ModelSpec) -> list[str]:
    """Per-layer PyTorch module names: Keras's auto-names in a fresh session (dense, dense_1,
    conv2d, ...), counting every layer, a named one too (:attr:`~mnistlab.specs.KerasNode.module`:
    a layer's ``name`` never changes its weights' keys).

    A Residual is named after its Add (add, add_1, ...), a ResidualBlock residual_block,
    residual_block_1, ...: the Keras names of the layers inside are in `specs.keras_graph`.
    """
    nodes = S.keras_graph(spec)
    blocks = 0
    names = []
    for i, layer in enumerate(spec.layers):
        mine = [n for n in nodes if n.owner == i]
        if isinstance(layer, S.ResidualBlock):
            names.append("residual_block" if blocks == 0 else f"residual_block_{blocks}")
            blocks += 1
        else:
            names.append(next(n.module for n in mine if n.type == "Add") if isinstance(layer, S.Residual)
                         else mine[0].module)
    return names


def _layer_names(spec: ModelSpec) -> list[list[str]]:
    """For each spec layer, the Keras names of the layers it stands for, in creation order."""
    out: list[list[str]] = [[] for _ in spec.layers]
    for node in S.keras_graph(spec)[1:]:
        out[node.owner].append(node.module)
    return out


# Output activations the loss absorbs: the model returns the logits before them, as Keras's
# cross-entropy does (it reads the logits behind a softmax or sigmoid output).
FOLDED_OUTPUTS = ("softmax", "sigmoid")


def weights_finite(model: torch.nn.Module) -> bool:
    """No NaN or infinity in any parameter or buffer (a diverged run's last step usually leaves some).

    Reads each tensor's min and max (a NaN makes both NaN), so it allocates nothing the size of
    the model: a model that barely fit must still be checked when memory is short."""
    for t in model.state_dict().values():
        if t.is_floating_point() and t.numel():
            lo, hi = torch.aminmax(t.detach())
            if not (math.isfinite(lo) and math.isfinite(hi)):
                return False
    return True


def build_model(spec: ModelSpec, *, seed: int | None = None) -> SequentialModel:
    """Build the PyTorch model for `spec` (a ModelSpec, or a preset name or table as
    :func:`~mnistlab.specs.parse_model_spec` reads it), initialised as Keras would from `seed`.

    The module takes float32 images (N, C, H, W), channels first (PyTorch's layout; Keras's
    (N, H, W, C) transposed), pixels / 255 in [0, 1], and returns logits (N, classes): the softmax
    of a last ``Dense(..., activation="softmax")`` is left to the loss, so apply
    ``torch.softmax(logits, 1)`` for probabilities (``Run.predict`` does). `seed=None` draws a seed
    from torch's global RNG (so `torch.manual_seed` still makes it reproducible). Issues
    `SpecWarning`s for incoherent specs (see `spec_warnings`); SpecError for a spec that cannot be read.
    """
    if not isinstance(spec, ModelSpec):
        spec = _resolve(spec)
    for message in spec_warnings(spec):
        warnings.warn(message, SpecWarning, stacklevel=user_level())
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    out_idx, out_act = output_activation(spec)
    in_shapes = [spec.input_shape, *spec.shapes()[:-1]]
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    # torch's own default init draws from the global RNG; fork it so building leaves it untouched.
    with torch.random.fork_rng(devices=[]):
        for name, layer, shape, inner in zip(keras_names(spec), _in_torch_order(spec.layers, in_shapes), in_shapes,
                                             _layer_names(spec)):
            modules[name] = _build_layer(layer, shape, inner)
    folded = out_act if out_act in FOLDED_OUTPUTS else None
    if folded:
        module = list(modules.values())[out_idx]
        if isinstance(module, (Dense, Conv2D)):
            module.activation = nn.Identity()
        else:
            modules[list(modules)[out_idx]] = nn.Identity()
    model = SequentialModel(modules, spec, folded)
    _initialise(model, torch.Generator().manual_seed(seed))
    for layer, module in zip(spec.layers, modules.values()):
        if not layer.trainable:
            freeze(module)
    return model


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer updates: Keras's ``model.trainable_variables``, those of frozen
    layers (:func:`freeze`) left out, in the model's order."""
    return [p for p in model.parameters() if p.requires_grad]


def freeze(module: nn.Module) -> None:
    """Keras's ``layer.trainable = False`` on a built layer (or block): its parameters need no
    gradient (so the trainer's optimizer never holds them) and its BatchNormalizations run in
    inference mode, on their moving statistics, which they no longer update (Keras 3)."""
    module.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, _KerasMoments):
            m.frozen = True


_KEEP_FEATURE_ORDER = (S.Dropout, S.Activation, S.BatchNormalization, S.Normalization)  # a vector's features, in place


def _in_torch_order(layers: tuple[S.LayerSpec, ...], in_shapes: list[Shape]) -> list[S.LayerSpec]:
    """``layers``, a Normalization's per-feature ``mean`` and ``variance`` after a Flatten of a map of
    several channels reordered from Keras's flatten order (H, W, C), in which a spec gives them, to
    torch's (C, H, W), in which the model's vector holds them (helper-190: they were applied to the
    wrong features). Layers between the Flatten and it that keep each feature in place are passed
    over (Dropout, activations, BatchNormalization)."""
    out = list(layers)
    for i, layer in enumerate(layers):
        if not (isinstance(layer, S.Normalization) and isinstance(layer.mean, tuple) and len(in_shapes[i]) == 1):
            continue
        j = i - 1
        while j >= 0 and isinstance(layers[j], _KEEP_FEATURE_ORDER):
            j -= 1
        if (j >= 0 and isinstance(layers[j], S.Flatten) and len(hwc := in_shapes[j]) == 3 and hwc[2] > 1
                and len(layer.mean) == math.prod(hwc)):  # (one value, broadcast, has no order: helper-192)
            def chw(values: Any, hwc: Shape = hwc) -> tuple[float, ...]:
                return tuple(np.asarray(values, dtype=np.float64).reshape(hwc).transpose(2, 0, 1).reshape(-1).tolist())

            out[i] = dataclasses.replace(layer, mean=chw(layer.mean), variance=chw(layer.variance))
    return out


@torch.no_grad()
def _initialise(model: SequentialModel, g: torch.Generator) -> None:
    for module in model.modules():  # spec order, blocks' layers in Keras's creation order
        if isinstance(module, (Dense, Conv2D)):
            _init_kernel(module.weight, module.kernel_initializer, g)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, DepthwiseConv2D):
            _init_depthwise(module.weight, module.depthwise_initializer, module.in_channels, g)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, SeparableConv2D):
            _init_depthwise(module.depthwise_weight, module.depthwise_initializer, module.groups, g)
            _init_kernel(module.pointwise_weight, module.pointwise_initializer, g)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.reset_parameters()  # gamma 1, beta 0, moving mean 0, variance 1: Keras's defaults


@torch.no_grad()
def layer_outputs(model: nn.Sequential, x: torch.Tensor, *, upto: int | None = None) -> list[torch.Tensor]:
    """Each layer's output for input `x` (what Keras's per-layer feature-map models return).

    `upto` limits it to the first layers, e.g. `layer_outputs(model, images, upto=4)` for seed 001's
    conv / pool / conv / pool grid. Maps come back as (N, C, H, W). Runs in the model's current mode.
    """
    if x.dim() == 3:
        x = x.unsqueeze(1)
    outputs = []
    for module in list(model)[:upto]:
        x = module(x)
        outputs.append(x)
    return outputs


def num_classes(spec: ModelSpec | Any) -> int:
    """Number of outputs of the model (width of its last layer)."""
    return (spec if isinstance(spec, ModelSpec) else _resolve(spec)).num_classes


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable) as Keras counts: BatchNorm moving statistics and the weights of a
    Normalization still to be adapted (mean, variance, count) are non-trainable weights."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    stats += sum(t.numel() for m in model.modules() if isinstance(m, Normalization) for t in m.state_dict().values())
    return trainable, frozen + stats


def adapt_normalization(spec: ModelSpec, images: torch.Tensor | np.ndarray) -> ModelSpec:
    """``spec`` with its first layer's Normalization given the mean and variance of ``images``,
    as Keras's ``layer.adapt(images / 255)`` computes them; ``spec`` itself when it has none to adapt.

    ``images``: uint8 (N, H, W), 0-255, one channel. Population statistics (numpy's ``var``, as
    Keras) of every pixel as the model sees it (``/ 255``), computed exactly from the 256-bin
    histogram in float64 (Keras sums in float32; the two agree to ~1e-7).

    >>> spec = adapt_normalization(spec, run_data.train_x)   # doctest: +SKIP
    >>> spec.layers[0].mean, spec.layers[0].variance, spec.layers[0].adapted   # doctest: +SKIP
    (0.1306604762738429, 0.09493..., True)
    """
    first = spec.layers[0]
    if not (isinstance(first, S.Normalization) and first.needs_adapt):
        return spec
    if spec.input_shape[2] != 1:
        raise SpecError(f"Normalization: adapting from images needs a one-channel input, not {spec.input_shape[2]} "
                        "channels; give mean and variance")
    pixels = torch.as_tensor(images)
    if pixels.dtype != torch.uint8 or pixels.numel() == 0:
        raise SpecError(f"Normalization: adapting needs uint8 images, got {pixels.dtype} with {pixels.numel()} pixels")
    counts = torch.bincount(pixels.reshape(-1), minlength=256).cpu().to(torch.float64)  # 0.15 s for MNIST's 47M
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum()
    mean = float((counts * values).sum() / n)
    variance = float((counts * (values - mean) ** 2).sum() / n)
    layer = dataclasses.replace(first, mean=mean, variance=variance, adapted=True)
    return dataclasses.replace(spec, layers=(layer, *spec.layers[1:]))


def _resolve(obj: Any) -> ModelSpec:
    from mnistlab.presets import resolve_model  # presets imports models' callers, not models: no cycle

    return resolve_model(obj)
