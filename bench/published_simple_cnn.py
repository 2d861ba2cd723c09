"""What An et al. 2020's simple CNNs score on MNIST when the epoch is not picked on the test set.

An, Lee, Park, Yang and So, "An Ensemble of Simple Convolutional Neural Network Models for MNIST
Digit Recognition" (arXiv:2008.10400), report single models of 99.7x-99.8x% and committees above
99.8%. Their training script keeps the epoch whose *test* accuracy is highest, and their public
logs (github.com/ansh941/MnistSimpleCNN, commit 07c981f, folder ``logs/``) record every epoch's
test accuracy for 30 seeds per model. This script reads those logs from a local clone and prints,
per model: the last epoch's test accuracy (what a run that never looks at the test set gets), the
test-picked best (what the paper's per-model figures are), and the share of seeds at or above a
target; then a Welch test of mnistlab's best-mnist members against the last-epoch figures.

    git clone https://github.com/ansh941/MnistSimpleCNN /tmp/simplecnn
    python bench/published_simple_cnn.py /tmp/simplecnn --members bench/results/best-mnist-cpu-runs.csv

Each log line is ``epoch train_loss train_accuracy test_loss test_accuracy best_test_accuracy``
(accuracies in percent).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
from pathlib import Path

from mnistlab.stats import welch_test

COMMIT = "07c981fd0bc2254e64665f084fb966cccc8e7eb4"  # the last commit that holds the logs
MODELS = ("modelM3", "modelM5", "modelM7")  # 3x3, 5x5 and 7x7 kernels


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["failed"])[-1]
        sys.exit(f"published_simple_cnn: git {' '.join(args[:2])}: {why}")
    return done.stdout


def logged_curves(repo: Path, model: str) -> list[list[float]]:
    """Every seed's per-epoch test accuracy (percent) for ``model``, from the logs at :data:`COMMIT`."""
    names = [n for n in _git(repo, "ls-tree", "-r", "--name-only", COMMIT, f"logs/{model}/").split()
             if n.endswith(".out")]
    curves = []
    for name in sorted(names):
        rows = [line.split() for line in _git(repo, "show", f"{COMMIT}:{name}").splitlines() if line.strip()]
        curves.append([float(r[4]) for r in rows if len(r) == 6])
    return curves


def members(csv_path: Path) -> list[float]:
    """mnistlab's finished best-mnist members' test accuracies (percent) from a `mnistlab runs --format csv`."""
    with csv_path.open(newline="") as f:
        return [100 * float(r["test_accuracy"]) for r in csv.DictReader(f) if r.get("status") == "finished"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", type=Path, help="a clone of ansh941/MnistSimpleCNN (its work tree or .git folder)")
    ap.add_argument("--target", type=float, default=99.75, help="percent (the issue's single-model target)")
    ap.add_argument("--members", type=Path, help="best-mnist runs as CSV, to compare with")
    args = ap.parse_args(argv)
    repo = args.repo / ".git" if (args.repo / ".git").is_dir() else args.repo
    ours = members(args.members) if args.members else []
    print(f"| model | seeds | epochs | last epoch (mean +- sd) | last >= {args.target}% | "
          "test-picked best (the paper's) | Welch p vs mnistlab's members |")
    print("|---|---|---|---|---|---|---|")
    for model in MODELS:
        curves = [c for c in logged_curves(repo, model) if c]
        if not curves:
            sys.exit(f"published_simple_cnn: no logs of {model} at {COMMIT[:7]} in {args.repo}")
        full = [c for c in curves if len(c) == max(len(c) for c in curves)]  # runs that reached the last epoch
        last = [c[-1] for c in full]
        best = [max(c) for c in full]
        sd = statistics.stdev(last) if len(last) > 1 else float("nan")
        p = "n/a"
        if len(ours) > 1 and len(last) > 1:
            welch = welch_test(statistics.mean(ours), statistics.stdev(ours), len(ours), statistics.mean(last), sd, len(last))
            p = f"{welch.p:.2f}"
        print(f"| {model} | {len(full)} | {len(full[0])} | {statistics.mean(last):.3f} +- {sd:.3f} | "
              f"{sum(a >= args.target for a in last)}/{len(last)} | {statistics.mean(best):.3f} | {p} |")
    if ours:
        print(f"\nmnistlab best-mnist members (epoch picked on validation): {statistics.mean(ours):.3f} +- "
              f"{statistics.stdev(ours):.3f} (n={len(ours)}), {sum(a >= args.target for a in ours)} at or above "
              f"{args.target}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
