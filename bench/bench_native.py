"""One CNN training step with the fused first-block kernel (mnistlab.accel.conv_pool) vs torch's ops, side by side.

Times ``Trainer.train_step`` on real Fashion-MNIST batches (batch 32, Adam, the thread count mnistlab
picks for the model) in each precision, alternating the two ways in rounds so that load on a shared
machine hits both alike, and prints the median milliseconds per step and the ratio::

    python bench/bench_native.py --data-dir ../shared/datasets [--models seed000-cnn,seed000-ex1]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics

import torch
from bench_step import pick_threads, time_steps  # this folder is on sys.path when run as a script

from mnistlab.accel import conv_pool
from mnistlab.config import parse_run_config
from mnistlab.models import build_model
from mnistlab.run import Split, prepare_data
from mnistlab.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--models", default="seed000-cnn,seed000-ex1")
    parser.add_argument("--precisions", default="bf16,float32")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"kernel: {conv_pool.status()}")
    all_threads = torch.get_num_threads()
    print(f"{'model':14} {'precision':>9} {'threads':>7} {'torch ms':>9} {'kernel ms':>10} {'speed-up':>9}")
    for name in args.models.split(","):
        cfg = parse_run_config({"dataset": "fashion-mnist", "model": name})
        data = prepare_data(cfg, args.data_dir)
        threads = pick_threads(cfg, all_threads)
        for precision in args.precisions.split(","):
            trainers = {}
            for use in (False, True):  # the plan chooses the kernel, or not, when the trainer is built
                with contextlib.nullcontext() if use else conv_pool.disabled():
                    trainers[use] = Trainer(build_model(cfg.model_spec(), seed=0), seed=0, precision=precision)

            def run(use: bool, steps: int, trainers: dict[bool, Trainer] = trainers, data: Split = data) -> float:
                return time_steps(trainers[use], data.train_x, data.train_y, steps)

            for use, trainer in trainers.items():
                trainer.model.train()
                run(use, 50)  # warm-up: allocator, optimizer state
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):
                for use in trainers:
                    times[use].append(run(use, args.steps))
            off, on = statistics.median(times[False]), statistics.median(times[True])
            print(f"{name:14} {precision:>9} {threads:7} {off:9.3f} {on:10.3f} {off / on:8.2f}x")


if __name__ == "__main__":
    main()
