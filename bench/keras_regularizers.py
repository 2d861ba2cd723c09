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
  Dense(3, softmax, kernel "l1l2").

For each it records ``sum(model.losses)`` (the penalty) at the starting weights,
``model.evaluate``'s loss (cross-entropy plus the penalty), then two full-batch epochs of SGD
(lr 0.1: each epoch is one step, so no shuffle order enters) with the loss ``fit`` reports per
epoch and the weights after them. And the factors Keras gives each string identifier
(``regularizers.get(name).get_config()``): "l1l2" is ``L1L2()``, both factors 0 (Keras 3 has no
"l1_l2", tf.keras 2's ``l1_l2()`` of 0.01 each).
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


def record(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """One model's starting weights, data, penalty, evaluate loss and two SGD epochs."""
    import keras

    model = build(kind)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    images = rng.integers(0, 256, (N, SIZE, SIZE), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, N)
    x = (images.astype(np.float32) / 255.0)[..., None]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    penalty = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
    evaluated = float(model.evaluate(x, labels, batch_size=N, verbose=0))
    fit = model.fit(x, labels, batch_size=N, epochs=2, shuffle=False, verbose=0)
    return {"weights": [w.tolist() for w in weights], "shapes": [list(w.shape) for w in weights],
            "images": images.tolist(), "labels": labels.tolist(), "penalty": penalty, "evaluate_loss": evaluated,
            "fit_loss": [float(v) for v in fit.history["loss"]],
            "trained": [w.tolist() for w in model.get_weights()]}


def main() -> None:
    import keras
    from keras import regularizers

    rng = np.random.default_rng(0)
    out = {"keras": keras.__version__, "backend": keras.backend.backend(),
           "identifiers": {name: regularizers.get(name).get_config() for name in ("l1", "l2", "l1l2", "L2")},
           "models": {kind: record(kind, rng) for kind in ("dense", "conv")}}
    OUT.write_text(json.dumps(out) + "\n")
    print(f"wrote {OUT}: penalties {[m['penalty'] for m in out['models'].values()]}")


if __name__ == "__main__":
    main()
