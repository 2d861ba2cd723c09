"""Record what Keras's ``fit(class_weight=...)`` does to a tiny model: tests/data/keras_class_weight.json.

Keras 3 turns ``class_weight`` into each sample's weight (``keras/src/trainers/data_adapters/
data_adapter_utils.py``, ``class_weight_to_sample_weights``) and the loss reduces the weighted
per-sample losses by the batch's size (``sum_over_batch_size``). This script fits a Dense(3) layer on
12 fixed 4x4 uint8 images (scaled by 1/255, flattened; one batch an epoch, so that the order of the
images in it does not matter) with SGD under a few class weightings and records the loss each epoch
logs and the weights after ``fit``, so that tests/test_trainer.py checks that ``train.class_weight``
computes the same numbers without Keras installed. Regenerate with::

    /work/tfv/bin/python bench/keras_class_weight.py        # tensorflow-cpu 2.21, keras 3.15.1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_class_weight.json"
CASES: list[dict[str, Any]] = [
    {"name": "none", "class_weight": None},
    {"name": "every_class", "class_weight": {0: 1.0, 1: 3.0, 2: 0.5}},
    {"name": "one_class", "class_weight": {2: 4.0}},  # the others weigh 1.0
]


def fit_case(case: dict[str, Any], images: Any, y: Any, kernel: Any, bias: Any, lr: float, epochs: int) -> dict[str, Any]:
    """Fit the Dense layer from the given weights under one class weighting: its losses and weights."""
    import keras

    x = images.reshape(len(images), -1).astype("float32") / 255.0
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3)])
    model.layers[0].set_weights([kernel, bias])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0,
                        class_weight=case["class_weight"])
    k, b = model.layers[0].get_weights()
    weights = case["class_weight"]
    return {"name": case["name"], "class_weight": None if weights is None else {str(c): w for c, w in weights.items()},
            "loss": [float(v) for v in history.history["loss"]], "kernel": k.tolist(), "bias": b.tolist()}


def main() -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(12)
    images = rng.integers(0, 256, size=(12, 4, 4)).astype(np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 2, 1], np.int64)
    kernel = (rng.normal(size=(16, 3)) * 0.3).astype(np.float32)
    bias = np.zeros(3, np.float32)
    lr, epochs = 0.5, 3
    cases = [fit_case(c, images, y, kernel, bias, lr, epochs) for c in CASES]
    OUT.write_text(json.dumps({"keras": keras.__version__, "lr": lr, "epochs": epochs, "images": images.tolist(),
                               "y": y.tolist(), "kernel": kernel.tolist(), "bias": bias.tolist(), "cases": cases},
                              indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
