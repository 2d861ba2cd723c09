"""Seed 004's model3 in Keras itself: the training accuracy of Dense 128 + Dropout 0.5 under Adagrad.

The notebook prints "only 89%" of training accuracy for model3 (Flatten, Dense(128, relu,
glorot_normal), Dropout(0.5), Dense(10, softmax, glorot_normal), ``optimizer='adagrad'``, batch 32,
10 epochs, MNIST / 255); mnistlab's full-size run gives 85.28% (REPRODUCTION.md, seed 004). This
trains the same model in Keras 3 (TensorFlow) and prints each seed's training loss and accuracy per
epoch (Keras's running mean over the epoch's batches, dropout on, as the notebook's progress bar
shows them), then the last epoch's as mean +- sd (n)::

    /work/benchvenv/bin/python bench/keras_seed004.py --epochs 20 --seeds 3
    /work/benchvenv/bin/python bench/keras_seed004.py --initial-accumulator 0 --seeds 2

``--optimizer`` takes a Keras optimizer name with its defaults (``adagrad``: lr 1e-3, initial
accumulator 0.1, epsilon 1e-7). Runs under any Python with TensorFlow (the IDX files are read with
numpy and gzip only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from bench_keras import DEFAULT_DATA, load, mean_sd


def run(optimizer: str, dropout: float, epochs: int, seed: int, data_dir: Path,
        accumulator: float | None = None) -> list[tuple[float, float]]:
    """One seed: (training loss, training accuracy) after each epoch, in Keras; ``accumulator``: Adagrad's
    ``initial_accumulator_value`` in place of Keras's default 0.1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    d = load(data_dir, "mnist")
    x, y = d["x_train"] / 255.0, d["y_train"]
    layers = [tf.keras.Input((28, 28)), tf.keras.layers.Flatten(),
              tf.keras.layers.Dense(128, activation="relu", kernel_initializer="glorot_normal")]
    if dropout:
        layers.append(tf.keras.layers.Dropout(dropout))
    layers.append(tf.keras.layers.Dense(10, activation="softmax", kernel_initializer="glorot_normal"))
    model = tf.keras.Sequential(layers)
    opt = optimizer if accumulator is None else tf.keras.optimizers.Adagrad(initial_accumulator_value=accumulator)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        h = model.fit(x[order], y[order], epochs=1, batch_size=32, shuffle=False, verbose=0)
        out.append((float(h.history["loss"][-1]), float(h.history["accuracy"][-1])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--optimizer", default="adagrad", help="a Keras optimizer name (its defaults)")
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--initial-accumulator", type=float, default=None,
                    help="Adagrad only: initial_accumulator_value (Keras's default: 0.1)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="holds mnist/")
    args = ap.parse_args()
    if args.initial_accumulator is not None and args.optimizer != "adagrad":
        ap.error("--initial-accumulator is an Adagrad setting: use it with --optimizer adagrad")
    finals = []
    for seed in range(args.seeds):
        hist = run(args.optimizer, args.dropout, args.epochs, seed, args.data_dir, args.initial_accumulator)
        finals.append(hist[-1][1])
        print(f"seed {seed}: loss/accuracy per epoch " + " ".join(f"{lo:.4f}/{a:.4f}" for lo, a in hist), flush=True)
    start = "" if args.initial_accumulator is None else f" (initial accumulator {args.initial_accumulator:g})"
    print(f"Keras, {args.optimizer}{start}, dropout {args.dropout:g}, {args.epochs} epochs: "
          f"training accuracy {mean_sd(finals)}")


if __name__ == "__main__":
    main()
