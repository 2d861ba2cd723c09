"""Declarative model specs in Keras words: plain, frozen, round-trippable data.

A model is an input shape plus a list of layers, written the way a Keras user writes them::

    from mnistlab.specs import ModelSpec, Conv2D, MaxPooling2D, Flatten, Dense
    spec = ModelSpec(layers=(Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                             Dense(128, activation="relu"), Dense(10, activation="softmax")))
    spec == ModelSpec.from_dict(spec.to_dict())          # True: specs round-trip unchanged

The same spec in TOML (`load_model_spec` / `save_model_spec` also read and write JSON)::

    input_shape = [28, 28, 1]
    [[layers]]
    type = "Conv2D"
    filters = 64
    kernel_size = [3, 3]
    activation = "relu"

Residual networks are layers of the list too: `ResidualBlock` (He et al.'s basic block, v1 or
pre-activation v2, with a 1x1 projection where the shape changes) and `Residual`, the graph form
(a branch and a shortcut added by Keras's `Add`). `keras_graph` gives the Keras layers a spec
stands for, named as Keras names them; `keras_order` the order Keras's functional summary lists them.

`parse_model_spec` also accepts the compact forms users reach for first: seed 000's helper
(`{"conv": [64, 64], "pool": [true, true], "dense": [128]}`) and seed 001's builder
(`{"filters": 32, "additional_convolutions": 1}`).

Shapes follow Keras: `input_shape` is (height, width, channels) and feature maps are (H, W, C);
the PyTorch model built from a spec takes (N, C, H, W) tensors (see `mnistlab.models`).
Every check lives here, so a spec that exists is a spec that builds: an impossible spec raises a
one-line `SpecError` naming the layer as `layers[i] (Type)`; incoherent but legal choices are
reported by `spec_warnings`.
"""

from __future__ import annotations

import dataclasses
import json
import functools
import math
import numbers
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mnistlab._toml import dumps_toml, loads_json, loads_toml, plain_data, read_text_file, with_line
from mnistlab.keras_json import (ACTIVATION_LAYER_NAMES, ACTIVATION_LAYERS, KERAS_3_LAYERS, activation_layer, not_built,
                                 initializer_name, is_keras_json, placed, read_keras_json)
from mnistlab.errors import SpecError, SpecWarning, clip, did_you_mean, show, unknown_key, user_level
from mnistlab.files import write_atomic

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LAYER_TYPES", "PADDINGS", "Activation", "AveragePooling2D",
    "BatchNormalization", "Conv2D", "Dense", "DepthwiseConv2D", "Dropout", "Flatten", "GaussianDropout", "GaussianNoise",
    "GlobalAveragePooling2D", "SeparableConv2D", "SpatialDropout2D",
    "BLOCK_TYPES", "KerasNode", "LayerSpec", "MaxPooling2D", "ModelSpec", "Normalization", "Pooling2D", "Residual",
    "Regularizer", "ResidualBlock", "Shape", "ZeroPadding2D", "builder_spec", "is_functional", "keras_graph", "keras_order",
    "compact_spec", "is_model_table", "layer_from_dict", "load_model_spec", "output_activation", "parse_model_spec",
    "save_model_spec", "spec_warnings",
]

# Names users may write; the objects they map to live in mnistlab.models (one registry each).
ACTIVATIONS: tuple[str, ...] = (
    "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh", "softmax", "swish",
    # Keras 3's others a small classifier uses: MobileNet's relu6 and hard_silu, and the smooth ones.
    "relu6", "hard_sigmoid", "hard_silu", "softplus", "softsign", "mish", "exponential",
)
# Spellings Keras also accepts (seed 003 writes activation='ReLU'); stored under the canonical name.
ACTIVATION_ALIASES: dict[str, str] = {"leakyrelu": "leaky_relu", "silu": "swish", "none": "linear",
                                      "hard_swish": "hard_silu"}  # Keras 3 takes both names of each pair
INITIALIZERS: tuple[str, ...] = (
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
    "random_normal", "random_uniform", "zeros", "ones", "orthogonal",
)
INITIALIZER_ALIASES: dict[str, str] = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
                                       "zero": "zeros", "one": "ones"}
PADDINGS: tuple[str, ...] = ("valid", "same")

# Sanity limits against hostile or mistyped specs (a 10**30-unit layer must fail here, not in torch).
MAX_SIZE = 1 << 20           # units, filters, kernel and pool sizes, strides
MAX_INPUT_SIDE = 8192        # input height / width
MAX_LAYERS = 1000
MAX_PARAMS = 500_000_000     # far beyond any MNIST model; keeps a typo from exhausting memory

Shape = tuple[int, ...]      # (H, W, C) for feature maps, (F,) for vectors, as Keras prints them


# ---------------------------------------------------------------------------------------------
# Field validators: each takes the raw value and returns the canonical one or raises SpecError
# (its path is the field's name; the callers put the layer's place in front of it).
# ---------------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    """A whole number: an int, or a NumPy integer (``np.arange``'s, as Keras takes them: helper-257); no bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _pos_int(name: str, v: Any) -> int:
    if not _is_int(v):
        raise SpecError(f"{name} must be an integer, got {show(v)}", path=(name,))
    v = int(v)
    if v < 1:
        raise SpecError(f"{name} must be at least 1, got {v}", path=(name,))
    if v > MAX_SIZE:
        raise SpecError(f"{name} = {clip(v, 24)} is too large (at most {MAX_SIZE:,})", path=(name,))
    return v


def _pair(name: str, v: Any) -> tuple[int, int]:
    """Keras accepts 3 or (3, 3) for kernel sizes, pool sizes and strides."""
    if _is_int(v):
        v = (v, v)
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise SpecError(f"{name} must be an integer or a pair of integers, got {show(v)}", path=(name,))
    return (_pos_int(name, v[0]), _pos_int(name, v[1]))


def _opt_pair(name: str, v: Any) -> tuple[int, int] | None:
    return None if v is None else _pair(name, v)


def _choice(name: str, v: Any, choices: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    if not isinstance(v, str):
        raise SpecError(f"{name} must be a string, got {show(v)}", path=(name,))
    key = v.strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in choices:
        raise SpecError(f'unknown {name} "{clip(v)}"{did_you_mean(key, choices)}; choose from {", ".join(choices)}',
                        path=(name,))
    return key


def _activation(v: Any) -> str:
    """A layer's activation by name; None (JSON's null, Python's None) is Keras's ``activation=None``: linear."""
    return "linear" if v is None else _choice("activation", v, ACTIVATIONS, ACTIVATION_ALIASES)


# Keras initializers mnistlab does not build: said so, not "did you mean" one that draws otherwise
# (helper-125: truncated_normal was offered random_normal)
KERAS_ONLY_INITIALIZERS = ("truncated_normal", "variance_scaling", "lecun_uniform", "identity", "constant", "stft")


def _initializer(v: Any, name: str = "kernel_initializer") -> str:
    """A kernel initializer (``name``: the field, ``depthwise_initializer`` too) by Keras's name
    (``"he_normal"``), class name (``"HeNormal"``, as ``keras.initializers.get`` takes it too) or saved
    form (``{"class_name": "HeNormal", "config": {...}}``, as Keras's JSON and
    ``keras.initializers.serialize`` write it)."""
    if isinstance(v, Mapping) and "class_name" in v:
        v = initializer_name(v, name)
    if isinstance(v, str) and re.fullmatch(r"[A-Z][A-Za-z]*", v.strip()):  # HeNormal -> he_normal
        v = re.sub(r"(?<!^)(?=[A-Z])", "_", v.strip()).lower()
    if isinstance(v, str) and v.strip().lower() in KERAS_ONLY_INITIALIZERS:
        raise SpecError(f'{name} "{clip(v)}" is one of Keras\'s that mnistlab does not build; choose from '
                        f'{", ".join(INITIALIZERS)}', path=(name,))
    return _choice(name, v, INITIALIZERS, INITIALIZER_ALIASES)


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise SpecError(f"{name} must be true or false, got {show(v)}", path=(name,))
    return v


def _float(name: str, v: Any, lo: float, hi: float, *, hi_open: bool = True, lo_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):  # (a NumPy number too: helper-257)
        raise SpecError(f"{name} must be a number, got {show(v)}", path=(name,))
    v = float(v)
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        percent = f" ({v:g}% is {v / 100:g})" if hi == 1.0 and 1 < v <= 100 else ""  # (helper-262: rate = 50)
        raise SpecError(f"{name} must be in {interval}, got {v:g}{percent}", path=(name,))
    return v


def _set(obj: Any, name: str, value: Any) -> None:
    # Frozen dataclasses normalise their own fields once, at construction.
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Regularizer:
    """Keras's weight penalty ``L1L2``: ``l1 * sum(|w|) + l2 * sum(w ** 2)`` of a layer's kernel
    (or bias), added to the loss it trains on and reports, validation and test losses included
    (``keras/src/regularizers/regularizers.py``; ``Trainer.compute_loss`` adds ``model.losses``).

    Written as Keras 3 names them (``keras.regularizers.get``: the class with its defaults): ``"l2"``
    (``L2()``: l2 = 0.01), ``"l1"`` (``L1()``: l1 = 0.01), ``"l1l2"`` (``L1L2()``: l1 = l2 = 0, though
    its docstring says 0.01 each; :func:`spec_warnings` says so), or a table ``{ l2 = 0.0005 }``,
    ``{ l1 = 1e-5, l2 = 1e-4 }``. ``"l1_l2"`` (0.01 each in tf.keras 2, and in Keras 3's ``L1L2``
    docstring) is refused, as Keras 3's ``regularizers.get`` refuses it, with the table to write."""

    l1: float = 0.0
    l2: float = 0.0
    written: str = dataclasses.field(default="", compare=False)  # the Keras name it was given by ("l1l2"), if any

    def to_dict(self) -> dict[str, float]:
        """``{"l1": ..., "l2": ...}``: what :func:`_regularizer` reads back."""
        return {"l1": self.l1, "l2": self.l2}

    def __str__(self) -> str:
        """As Keras's class would print it built with these factors: ``L2(l2=0.0005)``, ``L1L2(l1=1e-05, l2=0.0001)``."""
        if self.l1 and not self.l2:
            return f"L1(l1={self.l1:g})"
        if self.l2 and not self.l1:
            return f"L2(l2={self.l2:g})"
        return f"L1L2(l1={self.l1:g}, l2={self.l2:g})"


# Keras's string identifiers (keras.regularizers.get: the class, built with its defaults)
_REGULARIZER_NAMES = {"l1": Regularizer(l1=0.01, written="l1"), "l2": Regularizer(l2=0.01, written="l2"),
                      "l1l2": Regularizer(written="l1l2")}


def _regularizer(name: str, v: Any) -> Regularizer | None:
    """A ``kernel_regularizer`` / ``bias_regularizer`` value as :class:`Regularizer` (None: none;
    ``false`` is none too, Keras's ``None``: a variant's way to drop its base's penalty)."""
    if v is None or v is False or isinstance(v, Regularizer):
        return v or None
    if isinstance(v, str):
        key = v.strip().lower()
        if key == "l1_l2":
            raise SpecError(f'{name}: "l1_l2" (0.01 each in tf.keras 2 and in Keras 3\'s docstring) is refused by Keras 3\'s '
                            'regularizers.get, whose "l1l2" is 0 each: write { l1 = 0.01, l2 = 0.01 }', path=(name,))
        if key not in _REGULARIZER_NAMES:
            raise SpecError(f'{name}: unknown regularizer "{clip(v)}"{did_you_mean(key, list(_REGULARIZER_NAMES))}; '
                            'write "l1", "l2" or a table such as { l2 = 0.0005 }', path=(name,))
        return _REGULARIZER_NAMES[key]
    if isinstance(v, Mapping) and "class_name" in v:  # Keras's saved form (get_config / model.to_json)
        return _saved_regularizer(name, v)
    if isinstance(v, Mapping):
        for k in v:
            if k not in ("l1", "l2"):
                raise unknown_key(k, ["l1", "l2"], where=name, path=(name,))
        return Regularizer(l1=_float(f"{name}.l1", v.get("l1", 0.0), 0.0, math.inf) + 0.0,  # + 0.0: -0.0 is 0
                           l2=_float(f"{name}.l2", v.get("l2", 0.0), 0.0, math.inf) + 0.0)
    raise SpecError(f'{name} must be "l1", "l2" or a table such as {{ l2 = 0.0005 }}, got {show(v)}',
                    path=(name,))


def _saved_regularizer(name: str, v: Mapping[str, Any]) -> Regularizer:
    """Keras 3's serialised regularizer, ``{"module": "keras.regularizers", "class_name": "L2",
    "config": {"l2": 0.01}, "registered_name": null}`` (``keras.saving.serialize_keras_object``):
    ``L1``, ``L2`` or ``L1L2`` with its factors; SpecError for another class or key."""
    for k in v:
        if k not in ("class_name", "config", "module", "registered_name"):
            raise unknown_key(k, ["class_name", "config", "module", "registered_name"], where=name, path=(name,))
    cls, config = v.get("class_name"), v.get("config", {})
    defaults = {"L1": {"l1": 0.01}, "L2": {"l2": 0.01}, "L1L2": {"l1": 0.0, "l2": 0.0}}  # the classes' own
    if cls not in defaults or not isinstance(config, Mapping) or set(config) - set(defaults[cls]):
        raise SpecError(f'{name}: Keras\'s saved form of {show(cls)} with config {show(config)} is none mnistlab reads '
                        '(class_name "L1", "L2" or "L1L2", with their factors l1 and l2; or write the factors as a '
                        'table, { l2 = ... })', path=(name,))
    return _regularizer(name, {**defaults[cls], **config}) or Regularizer()


def penalty_table(value: Any) -> dict[str, float]:
    """A ``kernel_regularizer`` / ``bias_regularizer`` as written (``"l2"``, a table) as its table of
    factors, ``{"l1": 0.0, "l2": 0.01}``: what a dotted key into it (``.l1``) changes. SpecError as
    :class:`Regularizer` reads it; ``false`` is ``{"l1": 0.0, "l2": 0.0}``."""
    return (_regularizer("penalty", value) or Regularizer()).to_dict()


def _set_regularizers(layer: Any) -> None:
    """Normalise each of a layer's ``*_regularizer`` fields (``kernel_``, ``depthwise_``, ``pointwise_``,
    ``bias_``); a bias penalty needs a bias."""
    for f in dataclasses.fields(layer):
        if f.name.endswith("_regularizer"):
            _set(layer, f.name, _regularizer(f.name, getattr(layer, f.name)))
    if layer.bias_regularizer is not None and not layer.use_bias:
        raise SpecError("bias_regularizer with use_bias = false: the layer has no bias to penalise",
                        path=("bias_regularizer",))


def _set_window(layer: Any) -> None:
    """Normalise a convolution's sliding window: ``kernel_size`` and ``strides`` (an int or a pair, as
    Keras takes them) and ``padding`` ("valid" or "same")."""
    _set(layer, "kernel_size", _pair("kernel_size", layer.kernel_size))
    _set(layer, "strides", _pair("strides", layer.strides))
    _set(layer, "padding", _choice("padding", layer.padding, PADDINGS))


# The weights a layer may penalise, as Keras names its ``<kind>_regularizer`` arguments.
WEIGHT_KINDS = ("kernel", "depthwise", "pointwise", "bias")


def regularized(spec: ModelSpec) -> bool:
    """Whether any layer of ``spec`` (blocks' layers included) has a kernel or bias regularizer."""
    return bool(weight_penalties(spec))


def weight_penalties(spec: ModelSpec) -> tuple[str, ...]:
    """Each kernel (depthwise, pointwise) or bias regularizer of ``spec``'s layers (blocks' included), named
    by the Keras layer it is on: ``("dense kernel L2(l2=0.001)", ...)``; empty without any."""
    return tuple(f"{node.name} {what} {penalty}" for node in keras_graph(spec) for what in WEIGHT_KINDS
                 if (penalty := getattr(node.layer, f"{what}_regularizer", None)) is not None)


# ---------------------------------------------------------------------------------------------
# Layers. Each is frozen data with Keras's argument names and defaults, plus the pure maths the
# summary needs (output shape, parameter count, multiply-adds).
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpec:
    """Base of all layer specs. `type` is the Keras class name written in files."""

    type: ClassVar[str] = ""
    keras_name: ClassVar[str] = ""   # the name Keras gives the first such layer (dense, conv2d, ...)
    # True: needs an (H, W, C) feature map and refuses a flat vector (the output of Flatten, Dense or
    # global pooling), as Keras 3 does (its InputSpec asks for ndim=4 with the batch axis).
    # `ModelSpec.shapes` checks it for every layer type before calling `output_shape`.
    wants_map: ClassVar[bool] = False
    # Keras's ``name=``: the layer's name in the summary, figures and penalties, unique in the model
    # (checked by ModelSpec); None: Keras's auto-name. Not part of a run's key (config.config_hash),
    # and not of the PyTorch module's name, so that renaming a layer keeps its runs and weights.
    name: str | None = dataclasses.field(default=None, kw_only=True)
    # Keras's ``trainable``: false freezes the layer's weights (the optimizer never sees them, Keras counts
    # them non-trainable) and runs a BatchNormalization in inference mode, on its moving statistics, as
    # Keras 3 does (``keras/src/layers/normalization/batch_normalization.py``: ``training and self.trainable``).
    trainable: bool = dataclasses.field(default=True, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The layer as a config table: ``{"type": <Keras class name>, <field>: <value>, ...}``, tuples
        as lists (what :func:`layer_from_dict` reads back, and what a run records)."""
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (f.name.endswith("_regularizer") or f.name in ("name", "keras_class", "negative_slope")) and value is None:
                continue  # left out, as before regularizers and names were known: a recorded config keeps its key
            if f.name == "trainable" and value is True:
                continue  # (as are trainable layers': every run recorded before layers could be frozen)
            out[f.name] = (value.to_dict() if isinstance(value, Regularizer) else list(value) if isinstance(value, tuple)
                           else value)
        return out

    def output_shape(self, shape: Shape) -> Shape:
        """The output's shape for an input of ``shape``, without the batch axis: ``(H, W, C)`` for a
        feature map (Keras's channels-last order), ``(features,)`` for a vector. SpecError (with its
        ``path`` inside the layer) for an input the layer cannot take; :meth:`ModelSpec.shapes` has
        already refused a vector for a layer that ``wants_map``. This base: the shape unchanged."""
        return shape

    def params(self, shape: Shape) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts for this input shape, as Keras counts them."""
        return (0, 0)

    def macs(self, shape: Shape) -> int:
        """Multiply-adds per image (Dense and the convolutions only; the rest is negligible here)."""
        return 0


@dataclass(frozen=True)
class Flatten(LayerSpec):
    """Flattens a feature map to a vector. Keras orders its features (H, W, C), torch (C, H, W): the
    same features in another order, which matters only for values given per feature after it (a
    Normalization's, given in Keras's order and reordered where the model is built) and for
    weights imported from Keras."""

    type: ClassVar[str] = "Flatten"
    keras_name: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape) -> Shape:
        return (math.prod(shape),)


@dataclass(frozen=True)
class Dense(LayerSpec):
    """Fully connected layer: `units` outputs, `activation` applied to them (default linear)."""

    units: int
    activation: str = "linear"
    kernel_initializer: str = "glorot_uniform"
    use_bias: bool = True
    kernel_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    type: ClassVar[str] = "Dense"
    keras_name: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        _set(self, "units", _pos_int("units", self.units))
        _set(self, "activation", _activation(self.activation))
        _set(self, "kernel_initializer", _initializer(self.kernel_initializer))
        _set(self, "use_bias", _bool("use_bias", self.use_bias))
        _set_regularizers(self)

    def output_shape(self, shape: Shape) -> Shape:
        if len(shape) != 1:
            # Keras would apply Dense to the channel axis only; for a classifier that is a bug.
            raise SpecError(f"Dense on a {_fmt_shape(shape)} feature map: add a Flatten "
                            "(or GlobalAveragePooling2D) before it")
        return (self.units,)

    def params(self, shape: Shape) -> tuple[int, int]:
        return (shape[0] * self.units + (self.units if self.use_bias else 0), 0)

    def macs(self, shape: Shape) -> int:
        return shape[0] * self.units


@dataclass(frozen=True)
class Conv2D(LayerSpec):
    """2-D convolution. Keras defaults: strides 1, padding "valid", linear activation, bias on."""

    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    activation: str = "linear"
    kernel_initializer: str = "glorot_uniform"
    use_bias: bool = True
    kernel_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    type: ClassVar[str] = "Conv2D"
    keras_name: ClassVar[str] = "conv2d"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "filters", _pos_int("filters", self.filters))
        _set_window(self)
        _set(self, "activation", _activation(self.activation))
        _set(self, "kernel_initializer", _initializer(self.kernel_initializer))
        _set(self, "use_bias", _bool("use_bias", self.use_bias))
        _set_regularizers(self)

    def output_shape(self, shape: Shape) -> Shape:
        h, w = _window_out(shape, self.kernel_size, self.strides, self.padding, "convolution")
        return (h, w, self.filters)

    def params(self, shape: Shape) -> tuple[int, int]:
        kh, kw = self.kernel_size
        return (kh * kw * shape[2] * self.filters + (self.filters if self.use_bias else 0), 0)

    def macs(self, shape: Shape) -> int:
        h, w, c = self.output_shape(shape)
        return h * w * c * self.kernel_size[0] * self.kernel_size[1] * shape[2]


@dataclass(frozen=True)
class DepthwiseConv2D(LayerSpec):
    """Keras's depthwise convolution: each input channel convolved with ``depth_multiplier`` kernels of
    its own, (H, W, C) -> (H', W', C * depth_multiplier), output channel ``c * depth_multiplier + m``
    from input channel ``c`` (``tf.nn.depthwise_conv2d``'s order). Keras 3 defaults
    (``keras/src/layers/convolutional/depthwise_conv2d.py``): strides 1, padding "valid", depth_multiplier
    1, linear activation, bias on, ``depthwise_initializer`` glorot_uniform over the kernel's Keras shape
    (kh, kw, C, depth_multiplier): fan in ``kh * kw * C``, fan out ``kh * kw * depth_multiplier``."""

    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str = "linear"
    depthwise_initializer: str = "glorot_uniform"
    use_bias: bool = True
    depthwise_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    type: ClassVar[str] = "DepthwiseConv2D"
    keras_name: ClassVar[str] = "depthwise_conv2d"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set_window(self)
        _set(self, "depth_multiplier", _pos_int("depth_multiplier", self.depth_multiplier))
        _set(self, "activation", _activation(self.activation))
        _set(self, "depthwise_initializer", _initializer(self.depthwise_initializer, "depthwise_initializer"))
        _set(self, "use_bias", _bool("use_bias", self.use_bias))
        _set_regularizers(self)

    def output_shape(self, shape: Shape) -> Shape:
        h, w = _window_out(shape, self.kernel_size, self.strides, self.padding, "depthwise convolution")
        return (h, w, shape[2] * self.depth_multiplier)

    def params(self, shape: Shape) -> tuple[int, int]:
        out = shape[2] * self.depth_multiplier
        return (self.kernel_size[0] * self.kernel_size[1] * out + (out if self.use_bias else 0), 0)

    def macs(self, shape: Shape) -> int:
        h, w, c = self.output_shape(shape)
        return h * w * c * self.kernel_size[0] * self.kernel_size[1]


@dataclass(frozen=True)
class SeparableConv2D(LayerSpec):
    """Keras's depthwise-separable convolution: a :class:`DepthwiseConv2D` (its ``kernel_size``,
    ``strides``, ``padding``, ``depth_multiplier``; no bias) then a 1x1 convolution to ``filters``
    channels with the bias and the activation, (H, W, C) -> (H', W', filters): Keras 3's
    ``SeparableConv2D`` (``keras/src/layers/convolutional/separable_conv2d.py``, ``tf.nn.separable_conv2d``).
    Weights: ``kh * kw * C * depth_multiplier + C * depth_multiplier * filters (+ filters)``, each kernel
    drawn by its own initializer over its Keras shape, (kh, kw, C, depth_multiplier) and (1, 1, C *
    depth_multiplier, filters)."""

    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str = "linear"
    depthwise_initializer: str = "glorot_uniform"
    pointwise_initializer: str = "glorot_uniform"
    use_bias: bool = True
    depthwise_regularizer: Regularizer | None = None
    pointwise_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    type: ClassVar[str] = "SeparableConv2D"
    keras_name: ClassVar[str] = "separable_conv2d"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "filters", _pos_int("filters", self.filters))
        _set_window(self)
        _set(self, "depth_multiplier", _pos_int("depth_multiplier", self.depth_multiplier))
        _set(self, "activation", _activation(self.activation))
        _set(self, "depthwise_initializer", _initializer(self.depthwise_initializer, "depthwise_initializer"))
        _set(self, "pointwise_initializer", _initializer(self.pointwise_initializer, "pointwise_initializer"))
        _set(self, "use_bias", _bool("use_bias", self.use_bias))
        _set_regularizers(self)

    def output_shape(self, shape: Shape) -> Shape:
        h, w = _window_out(shape, self.kernel_size, self.strides, self.padding, "separable convolution")
        return (h, w, self.filters)

    def params(self, shape: Shape) -> tuple[int, int]:
        mid = shape[2] * self.depth_multiplier
        return (self.kernel_size[0] * self.kernel_size[1] * mid + mid * self.filters
                + (self.filters if self.use_bias else 0), 0)

    def macs(self, shape: Shape) -> int:
        h, w, _ = self.output_shape(shape)
        mid = shape[2] * self.depth_multiplier
        return h * w * mid * (self.kernel_size[0] * self.kernel_size[1] + self.filters)


@dataclass(frozen=True)
class Pooling2D(LayerSpec):
    """Shared fields of the 2-D poolings; `strides` defaults to `pool_size` as in Keras.

    The 2x2 default of `pool_size` is MaxPooling2D's; AveragePooling2D requires it (Keras 3).
    """

    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None
    padding: str = "valid"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "pool_size", _pair("pool_size", self.pool_size))
        _set(self, "strides", _opt_pair("strides", self.strides))
        _set(self, "padding", _choice("padding", self.padding, PADDINGS))

    @property
    def effective_strides(self) -> tuple[int, int]:
        return self.strides or self.pool_size

    def output_shape(self, shape: Shape) -> Shape:
        h, w = _window_out(shape, self.pool_size, self.effective_strides, self.padding, "pooling")
        return (h, w, shape[2])


@dataclass(frozen=True)
class MaxPooling2D(Pooling2D):
    """Max pooling ("same" padding ignores the padded border, as Keras does)."""

    type: ClassVar[str] = "MaxPooling2D"
    keras_name: ClassVar[str] = "max_pooling2d"


@dataclass(frozen=True)
class AveragePooling2D(Pooling2D):
    """Average pooling; "same" padding averages over the real pixels only, as Keras does.

    `pool_size` is required, as in Keras 3 (`keras/src/layers/pooling/average_pooling2d.py` has no
    default for it, while MaxPooling2D defaults to 2x2): ``AveragePooling2D(2)``.
    """

    pool_size: tuple[int, int] = dataclasses.field()  # no default (an inherited one would apply)

    type: ClassVar[str] = "AveragePooling2D"
    keras_name: ClassVar[str] = "average_pooling2d"


@dataclass(frozen=True)
class GlobalAveragePooling2D(LayerSpec):
    """Mean over height and width: (H, W, C) -> (C,)."""

    type: ClassVar[str] = "GlobalAveragePooling2D"
    keras_name: ClassVar[str] = "global_average_pooling2d"
    wants_map: ClassVar[bool] = True

    def output_shape(self, shape: Shape) -> Shape:
        _need_map(shape, "global pooling")
        return (shape[2],)


def _padding_pairs(v: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """ZeroPadding2D's ``padding`` as Keras 3 reads it (``keras/src/layers/reshaping/zero_padding2d.py``):
    ``1`` (every side), ``(1, 2)`` (top and bottom, left and right) or ``((1, 0), (2, 1))`` ((top,
    bottom), (left, right)); each a whole number >= 0. Returns ((top, bottom), (left, right))."""
    def side(x: Any) -> int:
        if not _is_int(x) or x < 0:
            raise SpecError(f"padding must hold whole numbers >= 0, got {show(x)}", path=("padding",))
        if x > MAX_INPUT_SIDE:
            raise SpecError(f"padding = {clip(x, 24)} is too large (at most {MAX_INPUT_SIDE:,} per side)",
                            path=("padding",))
        return int(x)

    if _is_int(v):
        v = (v, v)
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise SpecError("padding must be an integer, a pair (height, width) or a pair of pairs ((top, bottom), "
                        f"(left, right)), got {show(v)}", path=("padding",))
    pairs = []
    for axis in v:
        if _is_int(axis):
            axis = (axis, axis)
        if not isinstance(axis, (list, tuple)) or len(axis) != 2:
            raise SpecError("padding must be an integer, a pair (height, width) or a pair of pairs ((top, bottom), "
                            f"(left, right)), got {show(v)}", path=("padding",))
        pairs.append((side(axis[0]), side(axis[1])))
    return pairs[0], pairs[1]


@dataclass(frozen=True)
class ZeroPadding2D(LayerSpec):
    """Adds rows and columns of zeros around a feature map: (H, W, C) -> (H + top + bottom, W + left
    + right, C), Keras 3's ``ZeroPadding2D``. ``padding``: an int (every side), (height, width) or
    ((top, bottom), (left, right)), kept as the last form; Keras's default 1. No weights."""

    padding: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1))
    type: ClassVar[str] = "ZeroPadding2D"
    keras_name: ClassVar[str] = "zero_padding2d"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "padding", _padding_pairs(self.padding))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "padding": [list(pair) for pair in self.padding]}

    def output_shape(self, shape: Shape) -> Shape:
        (top, bottom), (left, right) = self.padding
        h, w = shape[0] + top + bottom, shape[1] + left + right
        if max(h, w) > MAX_INPUT_SIDE:
            raise SpecError(f"padding makes a {h}x{w} map, larger than the largest input side ({MAX_INPUT_SIDE:,})")
        return (h, w, shape[2])


@dataclass(frozen=True)
class Dropout(LayerSpec):
    """Zeroes a fraction `rate` (in [0, 1], as Keras 3 takes it: 1 zeroes everything, and a spec
    warning says so) of activations during training only, the rest scaled by 1 / (1 - rate)."""

    rate: float
    type: ClassVar[str] = "Dropout"
    keras_name: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        _set(self, "rate", _float("rate", self.rate, 0.0, 1.0, hi_open=False))


@dataclass(frozen=True)
class SpatialDropout2D(LayerSpec):
    """Dropout of whole feature maps: in training, each image's channel is zeroed with probability
    ``rate`` (in [0, 1], as Dropout's) and the rest scaled by 1 / (1 - rate), Keras 3's ``SpatialDropout2D`` (noise shape
    (batch, 1, 1, channels); Tompson et al. 2014) and torch's ``nn.Dropout2d``. Needs a feature map."""

    rate: float
    type: ClassVar[str] = "SpatialDropout2D"
    keras_name: ClassVar[str] = "spatial_dropout2d"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "rate", _float("rate", self.rate, 0.0, 1.0, hi_open=False))


@dataclass(frozen=True)
class GaussianNoise(LayerSpec):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` (in [0, 1], as Keras 3 allows)
    in training only: Keras 3's ``GaussianNoise`` (``keras/src/layers/regularization/gaussian_noise.py``),
    on pixels scaled to [0, 1] where it is the first layer."""

    stddev: float
    type: ClassVar[str] = "GaussianNoise"
    keras_name: ClassVar[str] = "gaussian_noise"

    def __post_init__(self) -> None:
        _set(self, "stddev", _float("stddev", self.stddev, 0.0, 1.0, hi_open=False))


@dataclass(frozen=True)
class GaussianDropout(LayerSpec):
    """Multiplies each activation by Gaussian noise of mean 1 and standard deviation
    ``sqrt(rate / (1 - rate))`` in training only: Keras 3's ``GaussianDropout``
    (``keras/src/layers/regularization/gaussian_dropout.py``; Srivastava et al. 2014). ``rate`` in [0, 1)
    (Keras takes 1 and then divides by zero)."""

    rate: float
    type: ClassVar[str] = "GaussianDropout"
    keras_name: ClassVar[str] = "gaussian_dropout"

    def __post_init__(self) -> None:
        _set(self, "rate", _float("rate", self.rate, 0.0, 1.0))


@dataclass(frozen=True)
class BatchNormalization(LayerSpec):
    """Batch norm over the channel (or feature) axis; Keras defaults momentum 0.99, epsilon 1e-3.

    Keras counts 4 weights per channel: gamma and beta (trainable), the moving mean and variance
    (non-trainable); so does the summary.
    """

    momentum: float = 0.99
    epsilon: float = 0.001
    type: ClassVar[str] = "BatchNormalization"
    keras_name: ClassVar[str] = "batch_normalization"

    def __post_init__(self) -> None:
        _set(self, "momentum", _float("momentum", self.momentum, 0.0, 1.0))
        _set(self, "epsilon", _float("epsilon", self.epsilon, 0.0, 1.0, lo_open=True, hi_open=False))

    def params(self, shape: Shape) -> tuple[int, int]:
        c = shape[-1]
        return (2 * c, 2 * c)


@dataclass(frozen=True)
class Activation(LayerSpec):
    """A stand-alone activation, e.g. after a BatchNormalization. ``keras_class``: the Keras layer it
    was written as, ``ReLU``, ``Softmax``, ``LeakyReLU`` or ``ELU`` (None: ``Activation``): the
    summary names and types it so, as Keras's does (helper-136); like a layer's name, not part of
    what trains or of a run's key."""

    activation: str
    keras_class: str | None = dataclasses.field(default=None, kw_only=True)
    # Keras's LeakyReLU(negative_slope) layer: a leaky_relu of another slope than the activation's 0.2
    # (None: 0.2, Keras 3's keras.activations.leaky_relu default). helper-245: LeakyReLU(alpha=0.1) was refused.
    negative_slope: float | None = dataclasses.field(default=None, kw_only=True)
    type: ClassVar[str] = "Activation"
    keras_name: ClassVar[str] = "activation"

    def __post_init__(self) -> None:
        _set(self, "activation", _activation(self.activation))
        slope = self.negative_slope
        if slope is not None:
            if self.activation != "leaky_relu":
                raise SpecError(f"negative_slope = {show(slope)}: only a leaky_relu activation has a slope, not "
                                f"{self.activation}", path=("negative_slope",))
            if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not 0 <= slope < math.inf:
                raise SpecError(f"negative_slope must be a number from 0 (Keras's LeakyReLU refuses a negative one), "
                                f"got {show(slope)}", path=("negative_slope",))
            _set(self, "negative_slope", None if float(slope) == 0.2 else float(slope))  # (0.2: the activation's own)
        written = ACTIVATION_LAYERS.get(self.keras_class or "", ("",))[0]
        if self.keras_class is not None and self.activation not in (written, "relu6" if written == "relu" else written):
            raise SpecError(f"keras_class = {show(self.keras_class)}: the Keras layer this {self.activation} activation "
                            f"was written as must be one of {', '.join(ACTIVATION_LAYERS)}, with its activation",
                            path=("keras_class",))


@dataclass(frozen=True)
class Normalization(LayerSpec):
    """Keras's Normalization layer: ``(x - mean) / max(sqrt(variance), 1e-7)``, per channel.

    ``mean`` and ``variance`` are numbers, or lists with one value per channel (Keras's default
    ``axis=-1``: the last axis of the input, channels for a feature map, features for a vector).
    Give both or neither: without them the layer must come first, and a run adapts them from its
    training images as Keras's ``adapt()`` does (population mean and variance over every pixel, as
    the model sees it: uint8 / 255) and records them in its resolved config. The ``1e-7`` floor is
    Keras's ``backend.epsilon()``. Parameters, as Keras counts them: a layer to be adapted holds
    ``mean``, ``variance`` and ``count`` as non-trainable weights (``2 * channels + 1``); one given
    its values holds them as constants (0 parameters).

    ``adapted``: True on the layer a run adapted (:func:`~mnistlab.models.adapt_normalization`), as
    its record keeps it: the values were learned from that run's training images, not set, so
    runs of one variant whose seeds split the images differently stay one setting
    (:func:`~mnistlab.experiments.variant_setting`). Written out only when True.
    """

    mean: float | tuple[float, ...] | None = None
    variance: float | tuple[float, ...] | None = None
    adapted: bool = False
    type: ClassVar[str] = "Normalization"
    keras_name: ClassVar[str] = "normalization"

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.variance is None):
            given, missing = ("mean", "variance") if self.variance is None else ("variance", "mean")
            raise SpecError(f"{given} is given but {missing} is not: give both, or neither to adapt them from "
                            "the training images", path=(missing,))
        if not isinstance(self.adapted, bool):
            raise SpecError(f"adapted must be true or false, got {show(self.adapted)}", path=("adapted",))
        if self.mean is None:
            if self.adapted:
                raise SpecError("adapted = true needs the mean and variance the run adapted", path=("mean",))
            return
        _set(self, "mean", _statistic("mean", self.mean, lo=-math.inf))
        _set(self, "variance", _statistic("variance", self.variance, lo=0.0))
        if isinstance(self.mean, tuple) != isinstance(self.variance, tuple) or (
                isinstance(self.mean, tuple) and len(self.mean) != len(self.variance)):  # type: ignore[arg-type]
            raise SpecError(f"mean and variance must have the same shape (Keras), got {_stat_shape(self.mean)} "
                            f"and {_stat_shape(self.variance)}", path=("variance",))

    @property
    def needs_adapt(self) -> bool:
        """True when mean and variance are not given: a run adapts them from its training images."""
        return self.mean is None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if not self.adapted:  # a layer as written: its dict (and every run key of it) as before the marker
            del out["adapted"]
        return out

    def output_shape(self, shape: Shape) -> Shape:
        if isinstance(self.mean, tuple) and len(self.mean) not in (1, shape[-1]):
            what = "channel" if len(shape) == 3 else "feature"
            raise SpecError(f"mean and variance have {len(self.mean)} values but the input has {shape[-1]} {what}"
                            f"{'s' if shape[-1] > 1 else ''} (give one value, or one per {what})")
        return shape

    def params(self, shape: Shape) -> tuple[int, int]:
        return (0, 2 * shape[-1] + 1) if self.needs_adapt else (0, 0)


# ---------------------------------------------------------------------------------------------
# Residual networks: what a Keras functional-API user writes, as layers of the list.
# ---------------------------------------------------------------------------------------------
PROJECTIONS: tuple[str, ...] = ("auto", "always", "never")


@dataclass(frozen=True)
class Residual(LayerSpec):
    """A shortcut that is added, in Keras functional words (the graph form)::

        y = branch(x)                       # the layers of `branch`, in order
        s = shortcut(x)                     # the layers of `shortcut`; none: the identity, s = x
        out = Add()([y, s])                 # then Activation(activation) unless "linear"

    In TOML: ``{type = "Residual", branch = [{type = "Conv2D", ...}, ...], shortcut = [...],
    activation = "relu"}``. `branch` and `shortcut` hold plain layers (no blocks, no Normalization
    to adapt). Keras names the layers in that order (branch, shortcut, add, activation), and its
    summary lists them in graph order (see `keras_graph`). An Add of two different shapes is a
    one-line SpecError: Keras refuses most such pairs, and broadcasts one of a single channel
    (28x28x16 + 28x28x1), which mnistlab refuses too, as a shortcut that cannot be meant (helper-222).
    Parameters: those of the layers inside (Add has none).
    """

    branch: tuple[LayerSpec, ...]
    shortcut: tuple[LayerSpec, ...] = ()
    activation: str = "linear"
    type: ClassVar[str] = "Residual"
    keras_name: ClassVar[str] = "residual"

    def __post_init__(self) -> None:
        _set(self, "branch", _sublayers("branch", self.branch, empty=False))
        _set(self, "shortcut", _sublayers("shortcut", self.shortcut, empty=True))
        _set(self, "activation", _activation(self.activation))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "branch": [x.to_dict() for x in self.branch],
                "shortcut": [x.to_dict() for x in self.shortcut], "activation": self.activation}

    def paths(self, shape: Shape) -> tuple[list[Shape], list[Shape]]:
        """Input shape of every layer of the branch and of the shortcut, plus each path's output last."""
        return _run_path("branch", self.branch, shape), _run_path("shortcut", self.shortcut, shape)

    def output_shape(self, shape: Shape) -> Shape:
        branch, shortcut = self.paths(shape)
        if branch[-1] != shortcut[-1]:
            hint = self._projection_hint(shape, branch[-1]) if not self.shortcut else ""
            raise SpecError(f"Add of mismatched shapes: the branch gives {_fmt_shape(branch[-1])} but the "
                            f"{'shortcut' if self.shortcut else 'identity shortcut'} gives "
                            f"{_fmt_shape(shortcut[-1])}{hint}")
        return branch[-1]

    def _projection_hint(self, shape: Shape, out: Shape) -> str:
        """How an identity shortcut from ``shape`` meets the branch's ``out``: a 1x1 projection with
        the strides that give ``out``'s size (ceil(size / strides), as padding same does), where one
        does, unless a valid padding of the branch's shrinks the map (helper-125: a 26x26 branch
        from 28x28 was told strides 2): padding same for it then; or nothing."""
        if len(shape) != 3 or len(out) != 3:
            return ""
        shrink = [i for i, layer in enumerate(self.branch) if getattr(layer, "padding", "same") == "valid"
                  and (getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None) or (1, 1)) != (1, 1)]
        if shrink:  # a convolution's or a pooling's window, first (helper-127: a 2x2 of 6x6 was told strides 3)
            return (f"; branch[{shrink[0]}]'s padding = \"valid\" shrinks the map: give the branch's layers "
                    "padding = \"same\" (then a projection, if the filters differ)")
        fits = [s for s in range(1, max(shape[0], shape[1]) + 1)
                if -(-shape[0] // s) == out[0] and -(-shape[1] // s) == out[1]]
        if fits:
            return f"; give the shortcut a projection, e.g. Conv2D {out[2]} 1x1 with strides {fits[0]} and padding same"
        return ""

    def params(self, shape: Shape) -> tuple[int, int]:
        branch, shortcut = self.paths(shape)
        counts = [layer.params(s) for layer, s in zip((*self.branch, *self.shortcut), (*branch, *shortcut))]
        return (sum(t for t, _ in counts), sum(n for _, n in counts))

    def macs(self, shape: Shape) -> int:
        branch, shortcut = self.paths(shape)
        return sum(layer.macs(s) for layer, s in zip((*self.branch, *self.shortcut), (*branch, *shortcut)))


def _sublayers(name: str, v: Any, *, empty: bool) -> tuple[LayerSpec, ...]:
    """A Residual's `branch` or `shortcut`: a list of plain layers (tables or LayerSpecs)."""
    if not isinstance(v, (list, tuple)):
        raise SpecError(f"{name} must be a list of layers, got {show(v)}", path=(name,))
    if not v and not empty:
        raise SpecError(f"{name} needs at least one layer", path=(name,))
    if len(v) > MAX_LAYERS:
        raise SpecError(f"{name} has too many layers ({len(v)}; at most {MAX_LAYERS})", path=(name,))
    out = []
    for i, x in enumerate(v):
        layer = x if isinstance(x, LayerSpec) else layer_from_dict(x, where=f"{name}[{i}]", path=(name, i))
        if type(layer).__name__ not in LAYER_TYPES:
            raise SpecError(f"{name}[{i}] ({layer.type}): a residual {name} holds plain layers; put blocks one "
                            "after another in the model's layers", path=(name, i))
        if isinstance(layer, Normalization) and layer.needs_adapt:
            raise SpecError(f"{name}[{i}] (Normalization): inside a residual {name} it needs mean and variance",
                            path=(name, i))
        if layer.trainable is not True:
            raise SpecError(f"{name}[{i}] ({layer.type}): trainable is set on the Residual as a whole (trainable = false "
                            "freezes all of it)", path=(name, i, "trainable"))
        out.append(layer)
    return tuple(out)


def _run_path(name: str, layers: Sequence[LayerSpec], shape: Shape) -> list[Shape]:
    """Shapes along one path: each layer's input, then the path's output."""
    shapes = [shape]
    for i, layer in enumerate(layers):
        try:
            if layer.wants_map:
                _need_map(shape, _MAP_WORDS.get(layer.type, layer.type))
            shape = layer.output_shape(shape)
        except SpecError as exc:
            raise SpecError(f"{name}[{i}] ({layer.type}): {exc}", path=(name, i)) from None
        shapes.append(shape)
    return shapes


@dataclass(frozen=True)
class ResidualBlock(LayerSpec):
    """The basic ResNet block (two `kernel_size` convolutions, "same" padding), in Keras layers.

    Post-activation (ResNet v1, He et al. 2016, "Deep Residual Learning for Image Recognition",
    fig. 2; `preactivation = false`)::

        branch:   Conv2D(filters, strides) BN Activation Conv2D(filters) BN
        shortcut: x, or Conv2D(filters, 1x1, strides) BN when the shape changes
        Add, then Activation

    Pre-activation (ResNet v2, He et al. 2016, "Identity Mappings in Deep Residual Networks",
    fig. 4e; `preactivation = true`): branch BN Activation Conv2D BN Activation Conv2D, identity
    shortcut, no activation after the Add. When the shape changes, the BN and Activation come
    first and feed both paths, and the shortcut is Conv2D(filters, 1x1, strides) on that
    pre-activated input (as the authors' code and Zagoruyko & Komodakis's wide ResNets do).

    `projection`: "auto" (a 1x1 Conv2D only when the shape changes), "always", or "never" (an
    identity shortcut; a shape change is then a SpecError). `projection_batch_norm` puts a
    BatchNormalization after the projection (default: in v1 when `batch_norm`, not in v2).
    `batch_norm = false` drops every BatchNormalization. `kernel_regularizer` / `bias_regularizer`
    go on every Conv2D of the block, the projection too. Convolutions use `kernel_initializer`
    ("he_normal", as keras.io's CIFAR-10 ResNet example) and keep Keras's default bias, as
    keras.applications' ResNet50 does. The summary shows the Keras layers it stands for
    (`expand`), named as Keras names them.
    """

    filters: int
    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    preactivation: bool = False
    batch_norm: bool = True
    projection: str = "auto"
    projection_batch_norm: bool | None = None
    activation: str = "relu"
    kernel_initializer: str = "he_normal"
    use_bias: bool = True
    kernel_regularizer: Regularizer | None = None  # on every convolution, the 1x1 projection too (keras.io's
    bias_regularizer: Regularizer | None = None  # ResNets put L2(1e-4) on each Conv2D)
    type: ClassVar[str] = "ResidualBlock"
    keras_name: ClassVar[str] = "residual_block"
    wants_map: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "filters", _pos_int("filters", self.filters))
        _set(self, "kernel_size", _pair("kernel_size", self.kernel_size))
        _set(self, "strides", _pair("strides", self.strides))
        _set(self, "preactivation", _bool("preactivation", self.preactivation))
        _set(self, "batch_norm", _bool("batch_norm", self.batch_norm))
        _set(self, "projection", _choice("projection", self.projection, PROJECTIONS))
        if self.projection_batch_norm is not None:
            _set(self, "projection_batch_norm", _bool("projection_batch_norm", self.projection_batch_norm))
        _set(self, "activation", _activation(self.activation))
        _set(self, "kernel_initializer", _initializer(self.kernel_initializer))
        _set(self, "use_bias", _bool("use_bias", self.use_bias))
        _set_regularizers(self)

    def expand(self, shape: Shape) -> tuple[LayerSpec, ...]:
        """The layers this block stands for on an input of `shape`: plain layers and one Residual."""
        _need_map(shape, "residual block")
        f, k, s = self.filters, self.kernel_size, self.strides
        out = (-(-shape[0] // s[0]), -(-shape[1] // s[1]), f)
        project = self.projection == "always" or (self.projection == "auto" and out != tuple(shape))
        if out != tuple(shape) and not project:
            raise SpecError(f'projection = "never" asks for an identity shortcut, but the block turns '
                            f"{_fmt_shape(shape)} into {_fmt_shape(out)} (filters {f}, strides {s[0]}x{s[1]}); "
                            f'use projection = "auto" for a 1x1 Conv2D shortcut', path=("projection",))
        proj_bn = self.batch_norm and not self.preactivation if self.projection_batch_norm is None \
            else self.projection_batch_norm
        bn = (BatchNormalization(),) if self.batch_norm else ()
        act = (Activation(self.activation),)
        shortcut = (self._conv((1, 1), s), *((BatchNormalization(),) if proj_bn else ())) if project else ()
        if not self.preactivation:
            branch = (self._conv(k, s), *bn, *act, self._conv(k, (1, 1)), *bn)
            return (Residual(branch, shortcut, activation=self.activation),)
        if project:
            return (*bn, *act, Residual((self._conv(k, s), *bn, *act, self._conv(k, (1, 1))), shortcut))
        return (Residual((*bn, *act, self._conv(k, s), *bn, *act, self._conv(k, (1, 1)))),)

    def _conv(self, size: tuple[int, int], strides: tuple[int, int]) -> Conv2D:
        return Conv2D(self.filters, size, strides=strides, padding="same", kernel_initializer=self.kernel_initializer,
                      use_bias=self.use_bias, kernel_regularizer=self.kernel_regularizer,
                      bias_regularizer=self.bias_regularizer)

    def output_shape(self, shape: Shape) -> Shape:
        for layer in self.expand(shape):
            shape = layer.output_shape(shape)
        return shape

    def params(self, shape: Shape) -> tuple[int, int]:
        trainable = frozen = 0
        for layer in self.expand(shape):
            t, n = layer.params(shape)
            trainable, frozen, shape = trainable + t, frozen + n, layer.output_shape(shape)
        return trainable, frozen

    def macs(self, shape: Shape) -> int:
        total = 0
        for layer in self.expand(shape):
            total, shape = total + layer.macs(shape), layer.output_shape(shape)
        return total


def _statistic(name: str, v: Any, *, lo: float) -> float | tuple[float, ...]:
    """A Normalization statistic: a finite number (>= ``lo``) or a non-empty list of them."""
    if isinstance(v, (list, tuple)):
        if not v or len(v) > MAX_SIZE:
            raise SpecError(f"{name} must be a number or a list of 1 to {MAX_SIZE:,} numbers, got {show(v)}",
                            path=(name,))
        return tuple(_number(f"{name}[{i}]", x, lo, (name, i)) for i, x in enumerate(v))
    return _number(name, v, lo, (name,))


def _number(label: str, v: Any, lo: float, path: tuple[str | int, ...]) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(f"{label} must be a number, got {show(v)}", path=path)
    try:
        v = float(v)
    except OverflowError:  # an integer with hundreds of digits
        v = math.inf
    if not math.isfinite(v) or v < lo:
        raise SpecError(f"{label} must be a finite number{' >= 0' if lo == 0 else ''}, got {v:g}", path=path)
    return v


def _stat_shape(v: Any) -> str:
    return f"{len(v)} values" if isinstance(v, tuple) else "one number"


def _window_out(shape: Shape, size: tuple[int, int], strides: tuple[int, int], padding: str,
                what: str) -> tuple[int, int]:
    """Keras/TF output size of a sliding window; refuses maps that would shrink below 1x1."""
    _need_map(shape, what)
    out = []
    for side, k, s in zip(shape[:2], size, strides):
        if padding == "same":
            out.append(-(-side // s))
        else:
            if side < k:
                raise SpecError(f"{what} window {size[0]}x{size[1]} is larger than the "
                                f"{shape[0]}x{shape[1]} input map (it would shrink it below 1x1); "
                                'remove it or use padding="same"')
            out.append((side - k) // s + 1)
    return out[0], out[1]


def _need_map(shape: Shape, what: str) -> None:
    """Refuse a flat vector where a layer slides or pools over height and width (Keras: ndim=4)."""
    if len(shape) != 3:
        raise SpecError(f"needs an (H, W, C) feature map but gets a flat vector of {shape[0]}: "
                        f"a {what} cannot follow Flatten, Dense or global pooling (Keras refuses it too)")


def _fmt_shape(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


# What each map-only layer is called in the refusal ("a convolution cannot follow Flatten ...").
_MAP_WORDS = {"Conv2D": "convolution", "MaxPooling2D": "pooling", "AveragePooling2D": "pooling",
              "GlobalAveragePooling2D": "global pooling", "ResidualBlock": "residual block",
              "ZeroPadding2D": "zero padding", "DepthwiseConv2D": "depthwise convolution",
              "SeparableConv2D": "separable convolution", "SpatialDropout2D": "spatial dropout"}

# One registry maps every type name users may write to its class.
LAYER_TYPES: dict[str, type[LayerSpec]] = {
    cls.type: cls for cls in (Flatten, Dense, Conv2D, MaxPooling2D, AveragePooling2D,
                              GlobalAveragePooling2D, Dropout, BatchNormalization, Activation, Normalization,
                              ZeroPadding2D, DepthwiseConv2D, SeparableConv2D, SpatialDropout2D, GaussianNoise,
                              GaussianDropout)
}
# Blocks: layers that stand for several Keras layers (their summary rows are those layers').
BLOCK_TYPES: dict[str, type[LayerSpec]] = {cls.type: cls for cls in (Residual, ResidualBlock)}


def _keras_arguments_said(cls: type[LayerSpec]) -> None:
    """``cls(...)`` with an argument it does not take raises SpecError in Keras's words, the
    fields it takes listed (helper-245: ``Conv2D(32, 3, input_shape=(28, 28, 1))`` raised a bare
    TypeError, "unexpected keyword argument"); a ``TypeError`` of another kind stays one."""
    built = cls.__init__

    @functools.wraps(built)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        if unknown := [k for k in kwargs if k not in known]:
            hint = (" (the input's shape is the model's: ModelSpec(input_shape=(28, 28, 1), layers=[...]), not a "
                    "layer's)" if unknown[0] in ("input_shape", "input_dim") else did_you_mean(unknown[0], sorted(known)))
            raise SpecError(f"{cls.__name__}(): no argument {unknown[0]!r}{hint}; it takes {', '.join(sorted(known))}")
        built(self, *args, **kwargs)

    cls.__init__ = init  # type: ignore[method-assign]


for _cls in (*LAYER_TYPES.values(), *BLOCK_TYPES.values()):
    _keras_arguments_said(_cls)
LAYER_ALIASES: dict[str, str] = {
    "maxpool2d": "MaxPooling2D", "avgpool2d": "AveragePooling2D", "averagepool2d": "AveragePooling2D",
    "globalavgpool2d": "GlobalAveragePooling2D", "convolution2d": "Conv2D", "batchnorm": "BatchNormalization",
}
_ALL_TYPES = LAYER_TYPES | BLOCK_TYPES
# Keras layers that mnistlab writes another way: where a Keras user finds each (lower-case type -> how).
KERAS_LAYERS_ELSEWHERE: dict[str, str] = {
    "add": ('Keras\'s Add of a shortcut is a Residual block: { type = "Residual", branch = [...layers...], '
            'shortcut = [] (the identity) or [...layers...], activation = "relu" }, or a ResidualBlock (ResNet\'s)'),
    "reshape": ("a model's input is the image its input_shape says, (H, W, C), as the data holds it: no Reshape is "
                "needed (a Flatten makes it flat for a Dense)"),
    "rescaling": "mnistlab feeds every model its pixels / 255, what Rescaling(1/255) gives: leave it out",
}
# Keras's activation layers, written as such (lower-case type -> Keras's class): Activation layers
_KERAS_ACTIVATION_LAYERS = {name.lower(): name for name in ACTIVATION_LAYERS}
_LAYER_LOOKUP = {name.lower(): name for name in _ALL_TYPES} | LAYER_ALIASES
_KERAS_3_LOOKUP = {name.lower(): name for name in KERAS_3_LAYERS}
# The layers whose Keras class takes data_format (read as "channels_last" only)
_DATA_FORMAT_TAKERS = {"Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Flatten",
                       "ZeroPadding2D", "DepthwiseConv2D", "SeparableConv2D", "SpatialDropout2D"}
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")  # (Keras's dilation_rate; Conv2D's groups)
# Required fields whose absence deserves a word more than "missing".
_MISSING_HINTS: dict[tuple[str, str], str] = {
    ("AveragePooling2D", "pool_size"): (" (Keras 3 requires it for AveragePooling2D, e.g. pool_size = 2; "
                                        "only MaxPooling2D defaults to 2x2)"),
}


def with_every_key(node: Any) -> Any:
    """A model's layers as :meth:`LayerSpec.to_dict` writes them (lists and tables nest, a block's
    layers too), each layer table with every key its type takes, ``None`` for one left out unset
    (a regularizer): what an experiment's variant may set (``"model.layers[-2].kernel_regularizer"``)."""
    if isinstance(node, list):
        return [with_every_key(n) for n in node]
    if not isinstance(node, Mapping):
        return node
    out = {k: with_every_key(v) for k, v in node.items()}
    name = _LAYER_LOOKUP.get(str(out.get("type", "")).strip().lower())
    if name is not None:
        for f in dataclasses.fields(_ALL_TYPES[name]):  # an unset penalty as its factors, so that a grid
            out.setdefault(f.name, Regularizer().to_dict() if f.name.endswith("_regularizer") else None)  # may set .l2
    return out


def _is_zeros(value: Any) -> bool:
    """Whether ``value`` names Keras's ``Zeros`` initializer: ``"zeros"`` (any case) or its saved form."""
    if isinstance(value, Mapping):
        value = value.get("class_name") if not (value.get("config") or {}) else None
    return isinstance(value, str) and value.strip().lower() == "zeros"


def _default_written(name: str, biased: bool, key: str, value: Any, where: str, path: tuple[str | int, ...]) -> bool:
    """Whether ``key`` of a layer of type ``name`` (``biased``: it has a bias) is a Keras argument written
    at the only value mnistlab builds: ``bias_initializer = "zeros"`` (helper-130; every layer with a bias,
    helper-257), a convolution's ``dilation_rate = 1`` and Conv2D's ``groups = 1`` (helper-257: a Keras JSON
    took them, a spec said "unknown key"). SpecError (one line) for another value of those two."""
    if key == "bias_initializer" and biased and _is_zeros(value):
        return True
    if key in ("dilation_rate", "groups") and name in _CONVOLUTIONS and (key == "dilation_rate" or name == "Conv2D"):
        if value in (1, [1, 1], (1, 1)) and not isinstance(value, bool):
            return True
        written = value if isinstance(value, (int, float, list, tuple)) else show(value)
        raise SpecError(f"{where}: {key} = {clip(written, 30)} is a setting mnistlab does not build (only 1)",
                        path=(*path, key))
    return False


def _layout_written(name: str, key: str, value: Any, where: str, path: tuple[str | int, ...]) -> bool:
    """Whether ``key`` of a layer of type ``name`` is Keras's word for the only layout mnistlab builds,
    channels last: ``data_format = "channels_last"`` (helper-125) or BatchNormalization's ``axis`` of -1
    or 3, as keras.applications write it (helper-222); a noise layer's ``seed``, which a Keras JSON holds
    too (the run's seed draws its noise). SpecError (one line, at the key) for another layout or a seed
    that is no whole number; False for any other key."""
    if key == "data_format" and name in _DATA_FORMAT_TAKERS:
        if not isinstance(value, str) or value.lower() != "channels_last":  # Keras lowercases it too
            raise SpecError(f"{where}: data_format = {show(value)}: mnistlab's layers take images channels last "
                            '(H, W, C), Keras\'s default "channels_last"', path=(*path, "data_format"))
        return True
    if key == "axis" and name == "BatchNormalization":
        if isinstance(value, bool) or value not in (-1, 3):
            raise SpecError(f"{where}: axis = {show(value)}: mnistlab normalizes the channels, the last axis "
                            "(channels last): axis = -1, or 3 for images (H, W, C); after a Dense layer -1",
                            path=(*path, "axis"))
        return True
    if key == "seed" and name in ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
            raise SpecError(f"{where}: seed = {show(value)}: Keras's noise seed is a whole number from 0 (or null)",
                            path=(*path, "seed"))
        if value is not None:  # (helper-262: taken unsaid; a Keras JSON's is null unless set)
            warnings.warn(SpecWarning(f"{where}: seed = {value}: the run's seed draws this layer's noise (Keras's "
                                      "per-layer seed is not kept; train.seed fixes every draw)"), stacklevel=user_level())
        return True  # as in a Keras JSON: a run's seed draws the layer's noise (Keras's own stream is not drawn)
    return False


def layer_from_dict(d: Any, *, where: str = "layer", path: Sequence[str | int] = ()) -> LayerSpec:
    """Build one layer from `{"type": "Dense", "units": 128, ...}` (or a bare name like "Flatten"; a
    layer object such as ``Conv2D(8, 3)`` is taken as it is).

    A bad layer raises a one-line SpecError starting with ``where``; its path starts with ``path``
    (the layer's place in the spec, e.g. ``("layers", 2)``).
    """
    path = tuple(path)
    if isinstance(d, LayerSpec):  # Conv2D(8, 3) itself, as a Keras list of layers holds (helper-237: refused)
        return d
    if isinstance(d, str):
        d = {"type": d}
    if not isinstance(d, Mapping):
        raise SpecError(f"{where}: a layer must be a table like {{type = \"Dense\", units = 10}}, got {show(d)}",
                        path=path)
    kind = d.get("type")
    if not isinstance(kind, str):
        raise SpecError(f"{where}: missing 'type' (one of {', '.join(_ALL_TYPES)})" if kind is None
                        else f"{where}: 'type' must be a string, got {show(kind)}", path=(*path, "type"))
    name = _LAYER_LOOKUP.get(kind.strip().lower())
    if name is None and kind.strip().lower() in ("input", "inputlayer"):  # keras.Input(shape=...), Keras's first layer
        raise SpecError(f'{where}: "{clip(kind)}" is not a layer here: the input is the model\'s input_shape, '
                        "beside its layers (model = { input_shape = [28, 28, 1], layers = [...] })", path=(*path, "type"))
    if name is None and (keras_name := _KERAS_ACTIVATION_LAYERS.get(kind.strip().lower())):  # as Keras's JSON reads it
        try:
            d, name = activation_layer(keras_name, {k: v for k, v in d.items() if k != "type"}, where), "Activation"
        except SpecError as exc:
            raise exc.within(*path) from None
    if name is None and (instead := KERAS_LAYERS_ELSEWHERE.get(kind.strip().lower())):
        raise SpecError(f'{where}: "{clip(kind)}" is not a layer here: {instead}', path=(*path, "type"))
    if name is None and (keras := _KERAS_3_LOOKUP.get(kind.strip().lower())):  # no namesake offered: a
        raise SpecError(f"{where}: {not_built(keras, d)}; choose from {', '.join(_ALL_TYPES)}",  # SpatialDropout2D
                        path=(*path, "type"))  # is no Dropout
    if name is None:
        raise SpecError(f'{where}: unknown layer type "{clip(kind)}"{did_you_mean(kind, _ALL_TYPES)}; '
                        f"choose from {', '.join(_ALL_TYPES)}", path=(*path, "type"))
    cls = _ALL_TYPES[name]
    where = f"{where} ({name})"
    fields = {f.name: f for f in dataclasses.fields(cls)}
    args = {}
    for key, value in d.items():
        if key == "type":
            continue
        if _default_written(name, "use_bias" in fields, key, value, where, path):
            continue  # Keras's default, the only one built: written or not, the same layer (helper-130)
        if _layout_written(name, key, value, where, path):
            continue  # the only layout built: written or not, the same layer (and the same run)
        if key not in fields:
            raise _unknown_spec_key(key, list(fields), where=where, path=path)
        args[key] = value
    missing = [n for n, f in fields.items() if n not in args and f.default is dataclasses.MISSING]
    if missing:
        hint = _MISSING_HINTS.get((name, missing[0]), "")
        raise SpecError(f"{where}: missing {', '.join(repr(m) for m in missing)}{hint}", path=path)
    try:
        return cls(**args)
    except SpecError as exc:
        raise exc.within(*path, message=f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# The model spec.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """A model: `input_shape` (H, W, C like Keras; (28, 28) means one channel) and layers, applied in
    order (a Residual or ResidualBlock layer holds its own small graph; see `keras_graph`).

    Construction validates everything, including the shapes flowing through the stack, so any
    `ModelSpec` that exists can be built. Use `shapes()` for each layer's output shape.
    """

    layers: tuple[LayerSpec, ...]
    input_shape: tuple[int, int, int] = (28, 28, 1)
    name: str | None = None

    def __post_init__(self) -> None:
        _set(self, "input_shape", _input_shape(self.input_shape))
        if self.name is not None and not isinstance(self.name, str):
            raise SpecError(f"name must be a string, got {show(self.name)}", path=("name",))
        if self.name is not None and unprintable(self.name):  # helper-149: a
            raise SpecError(f"name must be without control characters; got {show(self.name)}",  # newline forged a
                            path=("name",))  # second `Model: "..."` line in the summary, and split `runs`' rows
        if not isinstance(self.layers, (list, tuple)):
            raise SpecError(f"layers must be a list, got {show(self.layers)}", path=("layers",))
        layers = tuple(self.layers)
        if not layers:
            raise SpecError("a model needs at least one layer (e.g. Flatten, then Dense with softmax)", path=("layers",))
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"too many layers ({len(layers)}; at most {MAX_LAYERS})", path=("layers",))
        for i, layer in enumerate(layers):
            if not isinstance(layer, LayerSpec):
                raise SpecError(f"layers[{i}] must be a layer spec, got {show(layer)}", path=("layers", i))
            if not isinstance(layer.trainable, bool):
                raise SpecError(f"layers[{i}] ({layer.type}): trainable must be true or false, got {show(layer.trainable)}",
                                path=("layers", i, "trainable"))
            if i and isinstance(layer, Normalization) and layer.needs_adapt:
                raise SpecError(f"layers[{i}] (Normalization): without mean and variance it must be the first layer "
                                "(a run adapts it from the training images); give mean and variance to use it here",
                                path=("layers", i))
        _set(self, "layers", layers)
        self.shapes()  # raises on any impossible shape; cheap enough to do once here
        _check_names(self)
        counts = [sum(layer.params(s)) for layer, s in zip(self.layers, self._input_shapes())]
        if not any(layer.trainable for layer, n in zip(self.layers, counts) if n):
            raise SpecError("every layer with weights has trainable = false: nothing would train (leave the output "
                            "layer trainable, at least)", path=("layers",))
        if (total := sum(counts)) > MAX_PARAMS:  # the layer that holds most of them named (helper-125)
            big = max(range(len(counts)), key=counts.__getitem__)
            raise SpecError(f"model has {total:,} parameters, more than the limit of {MAX_PARAMS:,}: layers[{big}] "
                            f"({self.layers[big].type}) holds {counts[big]:,} of them", path=("layers", big))

    def shapes(self) -> list[Shape]:
        """Output shape of every layer (Keras order, no batch axis)."""
        shape: Shape = self.input_shape
        out = []
        for i, layer in enumerate(self.layers):
            try:
                if layer.wants_map:
                    _need_map(shape, _MAP_WORDS.get(layer.type, layer.type))
                shape = layer.output_shape(shape)
            except SpecError as exc:
                raise SpecError(f"layers[{i}] ({layer.type}): {exc}", path=("layers", i)) from None
            out.append(shape)
        if len(shape) != 1:
            raise SpecError(f"the model ends with a {_fmt_shape(shape)} feature map; a classifier must end "
                            "with a vector: add Flatten and a Dense output layer")
        return out

    def _input_shapes(self) -> list[Shape]:
        return [self.input_shape, *self.shapes()[:-1]]

    @property
    def num_classes(self) -> int:
        """Width of the output vector (the number of classes the model predicts)."""
        return self.shapes()[-1][0]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-safe data; `ModelSpec.from_dict(spec.to_dict()) == spec`."""
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        out["input_shape"] = list(self.input_shape)
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """The full form: `{"input_shape": [28, 28, 1], "layers": [{"type": ..., ...}, ...]}`."""
        if not isinstance(d, Mapping):
            raise SpecError(f"a model spec must be a table, got {show(d)}")
        _reject_unknown(d, ("name", "input_shape", "layers"), "model spec")
        layers = d.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise SpecError("model spec: 'layers' must be a list of layer tables" if layers is not None
                            else "model spec: missing 'layers'", path=("layers",))
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"too many layers ({len(layers)}; at most {MAX_LAYERS})", path=("layers",))
        built = tuple(layer_from_dict(x, where=f"layers[{i}]", path=("layers", i)) for i, x in enumerate(layers))
        kwargs = {k: d[k] for k in ("name", "input_shape") if k in d}
        return cls(layers=built, **kwargs)


# ---------------------------------------------------------------------------------------------
# The Keras graph a spec stands for: one node per Keras layer, blocks expanded.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KerasNode:
    """One Keras layer of the model: its auto-name, class, inputs and output shape."""

    name: str                       # the layer's name=, else Keras's auto-name in a fresh session: conv2d_3, add_1
    type: str                       # the Keras class: Conv2D, Add, InputLayer, ...
    inputs: tuple[int, ...]         # indices (in the graph) of the nodes it reads; Add reads two
    shape: Shape                    # output shape, no batch axis
    layer: LayerSpec | None         # the plain layer spec (None for InputLayer and Add)
    owner: int                      # index in spec.layers of the layer it comes from (-1: the input)
    params: tuple[int, int] = (0, 0)  # (trainable, non-trainable), as Keras counts them
    macs: int = 0
    module: str = ""                # the PyTorch module's name: the auto-name counting every layer, named or not


def keras_graph(spec: ModelSpec) -> tuple[KerasNode, ...]:
    """The Keras layers of `spec`, in creation order, node 0 being the input.

    Blocks are expanded (`ResidualBlock.expand`, then a Residual's branch, shortcut, Add and
    Activation, in that order), and every layer gets its ``name`` or the name Keras's auto-naming
    gives it when layers are created in that order in a fresh session
    (`keras/src/utils/naming.py`: a count per class, of the layers created without a name). Its
    ``module`` (the PyTorch module's name) counts every layer, named or not, so that names never
    change a model's weights' keys. A sequential spec gives one node per layer.
    """
    nodes: list[KerasNode] = [KerasNode("input_layer", "InputLayer", (), spec.input_shape, None, -1,
                                        module="input_layer")]
    keras_seen: dict[str, int] = {}
    module_seen: dict[str, int] = {}

    def count(seen: dict[str, int], base: str) -> str:
        n = seen.get(base, 0)
        seen[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def add(kind: str, keras_name: str, inputs: tuple[int, ...], layer: LayerSpec | None, owner: int) -> int:
        given = layer.name if layer is not None else None
        written = layer.keras_class if isinstance(layer, Activation) else None  # a ReLU layer: "re_lu (ReLU)"
        name = given if given is not None else count(keras_seen, ACTIVATION_LAYER_NAMES[written] if written else keras_name)
        source = nodes[inputs[0]].shape
        shape, params, macs = (source, (0, 0), 0) if layer is None else (
            layer.output_shape(source), layer.params(source), layer.macs(source))
        if not spec.layers[owner].trainable:  # a frozen layer's (a frozen block's) weights: all non-trainable, as Keras
            params = (0, sum(params))
        nodes.append(KerasNode(name, written or kind, inputs, shape, layer, owner, params, macs,
                               count(module_seen, keras_name)))
        return len(nodes) - 1

    def plain(layer: LayerSpec, at: int, owner: int) -> int:
        if isinstance(layer, ResidualBlock):
            for sub in layer.expand(nodes[at].shape):
                at = plain(sub, at, owner)
            return at
        if isinstance(layer, Residual):
            branch = shortcut = at
            for sub in layer.branch:
                branch = plain(sub, branch, owner)
            for sub in layer.shortcut:
                shortcut = plain(sub, shortcut, owner)
            at = add("Add", "add", (branch, shortcut), None, owner)
            return at if layer.activation == "linear" else plain(Activation(layer.activation), at, owner)
        return add(layer.type, layer.keras_name, (at,), layer, owner)

    at = 0
    for i, layer in enumerate(spec.layers):
        at = plain(layer, at, i)
    return tuple(nodes)


def unprintable(name: str) -> bool:
    """Whether a layer's or model's ``name`` holds a character a terminal would act on rather than
    show: Unicode's control and format characters (category C: a newline, an escape, a right-to-left
    override) and line or paragraph separators (Zl, Zp; helper-152: U+2028 broke the summary's line)."""
    return any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in name)


def _check_names(spec: ModelSpec) -> None:
    """SpecError for a layer ``name`` Keras refuses (not a string, empty, with a "/"), one on a block
    (a Residual is no one Keras layer: its layers take names), and two layers of one name, given or
    Keras's auto-name (Keras: "The name ... is used 2 times in the model. All operation names
    should be unique"); each at the layer whose name was given (blocks' layers: at the block)."""
    for i, layer in enumerate(spec.layers):
        if type(layer).__name__ in BLOCK_TYPES and layer.name is not None:
            how = ("name the layers of its branch and shortcut" if isinstance(layer, Residual) else
                   "its layers take Keras's auto-names (a Residual of layers of your own takes names)")
            raise SpecError(f"layers[{i}] ({layer.type}): name: a {layer.type} is no one Keras layer but several; "
                            f"{how}", path=("layers", i, "name"))
    first: dict[str, KerasNode] = {}
    for node in keras_graph(spec):
        given = node.layer.name if node.layer is not None else None
        if given is not None and (not isinstance(given, str) or not given or "/" in given or unprintable(given)):
            at, path = _node_at(spec, node)
            raise SpecError(f"{at}: name must be a string without \"/\" (as Keras asks), not empty and without "
                            f"control characters; got {show(given)}", path=path)
        if (other := first.setdefault(node.name, node)) is node:
            continue
        named, auto = (node, other) if given is not None else (other, node)  # one of them was given its name
        whose = ("its name too" if auto.layer is not None and auto.layer.name is not None
                 else "Keras's own name for it, unnamed")
        (at, path), (theirs, _) = _node_at(spec, named), _node_at(spec, auto)
        raise SpecError(f'{at}: name "{clip(node.name, 40)}" is {theirs}\'s ({whose}): a model\'s layer names must '
                        "be unique, as Keras asks; name it otherwise", path=path)


def _node_at(spec: ModelSpec, node: KerasNode) -> tuple[str, tuple[str | int, ...]]:
    """Where a Keras layer of ``spec`` is, as errors say it, and the path of its ``name``:
    ``layers[2] (Dense)``, ``layers[1] (Residual) branch[0] (Conv2D)`` (helper-136: a branch
    layer's was said to be the block's), "the input"."""
    if node.owner < 0:
        return "the input", ("input_shape",)
    owner = spec.layers[node.owner]
    at, path = f"layers[{node.owner}] ({getattr(owner, 'keras_class', None) or owner.type})", ("layers", node.owner)
    if isinstance(owner, Residual) and node.layer is not None:
        for part in ("branch", "shortcut"):
            for j, sub in enumerate(getattr(owner, part)):
                if sub is node.layer:
                    return f"{at} {part}[{j}] ({node.type})", (*path, part, j, "name")
    return at, (*path, "name")


def keras_order(nodes: Sequence[KerasNode]) -> list[int]:
    """The order Keras 3's functional summary lists the nodes in (`keras/src/ops/function.py`,
    `map_graph`): by decreasing depth (the longest path to the output), ties broken by the order a
    depth-first walk from the output, inputs in order, first reaches them."""
    first: dict[int, int] = {}
    depth = {len(nodes) - 1: 0}
    stack = [len(nodes) - 1]
    while stack:  # pre-order walk from the output, each node's inputs in order
        i = stack.pop()
        if i in first:
            continue
        first[i] = len(first)
        stack.extend(reversed(nodes[i].inputs))
    for i in range(len(nodes) - 1, -1, -1):  # creation order is topological: outputs come after inputs
        for j in nodes[i].inputs:
            depth[j] = max(depth.get(j, 0), depth.get(i, 0) + 1)
    return sorted(first, key=lambda i: (-depth[i], first[i]))


def is_functional(spec: ModelSpec) -> bool:
    """True when the spec needs Keras's functional API (it holds a block); False for a Sequential."""
    return any(type(layer).__name__ in BLOCK_TYPES for layer in spec.layers)


def _input_shape(v: Any) -> tuple[int, int, int]:
    if isinstance(v, (list, tuple)) and len(v) == 1 and _is_int(v[0]) and (side := math.isqrt(max(v[0], 0))) > 1 \
            and side * side == v[0]:  # Keras's Input((784,)) of the notebooks' x.reshape(-1, 784)
        raise SpecError(f"input_shape {list(v)} is a flat image: a model's input is the image, [{side}, {side}, 1] (the "
                        "default for MNIST), and a Flatten first makes it flat for a Dense", path=("input_shape",))
    if isinstance(v, (list, tuple)) and len(v) == 4 and (v[0] is None or v[0] == 1) and all(_is_int(x) for x in v[1:]):
        raise SpecError(f"input_shape {json.dumps(list(v))}: its first is the batch, which a model's input_shape leaves out, as "
                        f"Keras's does: {list(v[1:])}", path=("input_shape",))  # (helper-262: Keras's batch_shape)
    if not isinstance(v, (list, tuple)) or len(v) not in (2, 3) or not all(_is_int(x) for x in v):
        raise SpecError(f"input_shape must be [height, width] or [height, width, channels], got {show(v)}",
                        path=("input_shape",))
    h, w, c = (int(x) for x in ((*v, 1) if len(v) == 2 else v))  # (NumPy integers as ints: a spec is JSON)
    if min(h, w, c) < 1 or max(h, w) > MAX_INPUT_SIDE or c > 4096:
        raise SpecError(f"input_shape {list(v)} is out of range (sides 1..{MAX_INPUT_SIDE}, channels 1..4096)",
                        path=("input_shape",))
    if len(v) == 3 and h in (1, 3) and w == c > 4:  # PyTorch's (C, H, W) (helper-259: said as a 3x3 window too large
        raise SpecError(f"input_shape {list(v)} reads channels first, as PyTorch writes it: a model's input is channels "
                        f"last, as Keras's default is, [{w}, {c}, {h}]", path=("input_shape",))  # for a 1x28 map)
    return (h, w, c)


def _unknown_spec_key(key: Any, allowed: Sequence[str], *, where: str, path: tuple[str | int, ...] = ()) -> SpecError:
    # Spec errors quote keys as Python does ('unit'); config and experiment errors as TOML does.
    return unknown_key(key, allowed, where=where, path=path, quote="'", listing="allowed", clip_at=40)


def _reject_unknown(d: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in d:
        if key not in allowed:
            raise _unknown_spec_key(key, allowed, where=where)


# ---------------------------------------------------------------------------------------------
# Compact forms.
# ---------------------------------------------------------------------------------------------
def compact_spec(conv: Sequence[int] = (), pool: Sequence[bool] | None = None, dense: Sequence[int] = (128,),
                 *, kernel_size: int | Sequence[int] = 3, padding: str = "valid", activation: str = "relu",
                 dropout: float = 0.0, outputs: int = 10, output_activation: str = "softmax",
                 kernel_initializer: str = "glorot_uniform", input_shape: Sequence[int] = (28, 28, 1),
                 name: str | None = None) -> ModelSpec:
    """Seed 000's helper: conv filter counts, "pool after this conv" flags, hidden dense widths.

    `dense` lists the HIDDEN widths; the output layer (`outputs` units, softmax) is added for you.
    `pool` defaults to pooling after every conv. `dropout` > 0 adds Dropout after each hidden Dense.

    >>> compact_spec([64, 64], [True, True], [128]).num_classes
    10
    """
    conv = _int_list("conv", conv)
    dense = _int_list("dense", dense)
    if dense and dense[-1] == outputs:
        # seed 000's own helper listed the output width too; here it would add a second output layer
        warnings.warn(f"compact spec: 'dense' lists the HIDDEN widths only and the {outputs}-unit output layer "
                      f"is added for you, so dense = {dense} ends with two {outputs}-unit layers; "
                      f"drop the last {outputs} if that is not what you meant", SpecWarning, stacklevel=user_level())
    pool = [True] * len(conv) if pool is None else list(pool) if isinstance(pool, (list, tuple)) else pool
    if not isinstance(pool, list) or not all(isinstance(p, bool) for p in pool):
        raise SpecError(f"compact spec: 'pool' must be a list of true/false, got {show(pool)}", path=("pool",))
    if len(pool) != len(conv):
        raise SpecError(f"compact spec: 'pool' has {len(pool)} flags but 'conv' has {len(conv)} layers", path=("pool",))
    layers: list[LayerSpec] = []
    for i, (filters, pooled) in enumerate(zip(conv, pool)):
        layers.append(_in_compact(f"conv[{i}]", Conv2D, {"filters": ("conv", i)}, filters=filters,
                                  kernel_size=kernel_size, padding=padding, activation=activation,
                                  kernel_initializer=kernel_initializer))
        if pooled:
            layers.append(MaxPooling2D((2, 2)))
    layers.append(Flatten())
    for i, units in enumerate(dense):
        layers.append(_in_compact(f"dense[{i}]", Dense, {"units": ("dense", i)}, units=units, activation=activation,
                                  kernel_initializer=kernel_initializer))
        if dropout:
            layers.append(_in_compact("dropout", Dropout, {"rate": ("dropout",)}, rate=dropout))
    layers.append(_in_compact("outputs", Dense, {"units": ("outputs",), "activation": ("output_activation",)},
                              units=outputs, activation=output_activation, kernel_initializer=kernel_initializer))
    return ModelSpec(layers=tuple(layers), input_shape=input_shape, name=name)  # type: ignore[arg-type]  # ModelSpec normalises input_shape


def builder_spec(filters: int = 32, additional_convolutions: int = 1, *, dense: int = 128, outputs: int = 10,
                 input_shape: Sequence[int] = (28, 28, 1), name: str | None = None) -> ModelSpec:
    """Seed 001's builder: Conv(filters, 3x3, relu) + MaxPool, then `additional_convolutions` more
    of the same, Flatten, Dense(dense, relu), Dense(outputs, softmax). Defaults: 113,386 params."""
    if not _is_int(additional_convolutions) or additional_convolutions < 0:
        raise SpecError(f"additional_convolutions must be an integer >= 0, got {show(additional_convolutions)}",
                        path=("additional_convolutions",))
    if additional_convolutions > 16:
        raise SpecError(f"additional_convolutions = {additional_convolutions} is too many (at most 16)",
                        path=("additional_convolutions",))
    try:
        return compact_spec([filters] * (1 + additional_convolutions), None, [dense], outputs=outputs,
                            input_shape=input_shape, name=name)
    except SpecError as exc:  # the message speaks of the compact form it builds; the path names the builder's key
        key = {"conv": "filters", "dense": "dense"}.get(str(exc.path[0])) if exc.path else None
        raise SpecError(str(exc), path=(key,) if key else exc.path) from None


def _int_list(name: str, v: Any) -> list[int]:
    if not isinstance(v, (list, tuple)):
        raise SpecError(f"compact spec: '{name}' must be a list of integers, got {show(v)}", path=(name,))
    if len(v) > MAX_LAYERS:
        raise SpecError(f"compact spec: '{name}' has too many entries ({len(v)})", path=(name,))
    return [_pos_or_error(name, i, x) for i, x in enumerate(v)]


def _pos_or_error(name: str, i: int, x: Any) -> int:
    try:
        return _pos_int("size", x)
    except SpecError as exc:
        raise SpecError(f"compact spec: {name}[{i}]: {exc}", path=(name, i)) from None


def _in_compact(where: str, cls: type[LayerSpec], keys: Mapping[str, tuple[str | int, ...]], **kwargs: Any) -> LayerSpec:
    """``cls(**kwargs)``; an error names the compact layer (``where``), its path the compact form's key:
    ``keys`` maps the layer's fields to it where they differ (Conv2D's filters come from ``conv[i]``)."""
    try:
        return cls(**kwargs)
    except SpecError as exc:
        field = str(exc.path[0]) if exc.path else ""
        raise SpecError(f"compact spec: {where}: {exc}", path=keys.get(field, exc.path)) from None


COMPACT_KEYS = ("conv", "pool", "dense", "kernel_size", "padding", "activation", "dropout", "outputs",
                 "output_activation", "kernel_initializer", "input_shape", "name")
BUILDER_KEYS = ("filters", "additional_convolutions", "dense", "outputs", "input_shape", "name")


def parse_model_spec(obj: Mapping[str, Any] | Sequence[Any] | ModelSpec) -> ModelSpec:
    """Any accepted written form -> ModelSpec.

    - full form: `{"input_shape": [28, 28, 1], "layers": [{"type": "Dense", "units": 10}, ...]}`
    - a bare list of layer tables (input 28x28x1)
    - compact form (seed 000): `{"conv": [64, 64], "pool": [true, true], "dense": [128]}`
      with optional kernel_size, padding, activation, dropout, outputs, output_activation,
      kernel_initializer (see `compact_spec`)
    - builder form (seed 001): `{"filters": 32, "additional_convolutions": 1}` (see `builder_spec`)
    - a Keras model's JSON, ``model.to_json()`` parsed (see :mod:`mnistlab.keras_json`)
    """
    if isinstance(obj, ModelSpec):
        return obj
    obj = plain_data(obj)  # NumPy numbers of a Python caller's, as a file writes them
    if isinstance(obj, (list, tuple)):
        return ModelSpec.from_dict({"layers": obj})
    if not isinstance(obj, Mapping):
        twice = isinstance(obj, str) and obj.lstrip().startswith("{") and '"class_name"' in obj  # helper-259
        raise SpecError(f"a model spec must be a table or a list of layers, got {show(obj)}" + (
            " (a JSON text inside JSON: json.dump(model.to_json(), f) writes it so; write the text itself, "
            "f.write(model.to_json()))" if twice else ""))
    if "layers" in obj:
        return ModelSpec.from_dict(obj)
    if "conv" in obj or ("dense" in obj and "filters" not in obj and "additional_convolutions" not in obj):
        _reject_unknown(obj, COMPACT_KEYS, "compact model spec")
        return compact_spec(**{k: obj[k] for k in obj})
    if "filters" in obj or "additional_convolutions" in obj:
        _reject_unknown(obj, BUILDER_KEYS, "builder model spec")
        return builder_spec(**{k: obj[k] for k in obj})
    if is_keras_json(obj):  # keras.Model.to_json(): its layers in mnistlab's words, checked as any spec
        table, labels = read_keras_json(obj)
        try:
            return ModelSpec.from_dict(table)
        except SpecError as exc:  # a shape or the size, found once read: the layer as the JSON numbers and names it
            raise placed(exc, labels) from None
    keys = ", ".join(repr(str(k)) for k in list(obj)[:5]) or "nothing"
    if isinstance(obj.get("model"), Mapping):  # a run's config, or [model] around a spec
        run = {"dataset", "train", "data", "augment", "callbacks"} & set(obj)
        raise SpecError(f"model spec has {keys}: " + ("a run's config (train --config reads it), whose [model] table is "
                                                      "the model" if run else "a model spec file writes the model's "
                                                      "keys at its top (layers = [...]), not in a [model] table"))
    raise SpecError(f"model spec has {keys}: expected 'layers' (full form), 'conv'/'dense' (compact form) "
                    "or 'filters'/'additional_convolutions' (seed 001 builder form)")


# ---------------------------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------------------------
MAX_SPEC_FILE_BYTES = 4 << 20


def is_model_table(obj: Any) -> bool:
    """Whether parsed TOML or JSON ``obj`` is a model rather than settings: a list of layers, a table of
    ``layers``, or a Keras model's JSON (:func:`~mnistlab.keras_json.is_keras_json`)."""
    return isinstance(obj, list) or isinstance(obj, Mapping) and ("layers" in obj or is_keras_json(obj))


def load_model_spec(path: str | os.PathLike) -> ModelSpec:
    """Read a spec from a .toml or .json file (any form `parse_model_spec` accepts).

    Raises SpecError naming the file and the line the faulty key is written on (``m.toml:7:
    layers[2] (Dense): unknown activation ...``), TOML or JSON, a layer written inline included
    (:func:`~mnistlab._toml.with_line`)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.name.lower().endswith((".weights.h5", ".weights.hdf5")):  # model.save_weights's (helper-262)
        raise SpecError(f"{p}: Keras's weights alone (model.save_weights): mnistlab reads a model's layers from a .keras "
                        "file or model.to_json() saved as a .json file; its own weights start a run with weights=",
                        source=str(p))
    if suffix in (".h5", ".hdf5"):  # helper-259: "must end in .toml or .json" to a user of model.save("m.h5")
        raise SpecError(f"{p}: a Keras HDF5 file (model.save(\"m.h5\")): mnistlab reads a Keras model's layers from a "
                        ".keras file (model.save(\"m.keras\")) or from model.to_json() saved as a .json file", source=str(p))
    if suffix == ".keras":
        return parse_model_spec(_keras_file_config(p))
    if suffix not in (".toml", ".json"):
        raise SpecError(f"{p}: a model spec file must end in .toml or .json (or be a Keras .keras file)", source=str(p))
    text = read_text_file(p, what="a model spec", max_bytes=MAX_SPEC_FILE_BYTES)
    data = loads_toml(text, source=str(p)) if suffix == ".toml" else loads_json(text, source=str(p))
    try:
        return parse_model_spec(data)
    except SpecError as exc:  # with the line its key is written on, as an experiment file's errors
        raise with_line(exc.within(message=f"{p}: {exc}", source=str(p)), str(p), text) from None
    except RecursionError:
        raise SpecError(f"{p}: nested too deeply to be a model spec", source=str(p)) from None


def _keras_file_config(p: Path) -> Any:
    """The model config a Keras 3 ``.keras`` file holds (its ``config.json``: what ``model.to_json()``
    gives), parsed; its weights are not read, and a SpecWarning says so (a run draws its own). SpecError,
    one line, for a file that is missing, no zip, or without a config."""
    import zipfile

    try:
        with zipfile.ZipFile(p) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_SPEC_FILE_BYTES:
                raise SpecError(f"{p}: its config.json is too large for a model ({info.file_size:,} bytes)", source=str(p))
            text = archive.read(info).decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such file", source=str(p)) from None
    except KeyError:
        raise SpecError(f"{p}: a zip without Keras's config.json: not a .keras model file", source=str(p)) from None
    except (zipfile.BadZipFile, OSError, UnicodeError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise SpecError(f"{p}: not a .keras model file Keras wrote ({clip(exc, 80)})", source=str(p)) from None
    data = loads_json(text, source=f"{p}: config.json")
    warnings.warn(SpecWarning(f"{p}: its layers are read (its config.json, as model.to_json() gives it); its weights "
                              "are not: a run draws its own initial weights"), stacklevel=user_level())
    return data


def save_model_spec(spec: ModelSpec, path: str | os.PathLike) -> None:
    """Write the full form to .toml or .json; `load_model_spec(path) == spec`."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".toml":
        text = dumps_toml(spec.to_dict())
    elif suffix == ".json":
        text = json.dumps(spec.to_dict(), indent=2) + "\n"
    else:
        raise SpecError(f"{p}: a model spec file must end in .toml or .json", source=str(p))
    try:
        write_atomic(p, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{p}: cannot write: {exc.strerror or exc}", source=str(p)) from None


# ---------------------------------------------------------------------------------------------
# Coherence warnings: legal specs that are probably not what the user meant.
# ---------------------------------------------------------------------------------------------
def output_activation(spec: ModelSpec) -> tuple[int, str]:
    """(index, name) of the activation that produces the model's output, ignoring trailing Dropout,
    GaussianNoise and GaussianDropout (training-only noise: a folded softmax's is then drawn on the
    logits, where Keras draws it on the probabilities; at inference they are the identity).

    Returns (-1, "linear") when the output is not produced by an activation-bearing layer.
    """
    for i in range(len(spec.layers) - 1, -1, -1):
        layer = spec.layers[i]
        if isinstance(layer, (Dropout, GaussianNoise, GaussianDropout)):
            continue
        if isinstance(layer, (Dense, Conv2D, Activation)):
            return i, layer.activation
        return -1, "linear"
    return -1, "linear"


def spec_warnings(spec: ModelSpec) -> list[str]:
    """One line per incoherent choice, each saying how to fix it (the CLI prints them).

    `build_model` also issues them with `warnings.warn` (category `SpecWarning`).
    """
    out = []
    idx, act = output_activation(spec)
    where = f"layers[{idx}] ({spec.layers[idx].type})" if idx >= 0 else "output"
    if act == "sigmoid":
        out.append(f"{where}: output activation 'sigmoid' with a softmax cross-entropy (seed 003's pairing with "
                   f"from_logits=True): Keras computes that loss on the pre-sigmoid logits, and mnistlab trains "
                   f"on them too; write activation 'softmax' (or 'linear') to say what is meant")
    elif act not in ("softmax", "linear"):
        out.append(f"{where}: output activation '{act}' is fed to a cross-entropy loss that expects logits; "
                   f"use activation 'softmax' (mnistlab trains it on logits) or 'linear'")
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, (Dropout, SpatialDropout2D)) and layer.rate == 1:  # Keras builds it; nothing learns
            out.append(f"layers[{i}] ({layer.type}): rate = 1 zeroes every activation in training, so no layer "
                       "before it learns (Keras builds it too); a rate such as 0.1 to 0.5 is what dropout means")
    if isinstance(spec.layers[-1], Dropout):
        out.append(f"layers[{len(spec.layers) - 1}] (Dropout): dropout after the output layer drops logits; "
                   "move it before the last Dense")
    last_weights = max((i for i, layer in enumerate(spec.layers) if hasattr(layer, "kernel_initializer")), default=-1)
    for i, layer in enumerate(spec.layers):
        if i != idx and getattr(layer, "activation", None) == "softmax":
            out.append(f"layers[{i}] ({layer.type}): softmax on a hidden layer squashes its features; "
                       "use 'relu' there and keep softmax for the output")
        for key in ("kernel_regularizer", "bias_regularizer"):
            if (penalty := getattr(layer, key, None)) is not None and penalty.written == "l1l2":  # zeros in a table:
                out.append(f"layers[{i}] ({layer.type}): {key} penalises nothing (l1 = l2 = 0, as Keras 3's \"l1l2\" gives, "
                           "though its docstring says 0.01 each); write { l1 = 0.01, l2 = 0.01 } for those")  # meant
        init = getattr(layer, "kernel_initializer", None)
        if init in ("zeros", "ones") and i != last_weights:  # (an output layer's units learn apart, each its class's
            # target; helper-151, -153: a logistic regression of zeros was told they "all learn the same thing")
            out.append(f"layers[{i}] ({layer.type}): kernel_initializer '{init}' gives every "
                       "unit the same weights, so they all learn the same thing; use 'glorot_uniform'")
    if spec.num_classes < 2:
        out.append(f"the model outputs {spec.num_classes} value; a classifier needs one output per class")
    return out
