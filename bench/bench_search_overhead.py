"""The search driver's overhead per trial: seconds of Optuna bookkeeping (the driver's ask and tell,
the worker attaching to the study and reporting at epoch ends) beside seconds of training, on tiny
trials where the overhead weighs most.

    python bench/bench_search_overhead.py --data-dir ../shared/datasets --trials 20 [--jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mnistlab.search import run_search

EXPERIMENT = """
name = "overhead"
[base]
dataset = "mnist"
model = {{ conv = [8], pool = [true], dense = [16] }}
data = {{ subset = {subset}, validation = 0.2 }}
train = {{ epochs = {epochs}, batch_size = 64 }}
[search]
"train.lr" = {{ log_uniform = [1e-4, 1e-1] }}
"model.dense" = {{ choice = [[8], [16], [32]] }}
trials = {trials}
pruner = "{pruner}"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=1200)
    parser.add_argument("--pruner", default="none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "overhead.toml"
        path.write_text(EXPERIMENT.format(subset=args.subset, epochs=args.epochs, trials=args.trials, pruner=args.pruner))
        t0 = time.perf_counter()
        result = run_search(path, Path(tmp) / "store", jobs=args.jobs, data_dir=args.data_dir)
        wall = time.perf_counter() - t0
    n = len(result.trials)
    train = [t.seconds for t in result.trials]
    worker = [t.overhead for t in result.trials]
    mean_train, mean_worker = statistics.mean(train), statistics.mean(worker)
    print(f"{n} trials, --jobs {args.jobs}, {args.epochs} epochs on {args.subset} images, pruner {args.pruner}")
    print(f"wall {wall:.1f} s = {wall / n:.3f} s per trial")
    print(f"training (run_config, less reporting)  {mean_train:.3f} s per trial (median {statistics.median(train):.3f})")
    per_trial = (result.driver_seconds - result.setup_seconds) / n
    print(f"driver: creating the study (once)      {result.setup_seconds:.3f} s")
    print(f"driver: Optuna ask + tell              {per_trial:.3f} s per trial")
    print(f"worker: attach to study + report       {mean_worker:.3f} s per trial (median {statistics.median(worker):.3f})")
    optuna_s = per_trial + mean_worker
    print(f"Optuna bookkeeping per trial           {optuna_s:.3f} s = {100 * optuna_s / (wall / n):.1f}% of the wall time "
          f"per trial, {optuna_s / mean_train:.2f}x the training time")


if __name__ == "__main__":
    main()
