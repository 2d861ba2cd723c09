"""Record what Keras's optimizer EMA does to a tiny model's weights: tests/data/keras_ema.json.

Keras 3 optimizers take ``use_ema``, ``ema_momentum`` and ``ema_overwrite_frequency``
(``keras/src/optimizers/base_optimizer.py``): after every step the optimizer updates a moving
average of each trainable variable, and ``fit`` ends with ``finalize_variable_values``, which writes
the average into the weights; with an overwrite frequency the weights are also replaced by the
average every that many steps. This script trains a Dense(3) layer on 16 fixed 4-feature samples
(batches of 4, no shuffling, plain SGD) under a few EMA settings and records the weights after each
``fit``, so that tests/test_averaging.py can check that mnistlab's ExponentialMovingAverage computes
the same numbers without Keras installed. Regenerate with::

    /work/benchvenv/bin/python bench/keras_ema.py        # tensorflow-cpu 2.21, keras 3.15.1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_ema.json"

CASES: list[dict[str, Any]] = [
    {"name": "no_ema", "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "epochs": 2},
    {"name": "ema_0.9", "use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": None, "epochs": 2},
    {"name": "ema_default", "use_ema": True, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "epochs": 3},
    {"name": "ema_0.5_overwrite_3", "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 3,
     "epochs": 2},
]


def train_case(case: dict[str, Any], x: Any, y: Any, kernel: Any, bias: Any, lr: float) -> dict[str, Any]:
    """Fit the Dense layer from the given weights under one EMA setting; its weights after fit."""
    import keras

    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3)])
    model.layers[0].set_weights([kernel, bias])
    optimizer = keras.optimizers.SGD(learning_rate=lr, use_ema=case["use_ema"], ema_momentum=case["ema_momentum"],
                                     ema_overwrite_frequency=case["ema_overwrite_frequency"])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=4, epochs=case["epochs"], shuffle=False, verbose=0)
    k, b = model.layers[0].get_weights()
    return {**case, "steps": case["epochs"] * len(x) // 4, "kernel": k.tolist(), "bias": b.tolist()}


def main() -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(16)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int64)
    kernel = (rng.normal(size=(4, 3)) * 0.5).astype(np.float32)
    bias = np.zeros(3, np.float32)
    lr = 0.5  # large, so that the weights move a lot and the average lags visibly behind them
    cases = [train_case(c, x, y, kernel, bias, lr) for c in CASES]
    OUT.write_text(json.dumps({"keras": keras.__version__, "lr": lr, "batch_size": 4, "x": x.tolist(),
                               "y": y.tolist(), "kernel": kernel.tolist(), "bias": bias.tolist(),
                               "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
