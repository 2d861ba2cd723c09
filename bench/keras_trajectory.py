"""Keras vs mnistlab from the same start: one model, the same initial weights, the same batches.

Issue 14 found Keras 3.15 about half a point below mnistlab on seed 000's ex2 / ex4a (one conv,
a wide Dense) over 8 seeds, while the dense model and the CNN agree. This bench separates the
possible causes. For each seed it

1. builds the model in Keras (``tf.keras.utils.set_random_seed(seed)``) and saves its initial
   weights;
2. draws each epoch's batch order exactly as mnistlab's Trainer does (``torch.randperm`` from a
   generator seeded ``seed``);
3. trains, from those weights in that order, (a) Keras (one ``fit(shuffle=False)`` per epoch on the
   reordered arrays), (b) a plain PyTorch loop with mnistlab's Keras-exact Adam, (c) mnistlab's
   Trainer (float32, its fast paths on), and (d) mnistlab's Trainer from mnistlab's own initial
   weights, and (e) Keras from its own initialisation with its own shuffling (the earlier bench's
   setting);

and prints the test accuracy after each epoch. If (a), (b) and (c) agree, the arithmetic matches
and a gap between (d) and (e) is in the initialisation or the shuffling::

    python bench/keras_trajectory.py --keras-python /work/benchvenv/bin/python --model ex2 --seeds 1,2,3

The Keras side reads the IDX files itself (bench_keras.load), so it runs under any Python with
TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench_keras import DEFAULT_DATA, ROOT, keras_inputs, keras_model, load

EPOCHS = 5
BATCH = 32


# ------------------------------------------------------------------------------ Keras worker
def keras_worker(model_name: str, seed: int, work: Path, data_dir: Path, epochs: int, own_order: bool) -> dict:
    """(a) or (e): Keras from its seeded initialisation; saves the initial weights to ``work``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    d = load(data_dir)
    model = keras_model(tf, model_name)
    np.savez(work / "init.npz", *model.get_weights())
    x, y = keras_inputs(model, d["x_train"] / 255.0), d["y_train"]
    xt, yt = keras_inputs(model, d["x_test"] / 255.0), d["y_test"]
    accs, losses = [], []
    orders = np.load(work / "orders.npy")
    for epoch in range(epochs):
        if own_order:
            h = model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
        else:
            o = orders[epoch]
            h = model.fit(x[o], y[o], epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
        losses.append(float(h.history["loss"][0]))
        accs.append(float(model.evaluate(xt, yt, verbose=0)[1]))
    return {"loss": losses, "test_accuracy": accs}


# ---------------------------------------------------------------------------- mnistlab side
def _load_keras_weights(model, init: Path) -> None:  # noqa: ANN001
    """Keras's weights into mnistlab's model: HWIO -> OIHW kernels, (in, out) -> (out, in) Dense,
    and the first Dense after a conv reordered from Keras's (h, w, c) flatten to torch's (c, h, w)."""
    import torch

    arrays = np.load(init)
    ws = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    state, out, channels = model.state_dict(), {}, 0
    for (name, t), w in zip(state.items(), ws, strict=True):
        if w.ndim == 4:
            w, channels = w.transpose(3, 2, 0, 1), w.shape[3]
        elif w.ndim == 2:
            if channels:  # the Dense right after Flatten of a (h, w, channels) map
                h = round((w.shape[0] / channels) ** 0.5)
                w, channels = w.reshape(h, h, channels, -1).transpose(2, 0, 1, 3).reshape(w.shape[0], -1), 0
            w = w.T
        if tuple(w.shape) != tuple(t.shape):
            raise ValueError(f"{name}: Keras {w.shape} vs mnistlab {tuple(t.shape)}")
        out[name] = torch.tensor(np.ascontiguousarray(w))
    model.load_state_dict(out)


def torch_worker(model_name: str, seed: int, work: Path, data_dir: Path, epochs: int, mode: str) -> dict:
    """(b) ``loop``, (c) ``trainer`` from Keras's weights, (d) ``own``: mnistlab's Trainer from its own
    weights; ``own-fixed``: as ``own`` but every epoch in the first epoch's order."""
    import torch

    from mnistlab.datasets import load_dataset
    from mnistlab.evaluate import evaluate_model
    from mnistlab.models import build_model
    from mnistlab.optim import make_optimizer
    from mnistlab.trainer import Trainer

    torch.manual_seed(seed)
    ds = load_dataset("fashion-mnist", data_dir, download=False)
    x_train, y_train = torch.from_numpy(np.array(ds.train_images)), torch.from_numpy(np.array(ds.train_labels))
    x_test, y_test = torch.from_numpy(np.array(ds.test_images)), torch.from_numpy(np.array(ds.test_labels))
    model = build_model(f"seed000-{model_name}", seed=seed)
    if not mode.startswith("own"):
        _load_keras_weights(model, work / "init.npz")
    accs, losses = [], []
    if mode == "loop":
        opt = make_optimizer("adam", model.parameters(), lr=1e-3)
        x = x_train.float().div(255).unsqueeze(1)
        y = y_train.long()
        for o in np.load(work / "orders.npy")[:epochs]:
            model.train()
            o = torch.from_numpy(o)
            xs, ys, total = x[o], y[o], 0.0
            for i in range(0, len(o), BATCH):
                loss = torch.nn.functional.cross_entropy(model(xs[i:i + BATCH]), ys[i:i + BATCH])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss) * len(ys[i:i + BATCH])
            losses.append(total / len(o))
            accs.append(evaluate_model(model, x_test, y_test)[1])
    else:
        trainer = Trainer(model, optimizer="adam", seed=seed, precision="float32")
        for epoch in range(epochs):
            if mode == "own-fixed":  # every epoch in the first epoch's order, as seeded Keras 3 (TF) feeds it
                trainer.shuffle_gen.manual_seed(seed)
            trainer.fit(x_train, y_train, epochs=epoch + 1)
            losses.append(trainer.history[-1]["loss"])
            accs.append(evaluate_model(model, x_test, y_test)[1])
    return {"loss": losses, "test_accuracy": accs}


# ----------------------------------------------------------------------------------- driver
def orders(seed: int, n: int, epochs: int) -> np.ndarray:
    """Each epoch's batch order as mnistlab's Trainer draws it (one generator seeded ``seed``)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return np.stack([torch.randperm(n, generator=g).numpy() for _ in range(epochs)])


def worker(python: str, kind: str, mode: str, args: argparse.Namespace, seed: int, work: Path) -> dict | None:
    cmd = [python, __file__, "--worker", kind, mode, "--model", args.model, "--seed", str(seed),
           "--work", str(work), "--data-dir", str(args.data_dir), "--epochs", str(args.epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  {kind}/{mode} seed {seed} failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}",
          file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ex2", help="seed 000's model: dense, cnn, ex2, ex4a")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--keras-python", default=sys.executable)
    p.add_argument("--modes", default="keras,loop,trainer,own,keras-own")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        kind, mode = args.worker
        fn = keras_worker if kind == "keras" else torch_worker
        extra = mode == "own" if kind == "keras" else mode
        print("RESULT " + json.dumps(fn(args.model, args.seed, args.work, args.data_dir, args.epochs, extra)))
        return
    modes = args.modes.split(",")
    finals: dict[str, list[float]] = {m: [] for m in modes}
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            np.save(work / "orders.npy", orders(seed, 60_000, args.epochs))
            # the Keras run in the given order goes first: it writes init.npz for loop and trainer
            plan = [("keras", "given", "keras"), ("torch", "loop", "loop"), ("torch", "trainer", "trainer"),
                    ("torch", "own", "own"), ("torch", "own-fixed", "own-fixed"), ("keras", "own", "keras-own")]
            needs_init = {"keras", "loop", "trainer"} & set(modes)
            for kind, mode, label in plan:
                if label not in modes and not (label == "keras" and needs_init):
                    continue
                r = worker(args.keras_python if kind == "keras" else sys.executable, kind, mode, args, seed, work)
                if r is None:
                    continue
                finals.setdefault(label, []).append(r["test_accuracy"][-1])
                accs = " ".join(f"{100 * a:.2f}" for a in r["test_accuracy"])
                loss = " ".join(f"{v:.4f}" for v in r["loss"])
                print(f"seed {seed} {label:10s} test acc by epoch: {accs}   train loss: {loss}", flush=True)
    print(f"\n{args.model}, {args.epochs} epochs, final test accuracy (mean +- sd, n):")
    for label, values in finals.items():
        if values:
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            print(f"  {label:10s} {100 * statistics.fmean(values):.2f} +- {100 * sd:.2f} (n={len(values)})")


if __name__ == "__main__":
    main()
