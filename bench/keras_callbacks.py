"""Record Keras's callback decisions for given epoch logs: tests/data/keras_callbacks.json.

Each case names a Keras callback (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint), its
arguments, a starting learning rate and a sequence of epoch logs. A tiny Keras model is trained
with ``model.fit`` for that many epochs; a callback placed before the one under test replaces the
epoch's logs with the case's logs (Keras hands every callback the same dict) and writes the epoch
number into the model's kernel, so that the restored weights tell which epoch they came from.
What is recorded, per case: the learning rate after each epoch, the callback's ``best`` and
``wait`` after each epoch, the number of epochs run (a stop ends the fit), the epochs at which a
checkpoint was written, and the epoch whose weights the model holds at the end.

Keras's ``fit`` hands its callbacks each metric as a Python float of a float32 value
(``keras/src/utils/python_utils.py``, ``pythonify_logs``): 0.998 arrives as 0.99800002574920654.
The case's logs are what mnistlab logs (exact fractions such as 4990 / 5000, float64); the
callback under test gets them as ``fit`` would, rounded to float32 (helper-155: fed the float64
values, Keras decided a gain of exactly ``min_delta`` the other way from a real ``fit``).

mnistlab's tests feed its own callbacks the unrounded logs and compare every decision
(tests/test_callbacks.py); Keras is not needed to run them. Regenerate with::

    KERAS_BACKEND=torch python bench/keras_callbacks.py        # keras 3.15.1 (torch 2.13.0 backend)

The cases are the ones of issue 14 (min_delta applied to the value, float32 comparisons, the
min_lr floor) and a few dozen random ones drawn with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_callbacks.json"
MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")


def issue_cases() -> list[dict[str, Any]]:
    """The cases issue 14 names, with the logs mnistlab writes (Python floats)."""
    acc_steps = [{"val_accuracy": (9000 + k) / 10000} for k in range(1000)]  # one image per epoch
    constant = [{"val_loss": 0.5}] * 12
    return [
        {"name": "plateau_min_delta_on_value", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_loss", "min_delta": 0.1, "patience": 1, "factor": 0.5},
         "logs": [{"val_loss": 0.4}, {"val_loss": 0.3}]},
        {"name": "early_min_delta_on_value", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_loss", "min_delta": 0.1, "patience": 1},
         "logs": [{"val_loss": 0.4}, {"val_loss": 0.3}, {"val_loss": 0.3}]},
        {"name": "plateau_float32_one_image", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "patience": 1, "factor": 0.5},
         "logs": [{"val_accuracy": 0.9007}, {"val_accuracy": 0.9008}]},
        {"name": "plateau_float32_1000_steps", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "patience": 1000, "factor": 0.5}, "logs": acc_steps},
        {"name": "early_float32_1000_steps", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "min_delta": 1e-4, "patience": 2000}, "logs": acc_steps},
        {"name": "checkpoint_float32_steps", "callback": "ModelCheckpoint", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "save_best_only": True}, "logs": acc_steps[:50]},
        {"name": "plateau_min_lr_floor", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_loss", "min_lr": 1e-4, "factor": 0.1, "patience": 1}, "logs": constant},
        {"name": "plateau_min_lr_floor_from_1e-2", "callback": "ReduceLROnPlateau", "lr": 1e-2,
         "args": {"monitor": "val_loss", "min_lr": 1e-4, "factor": 0.1, "patience": 1}, "logs": constant},
        {"name": "plateau_min_lr_floor_cooldown", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_loss", "min_lr": 1e-5, "factor": 0.5, "patience": 3, "cooldown": 2},
         "logs": [{"val_loss": 0.5}] * 40},
        {"name": "checkpoint_monitor_missing", "callback": "ModelCheckpoint", "lr": 1e-3,
         "args": {"monitor": "val_loss", "save_best_only": True},
         "logs": [{"val_loss": 0.5}, {"loss": 0.4}, {"val_loss": 0.6}, {"val_loss": 0.45}]},
        {"name": "early_monitor_missing", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_loss", "patience": 1, "restore_best_weights": True},
         "logs": [{"val_loss": 0.5}, {"loss": 0.4}, {"val_loss": 0.6}, {"loss": 0.4}, {"val_loss": 0.7}]},
        {"name": "early_restores_without_stopping", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_loss", "patience": 10, "restore_best_weights": True},
         "logs": [{"val_loss": v} for v in (0.5, 0.3, 0.4, 0.35, 0.6)]},
        {"name": "early_baseline_never_beaten", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "patience": 3, "baseline": 0.9, "restore_best_weights": True},
         "logs": [{"val_accuracy": v} for v in (0.5, 0.7, 0.6, 0.8, 0.85, 0.95, 0.96)]},
        {"name": "early_start_from_epoch", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "loss", "patience": 0, "start_from_epoch": 3},
         "logs": [{"loss": v} for v in (1.0, 2.0, 3.0, 4.0, 3.5, 3.6, 3.0)]},
        {"name": "checkpoint_initial_value_threshold", "callback": "ModelCheckpoint", "lr": 1e-3,
         "args": {"monitor": "val_loss", "save_best_only": True, "initial_value_threshold": 0.4},
         "logs": [{"val_loss": v} for v in (0.5, 0.45, 0.4, 0.39, 0.41, 0.3)]},
        {"name": "early_nan_is_never_better", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_loss", "patience": 2},
         "logs": [{"val_loss": v} for v in (0.5, float("nan"), 0.4, 0.45, 0.46, 0.47)]},
        {"name": "seed002_plateau", "callback": "ReduceLROnPlateau", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "patience": 3, "factor": 0.5, "min_lr": 1e-5},
         "logs": random_logs(random.Random(2), "val_accuracy", 60)},
        # helper-155: gains of exactly min_delta, decided on the float32 values fit logs
        {"name": "early_gain_of_min_delta_10000", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "min_delta": 1e-3, "patience": 2000},
         "logs": [{"val_accuracy": (5000 + 10 * k) / 10000} for k in range(400)]},
        {"name": "early_gain_of_min_delta_5000", "callback": "EarlyStopping", "lr": 1e-3,
         "args": {"monitor": "val_accuracy", "min_delta": 2e-4, "patience": 0},
         "logs": [{"val_accuracy": 2501 / 5000}, {"val_accuracy": 2502 / 5000}, {"val_accuracy": 2503 / 5000}]},
        {"name": "plateau_gain_of_min_delta_500", "callback": "ReduceLROnPlateau", "lr": 1e-2,
         "args": {"monitor": "accuracy", "min_delta": 0.01, "patience": 0, "factor": 0.3},
         "logs": [{"accuracy": n / 500} for n in (480, 494, 499, 500)]},
        {"name": "checkpoint_float32_loss", "callback": "ModelCheckpoint", "lr": 1e-3,
         "args": {"monitor": "val_loss", "save_best_only": True},
         "logs": [{"val_loss": v} for v in (0.3, 0.3 - 1e-9, 0.3 - 3e-8, 0.2999999)]},
    ]


def random_logs(rng: random.Random, monitor: str, epochs: int) -> list[dict[str, float]]:
    """A noisy curve: accuracies rise towards 1, losses fall; some values repeat exactly, some are
    a few float32 steps apart, so that ties and near-ties occur."""
    value = rng.uniform(0.5, 0.9) if "accuracy" in monitor else rng.uniform(0.2, 2.0)
    out = []
    for _ in range(epochs):
        r = rng.random()
        if r < 0.2:
            pass  # the same value again
        elif r < 0.35:
            value = value + rng.choice((-1, 1)) * rng.choice((1e-4, 1e-3, 1e-7))
        elif "accuracy" in monitor:
            value = min(1.0, max(0.0, value + rng.gauss(0.005, 0.01)))
            value = round(value * 10000) / 10000  # accuracy on 10,000 images
        else:
            value = max(0.0, value * (1 + rng.gauss(-0.03, 0.05)))
        out.append({"loss": round(rng.uniform(0.1, 1.0), 4), "accuracy": round(rng.uniform(0.5, 1.0), 4),
                    monitor: value})
    return out


def random_case(rng: random.Random, i: int) -> dict[str, Any]:
    """One random case: a callback with random arguments and 10 to 40 epochs of logs."""
    kind = rng.choice(("EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"))
    monitor = rng.choice(MONITORS)
    mode = rng.choice(("auto", "auto", "min", "max"))
    args: dict[str, Any] = {"monitor": monitor, "mode": mode}
    if kind == "EarlyStopping":
        args.update(patience=rng.randint(0, 5), min_delta=rng.choice((0, 1e-4, 1e-3, 0.01)),
                    restore_best_weights=rng.random() < 0.5, start_from_epoch=rng.choice((0, 0, 2)))
        if rng.random() < 0.3:
            args["baseline"] = rng.uniform(0.5, 1.0) if "accuracy" in monitor else rng.uniform(0.1, 1.0)
    elif kind == "ReduceLROnPlateau":
        args.update(patience=rng.randint(0, 4), factor=rng.choice((0.1, 0.2, 0.5)),
                    min_delta=rng.choice((0, 1e-4, 1e-3)), cooldown=rng.randint(0, 2),
                    min_lr=rng.choice((0.0, 1e-5, 1e-4, 3e-4)))
    else:
        args.update(save_best_only=rng.random() < 0.8)
        if rng.random() < 0.3:
            args["initial_value_threshold"] = rng.uniform(0.5, 1.0)
    return {"name": f"random_{i:02d}", "callback": kind, "lr": rng.choice((1e-3, 1e-2, 3e-3)), "args": args,
            "logs": random_logs(rng, monitor, rng.randint(10, 40))}


def run_case(case: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Train a one-weight Keras model for len(logs) epochs with the case's callback; its decisions."""
    import keras
    import numpy as np

    logs_seq, kind, args = case["logs"], case["callback"], dict(case["args"])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=case["lr"]), loss="mse", metrics=["accuracy"])
    if kind == "ModelCheckpoint":
        args.update(filepath=str(folder / "e{epoch:04d}.weights.h5"), save_weights_only=True)
    callback = getattr(keras.callbacks, kind)(**args)
    trace: dict[str, list[Any]] = {"lr": [], "best": [], "wait": []}

    class Inject(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            assert logs is not None
            logs.clear()
            logs.update({k: float(np.float32(v)) for k, v in logs_seq[epoch].items()})  # as fit logs them
            model.layers[0].kernel.assign(np.full((1, 1), float(epoch), dtype="float32"))

    class Trace(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            trace["lr"].append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
            best = getattr(callback, "best", None)
            trace["best"].append(None if best is None else float(best))
            trace["wait"].append(getattr(callback, "wait", None))

    model.fit(np.zeros((1, 1)), np.zeros((1, 1)), epochs=len(logs_seq), verbose=0,
                        callbacks=[Inject(), callback, Trace()])
    saved = sorted(int(p.name[1:5]) - 1 for p in folder.glob("e*.weights.h5"))
    return {"epochs_run": len(trace["lr"]), **trace, "saved": saved,
            "weights_of_epoch": int(round(float(model.layers[0].kernel.numpy()[0, 0])))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=40, help="number of random cases (default 40)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, default=OUT)
    opts = parser.parse_args()
    import warnings

    import keras

    warnings.simplefilter("ignore")  # the "metric not available" warnings the missing-monitor cases cause
    rng = random.Random(opts.seed)
    cases = issue_cases() + [random_case(rng, i) for i in range(opts.random)]
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            case["keras"] = run_case(case, Path(tmp))
        print(f"{case['name']}: {case['keras']['epochs_run']} epochs, lr {case['keras']['lr'][-1]:.3g}, "
              f"saved {len(case['keras']['saved'])}, weights of epoch {case['keras']['weights_of_epoch']}")
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"keras": keras.__version__, "generator": "bench/keras_callbacks.py", "cases": cases}
    opts.out.write_text(json.dumps(record, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {opts.out}")


if __name__ == "__main__":
    main()
