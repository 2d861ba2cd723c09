"""Record what Keras 3 computes for weight penalties (``kernel_regularizer``, ``bias_regularizer``):
tests/data/keras_regularizers.json, which tests/test_regularizers.py compares mnistlab against.

Run once with a Python that has Keras 3 (any backend; here the torch one, with Keras installed
beside mnistlab's own environment)::

    KERAS_BACKEND=torch PYTHONPATH=/work/kerasdeps .venv/bin/python bench/keras_regularizers.py

Two small models on 8x8 one-channel images, their weights set from a seeded generator (recorded,
so the test needs no Keras and no generator of its own):

- ``dense``: Flatten -> Dense(6, relu, kernel L1L2(l1=1e-3, l2=1e-2), bias "l2") -> Dense(3,
  softmax, kernel "l2", bias "l1");
- ``conv``: Conv2D(4, 3x3, relu, kernel "l1", bias L2(0.05)) -> GlobalAveragePooling2D ->
  Dense(3, softmax, kernel "l1l2");
- ``residual``: Conv2D(4, 3x3, "same") -> a ResNet v1 basic block without BatchNormalization,
  written with the functional API as mnistlab's ``ResidualBlock(filters=8, batch_norm=false,
  kernel_regularizer=L2(0.02), bias_regularizer="l1")`` stands for it (branch Conv2D(8, 3x3) relu
  Conv2D(8, 3x3); shortcut Conv2D(8, 1x1), the channels changing; Add; relu), each of its three
  convolutions penalised -> GlobalAveragePooling2D -> Dense(3, softmax). Its weights are recorded
  layer by layer in that order (stem, branch, branch, projection, dense), not in the functional
  model's own. Strides 1: with strides 2, Keras 3.15's torch backend gave the 1x1 projection's
  kernel one of two gradients from one run to the next (the second epoch's loss 1.82238 or
  1.82279 for the same weights): torch 2.13's CPU kernel for a strided 1x1 convolution on
  channels-last input, which Keras's NHWC-to-NCHW view is, errs now and then
  (bench/strided_pointwise_grad.py). It is no reference there; tests/test_regularizers.py checks
  mnistlab's strided block (which avoids that kernel) against finite differences instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_regularizers.json"
N, SIZE, CLASSES = 16, 8, 3


def build(kind: str) -> Any:
    """The Keras model ``kind`` (its layers as the docstring says)."""
    import keras
    from keras import layers, regularizers

    if kind == "dense":
        body = [layers.Flatten(),
                layers.Dense(6, activation="relu", kernel_regularizer=regularizers.L1L2(l1=1e-3, l2=1e-2),
                             bias_regularizer="l2"),
                layers.Dense(CLASSES, activation="softmax", kernel_regularizer="l2", bias_regularizer="l1")]
    else:
        body = [layers.Conv2D(4, 3, activation="relu", kernel_regularizer="l1", bias_regularizer=regularizers.L2(0.05)),
                layers.GlobalAveragePooling2D(),
                layers.Dense(CLASSES, activation="softmax", kernel_regularizer="l1l2")]
    return keras.Sequential([keras.Input((SIZE, SIZE, 1)), *body])


def build_residual() -> tuple[Any, list[Any]]:
    """The ``residual`` model (functional, as a Keras user writes a ResNet block) and its weighted
    layers in mnistlab's parameter order."""
    import keras
    from keras import layers, regularizers

    def conv(filters: int, size: int, strides: int = 1, penalised: bool = True) -> Any:
        return layers.Conv2D(filters, size, strides=strides, padding="same",
                             kernel_regularizer=regularizers.L2(0.02) if penalised else None,
                             bias_regularizer="l1" if penalised else None)

    stem, first, second, projection = conv(4, 3, penalised=False), conv(8, 3), conv(8, 3), conv(8, 1)
    head = layers.Dense(CLASSES, activation="softmax")
    x = keras.Input((SIZE, SIZE, 1))
    h = stem(x)
    y = second(layers.Activation("relu")(first(h)))
    out = layers.Activation("relu")(layers.Add()([y, projection(h)]))
    model = keras.Model(x, head(layers.GlobalAveragePooling2D()(out)))
    return model, [stem, first, second, projection, head]


def compiled(kind: str, weights: list[np.ndarray] | None, rng: np.random.Generator) -> tuple[Any, list[Any]]:
    """The model ``kind``, compiled for SGD(0.1), holding ``weights`` (in mnistlab's order), or new
    ones drawn from ``rng`` when None; and the layers whose weights, in turn, are in that order."""
    import keras

    model, ordered = build_residual() if kind == "residual" else (build(kind), [])
    layers = ordered or [model]  # the residual model's layers one by one, in mnistlab's order; else the model's
    # sd 0.2 for the residual model, not 0.5: at 0.5 its stacked convolutions push a softmax probability
    # under 1e-7 after one step, where Keras's torch backend clips it and its TensorFlow one (and
    # mnistlab, on logits) does not: the two Kerases' losses part there
    sd = 0.2 if ordered else 0.5
    given = iter(weights or [])
    for layer in layers:
        layer.set_weights([np.asarray(next(given)) if weights else rng.normal(0, sd, w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return model, layers


def weights_of(layers: list[Any]) -> list[np.ndarray]:
    """The weights of ``layers``, in turn (mnistlab's order)."""
    return [w for layer in layers for w in layer.get_weights()]


def record(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """One model's starting weights, data, penalty, evaluate loss and two SGD epochs (of a fresh
    copy of the model, holding the same weights)."""
    import keras

    model, layers = compiled(kind, None, rng)
    weights = weights_of(layers)
    images = rng.integers(0, 256, (N, SIZE, SIZE), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, N)
    x = (images.astype(np.float32) / 255.0)[..., None]
    fresh, fresh_layers = compiled(kind, weights, rng)
    fit = fresh.fit(x, labels, batch_size=N, epochs=2, shuffle=False, verbose=0)
    penalty = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
    evaluated = float(model.evaluate(x, labels, batch_size=N, verbose=0))
    return {"weights": [w.tolist() for w in weights], "shapes": [list(w.shape) for w in weights],
            "images": images.tolist(), "labels": labels.tolist(), "penalty": penalty, "evaluate_loss": evaluated,
            "fit_loss": [float(v) for v in fit.history["loss"]],
            "trained": [w.tolist() for w in weights_of(fresh_layers)]}


def main() -> None:
    import keras
    from keras import regularizers

    models = {"residual": record("residual", np.random.default_rng(1))}  # its own generator: the others' as before
    rng = np.random.default_rng(0)
    models.update((kind, record(kind, rng)) for kind in ("dense", "conv"))
    out = {"keras": keras.__version__, "backend": keras.backend.backend(),
           "identifiers": {name: regularizers.get(name).get_config() for name in ("l1", "l2", "l1l2", "L2")},
           "models": models}
    OUT.write_text(json.dumps(out) + "\n")
    print(f"wrote {OUT}: penalties {[m['penalty'] for m in out['models'].values()]}")


if __name__ == "__main__":
    main()
