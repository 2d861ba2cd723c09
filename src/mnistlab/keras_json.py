"""A Keras model's JSON (``model.to_json()``) read as an mnistlab model spec.

A Keras user brings the model of a notebook as Keras wrote it::

    open("model.json", "w").write(model.to_json())      # in the notebook (Keras 3, or tf.keras 2)
    mnistlab summary model.json                           # the same layers, shapes and parameter count
    mnistlab train --model model.json --dataset mnist

:func:`read_keras_json` turns the JSON of a ``Sequential`` model, or of a ``Functional`` one whose
layers form one chain (each layer's input is the layer before), into the full form
(``{"input_shape": [...], "layers": [{"type": "Conv2D", ...}, ...]}``) that
:func:`mnistlab.specs.parse_model_spec` then checks as any spec. What it reads, layer by layer, is
what mnistlab builds: Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, MaxPooling2D, AveragePooling2D,
GlobalAveragePooling2D, ZeroPadding2D, Flatten, Dropout, SpatialDropout2D, GaussianNoise, GaussianDropout,
BatchNormalization, Normalization and Activation (and the ReLU, Softmax, ELU and
LeakyReLU layers as Activation, at the settings of mnistlab's activations), with their initialisers (by Keras's class,
``GlorotUniform`` as ``glorot_uniform``) and L1/L2 penalties. A setting mnistlab does not build
(a dilation, groups, a bias initialiser other than zeros, a constraint, channels-first data, a
layer it does not have, a graph with an ``Add``) is refused in one line naming the layer and the
setting, never dropped. Keras's bookkeeping (names, ``trainable``, dtype policies, build configs,
seeds) carries no computation and is left out; a setting a later Keras adds is left out while it
is off (None or false) and refused once set.

A flat input (``Input((784,))``, the notebooks' ``x.reshape(-1, 784)``) of a square number of
pixels is read as the image it was flattened from, 28x28x1, with a ``Flatten`` first: the same
weights and outputs, since Keras's reshape and Flatten both take the pixels row by row; a first
``Reshape((28, 28, 1))`` of it makes that image the input. A first ``Rescaling(1/255)`` is left
out: mnistlab feeds every model its pixels / 255 already.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from mnistlab.errors import SpecError, SpecWarning, clip, user_level

__all__ = ["ACTIVATION_LAYER_NAMES", "ACTIVATION_LAYERS", "activation_layer", "initializer_name", "is_keras_json",
           "placed", "read_keras_json"]

# Keras's bookkeeping in a layer's config: no computation hangs on it.
# (An input shape a tf.keras 2 first layer carries is read as the model's input, before this.)
_BOOKKEEPING = frozenset({"name", "autocast", "seed", "build_config", "synchronized", "batch_shape", "batch_input_shape"})
# Settings every layer has, read apart (_every_layers): trainable (false freezes a layer's weights, and
# runs a BatchNormalization in inference mode: kept for a layer with weights), dtype (a float32
# policy; mixed precision is the run's train.precision).
_FLOAT32 = ("float32", None)
# frozen: kept; a layer without weights: no matter
_HAS_WEIGHTS = frozenset({"Conv2D", "Dense", "BatchNormalization", "DepthwiseConv2D", "SeparableConv2D"})
_NO_DEFAULT = object()
# Per Keras class: the keys mnistlab reads (Keras's name -> mnistlab's), and the keys it does not
# build, each with the values that mean "not used" (Keras's defaults), so that those may stand.
_OFF_INIT = ({"class_name": "Zeros"}, "zeros")
_READS: dict[str, tuple[dict[str, str], dict[str, tuple[Any, ...]]]] = {
    "Conv2D": ({"filters": "filters", "kernel_size": "kernel_size", "strides": "strides", "padding": "padding",
                "activation": "activation", "use_bias": "use_bias", "kernel_initializer": "kernel_initializer",
                "kernel_regularizer": "kernel_regularizer", "bias_regularizer": "bias_regularizer"},
               {"data_format": ("channels_last",), "dilation_rate": ([1, 1], 1), "groups": (1,),
                "bias_initializer": _OFF_INIT}),
    "Dense": ({"units": "units", "activation": "activation", "use_bias": "use_bias",
               "kernel_initializer": "kernel_initializer", "kernel_regularizer": "kernel_regularizer",
               "bias_regularizer": "bias_regularizer"},
              {"bias_initializer": _OFF_INIT}),
    "DepthwiseConv2D": ({"kernel_size": "kernel_size", "strides": "strides", "padding": "padding",
                         "depth_multiplier": "depth_multiplier", "activation": "activation", "use_bias": "use_bias",
                         "depthwise_initializer": "depthwise_initializer",
                         "depthwise_regularizer": "depthwise_regularizer", "bias_regularizer": "bias_regularizer"},
                        {"data_format": ("channels_last",), "dilation_rate": ([1, 1], 1), "bias_initializer": _OFF_INIT}),
    "SeparableConv2D": ({"filters": "filters", "kernel_size": "kernel_size", "strides": "strides", "padding": "padding",
                         "depth_multiplier": "depth_multiplier", "activation": "activation", "use_bias": "use_bias",
                         "depthwise_initializer": "depthwise_initializer", "pointwise_initializer": "pointwise_initializer",
                         "depthwise_regularizer": "depthwise_regularizer",
                         "pointwise_regularizer": "pointwise_regularizer", "bias_regularizer": "bias_regularizer"},
                        {"data_format": ("channels_last",), "dilation_rate": ([1, 1], 1), "bias_initializer": _OFF_INIT}),
    "MaxPooling2D": ({"pool_size": "pool_size", "strides": "strides", "padding": "padding"},
                     {"data_format": ("channels_last",)}),
    "AveragePooling2D": ({"pool_size": "pool_size", "strides": "strides", "padding": "padding"},
                         {"data_format": ("channels_last",)}),
    "GlobalAveragePooling2D": ({}, {"data_format": ("channels_last",), "keepdims": (False,)}),
    "Flatten": ({}, {"data_format": ("channels_last",)}),
    "Dropout": ({"rate": "rate"}, {}),
    "SpatialDropout2D": ({"rate": "rate"}, {"data_format": ("channels_last",)}),
    "GaussianNoise": ({"stddev": "stddev"}, {}),
    "GaussianDropout": ({"rate": "rate"}, {}),
    "ZeroPadding2D": ({"padding": "padding"}, {"data_format": ("channels_last",)}),
    "BatchNormalization": ({"momentum": "momentum", "epsilon": "epsilon"},
                           {"center": (True,), "scale": (True,), "renorm": (False,),
                            "renorm_momentum": (0.99,), "beta_initializer": _OFF_INIT,
                            "gamma_initializer": ({"class_name": "Ones"}, "ones"),
                            "moving_mean_initializer": _OFF_INIT,
                            "moving_variance_initializer": ({"class_name": "Ones"}, "ones")}),
    "Activation": ({"activation": "activation"}, {}),
    "Normalization": ({"mean": "mean", "variance": "variance"}, {"axis": (-1, [-1]), "invert": (False,)}),
}
# Keras's activation layers with their default settings: mnistlab's Activation layer (LeakyReLU takes
# any negative_slope, 0.3 unless given as Keras's layer; the leaky_relu activation's is 0.2).
ACTIVATION_LAYERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ReLU": ("relu", {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}),
    "Softmax": ("softmax", {"axis": -1}),
    "LeakyReLU": ("leaky_relu", {}),
    "ELU": ("elu", {"alpha": 1.0}),
}
KERAS_LEAKY_SLOPE = 0.3  # keras.layers.LeakyReLU's default negative_slope (tf.keras 2's alpha: 0.3 too)
# keras.layers' Layer classes in Keras 3.15.1 (those mnistlab builds among them): a type of these
# mnistlab does not build is said to be one, not "did you mean" a namesake of another meaning
# (helper-155: SpatialDropout2D was offered Dropout, LayerNormalization Normalization)
KERAS_3_LAYERS = frozenset("""
Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D AdaptiveAveragePooling3D
AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add AdditiveAttention AlphaDropout Attention AugMix
AutoContrast Average AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
BatchNormalization Bidirectional CategoryEncoding CenterCrop Concatenate
ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D Conv2DTranspose Conv3D Conv3DTranspose
ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose Convolution2D Convolution2DTranspose
Convolution3D Convolution3DTranspose Cropping1D Cropping2D Cropping3D CutMix Dense DepthwiseConv1D DepthwiseConv2D
Discretization Dot Dropout ELU EinsumDense Embedding Equalization Flatten FlaxLayer GRU GRUCell GaussianDropout
GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D
GlobalAvgPool3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D
GlobalMaxPooling3D GroupNormalization GroupQueryAttention HashedCrossing Hashing Identity InputLayer IntegerLookup
JaxLayer LSTM LSTMCell Lambda Layer LayerNormalization LeakyReLU Masking MaxNumBoundingBoxes MaxPool1D MaxPool2D
MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D Maximum MelSpectrogram Minimum MixUp MultiHeadAttention Multiply
Normalization PReLU Permute Pipeline RMSNormalization RNN RandAugment RandomBrightness RandomColorDegeneration
RandomColorJitter RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur
RandomGrayscale RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation RandomSaturation
RandomSharpness RandomShear RandomTranslation RandomZoom ReLU RepeatVector Rescaling Reshape Resizing
ReversibleEmbedding STFTSpectrogram SeparableConv1D SeparableConv2D SeparableConvolution1D SeparableConvolution2D
SimpleRNN SimpleRNNCell Softmax Solarization SpatialDropout1D SpatialDropout2D SpatialDropout3D SpectralNormalization
StackedRNNCells StringLookup Subtract TFSMLayer TextVectorization TimeDistributed TorchModuleWrapper UnitNormalization
UpSampling1D UpSampling2D UpSampling3D Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D
""".split())
# The auto-name Keras gives each (keras/src/utils/naming.py: the class in snake case)
ACTIVATION_LAYER_NAMES = {"ReLU": "re_lu", "Softmax": "softmax", "LeakyReLU": "leaky_re_lu", "ELU": "elu"}
# Keras's names of the same layers (tf.keras 2 and Keras 3 aliases)
_ALIASES = {"Convolution2D": "Conv2D", "MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D",
            "GlobalAvgPool2D": "GlobalAveragePooling2D"}
# Keras's initializer classes and the settings mnistlab's namesakes have (keras.initializers' defaults)
_INITIALIZERS: dict[str, dict[str, Any]] = {
    "GlorotUniform": {}, "GlorotNormal": {}, "HeNormal": {}, "HeUniform": {}, "LecunNormal": {},
    "RandomNormal": {"mean": 0.0, "stddev": 0.05}, "RandomUniform": {"minval": -0.05, "maxval": 0.05},
    "Zeros": {}, "Ones": {}, "Orthogonal": {"gain": 1.0},
}
_INITIALIZER_BOOKKEEPING = frozenset({"seed"})
_INITIALIZER_UNSET = frozenset({"input_axes", "output_axes"})  # Keras 3.15's fan axes: None is the default


def is_keras_json(obj: Any) -> bool:
    """Whether ``obj`` (parsed JSON) is a Keras model's JSON: a ``class_name`` and a ``config``."""
    return isinstance(obj, Mapping) and "class_name" in obj and "config" in obj


def read_keras_json(obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Keras model's JSON (``keras.Model.to_json()``, parsed; Keras 3 or tf.keras 2) as mnistlab's
    full-form spec dict, ``{"name", "input_shape": [H, W, C], "layers": [...]}``.

    Raises SpecError, one line naming the Keras layer (``layers[2] "conv2d_1" (Conv2D): ...``), for a
    model class other than Sequential or a one-chain Functional, a layer mnistlab does not build, a
    setting it does not build, and an input that is not an image (H, W, C) or a flat square one.
    Returns the table and each of its layers' name as the JSON numbers and names it (``layers[3]
    "dense"``), for :func:`placed`.
    """
    kind = obj.get("class_name")
    config = obj.get("config")
    if kind == "Sequential" and isinstance(config, list):  # Keras 1 and Keras 2.0-2.1 wrote the layers as the config
        version = f" {obj['keras_version']}" if isinstance(obj.get("keras_version"), str) else ""
        raise SpecError(f"a Keras{version} model's JSON in the old format (its config is the list of layers): save it "
                        "again with Keras 3 or tf.keras 2 (model.to_json()), whose format is read")
    if kind in ("Sequential", "Functional", "Model") and not isinstance(config, Mapping):  # helper-126: "only a Sequential"
        raise SpecError(f"a Keras {kind} model's JSON whose config is {_json(config, 30)}, not the table of its layers "
                        "(a file cut or edited?): save it again with model.to_json()")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(config, Mapping):
        raise SpecError(f"a Keras model's JSON of class {_json(kind)}: only a Sequential model, or a Functional one "
                        "whose layers form one chain, is read")
    layers = config.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, Mapping) for layer in layers):
        raise SpecError("a Keras model's JSON without its config's list of layers")
    if kind != "Sequential":
        _check_chain(layers, config.get("output_layers"))
    if obj.get("compile_config"):
        warnings.warn("the Keras JSON's compile settings (optimizer, loss, metrics) are not read: the run's train "
                      "settings are its own (train.optimizer, train.lr; the loss is always the cross-entropy)",
                      SpecWarning, stacklevel=user_level())
    shape = config.get("build_input_shape") or (obj.get("build_config") or {}).get("input_shape")
    out: list[dict[str, Any]] = []
    labels: list[str] = []
    rank = 0
    for i, layer in enumerate(layers):
        cls = _ALIASES.get(str(layer.get("class_name")), layer.get("class_name"))
        if not isinstance(settings := layer.get("config", {}), Mapping):  # helper-149, -152: read as the defaults
            raise SpecError(f"layers[{i}] ({_json(cls, 40)}): its config is {_json(settings, 30)}, not the table of its "
                            "settings (a file cut or edited?): save it again with model.to_json()")
        named = settings.get("name")  # as Keras's JSON numbers and names it (a layer without a name: its number)
        label = f"layers[{i}] {_json(named, 40)}" if isinstance(named, str) and named else f"layers[{i}]"
        where = f"{label} ({cls})"
        given = settings.get("batch_shape") or settings.get("batch_input_shape")
        if cls == "InputLayer" or given is not None:
            shape = given if given is not None else shape
            if cls == "InputLayer":
                continue
        if cls in ("Rescaling", "Reshape") and not out:  # the input's own preparation, before any layer mnistlab builds
            shape = _prepared_input(str(cls), settings, shape, where)
            continue
        if not out:
            rank = len(dims) if (dims := _dims(shape)) is not None else 3
        out.append(_layer(str(cls), settings, label, rank))
        labels.append(label)
        rank = _rank_after(str(cls), rank)
    return _spec_table(str(config.get("name") or "keras_model"), shape, out, labels)


def _spec_table(name: str, shape: Any, out: list[dict[str, Any]], labels: list[str]) -> tuple[dict[str, Any], list[str]]:
    """:func:`read_keras_json`'s result of the layers read (``out``, named ``labels``) on an input of
    batch ``shape``: a flat one read as the square image it holds, a Flatten first. A Normalization
    to adapt on an input without a channel axis, flat or (H, W), raises SpecError: Keras learns a mean
    and a variance per pixel (per column) there, mnistlab one of each over an image's pixels
    (helper-190: refused as "it must be the first layer", which it is)."""
    input_shape, flat = _input_shape(shape)
    unchannelled = flat or len(_dims(shape) or ()) == 2  # (28, 28), load_data()'s: Keras's last axis is a column
    if unchannelled and out and out[0].get("type") == "Normalization" and out[0].get("mean") is None:
        per = "pixel" if flat else "column of pixels"  # (helper-192: the 2-D input was read, its values not Keras's)
        raise SpecError(f"{labels[0]} (Normalization): adapted on the input {_json(shape, 30)}, Keras learns a mean "
                        f"and a variance for each {per} (its last axis), which mnistlab does not (it adapts one of each "
                        "over every pixel of an image input): give its mean and variance, or read the input as the "
                        "image it holds (Input((28, 28, 1)), or a first Reshape to it)")
    return ({"name": name, "input_shape": input_shape, "layers": ([{"type": "Flatten"}] if flat else []) + out},
            (["the flat input's Flatten"] if flat else []) + labels)


def placed(exc: SpecError, labels: Sequence[str]) -> SpecError:
    """``exc``, an error found in the spec read from a Keras JSON (a shape that does not fit, the
    parameter limit), with the layer it names as Keras's JSON numbers and names it (``labels[i]``
    for the spec's ``layers[i]``, as :func:`read_keras_json` gave them): helper-125, the InputLayer
    counted in one error and not in the next, and no name."""
    path = exc.path
    if len(path) < 2 or path[0] != "layers" or not isinstance(path[1], int) or not 0 <= path[1] < len(labels):
        return exc
    # every layer it names, as the JSON does (helper-136: "layers[5] ... is layers[3]'s", 4 in the JSON)
    said = re.sub(r"layers\[(\d+)\] \(", lambda m: (f"{labels[int(m.group(1))]} (" if int(m.group(1)) < len(labels)
                                                    else m.group(0)), str(exc))
    return SpecError(said, path=path, source=exc.source, line=exc.line)


def _prepared_input(cls: str, settings: Mapping[str, Any], shape: Any, where: str) -> Any:
    """The input's batch shape once a first ``Rescaling`` or ``Reshape`` (before any other layer) is
    read: ``Rescaling(1/255)`` is what mnistlab feeds every model (pixels / 255), so it is left out;
    a ``Reshape`` of the flat input to an image, ``(784,)`` to ``(28, 28, 1)``, makes that image the
    model's input. SpecError for any other."""
    if cls == "Rescaling":
        scale, offset = settings.get("scale"), settings.get("offset", 0.0)
        if (isinstance(scale, (int, float)) and math.isclose(scale, 1 / 255, rel_tol=1e-4)
                and isinstance(offset, (int, float)) and offset == 0):
            return shape
        raise SpecError(f"{where}: Rescaling(scale = {_json(scale, 20)}, offset = {_json(offset, 20)}): mnistlab feeds "
                        "every model its pixels / 255, what Rescaling(1/255) gives; only that one, first, is read")
    target = settings.get("target_shape")
    dims = _dims(shape) or []
    if (isinstance(target, Sequence) and len(target) == 3 and all(isinstance(d, int) and d > 0 for d in target)
            and all(isinstance(d, int) for d in dims) and math.prod(dims) == math.prod(target)):
        return [None, *target]
    raise SpecError(f"{where}: Reshape to {_json(target, 30)} of an input {_json(shape, 30)}: only a first Reshape of "
                    "the flat input to the image (H, W, C) it holds is read")


def not_built(keras_class: str, settings: Mapping[str, Any] | None = None) -> str:
    """How mnistlab says a Keras layer class it does not build, in a spec or a Keras JSON alike:
    "Keras's LayerNormalization is a layer mnistlab does not build", and, for Keras's random
    augmentation layers, where that work is done here (a run's augment table), with the layer's own
    ``settings`` in that table's units where they translate (:func:`augment_for`)."""
    if not keras_class.startswith(("Rand", "MixUp", "CutMix", "AugMix")):  # (LayerNormalization: none)
        return f"Keras's {clip(keras_class, 40)} is a layer mnistlab does not build"
    table = augment_for(keras_class, settings or {}) or "augment = { rotation_range = 10, ... }"
    return (f"Keras's {clip(keras_class, 40)} is a layer mnistlab does not build (random augmentation is a run's "
            f"augment table here: {table})")


def _largest(factor: Any) -> float | None:
    """A Keras augmentation layer's ``factor`` (a number, or a pair ``[lower, upper]``) as its largest
    magnitude; None for anything else."""
    values = factor if isinstance(factor, (list, tuple)) and len(factor) == 2 else [factor]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return max(abs(float(v)) for v in values)


def augment_for(keras_class: str, settings: Mapping[str, Any]) -> str | None:
    """The ``augment`` table that does about what Keras's random augmentation layer ``keras_class``
    with ``settings`` does, in its units (helper-195: ``RandomRotation(0.1)`` is a tenth of a turn, 36
    degrees, where ``rotation_range = 0.1`` is a tenth of one): RandomRotation's factor x 360 degrees
    (keras.layers.RandomRotation: "a fraction of 2 Pi"), RandomZoom's and RandomTranslation's height and
    width factors as the zoom and shift ranges, RandomFlip's mode as the flips. None for another layer
    or settings that do not translate."""
    if keras_class == "RandomRotation" and (f := _largest(settings.get("factor"))) is not None:
        return f"augment = {{ rotation_range = {min(360 * f, 180):g} }} (its factor {f:g} is a fraction of a turn)"
    if keras_class == "RandomZoom" and (f := _largest(settings.get("height_factor"))) is not None:
        return f"augment = {{ zoom_range = {f:g} }}"
    if keras_class == "RandomTranslation":
        h, w = _largest(settings.get("height_factor")), _largest(settings.get("width_factor"))
        if h is not None and w is not None:
            return f"augment = {{ height_shift_range = {h:g}, width_shift_range = {w:g} }}"
    if keras_class == "RandomFlip":
        mode = settings.get("mode", "horizontal_and_vertical")
        flips = {"horizontal": "horizontal_flip = true", "vertical": "vertical_flip = true",
                 "horizontal_and_vertical": "horizontal_flip = true, vertical_flip = true"}
        if isinstance(mode, str) and mode in flips:
            return f"augment = {{ {flips[mode]} }}"
    return None


def _layer(cls: str, settings: Mapping[str, Any], label: str, rank: int) -> dict[str, Any]:
    """One Keras layer's config as mnistlab's layer table, checked as mnistlab checks a layer
    (``label`` numbers and names it as Keras's JSON does); ``rank``: its input's, without the batch axis."""
    from mnistlab.specs import layer_from_dict  # specs reads Keras's JSON through this module

    where = f"{label} ({clip(cls, 40)})"
    if cls in ACTIVATION_LAYERS:
        return activation_layer(cls, settings, label)
    if cls not in _READS:
        raise SpecError(f"{where}: {not_built(cls, settings)}; it reads {', '.join(_READS)}; {', '.join(ACTIVATION_LAYERS)} "
                        "as Activation; a first Rescaling(1/255) or Reshape")
    reads, unused = _READS[cls]
    table: dict[str, Any] = {"type": cls}
    for key, value in settings.items():
        if _every_layers(cls, key, value, where, rank):
            continue
        if key in reads:
            table[reads[key]] = initializer_name(value, f"{where}: {key}") if key.endswith("_initializer") else value
        elif key in unused:
            if not _is_default(value, unused[key]):
                raise SpecError(f"{where}: {key} = {_json(value)} is a setting mnistlab does not build "
                                f"(only {_json(_shown_default(unused[key]))})")
        elif not (value is None or value is False):
            raise SpecError(f"{where}: {key} = {_json(value)} is a setting mnistlab does not build")
    if settings.get("trainable") is False and cls in _HAS_WEIGHTS:  # frozen (a layer without weights: no matter)
        table["trainable"] = False
    layer_from_dict(_named(table, settings), where=label)
    return table


def activation_layer(cls: str, settings: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Keras's ReLU/Softmax/LeakyReLU/ELU layer (``cls``, one of :data:`ACTIVATION_LAYERS`), at the
    settings mnistlab's activation of that name has (a ReLU's ``max_value = 6``: relu6), as an
    Activation layer table; SpecError for another setting. Read from Keras's JSON and from a spec
    (``{ type = "ReLU" }``) alike."""
    name, wanted = ACTIVATION_LAYERS[cls]
    six = settings.get("max_value")
    if cls == "ReLU" and isinstance(six, (int, float)) and not isinstance(six, bool) and six == 6:
        name, wanted = "relu6", {**wanted, "max_value": six}  # Keras's ReLU(6.0): MobileNet's relu6
    alpha = cls == "LeakyReLU" and "alpha" in settings and "negative_slope" not in settings  # tf.keras 2's name
    slope: Any = KERAS_LEAKY_SLOPE
    for key, value in settings.items():
        key = "negative_slope" if alpha and key == "alpha" else key
        if _every_layers(cls, key, value, f"{label} ({cls})", 0):
            continue
        if cls == "LeakyReLU" and key == "negative_slope":  # any slope from 0, as Keras's layer takes (helper-245)
            slope = value
        elif key in wanted:
            if value != wanted[key] and not (isinstance(value, (int, float)) and isinstance(wanted[key], (int, float))
                                             and math.isclose(value, wanted[key], abs_tol=1e-9)):
                written = "alpha" if alpha and key == "negative_slope" else key  # as the user wrote it (helper-131)
                raise SpecError(f"{label} ({cls}): {written} = {_json(value)}: mnistlab's {name} activation has "
                                f"{key} = {_json(wanted[key])}, and no other")
        elif not (value is None or value is False):
            raise SpecError(f"{label} ({cls}): {key} = {_json(value)} is a setting mnistlab does not build")
    table = {"type": "Activation", "activation": name, "keras_class": cls}
    if cls == "LeakyReLU":  # its slope as Keras's layer has it: 0.3 unless given (Keras 3's default, tf.keras 2's alpha)
        table["negative_slope"] = slope
    return _named(table, settings)


def _named(table: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """``table`` with the layer's Keras ``name`` where its config has one: the summary then names it
    as Keras's summary of the saved model does (the spec checks it, and that it is the only one:
    an empty one or a number is refused as in a spec, not auto-named unsaid: helper-149)."""
    if (name := settings.get("name")) is not None:
        table["name"] = name
    return table


def _every_layers(cls: str, key: str, value: Any, where: str, rank: int) -> bool:
    """Whether ``key`` is a setting every Keras layer has (its bookkeeping, trainable, dtype, a
    BatchNormalization's axis), checked here; SpecError for a value that changes what is computed:
    a dtype policy other than float32, a BN axis other than the last
    (of an input of ``rank`` axes, without the batch axis)."""
    if key in _BOOKKEEPING:
        return True
    if key == "trainable":
        if not isinstance(value, bool):
            raise SpecError(f"{where}: trainable = {_json(value)}: true or false")
        return True
    if key == "dtype":
        if (policy := _policy(value)) not in _FLOAT32:
            raise SpecError(f"{where}: dtype policy {_json(policy)}: mnistlab's layers hold float32 weights; mixed "
                            'precision is a run\'s train.precision ("bf16" is Keras\'s mixed_bfloat16)')
        return True
    if key == "axis" and cls == "BatchNormalization":
        if value not in (-1, [-1], rank, [rank]):
            raise SpecError(f"{where}: axis = {_json(value)}: mnistlab's BatchNormalization normalises the last "
                            "axis (channels), as Keras's default axis = -1")
        return True
    return False


def _policy(value: Any) -> Any:
    """A layer's dtype policy's name: Keras 3 writes ``{"class_name": "DTypePolicy", "config": {"name":
    "float32"}}``, tf.keras 2 ``"float32"`` or ``{"class_name": "Policy", "config": {"name": ...}}``."""
    if isinstance(value, Mapping):
        config = value.get("config")
        return config.get("name") if isinstance(config, Mapping) else config
    return value


def _rank_after(cls: str, rank: int) -> int:
    """The rank (without the batch axis) of what a layer of Keras class ``cls`` gives for an input of ``rank``."""
    return 1 if cls in ("Flatten", "Dense", "GlobalAveragePooling2D") else 3 if cls in (
        "Conv2D", "MaxPooling2D", "AveragePooling2D") else rank


def _is_default(value: Any, defaults: tuple[Any, ...]) -> bool:
    """Whether ``value`` is one of ``defaults``: an initializer by its class (its config as Keras's defaults)."""
    if isinstance(value, Mapping) and "class_name" in value:
        config = value.get("config") or {}
        return (any(isinstance(d, Mapping) and d["class_name"] == value["class_name"] for d in defaults)
                and isinstance(config, Mapping) and all(k in _INITIALIZER_BOOKKEEPING or (k in _INITIALIZER_UNSET and v is None)
                                                         for k, v in config.items()))
    if isinstance(value, str):
        return value in defaults or _snake(value) in defaults
    return any(value == d for d in defaults if not isinstance(d, Mapping))


def _shown_default(defaults: tuple[Any, ...]) -> Any:
    first = defaults[0]
    return first["class_name"] if isinstance(first, Mapping) else first


def initializer_name(value: Any, where: str) -> str:
    """Keras's initializer (a name, or its saved form ``{"class_name": "HeNormal", "config": {...}}``,
    as ``keras.initializers.serialize`` writes it) as mnistlab's name; SpecError, starting with
    ``where``, for a class or setting mnistlab's namesake does not have."""
    if isinstance(value, str):
        return _snake(value)
    if not (isinstance(value, Mapping) and isinstance(value.get("class_name"), str)):
        raise SpecError(f"{where}: {_json(value)} is no initializer mnistlab reads")
    cls, config = value["class_name"], value.get("config") or {}
    if not isinstance(config, Mapping):
        raise SpecError(f"{where}: {cls}'s config {_json(config, 40)} is not a table")
    if cls not in _INITIALIZERS:
        raise SpecError(f"{where}: Keras's {clip(cls, 40)} is no initializer mnistlab builds "
                        f"({', '.join(_snake(c) for c in _INITIALIZERS)})")
    for key, setting in config.items():
        if key in _INITIALIZER_BOOKKEEPING or (key in _INITIALIZER_UNSET and setting is None):
            continue
        wanted = _INITIALIZERS[cls].get(key, _NO_DEFAULT)
        if wanted is _NO_DEFAULT or not (isinstance(setting, (int, float)) and math.isclose(setting, wanted)):
            defaults = ", ".join(f"{k} = {v}" for k, v in _INITIALIZERS[cls].items()) or "no settings"
            raise SpecError(f"{where}: {cls} with {key} = {_json(setting, 40)}: mnistlab's {_snake(cls)} is "
                            f"Keras's default ({defaults})")
    return _snake(cls)


def _json(value: Any, n: int = 60) -> str:
    """A value as the JSON it came from, cut to ``n`` characters: how the messages quote Keras's settings
    (a saved Keras object, ``{"class_name": "MaxNorm", "config": {...}}``, as ``MaxNorm({...})``)."""
    if isinstance(value, Mapping) and isinstance(value.get("class_name"), str):
        config = value.get("config")
        return clip(f"{value['class_name']}({json.dumps(config) if config else ''})", n)
    try:
        return clip(json.dumps(value), n)
    except (TypeError, ValueError):
        return clip(repr(value), n)


def _snake(name: str) -> str:
    """``GlorotUniform`` -> ``glorot_uniform`` (Keras's class name as its string identifier)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _dims(shape: Any) -> list[Any] | None:
    """A Keras batch shape ``[None, H, W, C]`` without its batch axis; None when it is no list."""
    return list(shape)[1:] if isinstance(shape, Sequence) and not isinstance(shape, str) else None


def _input_shape(shape: Any) -> tuple[list[int], bool]:
    """(mnistlab's input_shape [H, W, C], whether the model took the image flat) from Keras's batch
    shape ``[None, H, W, C]`` or ``[None, H * W]``."""
    dims = _dims(shape)
    if not dims or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
        raise SpecError(f"a Keras model's JSON whose input shape is {_json(shape)}: give the model an Input of the "
                        "image's shape, keras.Input((28, 28, 1))")
    if len(dims) == 3:
        return dims, False
    side = math.isqrt(dims[0]) if len(dims) == 1 else 0
    if len(dims) == 2:
        return [*dims, 1], False
    if side * side == dims[0]:
        return [side, side, 1], True
    raise SpecError(f"a Keras model's JSON whose input shape is {_json(shape)}: mnistlab's models take images, "
                    "(H, W, C), or a flat square one (784 pixels)")


def _check_chain(layers: Sequence[Mapping[str, Any]], outputs: Any) -> None:
    """SpecError unless each layer of a Functional model takes the one before it as its only input,
    called without arguments that change it, and the last layer is its one output. A call's
    ``training: false`` is no such argument: Keras 3 writes it for each Dropout and
    BatchNormalization call of a model built plainly, and ``fit``, ``evaluate`` and ``predict`` put
    their own in its place (keras/src/models/functional.py, ``operation_fn``: a call-context argument
    that is not None); ``training: true`` is, and in tf.keras 2's list-form nodes any ``training``
    (tf.keras 2 keeps an explicit one at fit time: a Dropout called with False never drops)."""
    last = _layer_name(layers[-1]) if layers else None
    named = outputs[0] if isinstance(outputs, list) and outputs and isinstance(outputs[0], list) and len(outputs) == 1 \
        else outputs
    if not (isinstance(named, list) and named and named[0] == last):
        raise SpecError(f"a Functional model with outputs {_json(outputs, 60)}: only one output, its last layer's, is read")
    for i, layer in enumerate(layers[1:], 1):
        nodes = layer.get("inbound_nodes") or []
        keras3 = [node.get("kwargs") for node in nodes if isinstance(node, Mapping)]
        tf2 = [arg[3] for node in nodes if isinstance(node, list) for arg in node if isinstance(arg, list) and len(arg) > 3]
        called = [*keras3, *tf2]
        if _called_with(keras3, but=("training", False)) or _called_with(tf2):  # (Keras 3's training=False: replaced)
            raise SpecError(f"layers[{i}] ({_json(layer.get('class_name'), 40)}): called with {_json(called, 60)}: "
                            "a layer called with arguments (training=True, mask=...; tf.keras 2's training=False) is none "
                            "mnistlab builds")
        sources = [_source(arg) for node in nodes for arg in _node_args(node)]
        before = _layer_name(layers[i - 1])
        if sources != [before]:
            raise SpecError(f"layers[{i}] ({_json(layer.get('class_name'), 40)}): a Functional model whose layers "
                            "do not form one chain (an Add, a second input or output) is not read from Keras's JSON; "
                            'write its residual blocks as { type = "Residual", branch = [...], shortcut = [...] }')


def _called_with(calls: Sequence[Any], but: tuple[str, Any] | None = None) -> bool:
    """Whether any of a layer's ``calls`` (each its keyword arguments) sets an argument, ``but`` (a
    name and value) aside; an argument of None is none set."""
    return any(isinstance(kwargs, Mapping) and any(v is not None and (k, v) != but for k, v in kwargs.items())
               for kwargs in calls)


def _layer_name(layer: Mapping[str, Any]) -> Any:
    """A Functional model's layer's name, as its inbound nodes name it: its config's, else its own."""
    config = layer.get("config")
    return (config.get("name") if isinstance(config, Mapping) else None) or layer.get("name")


def _node_args(node: Any) -> list[Any]:
    if isinstance(node, Mapping):  # Keras 3: {"args": [tensor, ...], "kwargs": {...}}
        return list(node.get("args") or [])
    return list(node) if isinstance(node, list) else [node]  # tf.keras 2: [[name, node, tensor, kwargs], ...]


def _source(arg: Any) -> Any:
    if isinstance(arg, Mapping):
        config = arg.get("config")
        history = config.get("keras_history") if isinstance(config, Mapping) else None
        return history[0] if isinstance(history, list) and history else None
    return arg[0] if isinstance(arg, list) and arg else None
