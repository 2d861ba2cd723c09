"""What freezing layers (``trainable = false``) saves in training time: one epoch of Fashion-MNIST
(batch 32, float32, one thread) with seed000-cnn's layers, trainable and with both convolutions
frozen (``--model dense``: seed000-dense's, its hidden Dense frozen), each in a fresh process,
rounds alternating, idle and then beside one competing busy process (``bench_keras.busy_load``).
``--before SRC`` also times the frozen model with the code in SRC (a worktree's ``src``), side by side::

    python bench/bench_frozen.py --data-dir ../shared/datasets --rounds 2
    python bench/bench_frozen.py --model dense --before /tmp/old/src --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench_keras import busy_load

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import sys
from mnistlab.config import parse_run_config
from mnistlab.run import run_config
trainable = sys.argv[2] == "trainable"
conv = {"type": "Conv2D", "filters": 64, "kernel_size": 3, "activation": "relu", "trainable": trainable}
dense = [{"type": "Dense", "units": 128, "activation": "relu"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
model = {"layers": [conv, "MaxPooling2D", conv, "MaxPooling2D", "Flatten", *dense]}
if sys.argv[3] == "dense":
    model = {"layers": ["Flatten", {**dense[0], "trainable": trainable}, dense[1]]}
train = {"epochs": 1, "threads": 1, "precision": "float32"}
cfg = parse_run_config({"dataset": "fashion-mnist", "model": model, "train": train})
print(run_config(cfg, data_dir=sys.argv[1], progress="none").metrics["train_seconds"])
"""


def one(data_dir: str, kind: str, model: str = "cnn", src: str | None = None) -> float:
    """Training seconds of one epoch, ``kind`` "trainable" or "frozen" (of ``model``), in a fresh
    process running the code in ``src`` (default: this checkout's)."""
    out = subprocess.run([sys.executable, "-c", CODE, data_dir, kind, model], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": src or str(ROOT / "src"),
                                          "OMP_NUM_THREADS": "1"}).stdout
    return float(out.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--model", choices=("cnn", "dense"), default="cnn")
    p.add_argument("--before", metavar="SRC", help="also time the frozen model with the code in SRC")
    args = p.parse_args()
    frozen_said = "frozen convolutions" if args.model == "cnn" else "frozen hidden Dense"
    for label, busy in (("idle", False), ("one busy process", True)):
        times: dict[str, list[float]] = {"trainable": [], "frozen": [], **({"before": []} if args.before else {})}
        with busy_load(1 if busy else 0):
            for _ in range(args.rounds):
                for kind in times:
                    src = args.before if kind == "before" else None
                    times[kind].append(one(args.data_dir, "frozen" if kind == "before" else kind, args.model, src))
        med = {k: statistics.median(v) for k, v in times.items()}
        line = (f"{label}: trainable {med['trainable']:.2f} s, {frozen_said} {med['frozen']:.2f} s (medians of "
                f"{args.rounds}), ratio {med['frozen'] / med['trainable']:.3f}")
        if args.before:
            line += f"; {frozen_said} before {med['before']:.2f} s, now/before {med['frozen'] / med['before']:.3f}"
        print(line)


if __name__ == "__main__":
    main()
