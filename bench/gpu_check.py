"""The GPU path's figures in one table (run by ``bench/gpu_check.sh`` on a machine with CUDA).

Rows: the MNIST speedrun (``recipes/speedrun-mnist.toml``) on the GPU, time to accuracy over seeds
(issue 15's target: <= 0.5 s of training on an H100/H200-class GPU); seed 000's CNN for five epochs
on Fashion-MNIST; a committee of five seed002-deep-conv members on MNIST trained as one stacked
model (:mod:`mnistlab.accel.members`) vs one by one, wall seconds, mean member accuracy and the
committee's accuracy. Everything in this process; each row after one warm-up run (cuDNN's choices,
CUDA's lazy start)::

    MNISTLAB_DATA_DIR=../shared/datasets python bench/gpu_check.py --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mnistlab.config import parse_run_config
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.run import run_config
from mnistlab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
COMMITTEE = """name = "gpu-committee"
committee = 5
[base]
dataset = "mnist"
model = "seed002-deep-conv"
[base.train]
epochs = {epochs}
batch_size = 64
[[variants]]
name = "deep"
"""


def speedrun(seeds: int) -> tuple[str, str, str]:
    """(row name, train seconds mean +- sd, test accuracy mean +- sd) for the MNIST speedrun on the GPU."""
    cell = load_experiment(ROOT / "recipes" / "speedrun-mnist.toml").cells()[0].config
    runs = []
    for seed in range(-1, seeds):  # seed -1: the warm-up, not counted
        cell["train"]["seed"] = max(seed, 0)
        r = run_config(parse_run_config(cell), progress="none")
        if seed >= 0:
            runs.append((r.metrics["train_seconds"], 100 * r.metrics["test_accuracy"]))
    return (f"MNIST speedrun, {seeds} seeds", _mean_sd([s for s, _ in runs], "s"), _mean_sd([a for _, a in runs], "%"))


def cnn_five_epochs() -> tuple[str, str, str]:
    """seed 000's CNN, 5 epochs of Fashion-MNIST at its settings (batch 32, Adam 1e-3)."""
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-cnn", "train": {"epochs": 5}})
    r = run_config(cfg, progress="none")
    return ("seed000-cnn, 5 epochs", f"{r.metrics['train_seconds']:.2f} s", f"{100 * r.metrics['test_accuracy']:.2f}%")


def committee(epochs: int) -> list[tuple[str, str, str]]:
    """Five deep convs stacked vs one by one: wall seconds, mean member and committee accuracy."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "committee.toml"
        path.write_text(COMMITTEE.format(epochs=epochs))
        exp = load_experiment(path)
        for batched in (True, False):
            with RunStore(Path(tmp) / f"runs-{batched}") as store:
                torch.cuda.synchronize()
                start = time.perf_counter()
                run_experiment(exp, store, batch_members=batched)
                wall = time.perf_counter() - start
                members = [100 * r.metrics["test_accuracy"] for r in store.runs(experiment=exp.name)]
                together = store.committees(exp.name)[0].accuracy * 100
            how = "stacked (one model)" if batched else "one by one"
            rows.append((f"5 x seed002-deep-conv, {epochs} epochs, {how}", f"{wall:.1f} s wall",
                         f"members {_mean_sd(members, '%')}, committee {together:.2f}%"))
    return rows


def _mean_sd(xs: list[float], unit: str) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.2f} +- {sd:.2f} {unit}".replace(" %", "%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--committee-epochs", type=int, default=2)
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: torch sees no CUDA device")
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | bf16 {torch.cuda.is_bf16_supported()}", flush=True)
    rows = [speedrun(args.seeds)]
    print(rows[-1], flush=True)
    rows.append(cnn_five_epochs())
    print(rows[-1], flush=True)
    rows += committee(args.committee_epochs)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
