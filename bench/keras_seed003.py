"""Seed 003's unstable corners in Keras itself: does Keras also collapse where mnistlab does?

mnistlab's full-size run of recipes/seed003.toml (REPRODUCTION.md) ends at chance (10.00%) for
Adam lr 0.1 in all three seeds, where the notebook reports 66.76%, and the six- and seven-layer
variants fall apart after a few epochs. This trains the same models in Keras 3 (TensorFlow):
Flatten, ``--depth`` x Dense(64, relu), Dense(10, sigmoid), the notebook's
``SparseCategoricalCrossentropy(from_logits=True)`` (Keras takes the loss on the pre-sigmoid
logits), Adam(``--lr``), batch 32, each epoch in a new order, validated on the test set, and prints
each seed's validation accuracy per epoch and the final test accuracies as mean +- sd (n)::

    /work/benchvenv/bin/python bench/keras_seed003.py --lr 0.1 --seeds 3 --epochs 25
    /work/benchvenv/bin/python bench/keras_seed003.py --depth 7 --lr 0.01 --seeds 3

Runs under any Python with TensorFlow (the IDX files are read with numpy and gzip only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from bench_keras import DEFAULT_DATA, load, mean_sd


def run(depth: int, lr: float, epochs: int, seed: int, data_dir: Path) -> list[float]:
    """One seed: the validation (= test) accuracy after each epoch, in Keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    d = load(data_dir)
    x, y, xt, yt = d["x_train"] / 255.0, d["y_train"], d["x_test"] / 255.0, d["y_test"]
    layers = [tf.keras.Input((28, 28)), tf.keras.layers.Flatten()]
    layers += [tf.keras.layers.Dense(64, activation="relu") for _ in range(depth)]
    model = tf.keras.Sequential([*layers, tf.keras.layers.Dense(10, activation="sigmoid")])
    model.compile(optimizer=tf.keras.optimizers.Adam(lr), metrics=["accuracy"],
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        h = model.fit(x[order], y[order], epochs=1, batch_size=32, shuffle=False, verbose=0, validation_data=(xt, yt))
        accs.append(float(h.history["val_accuracy"][-1]))
    return accs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=2, help="hidden Dense(64) layers (the notebook's base: 2)")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="holds fashion-mnist/")
    args = ap.parse_args()
    finals = []
    for seed in range(args.seeds):
        accs = run(args.depth, args.lr, args.epochs, seed, args.data_dir)
        finals.append(accs[-1])
        print(f"seed {seed}: val_accuracy per epoch " + " ".join(f"{a:.3f}" for a in accs), flush=True)
    print(f"Keras, depth {args.depth}, Adam lr {args.lr:g}, {args.epochs} epochs: test accuracy {mean_sd(finals)}")


if __name__ == "__main__":
    main()
