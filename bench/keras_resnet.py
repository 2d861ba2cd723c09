"""Record what Keras 3's summary says about residual networks (and An et al. 2020's simple CNNs),
for tests/test_resnet.py.

Each model here is written by hand with Keras's functional API, the way a Keras user writes a
ResNet (He et al. 2016): a branch, a shortcut (the input itself, or a 1x1 Conv2D projection when
the shape changes), ``layers.Add()`` and, in v1, an Activation after it. Layers are created in
the order mnistlab documents (branch, shortcut, Add, Activation), so Keras's auto-names are the
ones mnistlab must give. For each model the script writes, to ``tests/data/keras_resnet.json``:
the total, trainable and non-trainable parameter counts and, for every layer in
``model.summary()``'s order, its name, class, output shape, parameter count and the layers it is
connected to. Beside each model it writes the mnistlab spec meant to be the same model (a preset
name, or the spec's plain data), so the tests need neither Keras nor this script::

    /work/benchvenv/bin/python bench/keras_resnet.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (after the environment is set)
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_resnet.json"


def conv(filters: int, size: int = 3, strides: int = 1) -> layers.Layer:
    return layers.Conv2D(filters, size, strides=strides, padding="same", kernel_initializer="he_normal")


def block_v1(x, filters: int, strides: int = 1, batch_norm: bool = True):
    """Post-activation basic block (He et al. 2016, fig. 2): conv BN relu conv BN, add, relu."""
    y = conv(filters, 3, strides)(x)
    y = layers.BatchNormalization()(y) if batch_norm else y
    y = layers.Activation("relu")(y)
    y = conv(filters)(y)
    y = layers.BatchNormalization()(y) if batch_norm else y
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, strides)(x)
        shortcut = layers.BatchNormalization()(shortcut) if batch_norm else shortcut
    out = layers.Add()([y, shortcut])
    return layers.Activation("relu")(out)


def block_v2(x, filters: int, strides: int = 1, projection_bn: bool = False):
    """Pre-activation basic block (He et al. 2016b, fig. 4e): BN relu conv BN relu conv, add.
    When the shape changes, BN and relu come first and feed the 1x1 projection too."""
    project = strides != 1 or x.shape[-1] != filters
    if project:
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        y = conv(filters, 3, strides)(x)
    else:
        y = layers.Activation("relu")(layers.BatchNormalization()(x))
        y = conv(filters, 3, strides)(y)
    y = layers.Activation("relu")(layers.BatchNormalization()(y))
    y = conv(filters)(y)
    shortcut = x
    if project:
        shortcut = conv(filters, 1, strides)(x)
        shortcut = layers.BatchNormalization()(shortcut) if projection_bn else shortcut
    return layers.Add()([y, shortcut])


def resnet(stages, blocks: int, v2: bool = False, stem: int | None = None) -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = conv(stem or stages[0])(inputs)
    if not v2:
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for stage, width in enumerate(stages):
        for b in range(blocks):
            strides = 2 if stage and not b else 1
            x = block_v2(x, width, strides) if v2 else block_v1(x, width, strides)
    if v2:
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def graph_form() -> keras.Model:
    """Two hand-made residuals: an identity one with a relu after the Add, and one whose shortcut
    is a strided 1x1 conv (no BN)."""
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same")(inputs)
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(4, 3, padding="same")(y)
    x = layers.Activation("relu")(layers.Add()([y, x]))
    y = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    s = layers.Conv2D(8, 1, strides=2)(x)
    x = layers.Add()([y, s])
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3)(x))


def small_blocks() -> keras.Model:
    """A v1 block without BN, a v1 block with a projection, a v2 block with a BN'd projection."""
    inputs = keras.Input((12, 12, 3))
    x = block_v1(inputs, 3, batch_norm=False)
    x = block_v1(x, 6, strides=2)
    x = block_v2(x, 10, strides=2, projection_bn=True)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(4)(x))


def simple_cnn(widths, size: int) -> keras.Model:
    """An et al. 2020's M3/M5/M7, as their PyTorch code builds them, in Keras words (a Sequential): unpadded convs
    without bias, each BN (PyTorch's defaults: momentum 0.9, epsilon 1e-5 in Keras's terms) and
    ReLU; Flatten, Dense 10 without bias, BN, softmax."""
    stack: list[layers.Layer] = [keras.Input((28, 28, 1))]
    for w in widths:
        stack += [layers.Conv2D(w, size, use_bias=False), layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                  layers.Activation("relu")]
    stack += [layers.Flatten(), layers.Dense(10, use_bias=False), layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
              layers.Activation("softmax")]
    return keras.Sequential(stack)  # a plain stack: Keras's Sequential summary, as mnistlab prints one


def _conv_spec(filters, size=3, strides=1, padding="same", **kw):
    return {"type": "Conv2D", "filters": filters, "kernel_size": size, "strides": strides, "padding": padding, **kw}


# The mnistlab spec of each model above, as plain data (what a user writes in TOML).
MODELS: dict[str, tuple[Callable[[], keras.Model], object]] = {
    "resnet20": (lambda: resnet((16, 32, 64), 3), "resnet20"),
    "resnet20-v2": (lambda: resnet((16, 32, 64), 3, v2=True), "resnet20-v2"),
    "wide-resnet-16-4": (lambda: resnet((64, 128, 256), 2, v2=True, stem=16), "wide-resnet-16-4"),
    "an2020-m3": (lambda: simple_cnn(range(32, 177, 16), 3), "an2020-m3"),
    "an2020-m5": (lambda: simple_cnn(range(32, 161, 32), 5), "an2020-m5"),
    "an2020-m7": (lambda: simple_cnn(range(48, 193, 48), 7), "an2020-m7"),
    "graph-form": (graph_form, {"input_shape": [8, 8, 1], "layers": [
        _conv_spec(4, padding="same"),
        {"type": "Residual", "branch": [_conv_spec(4, activation="relu"), _conv_spec(4)], "activation": "relu"},
        {"type": "Residual", "branch": [_conv_spec(8, strides=2)], "shortcut": [_conv_spec(8, 1, 2, "valid")]},
        {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 3}]}),
    "small-blocks": (small_blocks, {"input_shape": [12, 12, 3], "layers": [
        {"type": "ResidualBlock", "filters": 3, "batch_norm": False},
        {"type": "ResidualBlock", "filters": 6, "strides": 2},
        {"type": "ResidualBlock", "filters": 10, "strides": 2, "preactivation": True, "projection_batch_norm": True},
        {"type": "Flatten"}, {"type": "Dense", "units": 4}]}),
}


def describe(model: keras.Model) -> dict:
    rows = []
    for layer in model.layers:
        node = layer._inbound_nodes[0]
        inputs = [t._keras_history.operation.name for t in node.input_tensors]
        rows.append({"name": layer.name, "type": type(layer).__name__,
                     "output_shape": list(layer.output.shape), "params": layer.count_params(),
                     "connected_to": [] if isinstance(model, keras.Sequential) else inputs})  # no such column
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return {"name": model.name, "total": model.count_params(), "trainable": trainable, "non_trainable": frozen,
            "rows": rows}


def main() -> None:
    out = {"keras": keras.__version__, "models": {}}
    for name, (make, spec) in MODELS.items():
        keras.backend.clear_session()  # a fresh session: auto-names start again at conv2d, add, ...
        model = make()
        out["models"][name] = {"mnistlab": spec, "keras": describe(model)}
        k = out["models"][name]["keras"]
        print(f"{name}: total {k['total']:,} trainable {k['trainable']:,} non-trainable {k['non_trainable']:,}")
    # one layer a line: small enough to commit, easy to diff
    rows = {}
    for model in out["models"].values():
        for k, row in enumerate(model["keras"]["rows"]):
            rows[f"@row{len(rows)}@"] = json.dumps(row)
            model["keras"]["rows"][k] = f"@row{len(rows) - 1}@"
    text = json.dumps(out, indent=1)
    for key, row in rows.items():
        text = text.replace(f'"{key}"', row, 1)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
