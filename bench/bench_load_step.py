"""Milliseconds per training step of one model at a given thread count (run it idle and under load).

    python bench/bench_load_step.py seed000-cnn 2 200                 # idle
    python -c "import os; os.sched_setaffinity(0, {1})
    while True: pass" &                                              # a busy process on CPU 1
    python bench/bench_load_step.py seed000-cnn 2 200                 # the same, under load
    OMP_WAIT_POLICY=PASSIVE python bench/bench_load_step.py seed000-cnn 2 200

Arguments: model (a preset), threads, steps (after 30 warm-up steps; batch 32, Fashion-MNIST).
Prints one JSON line. The thread count is fixed here: the load-following governor is not involved.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import torch

from mnistlab.config import parse_run_config
from mnistlab.models import build_model
from mnistlab.run import prepare_data
from mnistlab.trainer import Trainer


def main() -> None:
    warnings.simplefilter("ignore")
    model, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": model})
    data = prepare_data(cfg, os.environ.get("MNISTLAB_DATA_DIR"))
    torch.set_num_threads(threads)
    trainer = Trainer(build_model(cfg.model_spec(), seed=0), seed=0)
    x, y = data.train_x, data.train_y
    with trainer.plan.activate():
        for i in range(30):
            trainer.train_step(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32])
        start = time.perf_counter()
        for i in range(steps):
            j = (i * 32) % (len(x) - 32)
            trainer.train_step(x[j : j + 32], y[j : j + 32])
        ms = (time.perf_counter() - start) / steps * 1e3
    print(json.dumps({"model": model, "threads": threads, "ms_per_step": round(ms, 3),
                      "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}))


if __name__ == "__main__":
    main()
