"""Milliseconds per training step of one model (``Trainer.train_step``: forward, backward, the
optimizer's step) on real Fashion-MNIST batches, float32, the thread count mnistlab picks: to
compare two source trees one after the other, alternating, on a shared machine::

    for i in 1 2 3; do
        PYTHONPATH=/tmp/old/src python bench/bench_model_step.py --data-dir ../shared/datasets --model resnet20-v2
        PYTHONPATH=src python bench/bench_model_step.py --data-dir ../shared/datasets --model resnet20-v2
    done

Prints the source tree's path, the model and the median of ``--repeats`` timings of ``--steps``
steps each (after two warm-up steps).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import mnistlab
from mnistlab.config import parse_run_config
from mnistlab.models import build_model
from mnistlab.run import prepare_data
from mnistlab.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--model", default="resnet20-v2")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": args.model, "data": {"subset": 2000},
                            "train": {"batch_size": args.batch, "precision": "float32"}})
    data = prepare_data(cfg, args.data_dir, torch.device("cpu"))
    trainer = Trainer(build_model(cfg.model_spec()), optimizer="adam", batch_size=args.batch, precision="float32")
    trainer.model.train()
    x, y = data.train_x[: args.batch], data.train_y[: args.batch]
    for _ in range(2):
        trainer.train_step(x, y)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step(x, y)
        times.append((time.perf_counter() - start) / args.steps * 1000)
    print(f"{mnistlab.__file__.rsplit('/mnistlab/', 1)[0]}: {args.model}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads: {statistics.median(times):.1f} ms/step (median of {args.repeats})")


if __name__ == "__main__":
    main()
