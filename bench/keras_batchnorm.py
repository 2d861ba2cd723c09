"""Record how Keras 3 moves BatchNormalization's statistics in training: tests/data/keras_batchnorm.json,
which tests/test_models.py compares mnistlab against (helper-139: torch's BatchNorm moved toward
the batch's unbiased variance, Keras's toward the biased one).

Run once with a Python that has Keras 3 (any backend; here the torch one, Keras installed in a
virtual environment of its own beside mnistlab's)::

    KERAS_BACKEND=torch keras-venv/bin/python bench/keras_batchnorm.py

Two models without weights of their own to copy, on 40 seeded 8x8 RGB images (recorded as uint8,
so the test needs no Keras and no generator), fed in training mode as batches of 16, 16 and 8 for
three passes (nine updates, the last batch of each pass short, as ``fit``'s is):

- ``dense``: Flatten -> BatchNormalization(momentum=0.9): 192 features over 16 or 8 rows, where
  the biased and unbiased variances differ by 16/15 (or 8/7);
- ``conv``: BatchNormalization(momentum=0.8, epsilon=0.01) on the image: 3 channels over 16 x 64
  values (1024/1023).

Recorded per model: the moving mean and variance after the nine updates, and the inference
output of the first four images with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_batchnorm.json"
N, SIZE, CHANNELS, BATCH, PASSES = 40, 8, 3, 16, 3
MODELS = {"dense": {"momentum": 0.9, "epsilon": 1e-3, "flatten": True},
          "conv": {"momentum": 0.8, "epsilon": 1e-2, "flatten": False}}


def build(kind: str) -> Any:
    """The Keras model ``kind`` (see the module docstring)."""
    import keras
    from keras import layers

    how = MODELS[kind]
    body = [layers.Flatten()] if how["flatten"] else []
    return keras.Sequential([keras.Input((SIZE, SIZE, CHANNELS)), *body,
                             layers.BatchNormalization(momentum=how["momentum"], epsilon=how["epsilon"])])


def record(kind: str, images: np.ndarray) -> dict[str, Any]:
    """``kind``'s moving statistics after the training batches, and its inference output."""
    import keras

    model = build(kind)
    x = images.astype("float32") / 255.0
    for _ in range(PASSES):
        for start in range(0, N, BATCH):
            model(x[start:start + BATCH], training=True)
    bn = model.layers[-1]
    out = keras.ops.convert_to_numpy(model(x[:4], training=False))
    return {**MODELS[kind], "moving_mean": keras.ops.convert_to_numpy(bn.moving_mean).tolist(),
            "moving_variance": keras.ops.convert_to_numpy(bn.moving_variance).tolist(), "inference": out.tolist()}


def main() -> None:
    import keras

    images = np.random.default_rng(0).integers(0, 256, (N, SIZE, SIZE, CHANNELS), dtype=np.uint8)
    data = {"keras": keras.__version__, "backend": keras.backend.backend(), "batch": BATCH, "passes": PASSES,
            "images": images.tolist(), "models": {kind: record(kind, images) for kind in MODELS}}
    OUT.write_text(json.dumps(data) + "\n")
    print(f"wrote {OUT} (Keras {keras.__version__}, {keras.backend.backend()} backend)")


if __name__ == "__main__":
    main()
