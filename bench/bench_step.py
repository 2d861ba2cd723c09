"""One training step, autograd vs the dense fast path (hand-written gradients), side by side.

Times ``Trainer.train_step`` on real Fashion-MNIST batches (batch 32, Adam, float32, the thread
count mnistlab picks for the model) for dense models, alternating the two ways in rounds so that
load on a shared machine hits both alike, and prints the median milliseconds per step and the
ratio::

    python bench/bench_step.py --data-dir ../shared/datasets [--models seed000-dense,seed002-dense]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from mnistlab.accel.cpu import default_threads
from mnistlab.config import RunConfig, parse_run_config
from mnistlab.errors import SpecWarning
from mnistlab.models import build_model
from mnistlab.summary import summarize
from mnistlab.run import prepare_data
from mnistlab.trainer import Trainer


def time_steps(trainer: Trainer, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int = 32) -> float:
    """Milliseconds per step over `steps` consecutive batches."""
    start = time.perf_counter()
    for i in range(steps):
        j = (i * batch) % (len(x) - batch)
        trainer.train_step(x[j : j + batch], y[j : j + batch])
    return (time.perf_counter() - start) / steps * 1e3


def pick_threads(cfg: RunConfig, all_threads: int) -> int:
    """Set and return the thread count mnistlab picks for the model (from torch's full count)."""
    torch.set_num_threads(all_threads)
    threads = default_threads(summarize(cfg.model_spec()).flops, 32, torch.device("cpu"))
    torch.set_num_threads(threads)
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--models", default="seed000-dense,seed002-dense")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SpecWarning)  # seed 003's sigmoid output is the point, not news
    all_threads = torch.get_num_threads()
    print(f"{'model':16} {'threads':>7} {'autograd ms':>12} {'fast path ms':>13} {'speed-up':>9}")
    for name in args.models.split(","):
        cfg = parse_run_config({"dataset": "fashion-mnist", "model": name})
        data = prepare_data(cfg, args.data_dir)
        threads = pick_threads(cfg, all_threads)
        trainers = {hand: Trainer(build_model(cfg.model_spec(), seed=0), seed=0, precision="float32",
                                  hand_gradients=hand) for hand in (False, True)}
        assert trainers[True].plan.dense_step is not None, f"{name} is not covered by the dense fast path"
        for trainer in trainers.values():
            trainer.model.train()
            time_steps(trainer, data.train_x, data.train_y, 100)  # warm-up: allocator, optimizer state
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for hand, trainer in trainers.items():
                times[hand].append(time_steps(trainer, data.train_x, data.train_y, args.steps))
        auto, fast = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name:16} {threads:7} {auto:12.3f} {fast:13.3f} {auto / fast:8.2f}x")


if __name__ == "__main__":
    main()
