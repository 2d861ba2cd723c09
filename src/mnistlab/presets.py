"""Named models: every model of the seed notebooks, registered under a name a user can guess.

    from mnistlab.presets import resolve_model, list_presets, seed001_builder
    spec = resolve_model("seed000-cnn")                 # a preset name,
    spec = resolve_model("my_model.toml")               # a spec file (.toml / .json),
    spec = resolve_model({"conv": [32], "dense": [128]})  # any written form, or a ModelSpec
    spec = seed001_builder(filters=16, additional_convolutions=0)

Names are `seed<NNN>-<model>` after the notebook they come from. Each preset records the parameter
count Keras prints for it (`expected_params`); where the notebook did not print one, the count is
worked out by hand in the comment beside it, and the tests check every count against `summarize`.
Add a preset with the `register_preset` decorator; the tests pick it up automatically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError, SpecError, clip, did_you_mean, type_name
from mnistlab.specs import (
    Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D, LayerSpec, MaxPooling2D,
    ModelSpec, Normalization, ResidualBlock, builder_spec, compact_spec, load_model_spec, parse_model_spec,
)

__all__ = ["Preset", "get_preset", "list_presets", "preset_names", "register_preset", "resolve_model",
           "seed001_builder"]


@dataclass(frozen=True)
class Preset:
    """A named model from the seed notebooks, with the parameter count Keras reports for it."""

    name: str
    spec: ModelSpec
    description: str
    source: str            # where it comes from, e.g. "seed 000"
    expected_params: int   # Keras's "Total params" for this stack


@dataclass(frozen=True)
class _Entry:
    make: Callable[[], ModelSpec]
    description: str
    source: str
    expected_params: int


_REGISTRY: dict[str, _Entry] = {}


def register_preset(name: str, *, description: str, source: str, expected_params: int
                    ) -> Callable[[Callable[[], ModelSpec]], Callable[[], ModelSpec]]:
    """Decorator: register a function returning a ModelSpec under `name`."""
    def decorate(make: Callable[[], ModelSpec]) -> Callable[[], ModelSpec]:
        if name in _REGISTRY:
            raise ValueError(f"preset {name!r} registered twice")
        _REGISTRY[name] = _Entry(make, description, source, expected_params)
        return make
    return decorate


def preset_names() -> list[str]:
    """The registered presets' names (``mnistlab models`` lists them), in registration order."""
    return list(_REGISTRY)


def get_preset(name: str) -> Preset:
    """The preset called `name`; SpecError with a did-you-mean otherwise."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise SpecError(f'unknown model "{clip(name, 60)}"{did_you_mean(name, _REGISTRY)}; run `mnistlab models` '
                        "for the presets, or give a .toml / .json spec file")
    spec = entry.make()
    if spec.name != name:
        spec = ModelSpec(layers=spec.layers, input_shape=spec.input_shape, name=name)
    return Preset(name, spec, entry.description, entry.source, entry.expected_params)


def list_presets() -> list[Preset]:
    """Every registered preset, in registration order (by notebook)."""
    return [get_preset(name) for name in _REGISTRY]


def changed_from_preset(model: Mapping[str, Any], most: int = 3) -> str | None:
    """What a model's spec dict (``ModelSpec.to_dict()``, a run's ``config["model"]``) named after a
    preset sets otherwise than the preset, as compare names a row: ``layers[1].act=tanh`` (at most
    ``most`` keys, then ``,...``), or the count of layers where layers were added or removed; None for
    a model that is its preset, or is named after none (a variant's ``"model.layers[0].filters"``
    keeps the preset's name, which then no longer says what the network is)."""
    from mnistlab.comparison import flatten_config
    from mnistlab.experiments import derive_name

    name = model.get("name")
    if not isinstance(name, str) or name not in _REGISTRY:
        return None
    try:
        spec, preset = ModelSpec.from_dict(dict(model)).to_dict(), get_preset(name).spec.to_dict()
    except MnistlabError:  # a spec that no longer reads
        return "a spec that no longer reads"
    if spec == preset:
        return None
    if len(spec.get("layers") or []) != len(preset.get("layers") or []):
        return f"{len(spec.get('layers') or [])} layers, the preset's {len(preset.get('layers') or [])}"
    ours, theirs = dict(flatten_config(spec, "model.")), dict(flatten_config(preset, "model."))
    differ = [k for k in dict.fromkeys([*ours, *theirs]) if ours.get(k) != theirs.get(k) and k != "model.name"]
    return derive_name({k: ours.get(k) for k in differ[:most]}) + (",..." if len(differ) > most else "")


def resolve_model(obj: str | os.PathLike | Mapping[str, Any] | Sequence[Any] | ModelSpec) -> ModelSpec:
    """A preset name, a .toml/.json spec file, a written spec (dict or layer list, or text writing
    one inline: JSON, Keras's ``model.to_json()``, or a TOML inline table) or a ModelSpec -> ModelSpec."""
    if isinstance(obj, ModelSpec):
        return obj
    if isinstance(obj, (Mapping, list, tuple)):
        return parse_model_spec(obj)
    if isinstance(obj, str) and obj.lstrip("\ufeff \t\r\n").startswith(("{", "[")):  # inline: model.to_json() (helper-125)
        from mnistlab._toml import inline_value

        return parse_model_spec(inline_value(obj, "model", "{ conv = [32], dense = [128] }", arrays=True))
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        if isinstance(text, bytes):
            raise SpecError("model: give a preset name or a file path as text")
        if not text.strip():
            raise SpecError("unknown model \"\": give a preset name (see `mnistlab models`) or a spec file")
        if isinstance(obj, str) and text in _REGISTRY:
            return get_preset(text).spec
        path = Path(text)
        if path.suffix.lower() in (".toml", ".json", ".keras", ".h5", ".hdf5") or _exists(path) or os.sep in text:
            if path.stem in _REGISTRY and not _exists(path):
                raise SpecError(f'{clip(text, 60)}: no such file (the preset is called "{path.stem}")')
            return load_model_spec(path)
        return get_preset(text).spec  # raises the unknown-model error with a suggestion
    raise SpecError(f"model must be a preset name, a spec file or a spec table, got {type_name(obj)}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # name too long, NUL byte: not a file we could read anyway
        return False


# ---------------------------------------------------------------------------------------------
# Shorthands for the stacks below.
# ---------------------------------------------------------------------------------------------
def _dense_net(hidden: Sequence[int], *, activation: str = "relu", output: str = "softmax",
               init: str = "glorot_uniform", dropout: float = 0.0) -> ModelSpec:
    layers: list[LayerSpec] = [Flatten()]
    for units in hidden:
        layers.append(Dense(units, activation=activation, kernel_initializer=init))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(10, activation=output, kernel_initializer=init))
    return ModelSpec(layers=tuple(layers))


def _conv(filters: int, size: int = 3, padding: str = "valid") -> Conv2D:
    return Conv2D(filters, (size, size), padding=padding, activation="relu")


def seed001_builder(filters: int = 32, additional_convolutions: int = 1) -> ModelSpec:
    """Seed 001's ModelBuilder stack: Conv+MaxPool, `additional_convolutions` more, Dense 128, Dense 10."""
    return builder_spec(filters, additional_convolutions)


# ---------------------------------------------------------------------------------------------
# Seed 000: Fashion-MNIST, dense vs CNN and the conv-layer exercises (its helper = compact_spec).
# ---------------------------------------------------------------------------------------------
@register_preset("seed000-dense", source="seed 000", expected_params=101_770,
                 description="Flatten, Dense 128 relu, Dense 10 softmax")
def _seed000_dense() -> ModelSpec:
    return _dense_net([128])


@register_preset("seed000-cnn", source="seed 000", expected_params=243_786,
                 description="2x (Conv 64 3x3 relu, MaxPool 2), Dense 128 relu, Dense 10")
def _seed000_cnn() -> ModelSpec:
    return ModelSpec(layers=(_conv(64), MaxPooling2D((2, 2)), _conv(64), MaxPooling2D((2, 2)), Flatten(),
                             Dense(128, activation="relu"), Dense(10, activation="softmax")))


@register_preset("seed000-ex1", source="seed 000", expected_params=55_098,
                 description="as seed000-cnn with 16 filters in both convs")
def _seed000_ex1() -> ModelSpec:
    return compact_spec([16, 16], [True, True], [128])


@register_preset("seed000-ex2", source="seed 000", expected_params=347_690,
                 description="Conv 16, MaxPool, Dense 128, Dense 10")
def _seed000_ex2() -> ModelSpec:
    return compact_spec([16], [True], [128])


@register_preset("seed000-ex3a", source="seed 000", expected_params=43_578,
                 description="Conv 64, Pool, Conv 32, Pool, Conv 16, Dense 128, Dense 10")
def _seed000_ex3a() -> ModelSpec:
    return compact_spec([64, 32, 16], [True, True, False], [128])


# Keras count by hand: conv 64 (3*3*1*64+64 = 640) -> 26x26, pool -> 13x13; conv 32 (9*64*32+32 = 18,464)
# -> 11x11; conv 16 (9*32*16+16 = 4,624) -> 9x9x16 = 1,296; Dense 128 (1,296*128+128 = 166,016);
# Dense 10 (1,290). Total 191,034.
@register_preset("seed000-ex3b", source="seed 000", expected_params=191_034,
                 description="Conv 64, Pool, Conv 32, Conv 16 (pool after the first only), Dense 128, Dense 10")
def _seed000_ex3b() -> ModelSpec:
    return compact_spec([64, 32, 16], [True, False, False], [128])


@register_preset("seed000-ex4a", source="seed 000", expected_params=693_962,
                 description="Conv 32, MaxPool, Dense 128, Dense 10")
def _seed000_ex4a() -> ModelSpec:
    return compact_spec([32], [True], [128])


# By hand: conv 32 (320) -> 26x26x32 = 21,632; Dense 50 (21,632*50+50 = 1,081,650); Dense 10 (510).
# Total 1,082,480 ("over 1 million" in the notebook).
@register_preset("seed000-ex4b", source="seed 000", expected_params=1_082_480,
                 description="Conv 32 (no pool), Dense 50, Dense 10")
def _seed000_ex4b() -> ModelSpec:
    return compact_spec([32], [False], [50])


# By hand: conv 64 (640) -> 26, pool 13; conv 128 (9*64*128+128 = 73,856) -> 11, pool 5x5x128 = 3,200;
# Dense 128 (409,728); Dense 128 (16,512); Dense 10 (1,290). Total 502,026 ("about half a million").
@register_preset("seed000-last", source="seed 000", expected_params=502_026,
                 description="Conv 64, Pool, Conv 128, Pool, Dense 128, Dropout 0.5, Dense 128, Dense 10")
def _seed000_last() -> ModelSpec:
    return ModelSpec(layers=(_conv(64), MaxPooling2D((2, 2)), _conv(128), MaxPooling2D((2, 2)), Flatten(),
                             Dense(128, activation="relu"), Dropout(0.5), Dense(128, activation="relu"),
                             Dense(10, activation="softmax")))


# ---------------------------------------------------------------------------------------------
# Seed 001: the baseline and the ModelBuilder (filters, additional_convolutions).
# ---------------------------------------------------------------------------------------------
@register_preset("seed001-dense", source="seed 001", expected_params=101_770,
                 description="baseline: Dense 128 relu, Dense 10 softmax")
def _seed001_dense() -> ModelSpec:
    return _dense_net([128])


@register_preset("seed001-builder", source="seed 001", expected_params=113_386,
                 description="builder(filters=32, additional_convolutions=1): 2x (Conv 32, Pool), Dense 128, Dense 10")
def _seed001_builder() -> ModelSpec:
    return seed001_builder()


# The notebook's variations; by hand they equal seed000-ex1, seed000-cnn and seed000-ex4a's stacks.
@register_preset("seed001-builder-f16", source="seed 001", expected_params=55_098,
                 description="builder(filters=16)")
def _seed001_f16() -> ModelSpec:
    return seed001_builder(filters=16)


@register_preset("seed001-builder-f64", source="seed 001", expected_params=243_786,
                 description="builder(filters=64)")
def _seed001_f64() -> ModelSpec:
    return seed001_builder(filters=64)


@register_preset("seed001-builder-a0", source="seed 001", expected_params=693_962,
                 description="builder(additional_convolutions=0): one Conv 32 + Pool")
def _seed001_a0() -> ModelSpec:
    return seed001_builder(additional_convolutions=0)


# ---------------------------------------------------------------------------------------------
# Seed 002: MNIST toward the state of the art.
# ---------------------------------------------------------------------------------------------
@register_preset("seed002-simple-conv", source="seed 002", expected_params=128_924,
                 description="2x Conv 10 5x5 same, MaxPool, Dense 64, Dropout 0.2, Dense 10")
def _seed002_simple_conv() -> ModelSpec:
    return ModelSpec(layers=(_conv(10, 5, "same"), _conv(10, 5, "same"), MaxPooling2D((2, 2)), Flatten(),
                             Dense(64, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")))


@register_preset("seed002-dense", source="seed 002", expected_params=535_818,
                 description="Dense 512, Dropout 0.2, Dense 256, Dropout 0.2, Dense 10")
def _seed002_dense() -> ModelSpec:
    return _dense_net([512, 256], dropout=0.2)


# By hand: conv 32 5x5 (25*32+32 = 832), conv 32 5x5 (25*32*32+32 = 25,632), pool -> 14; conv 64 3x3
# (9*32*64+64 = 18,496), conv 64 (9*64*64+64 = 36,928), pool -> 7x7x64 = 3,136; Dense 256
# (3,136*256+256 = 803,072); Dense 10 (2,570). Total 887,530.
@register_preset("seed002-deep-conv", source="seed 002", expected_params=887_530,
                 description="2x Conv 32 5x5, Pool, Dropout .25, 2x Conv 64 3x3, Pool, Dense 256, Dropout .2, Dense 10")
def _seed002_deep_conv() -> ModelSpec:
    return ModelSpec(layers=(_conv(32, 5, "same"), _conv(32, 5, "same"), MaxPooling2D((2, 2)), Dropout(0.25),
                             _conv(64, 3, "same"), _conv(64, 3, "same"), MaxPooling2D((2, 2), strides=(2, 2)), Flatten(),
                             Dense(256, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")))


# The speedrun model (recipes/speedrun-*.toml): seed 002's goal on a clock, after the plain PyTorch
# script in ../shared/bench (tuomaso/train_mnist_fast's Conv 24 5x5, Pool, ReLU, Conv 32 3x3, Pool, ReLU,
# Dense 256, Dense 10 on standardised inputs). Here the first conv has 16 filters, so that it runs on
# mnistlab's fused conv-pool kernel, and each ReLU conv comes before its pool (the same values).
# By hand: Normalization to adapt 3 (mean, variance, count: non-trainable); conv 16 5x5 (25*16+16 = 416)
# -> 24x24, pool 12x12; conv 32 3x3 (9*16*32+32 = 4,640) -> 10x10, pool 5x5x32 = 800; Dense 256
# (800*256+256 = 205,056); Dense 10 (2,570). Total 212,685.
@register_preset("speedrun", source="seed 002 speedrun",
                 expected_params=212_685,
                 description="Normalization, Conv 16 5x5, Pool, Conv 32 3x3, Pool, Dense 256, Dense 10")
def _speedrun() -> ModelSpec:
    return ModelSpec(layers=(Normalization(), _conv(16, 5), MaxPooling2D((2, 2)), _conv(32, 3), MaxPooling2D((2, 2)), Flatten(),
                             Dense(256, activation="relu"), Dense(10, activation="softmax")))


# ---------------------------------------------------------------------------------------------
# Seed 003: a dense net's knobs. Kept as written, sigmoid output included: mnistlab warns about it.
# ---------------------------------------------------------------------------------------------
# By hand: 784*64+64 = 50,240; 64*64+64 = 4,160; 64*10+10 = 650. Total 55,050.
@register_preset("seed003-dense", source="seed 003", expected_params=55_050,
                 description="Dense 64 relu, Dense 64 relu, Dense 10 sigmoid (as written; warns)")
def _seed003_dense() -> ModelSpec:
    return _dense_net([64, 64], output="sigmoid")


# By hand: 784*128+128 = 100,480; 128*128+128 = 16,512; 1,290. Total 118,282.
@register_preset("seed003-wide", source="seed 003", expected_params=118_282,
                 description="seed003-dense with the hidden layers doubled to 128 units")
def _seed003_wide() -> ModelSpec:
    return _dense_net([128, 128], output="sigmoid")


# By hand: 50,240 + 6 * 4,160 + 650 = 75,850.
@register_preset("seed003-deep", source="seed 003", expected_params=75_850,
                 description="seed003-dense with five more Dense 64 relu layers")
def _seed003_deep() -> ModelSpec:
    return _dense_net([64] * 7, output="sigmoid")


# ---------------------------------------------------------------------------------------------
# Seed 004: initialisation and dropout (all 784-128-10: 100,480 + 1,290 = 101,770).
# ---------------------------------------------------------------------------------------------
@register_preset("seed004-dense", source="seed 004", expected_params=101_770,
                 description="Dense 128 relu, Dense 10 softmax")
def _seed004_dense() -> ModelSpec:
    return _dense_net([128])


@register_preset("seed004-glorot-normal", source="seed 004", expected_params=101_770,
                 description="seed004-dense with glorot_normal initialisation")
def _seed004_glorot_normal() -> ModelSpec:
    return _dense_net([128], init="glorot_normal")


@register_preset("seed004-dropout", source="seed 004", expected_params=101_770,
                 description="seed004-glorot-normal plus Dropout 0.5")
def _seed004_dropout() -> ModelSpec:
    return _dense_net([128], init="glorot_normal", dropout=0.5)


@register_preset("seed004-random-normal", source="seed 004", expected_params=101_770,
                 description="seed004-dense with random_normal initialisation (std 0.05)")
def _seed004_random_normal() -> ModelSpec:
    return _dense_net([128], init="random_normal")


@register_preset("seed004-zeros", source="seed 004", expected_params=101_770,
                 description="seed004-dense with all-zero weights (warns: units cannot differ)")
def _seed004_zeros() -> ModelSpec:
    return _dense_net([128], init="zeros")


# ---------------------------------------------------------------------------------------------
# Residual networks for seed 002's goal (issue 16): the CIFAR ResNets, adapted to 28x28x1.
# ---------------------------------------------------------------------------------------------
def resnet(stages: Sequence[int], blocks: int, *, preactivation: bool = False, stem: int | None = None) -> ModelSpec:
    """A CIFAR-style ResNet on 28x28x1: Conv2D 3x3 (`stem` filters, default `stages[0]`; BN and ReLU
    in v1), then for each stage `blocks` ResidualBlocks of its width, the first block of every stage
    after the first with strides 2 (28 -> 14 -> 7), then (v2: BN, ReLU) GlobalAveragePooling2D and
    Dense 10 softmax.

    He et al. 2016, "Deep Residual Learning for Image Recognition", section 4.2 (the 6n+2 CIFAR
    nets); `preactivation` gives the v2 blocks of He et al. 2016, "Identity Mappings in Deep
    Residual Networks". Where the width or size changes, the shortcut is a 1x1 Conv2D projection
    (their option B) rather than option A's zero padding, which Keras has no layer for.
    """
    first: tuple[LayerSpec, ...] = (Conv2D(stem or stages[0], (3, 3), padding="same", kernel_initializer="he_normal"),)
    if not preactivation:
        first += (BatchNormalization(), Activation("relu"))
    body = tuple(ResidualBlock(width, strides=(2, 2) if stage and not b else (1, 1), preactivation=preactivation)
                 for stage, width in enumerate(stages) for b in range(blocks))
    head: tuple[LayerSpec, ...] = (BatchNormalization(), Activation("relu")) if preactivation else ()
    return ModelSpec(layers=(*first, *body, *head, GlobalAveragePooling2D(), Dense(10, activation="softmax")))


# By hand: stem conv 16 (160) + BN (64) = 224; stage 1: 3 blocks of two 3x3 convs (2,320 each) and two BNs
# (64 each) = 14,304; stage 2: the first block 4,640 + 9,248 + 2 BNs 256 + projection 544 + its BN 128
# = 14,816, two more blocks of 2 x 9,248 + 256 = 52,320 in all; stage 3: 18,496 + 36,928 + 512 + 2,112
# + 256 = 58,304, two more of 2 x 36,928 + 512 = 207,040 in all; Dense 64 -> 10 (650). Total 274,538
# (He et al.: 0.27M), of which 1,568 non-trainable (the BN moving statistics). Keras agrees
# (tests/data/keras_resnet.json, recorded by bench/keras_resnet.py).
@register_preset("resnet20", source="seed 002 goal; He et al. 2016 (ResNet-20, CIFAR)", expected_params=274_538,
                 description="ResNet-20 v1 for 28x28: Conv 16, 3 stages x 3 residual blocks (16/32/64), GAP, Dense 10")
def _resnet20() -> ModelSpec:
    return resnet((16, 32, 64), 3)


# As resnet20 without the stem's BN (64) and the projections' BNs (128 + 256), plus a final BN (128): 274,154.
@register_preset("resnet20-v2", source="seed 002 goal; He et al. 2016 (pre-activation ResNet-20)",
                 expected_params=274_154,
                 description="ResNet-20 with pre-activation blocks (BN and ReLU before each conv)")
def _resnet20_v2() -> ModelSpec:
    return resnet((16, 32, 64), 3, preactivation=True)


# Zagoruyko & Komodakis's count for WRN-16-4 on CIFAR is 2.7M; here 2,754,474 (Keras agrees), of which
# 3,616 non-trainable.
@register_preset("wide-resnet-16-4", source="seed 002 goal; Zagoruyko & Komodakis 2016 (WRN-16-4)",
                 expected_params=2_754_474,
                 description="wide ResNet 16-4 for 28x28: Conv 16, 3 stages x 2 pre-activation blocks (64/128/256)")
def _wide_resnet_16_4() -> ModelSpec:
    """Zagoruyko & Komodakis 2016, "Wide Residual Networks": depth 16 = 6n + 4 with n = 2 blocks
    per stage, widths 16k, 32k, 64k with k = 4, pre-activation blocks (their dropout left out),
    here on 28x28x1 (28 -> 14 -> 7 instead of CIFAR's 32 -> 16 -> 8)."""
    return resnet((64, 128, 256), 2, preactivation=True, stem=16)


# ---------------------------------------------------------------------------------------------
# The best-accuracy recipes (issue 16): Chris Deotte's BN CNN from his Kaggle notebook "How to choose
# CNN Architecture MNIST" / "25 Million Images! [0.99757] MNIST" (2018): single models average 99.65%.
# ---------------------------------------------------------------------------------------------
# By hand: conv 32 3x3 (320) -> 26, conv 32 3x3 (9,248) -> 24, conv 32 5x5 /2 same (25,632) -> 12; conv 64 3x3
# (18,496) -> 10, conv 64 3x3 (36,928) -> 8, conv 64 5x5 /2 same (102,464) -> 4; conv 128 4x4 (131,200) -> 1;
# Dense 10 (1,290); seven BNs 4 per channel (3 x 128 + 3 x 256 + 512 = 1,664). Total 327,242, as his summary prints.
@register_preset("deotte-bn-cnn", source="seed 002 goal; Deotte 2018, Kaggle MNIST (99.65% single, 99.75% for 15)",
                 expected_params=327_242,
                 description="BN CNN: 2x Conv 32 3x3, Conv 32 5x5/2, Dropout .4, 2x Conv 64 3x3, Conv 64 5x5/2, "
                             "Dropout .4, Conv 128 4x4, Dropout .4, Dense 10 (BN after every conv)")
def _deotte_bn_cnn() -> ModelSpec:
    def block(filters: int) -> tuple[Any, ...]:
        return (Conv2D(filters, (3, 3), activation="relu"), BatchNormalization(),
                Conv2D(filters, (3, 3), activation="relu"), BatchNormalization(),
                Conv2D(filters, (5, 5), strides=(2, 2), padding="same", activation="relu"), BatchNormalization(),
                Dropout(0.4))

    return ModelSpec(layers=(*block(32), *block(64), Conv2D(128, (4, 4), activation="relu"), BatchNormalization(),
                             Flatten(), Dropout(0.4), Dense(10, activation="softmax")))


# ---------------------------------------------------------------------------------------------
# An et al. 2020, "An Ensemble of Simple Convolutional Neural Network Models for MNIST Digit
# Recognition" (arXiv:2008.10400): stacks of unpadded convolutions without bias, each followed by
# BatchNormalization and ReLU, no pooling, and one Dense 10 without bias followed by a
# BatchNormalization on the logits. Their BN is PyTorch's (momentum 0.1 of the new batch, eps
# 1e-5), which in Keras words is momentum 0.9, epsilon 1e-5 (mnistlab's BN moves its variance as
# Keras's, toward the batch's biased variance, where PyTorch's moves toward the unbiased one).
# Their models scale inputs to [-1, 1]; here the first BN after an unpadded, bias-free conv
# removes any input offset and scale, so mnistlab's [0, 1] inputs train the same model. Their
# public logs: 99.69-99.70% at the last of 150 epochs over 30 seeds (bench/published_simple_cnn.py);
# the paper's higher single-model figures pick the epoch on the test set.
# ---------------------------------------------------------------------------------------------
def simple_cnn(widths: Sequence[int], size: int) -> ModelSpec:
    """An et al. 2020's M<size> network: for each width in ``widths`` an unpadded ``size`` x ``size``
    Conv2D without bias, BatchNormalization (momentum 0.9, epsilon 1e-5) and ReLU; then Flatten,
    Dense 10 without bias, BatchNormalization of the logits and softmax. On 28x28 inputs the map
    shrinks by ``size - 1`` pixels a layer (M3: 28 -> 8 after 10 convs; M5: 28 -> 8 after 5)."""
    def bn() -> BatchNormalization:
        return BatchNormalization(momentum=0.9, epsilon=1e-5)

    convs = tuple(layer for w in widths for layer in (Conv2D(w, (size, size), use_bias=False), bn(), Activation("relu")))
    return ModelSpec(layers=(*convs, Flatten(), Dense(10, use_bias=False), bn(), Activation("softmax")))


# By hand: bias-free convs 9 x (1x32 + 32x48 + 48x64 + ... + 160x176) = 1,009,440; BNs 4 x (32 + 48 + ...
# + 176 = 1,040) = 4,160; Dense 8x8x176 = 11,264 -> 10 = 112,640; its BN 40. Total 1,126,280 (2,100
# non-trainable); Keras agrees (tests/data/keras_resnet.json).
@register_preset("an2020-m3", source="seed 002 goal; An et al. 2020 (M3, MNIST)", expected_params=1_126_280,
                 description="An et al. 2020 M3: 10 Conv 3x3 (32 to 176 filters, no bias) each BN + ReLU, no "
                             "pooling, Dense 10 (no bias) + BN")
def _an2020_m3() -> ModelSpec:
    return simple_cnn(range(32, 177, 16), 3)


# Convs 25 x (1x32 + 32x64 + 64x96 + 96x128 + 128x160) = 1,024,800; BNs 4 x 480 = 1,920; Dense
# 8x8x160 = 10,240 -> 10 = 102,400; BN 40. Total 1,129,160.
@register_preset("an2020-m5", source="seed 002 goal; An et al. 2020 (M5, MNIST)", expected_params=1_129_160,
                 description="An et al. 2020 M5: 5 Conv 5x5 (32 to 160 filters, no bias) each BN + ReLU, no "
                             "pooling, Dense 10 (no bias) + BN")
def _an2020_m5() -> ModelSpec:
    return simple_cnn(range(32, 161, 32), 5)


# Convs 49 x (1x48 + 48x96 + 96x144 + 144x192) = 2,260,272; BNs 4 x 480 = 1,920; Dense 4x4x192 =
# 3,072 -> 10 = 30,720; BN 40. Total 2,292,952.
@register_preset("an2020-m7", source="seed 002 goal; An et al. 2020 (M7, MNIST)", expected_params=2_292_952,
                 description="An et al. 2020 M7: 4 Conv 7x7 (48 to 192 filters, no bias) each BN + ReLU, no "
                             "pooling, Dense 10 (no bias) + BN")
def _an2020_m7() -> ModelSpec:
    return simple_cnn(range(48, 193, 48), 7)
