"""Record what Keras computes for a Normalization given per-feature values after a Flatten of a map
of several channels, whose features Keras orders (H, W, C) and torch (C, H, W).

Writes the model's Keras JSON, its weights, an input and Keras's output to
``tests/data/keras_flatten_normalization.npz``; ``tests/test_models.py`` builds the same model in
mnistlab from the JSON, loads the weights and compares, so TensorFlow is not needed to run the tests::

    /path/to/venv-with-tensorflow/bin/python bench/keras_flatten_normalization.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (after the environment is set)
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_flatten_normalization.npz"


def main() -> None:
    rng = np.random.default_rng(190)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(3, 14, strides=14),  # a 2 x 2 map of 3 channels: 12 features once flat
        layers.Flatten(),
        layers.Activation("relu"),  # keeps each feature in place
        layers.Normalization(mean=[float(10 * i) for i in range(12)], variance=[float(i + 1) for i in range(12)]),
        layers.Dense(4),
    ])
    weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in model.weights]
    model.set_weights(weights)
    x = rng.random((3, 28, 28, 1)).astype("float32")
    out = np.asarray(model(x))
    np.savez(OUT, json=np.array(model.to_json()), x=x, out=out, keras=np.array(keras.__version__),
             **{f"w{i}": w for i, w in enumerate(weights)})
    print(f"{OUT}: Keras {keras.__version__}, output {out.round(4).tolist()}")


if __name__ == "__main__":
    main()
