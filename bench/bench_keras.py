"""Side by side: Keras/TensorFlow vs a plain PyTorch loop vs mnistlab, on seed 000's settings.

Trains seed 000's dense model and CNN on Fashion-MNIST (batch 32, Adam lr 1e-3 eps 1e-7,
``--epochs``, default 5) with each framework in its own subprocess (so peak memory is measured per
framework), and prints training seconds, test accuracy, the speed ratio to Keras (or to plain
PyTorch when TensorFlow is not importable) and peak RSS::

    python bench/bench_keras.py --epochs 1
    python bench/bench_keras.py --epochs 5 --keras-python /path/to/venv-with-tensorflow/bin/python
    python bench/bench_keras.py --epochs 1 --load 1     # with one competing busy process, pinned to the last core

``--load N`` starts N processes that spin on the CPU (each pinned to one core, counting down from the
last) before the first run and stops them after the last: the machine of a user who has something
else running.

The Keras worker reads the IDX files itself (numpy + gzip only), so it runs under any Python that
has TensorFlow, e.g. a separate venv made with ``pip install tensorflow-cpu``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MNISTLAB_DATA_DIR") or ROOT.parent / "shared" / "datasets")
FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


# ------------------------------------------------------------------------------------ helpers
def read_idx(path: Path) -> np.ndarray:
    """Minimal IDX reader (uint8 payloads only): the bench must not depend on mnistlab for Keras."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            raw = gzip.decompress(candidate.read_bytes()) if candidate.suffix == ".gz" else candidate.read_bytes()
            ndim = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise FileNotFoundError(path)


def load(data_dir: Path, dataset: str = "fashion-mnist") -> dict[str, np.ndarray]:
    """The four IDX arrays of ``data_dir/dataset`` (uint8 images (N, 28, 28), uint8 labels (N,))."""
    folder = data_dir / dataset
    return {k: read_idx(folder / name) for k, name in FILES.items()}


def mean_sd(fractions: list[float]) -> str:
    """``fractions`` (accuracies in [0, 1]) as "mean% +- sd (n=N); per seed a%, b%, ..." for a report line."""
    import statistics

    sd = f" +- {100 * statistics.stdev(fractions):.2f}" if len(fractions) > 1 else ""
    return (f"{100 * statistics.mean(fractions):.2f}%{sd} (n={len(fractions)}); per seed "
            + ", ".join(f"{100 * a:.2f}%" for a in fractions))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ------------------------------------------------------------------------------------ workers
def keras_model(tf: Any, model_name: str) -> Any:
    """Seed 000's ``model_name`` (dense, cnn, or ex2 / ex4a: its exercises with one 16- / 32-filter
    conv and a wide dense layer) as its notebook builds it, compiled with ``optimizer="adam"``."""
    layers = tf.keras.layers
    if model_name == "dense":
        shape, stack = (28, 28), [layers.Flatten(), layers.Dense(128, activation="relu"),
                                  layers.Dense(10, activation="softmax")]
    elif model_name in ("ex2", "ex4a"):
        filters = 16 if model_name == "ex2" else 32
        shape, stack = (28, 28, 1), [layers.Conv2D(filters, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
                                     layers.Flatten(), layers.Dense(128, activation="relu"),
                                     layers.Dense(10, activation="softmax")]
    else:
        shape, stack = (28, 28, 1), [layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
                                     layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
                                     layers.Flatten(), layers.Dense(128, activation="relu"),
                                     layers.Dense(10, activation="softmax")]
    model = tf.keras.models.Sequential([tf.keras.Input(shape), *stack])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_inputs(model: Any, x: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28) in the model's input shape (a channel axis for the conv models)."""
    return x.reshape(-1, *model.input_shape[1:])


def run_keras(model_name: str, epochs: int, data_dir: Path, seed: int, threads: int = 0) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.random.set_seed(seed)
    d = load(data_dir)
    model = keras_model(tf, model_name)
    x_train, x_test = keras_inputs(model, d["x_train"] / 255.0), keras_inputs(model, d["x_test"] / 255.0)
    start = time.perf_counter()
    model.fit(x_train, d["y_train"], epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    _, acc = model.evaluate(x_test, d["y_test"], verbose=0)
    return {"seconds": seconds, "test_accuracy": float(acc), "version": f"tensorflow {tf.__version__}"}


def run_torch(model_name: str, epochs: int, data_dir: Path, seed: int, threads: int = 0) -> dict:
    """The loop a PyTorch tutorial writes: float tensors, TensorDataset + DataLoader, NCHW."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    d = load(data_dir)
    x_train = torch.tensor(d["x_train"], dtype=torch.float32).unsqueeze(1) / 255
    x_test = torch.tensor(d["x_test"], dtype=torch.float32).unsqueeze(1) / 255
    y_train, y_test = torch.tensor(d["y_train"], dtype=torch.long), torch.tensor(d["y_test"], dtype=torch.long)
    if model_name == "dense":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    elif model_name == "ex2":
        model = nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(2704, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"seconds": seconds, "test_accuracy": acc, "version": f"torch {torch.__version__}"}


def run_mnistlab(model_name: str, epochs: int, data_dir: Path, seed: int, threads: int = 0,
                 precision: str = "auto") -> dict:
    """mnistlab as configured by default (``precision = "auto"``: bf16 autocast where it pays)."""
    import torch

    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    cfg = parse_run_config({"dataset": "fashion-mnist", "model": f"seed000-{model_name}",
                            "train": {"epochs": epochs, "seed": seed, "precision": precision, "threads": threads}})
    result = run_config(cfg, data_dir=data_dir, progress="none")
    return {"seconds": result.metrics["train_seconds"], "test_accuracy": result.metrics["test_accuracy"],
            "version": f"mnistlab {result.env['precision']}, {result.env['threads']} threads, native kernel "
                       f"{result.env['native_kernel']} (torch {torch.__version__})"}


def run_mnistlab_float32(model_name: str, epochs: int, data_dir: Path, seed: int, threads: int = 0) -> dict:
    """mnistlab with ``precision = "float32"`` everywhere (results independent of the CPU's bf16 support)."""
    return run_mnistlab(model_name, epochs, data_dir, seed, threads, precision="float32")


WORKERS = {"keras": run_keras, "torch": run_torch, "mnistlab": run_mnistlab, "mnistlab-float32": run_mnistlab_float32}


# ------------------------------------------------------------------------------------- driver
def worker_main(framework: str, model: str, epochs: int, data_dir: Path, seed: int, threads: int) -> None:
    out = WORKERS[framework](model, epochs, data_dir, seed, threads)
    out["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(out))


def run_one(python: str, framework: str, model: str, args: argparse.Namespace, seed: int) -> dict | None:
    cmd = [python, __file__, "--worker", framework, model, "--epochs", str(args.epochs),
           "--data-dir", str(args.data_dir), "--seed", str(seed), "--threads", str(args.threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    print(f"  {framework}/{model}: failed ({tail})", file=sys.stderr)
    return None


@contextlib.contextmanager
def busy_load(count: int):
    """``count`` busy processes, each pinned to one core (the last cores first), for the block."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    spin = "import os, sys\nif hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin, str(cpus[-1 - i % len(cpus)])]) for i in range(count)]
    try:
        time.sleep(0.5 if procs else 0)  # let them start spinning
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def keras_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import tensorflow"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--models", default="dense,cnn", help="dense, cnn, ex2 (seed 000's models), comma-separated")
    p.add_argument("--frameworks", default="keras,torch,mnistlab,mnistlab-float32")
    p.add_argument("--keras-python", default=sys.executable, help="a Python with tensorflow (default: this one)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per framework with seeds seed, seed+1, ...: median seconds, mean +- sd accuracy")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for every framework (0 = each framework's default: all cores)")
    p.add_argument("--load", type=int, default=0,
                   help="competing busy processes during the runs, each pinned to one core (default 0: idle)")
    p.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker_main(args.worker[0], args.worker[1], args.epochs, args.data_dir, args.seed, args.threads)
        return
    frameworks = args.frameworks.split(",")
    if "keras" in frameworks and not keras_available(args.keras_python):
        print(f"tensorflow is not importable by {args.keras_python}: skipping Keras (ratios are to plain PyTorch)")
        frameworks.remove("keras")
    print(f"Fashion-MNIST, batch 32, Adam 1e-3, {args.epochs} epoch(s), {os.cpu_count()} CPUs "
          f"({args.threads or 'default'} threads per framework, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f}, {args.load} competing busy process(es))")
    header = (f"{'model':6} {'framework':16} {'train s':>8} {'test acc':>15} {'speed-up':>9} {'peak RSS':>9}  "
              f"version")
    print(header)
    print("-" * len(header))
    with busy_load(args.load):
        for model in args.models.split(","):
            compare_model(model, frameworks, args)


def compare_model(model: str, frameworks: list[str], args: argparse.Namespace) -> None:
    """Run every framework on one model (repeats interleaved) and print its rows."""
    runs: dict[str, list[dict]] = {fw: [] for fw in frameworks}
    # Repeats are interleaved (all frameworks with one seed, then the next seed), so a burst of
    # load on a shared machine hits every framework alike.
    for seed in range(args.seed, args.seed + args.repeats):
        for fw in frameworks:
            python = args.keras_python if fw == "keras" else sys.executable
            if (r := run_one(python, fw, model, args, seed)) is not None:
                runs[fw].append(r)
    results = {fw: summarize_runs(rs) for fw, rs in runs.items() if rs}
    ref_name = "keras" if "keras" in results else "torch"
    ref = results.get(ref_name)
    for fw, r in results.items():
        ratio = f"{ref['seconds'] / r['seconds']:.2f}x" if ref else "n/a"
        print(f"{model:6} {fw:16} {r['seconds']:8.1f} {r['accuracy']:>15} {ratio:>9} "
              f"{r['peak_rss_mb']:7.0f}MB  {r['version']}")
    print(f"{'':6} (speed-up = {ref_name} seconds / seconds; {args.repeats} run(s) each: median seconds, "
          f"mean test accuracy +- sd, largest peak RSS)")


def summarize_runs(runs: list[dict]) -> dict:
    """One table row from repeated runs: median seconds, mean +- sd accuracy, the largest peak RSS."""
    accs = np.array([100 * r["test_accuracy"] for r in runs])
    accuracy = f"{accs.mean():.2f}%" + (f" +-{accs.std(ddof=1):.2f}" if len(accs) > 1 else "")
    return {"seconds": float(np.median([r["seconds"] for r in runs])), "accuracy": accuracy,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "version": runs[0]["version"]}


if __name__ == "__main__":
    main()
