"""Keras vs mnistlab test accuracy over several seeds, side by side (issue 14's optimizer check).

Trains seed 000's dense model and CNN at the seed's settings (Fashion-MNIST, Adam lr 1e-3 eps 1e-7,
batch 32, ``--epochs``, default 5) once per seed in Keras and in mnistlab, each run in its own
subprocess, and prints each seed's test accuracy and then mean +- sd (n) per framework and model,
with the difference of the means and its standard error. With the optimizers following Keras's
update rules the means should agree within that noise::

    python bench/bench_optimizer_seeds.py --seeds 8 --keras-python /work/benchvenv/bin/python
    python bench/bench_optimizer_seeds.py --seeds 1 --epochs 1 --subset 2000 --models dense   # smoke check

mnistlab runs in ``--precision`` (default float32, so bf16 cannot explain a gap; ``auto`` for the
default). ``--subset N`` trains on the first N training images and tests on the first N // 6 test
images in both frameworks (mnistlab's ``data.subset``). Needs a quiet machine for the timings only;
the accuracies do not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench_keras import DEFAULT_DATA, ROOT, keras_inputs, keras_model, load  # one home for seed 000 in Keras


def run_keras(model_name: str, epochs: int, data_dir: Path, seed: int, subset: int, shuffle: str = "reshuffle") -> float:
    """Seed 000's notebook in Keras: the model, ``compile(optimizer="adam")``, ``fit``, ``evaluate``.

    ``shuffle="keras"`` is one ``fit(epochs=N)``: after ``keras.utils.set_random_seed``, Keras 3 on
    TensorFlow then feeds every epoch in the first epoch's order (its input pipeline's seeded
    ``tf.random.shuffle`` restarts each epoch; see bench/keras_trajectory.py). ``"reshuffle"`` (the
    default) gives each epoch its own order from a seeded NumPy generator, one ``fit`` per epoch,
    which is what an unseeded Keras, the seed notebooks and mnistlab do.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    d = load(data_dir)
    x_train, y_train, x_test, y_test = d["x_train"] / 255.0, d["y_train"], d["x_test"] / 255.0, d["y_test"]
    if subset:
        x_train, y_train, x_test, y_test = x_train[:subset], y_train[:subset], x_test[:subset // 6], y_test[:subset // 6]
    model = keras_model(tf, model_name)
    x_train, x_test = keras_inputs(model, x_train), keras_inputs(model, x_test)
    if shuffle == "keras":
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    else:
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = rng.permutation(len(x_train))
            model.fit(x_train[order], y_train[order], epochs=1, batch_size=32, shuffle=False, verbose=0)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def run_mnistlab(model_name: str, epochs: int, data_dir: Path, seed: int, subset: int, precision: str) -> float:
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    cfg = parse_run_config({"dataset": "fashion-mnist", "model": f"seed000-{model_name}",
                            "data": {"subset": subset},
                            "train": {"epochs": epochs, "seed": seed, "precision": precision}})
    return float(run_config(cfg, data_dir=data_dir, progress="none").metrics["test_accuracy"])


def run_one(python: str, framework: str, model: str, seed: int, args: argparse.Namespace) -> float | None:
    """One training in a subprocess (each framework's threads and memory to itself)."""
    cmd = [python, __file__, "--worker", framework, model, str(seed), "--epochs", str(args.epochs),
           "--subset", str(args.subset), "--data-dir", str(args.data_dir), "--precision", args.precision,
           "--keras-shuffle", args.keras_shuffle]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(json.loads(line[7:]))
    print(f"  {framework}/{model}/seed {seed}: failed ({(proc.stderr.strip().splitlines() or ['no output'])[-1]})",
          file=sys.stderr)
    return None


def summary(values: list[float]) -> str:
    """``mean +- sd (n)`` in percent."""
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{100 * statistics.fmean(values):.2f} +- {100 * sd:.2f} % (n={len(values)})"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=8, help="how many seeds: FIRST..FIRST+N-1")
    p.add_argument("--first-seed", type=int, default=1, help="the first seed (to finish an interrupted run)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--models", default="dense,cnn")
    p.add_argument("--subset", type=int, default=0)
    p.add_argument("--precision", default="float32", choices=["float32", "bf16", "auto"])
    p.add_argument("--keras-python", default=sys.executable, help="a Python with tensorflow (default: this one)")
    p.add_argument("--keras-shuffle", default="reshuffle", choices=["reshuffle", "keras"],
                   help="reshuffle: each Keras epoch in a new order; keras: one fit(), which after set_random_seed "
                        "repeats the first epoch's order (Keras 3 on TensorFlow)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "MODEL", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        framework, model, seed = args.worker
        acc = (run_keras(model, args.epochs, args.data_dir, int(seed), args.subset, args.keras_shuffle)
               if framework == "keras" else
               run_mnistlab(model, args.epochs, args.data_dir, int(seed), args.subset, args.precision))
        print("RESULT " + json.dumps(acc))
        return
    for model in args.models.split(","):
        results: dict[str, list[float]] = {"keras": [], "mnistlab": []}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for framework, python in (("keras", args.keras_python), ("mnistlab", sys.executable)):
                acc = run_one(python, framework, model, seed, args)
                if acc is not None:
                    results[framework].append(acc)
                    print(f"{model} seed {seed} {framework:8s} {100 * acc:.2f} %", flush=True)
        print(f"\n{model}, {args.epochs} epoch(s){f', subset {args.subset}' if args.subset else ''}, "
              f"mnistlab {args.precision}:")
        for framework, values in results.items():
            print(f"  {framework:8s} {summary(values) if values else 'no runs'}")
        k, m = results["keras"], results["mnistlab"]
        if len(k) > 1 and len(m) > 1:
            diff = statistics.fmean(m) - statistics.fmean(k)
            se = (statistics.variance(m) / len(m) + statistics.variance(k) / len(k)) ** 0.5
            print(f"  mnistlab - keras: {100 * diff:+.2f} +- {100 * se:.2f} points (difference of means, its standard error)")


if __name__ == "__main__":
    main()
