"""Seed 002's dense model in Keras and in mnistlab, side by side over several seeds.

mnistlab's full-size runs of seed 002's dense model (Flatten, Dense(512, relu), Dropout(0.2),
Dense(256, relu), Dropout(0.2), Dense(10, softmax): 535,818 params; Adam, batch 86, 40 epochs,
50,000 training and 10,000 validation images) scored 98.37 +- 0.02% on the MNIST test set
(REPRODUCTION.md, seed 002), against the notebook's one Keras run of 98.06% and Keras 3's
98.10 +- 0.25% over three seeds. This trains the same model, once per seed, in three arms, each
run in its own subprocess with one thread:

- ``keras``: Keras 3 (TensorFlow), ``compile(optimizer="adam")``, each epoch in a new order;
- ``mnistlab``: mnistlab's run as recorded (on a CPU in float32 it takes the hand-written Dense
  step, ``accel.dense_step``, and the lean fused Adam step, ``accel.fused_adam``);
- ``mnistlab-autograd``: the same run with both fast paths off (autograd and the plain optimizer),

and prints each run's test accuracy, its validation accuracy over the last 10 epochs (mean and sd
within the run: how much one run's final score depends on where it stopped), then per arm the
mean +- sd (n) and Welch's test of each arm against Keras::

    python bench/keras_seed002.py --seeds 6 --jobs 2 --keras-python /work/benchvenv/bin/python
    python bench/keras_seed002.py --seeds 1 --epochs 1 --arms mnistlab,mnistlab-autograd   # smoke check

The Keras worker reads the IDX files with numpy and gzip only (``bench_keras.load``), so it runs
under any Python with TensorFlow, e.g. a separate venv made with ``pip install tensorflow-cpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench_keras import DEFAULT_DATA, ROOT, load, mean_sd

ARMS = ("keras", "mnistlab", "mnistlab-autograd")
LAST = 10  # epochs whose validation accuracy is summarised per run


def run_keras(epochs: int, seed: int, data_dir: Path) -> dict[str, Any]:
    """One seed in Keras: test accuracy after ``epochs`` epochs and each epoch's val_accuracy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(seed)
    d = load(data_dir, "mnist")
    x, y = d["x_train"] / 255.0, d["y_train"]
    split = np.random.default_rng(42).permutation(len(x))  # 50,000 / 10,000, one split for every seed
    train, val = split[:50_000], split[50_000:]
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28)), tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(512, activation="relu"), tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(256, activation="relu"), tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    val_acc = []
    for _ in range(epochs):
        order = rng.permutation(train)
        h = model.fit(x[order], y[order], epochs=1, batch_size=86, shuffle=False, verbose=0,
                      validation_data=(x[val], y[val]))
        val_acc.append(float(h.history["val_accuracy"][-1]))
    test = float(model.evaluate(d["x_test"] / 255.0, d["y_test"], verbose=0)[1])
    return {"test": test, "val": val_acc}


def run_mnistlab(epochs: int, seed: int, data_dir: Path, autograd: bool) -> dict[str, Any]:
    """One seed of recipes/seed002.toml's ``dense`` variant in mnistlab (float32, one thread);
    ``autograd`` turns the hand-written Dense step and the lean fused Adam step off."""
    from mnistlab import accel
    from mnistlab.experiments import load_experiment
    from mnistlab.run import run_config
    from mnistlab.config import parse_run_config

    if autograd:
        chosen = accel.plan

        def plain_plan(*args: Any, **kwargs: Any) -> accel.Plan:
            return chosen(*args, **{**kwargs, "hand_gradients": False, "lean_optimizer": False})

        accel.plan = plain_plan  # run_config looks it up on the module at each run
    exp = load_experiment(ROOT / "recipes" / "seed002.toml")
    (variant,) = [v for v in exp.variants if v.name == "dense"]
    raw = dict(variant.config)
    raw["train"] = {**raw.get("train", {}), "epochs": epochs, "seed": seed, "threads": 1, "precision": "float32"}
    result = run_config(parse_run_config(raw), data_dir=data_dir, progress="none")
    assert result.env["gradients"] == ("autograd" if autograd else "hand-written (dense fast path)"), result.env
    return {"test": float(result.metrics["test_accuracy"]), "val": [float(h["val_accuracy"]) for h in result.history]}


def run_one(python: str, arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any] | None:
    """One training in a subprocess with one thread (two can run side by side on two cores)."""
    cmd = [python, __file__, "--worker", arm, str(seed), "--epochs", str(args.epochs), "--data-dir", str(args.data_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line[7:])
            last = out["val"][-LAST:]
            sd = statistics.stdev(last) if len(last) > 1 else float("nan")
            print(f"  {arm:18s} seed {seed}: test {100 * out['test']:.2f}%, validation over the last {len(last)} "
                  f"epochs {100 * statistics.fmean(last):.2f} +- {100 * sd:.2f}%", flush=True)
            return out
    print(f"  {arm}/seed {seed}: failed ({(proc.stderr.strip().splitlines() or ['no output'])[-1]})", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="how many seeds: FIRST..FIRST+N-1")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (one thread each)")
    p.add_argument("--keras-python", default=sys.executable, help="a Python with tensorflow (default: this one)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="holds mnist/")
    p.add_argument("--worker", nargs=2, metavar=("ARM", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        arm, seed = args.worker[0], int(args.worker[1])
        out = (run_keras(args.epochs, seed, args.data_dir) if arm == "keras"
               else run_mnistlab(args.epochs, seed, args.data_dir, autograd=arm == "mnistlab-autograd"))
        print("RESULT " + json.dumps(out))
        return
    arms = args.arms.split(",")
    if unknown := [a for a in arms if a not in ARMS]:
        raise SystemExit(f"error: unknown arm {unknown[0]!r}; choose from {', '.join(ARMS)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(arm, seed) for seed in seeds for arm in arms]  # seed by seed, so an interrupted run has every arm
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outs = list(pool.map(lambda job: run_one(args.keras_python if job[0] == "keras" else sys.executable,
                                                 job[0], job[1], args), jobs))
    tests: dict[str, list[float]] = {arm: [] for arm in arms}
    spreads: dict[str, list[float]] = {arm: [] for arm in arms}
    for (arm, _), out in zip(jobs, outs, strict=True):
        if out is not None:
            tests[arm].append(out["test"])
            if len(out["val"]) > 1:
                spreads[arm].append(statistics.stdev(out["val"][-LAST:]))
    print(f"\nseed 002's dense model, {args.epochs} epochs, seeds {seeds.start}-{seeds.stop - 1}:")
    for arm in arms:
        within = f"; within a run, validation sd over the last {LAST} epochs {100 * statistics.fmean(spreads[arm]):.2f}" \
            if spreads[arm] else ""
        print(f"  {arm:18s} test accuracy {mean_sd(tests[arm])}{within}")
    if "keras" in arms and len(tests["keras"]) > 1:
        sys.path.insert(0, str(ROOT / "src"))
        from mnistlab.stats import welch_test

        k = tests["keras"]
        for arm in arms:
            if arm != "keras" and len(tests[arm]) > 1:
                v = tests[arm]
                w = welch_test(statistics.fmean(v), statistics.stdev(v), len(v), statistics.fmean(k), statistics.stdev(k), len(k))
                print(f"  {arm} - keras: {100 * (statistics.fmean(v) - statistics.fmean(k)):+.2f} points, Welch p = {w.p:.2f}")


if __name__ == "__main__":
    main()
