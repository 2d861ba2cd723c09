"""Record what Keras 3 does with a frozen layer (``layer.trainable = False``): tests/data/keras_frozen.json,
which tests/test_initial_weights.py compares mnistlab against (Keras is no test dependency).

Run once with a Python that has Keras 3 (any backend; here TensorFlow's, in a virtual environment
of its own beside mnistlab's)::

    KERAS_BACKEND=tensorflow keras-venv/bin/python bench/keras_frozen.py

Recorded:

- ``counts``: ``model.summary()``'s total, trainable and non-trainable parameters of Conv2D(8, 3,
  relu) -> BatchNormalization -> MaxPooling2D -> Flatten -> Dense(10, softmax) on 28x28x1, with the
  first two layers frozen, and again with none frozen;
- ``batchnorm``: a Flatten -> BatchNormalization(momentum=0.9) of 8x8x3 images, its moving statistics
  moved by two training batches, then frozen and called with ``training=True`` on the first four
  images: the output (Keras 3 normalises a frozen BatchNormalization with its moving statistics, in
  training too) and the moving statistics after that call (unchanged); the images are recorded
  (uint8) so the test needs no generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_frozen.json"


def counts(frozen: bool) -> dict[str, int]:
    """The summary's parameter counts of the conv model, its first two layers frozen or not."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3, activation="relu"),
                              layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    if frozen:
        model.layers[0].trainable = False
        model.layers[1].trainable = False
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return {"total": model.count_params(), "trainable": trainable, "non_trainable": non_trainable}


def batchnorm(images: np.ndarray) -> dict[str, Any]:
    """A frozen BatchNormalization in training mode (see the module docstring)."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Flatten(), layers.BatchNormalization(momentum=0.9)])
    x = images.astype("float32") / 255.0
    model(x[:16], training=True)
    model(x[16:], training=True)
    bn = model.layers[-1]
    before = keras.ops.convert_to_numpy(bn.moving_mean).tolist(), keras.ops.convert_to_numpy(bn.moving_variance).tolist()
    bn.trainable = False
    out = keras.ops.convert_to_numpy(model(x[:4], training=True))
    after = keras.ops.convert_to_numpy(bn.moving_mean).tolist(), keras.ops.convert_to_numpy(bn.moving_variance).tolist()
    return {"moving_mean": before[0], "moving_variance": before[1], "output": out.tolist(),
            "unchanged": before == after}


def main() -> None:
    import keras

    images = np.random.default_rng(0).integers(0, 256, (24, 8, 8, 3), dtype=np.uint8)
    out = {"keras": keras.__version__, "backend": keras.backend.backend(),
           "counts": {"frozen": counts(True), "trainable": counts(False)},
           "images": images.tolist(), "batchnorm": batchnorm(images)}
    OUT.write_text(json.dumps(out) + "\n")
    print(OUT, out["counts"], out["batchnorm"]["unchanged"])


if __name__ == "__main__":
    main()
