"""Record Keras 3's optimizer trajectories, for tests/test_optim.py to compare mnistlab against.

Run once with a Python that has Keras 3 (TensorFlow backend), e.g. ``/work/benchvenv/bin/python``::

    python bench/keras_optimizers.py            # writes tests/data/keras_optimizers.json

For every optimizer configuration in ``CONFIGS`` it trains, from the same starting values:

- ``vector``: eight float32 weights driven by a fixed gradient sequence (``gradients(t)``, shared
  with the test): tiny gradients (1.09e-4, 1e-6, alternating 1e-6), a sign-flipping ``(-1)**t + 0.2``,
  smooth ones, a large one and a zero one (where only momentum and weight decay move the weight);
- ``dense``: a small Dense model (4 -> 3 relu -> 2, softmax cross-entropy on fixed data), whose
  gradients depend on the trajectory itself;

for ``STEPS`` steps with the learning rate changed twice on the way (``lr_at(t)``: the base lr,
then a tenth of it, then a half), and records the weights after the steps in ``RECORD``. It also
records the single cases quoted in issue 14 (``cases``). Keras is never imported by the tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_optimizers.json"
STEPS = 100
RECORD = [1, 2, 10, 40, 41, 70, 71, 100]
W0 = [0.5, -0.3, 0.1, 1.0, -1.0, 0.2, 0.7, -0.4]
WD = 0.1  # the weight decay of the "+wd" configurations

# (label, Keras class name, keyword arguments); every unset argument keeps Keras's default
_BASE = [
    ("sgd", "SGD", {}),
    ("sgd_momentum", "SGD", {"momentum": 0.9}),
    ("sgd_nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop_momentum", "RMSprop", {"momentum": 0.9}),
    ("rmsprop_centered", "RMSprop", {"centered": True}),
    ("rmsprop_centered_momentum", "RMSprop", {"centered": True, "momentum": 0.5}),
    ("adam", "Adam", {}),
    ("adam_amsgrad", "Adam", {"amsgrad": True}),
    ("adamw", "AdamW", {}),
    ("nadam", "Nadam", {}),
    ("adamax", "Adamax", {}),
    ("adagrad", "Adagrad", {}),
    ("adagrad_acc0", "Adagrad", {"initial_accumulator_value": 0.0}),  # tf.keras 2's optimizer="adagrad"
]
CONFIGS = [(label, cls, kw) for label, cls, kw in _BASE if cls != "AdamW"] + [
    (label + "+wd", cls, {**kw, "weight_decay": WD}) for label, cls, kw in _BASE if cls != "AdamW"
] + [("adamw", "AdamW", {}), ("adamw_no_decay", "AdamW", {"weight_decay": 0.0}),
     ("adamw+wd", "AdamW", {"weight_decay": WD})]


def lr_at(t: int, base: float) -> float:
    """The learning rate of step ``t`` (1-based): ``base``, ``base / 10`` from step 41, ``base / 2`` from 71."""
    return base if t <= 40 else base / 10 if t <= 70 else base / 2


def gradients(t: int) -> list[float]:
    """The gradient of each of the eight ``vector`` weights at step ``t`` (1-based)."""
    return [1.09e-4, 1e-6, (-1.0) ** t + 0.2, 0.5 * math.sin(0.3 * t), 1e-6 * (-1.0) ** t, 3.0, 0.0,
            0.1 * math.cos(t) + 0.05]


def dense_problem() -> dict[str, list]:
    """The Dense model's starting weights (Keras layout: kernel (in, out)) and its fixed data."""
    rng = np.random.default_rng(14)
    f = lambda *shape: np.round(rng.normal(0, 0.5, shape), 4).astype(np.float32).tolist()  # noqa: E731
    return {"kernel1": f(4, 3), "bias1": f(3), "kernel2": f(3, 2), "bias2": f(2), "x": f(8, 4),
            "y": rng.integers(0, 2, 8).tolist()}


def _f32(values) -> list[float]:
    """float32 values as JSON numbers with 9 significant digits (enough to give back the same float32)."""
    return [float(f"{v:.9g}") for v in np.asarray(values, np.float32).ravel().tolist()]


def _optimizer(keras, cls: str, kw: dict):
    return getattr(keras.optimizers, cls)(**kw)


def _run_vector(keras, cls: str, kw: dict) -> dict[str, list]:
    opt = _optimizer(keras, cls, kw)
    base = float(opt.learning_rate.numpy())
    w = keras.Variable(np.array(W0, np.float32))
    out = {}
    for t in range(1, STEPS + 1):
        opt.learning_rate.assign(lr_at(t, base))
        opt.apply_gradients([(np.array(gradients(t), np.float32), w)])
        if t in RECORD:
            out[str(t)] = _f32(w.numpy())
    return out


def _run_dense(keras, tf, cls: str, kw: dict, problem: dict) -> dict[str, list]:
    opt = _optimizer(keras, cls, kw)
    base = float(opt.learning_rate.numpy())
    names = ["kernel1", "bias1", "kernel2", "bias2"]
    ws = [keras.Variable(np.array(problem[n], np.float32)) for n in names]
    x, y = tf.constant(problem["x"], tf.float32), tf.constant(problem["y"])
    out = {}
    for t in range(1, STEPS + 1):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(x @ ws[0] + ws[1])
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, h @ ws[2] + ws[3]))
        grads = tape.gradient(loss, [w.value for w in ws])
        opt.learning_rate.assign(lr_at(t, base))
        opt.apply_gradients(zip(grads, ws))
        if t in RECORD:
            out[str(t)] = {n: _f32(w.numpy()) for n, w in zip(names, ws)}
    return out


def _single(keras, cls: str, kw: dict, grads: list[float], lrs: list[float] | None = None) -> list[float]:
    """The weight after each step of a one-weight run from 0 with the given gradients."""
    opt = _optimizer(keras, cls, kw)
    w = keras.Variable(np.zeros(1, np.float32))
    path = []
    for i, g in enumerate(grads):
        if lrs is not None:
            opt.learning_rate.assign(lrs[i])
        opt.apply_gradients([(np.array([g], np.float32), w)])
        path.extend(_f32(w.numpy()))
    return path


def issue_cases(keras) -> dict[str, list[float]]:
    """The smallest cases quoted in issue 14, each a one-weight path from 0."""
    flip = [(-1.0) ** t + 0.2 for t in range(1, 101)]
    return {
        "rmsprop_one_step_1.09e-4": _single(keras, "RMSprop", {}, [1.09e-4]),
        "rmsprop_one_step_1e-6": _single(keras, "RMSprop", {}, [1e-6]),
        "nadam_flip_100": _single(keras, "Nadam", {}, flip),
        "adam_one_step_1.09e-6": _single(keras, "Adam", {}, [1.09e-6]),
        "adamw_one_step_1.09e-6": _single(keras, "AdamW", {}, [1.09e-6]),
        "sgd_momentum_lr_drop_100": _single(keras, "SGD", {"momentum": 0.9}, [1.0] * 100,
                                            [0.01] * 50 + [0.001] * 50),
    }


def main() -> None:
    import keras
    import tensorflow as tf

    problem = dense_problem()
    record: dict = {"keras": keras.__version__, "tensorflow": tf.__version__, "steps": STEPS, "record": RECORD,
                    "w0": W0, "weight_decay": WD, "dense_problem": problem,
                    "gradients": [_f32(gradients(t)) for t in range(1, STEPS + 1)],
                    "lr_factors": [lr_at(t, 1.0) for t in range(1, STEPS + 1)], "configs": {}}
    for label, cls, kw in CONFIGS:
        record["configs"][label] = {"class": cls, "kwargs": kw, "vector": _run_vector(keras, cls, kw),
                                    "dense": _run_dense(keras, tf, cls, kw, problem)}
        print(label, record["configs"][label]["vector"]["100"][:3], flush=True)
    record["cases"] = issue_cases(keras)
    for name, path in record["cases"].items():
        print(name, path[-1] if len(path) == 1 else (path[-2], path[-1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
