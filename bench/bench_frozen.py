"""What freezing a model's convolutions (``trainable = false``) saves in training time: one epoch of
Fashion-MNIST (batch 32, float32, one thread) with seed000-cnn's layers, trainable and with both
convolutions frozen, each in a fresh process, rounds alternating, idle and then beside one
competing busy process (``bench_keras.busy_load``)::

    python bench/bench_frozen.py --data-dir ../shared/datasets --rounds 2
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
train = {"epochs": 1, "threads": 1, "precision": "float32"}
cfg = parse_run_config({"dataset": "fashion-mnist", "model": model, "train": train})
print(run_config(cfg, data_dir=sys.argv[1], progress="none").metrics["train_seconds"])
"""


def one(data_dir: str, kind: str) -> float:
    """Training seconds of one epoch, ``kind`` "trainable" or "frozen", in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CODE, data_dir, kind], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}).stdout
    return float(out.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    for label, busy in (("idle", False), ("one busy process", True)):
        times: dict[str, list[float]] = {"trainable": [], "frozen": []}
        with busy_load(1 if busy else 0):
            for _ in range(args.rounds):
                for kind in times:
                    times[kind].append(one(args.data_dir, kind))
        full, frozen = (statistics.median(times[k]) for k in ("trainable", "frozen"))
        print(f"{label}: trainable {full:.2f} s, frozen convolutions {frozen:.2f} s (medians of {args.rounds}), "
              f"ratio {frozen / full:.3f}")


if __name__ == "__main__":
    main()
