"""Record the learning rate Keras's ``ExponentialDecay`` gives each batch of a fit:
tests/data/keras_schedules.json.

Keras 3 evaluates a ``LearningRateSchedule`` at the optimizer's ``iterations`` (the batches applied
so far, from 0) before each step (``keras/src/optimizers/base_optimizer.py``, ``_get_current_learning_rate``).
This script fits a Dense(3) layer on 10 samples in batches of 4 (3 batches an epoch, the last one
short) for 3 epochs under a few ``ExponentialDecay`` settings and records the rate each batch
trained at, read in ``on_train_batch_begin``, so that tests/test_optim.py checks that
``train.schedule = { type = "exponential", ... }`` steps the same way without Keras installed.
Regenerate with::

    /work/tfv/bin/python bench/keras_schedules.py        # tensorflow-cpu 2.21, keras 3.15.1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_schedules.json"
SAMPLES, BATCH, EPOCHS, LR = 10, 4, 3, 0.05
CASES: list[dict[str, Any]] = [
    {"decay_steps": 2, "decay_rate": 0.5, "staircase": False},
    {"decay_steps": 2, "decay_rate": 0.5, "staircase": True},
    {"decay_steps": 3, "decay_rate": 0.9, "staircase": True},  # one drop an epoch: LearningRateScheduler's 0.9 ** epoch
    {"decay_steps": 1000, "decay_rate": 0.96, "staircase": False},
]


def rates(case: dict[str, Any]) -> list[float]:
    """The learning rate of each batch of a fit under ``case``'s ExponentialDecay."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(SAMPLES, 4)).astype("float32"), rng.integers(0, 3, SAMPLES)
    schedule = keras.optimizers.schedules.ExponentialDecay(LR, **case)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="sparse_categorical_crossentropy")
    seen: list[float] = []

    class Rate(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[Rate()])
    return seen


def main() -> None:
    import keras

    record = {"keras": keras.__version__, "samples": SAMPLES, "batch_size": BATCH, "epochs": EPOCHS, "lr": LR,
              "cases": [{**case, "rates": rates(case)} for case in CASES]}
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
