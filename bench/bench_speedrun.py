"""The speedrun side by side: the plain PyTorch script vs a mnistlab recipe, seed by seed.

Each seed trains once with each, alternating (plain seed 0, mnistlab seed 0, plain seed 1, ...), every
training in a fresh process, so that load on a shared machine hits both alike. Prints each run's
training seconds (the loop only: the plain script's own timer, mnistlab's ``train_seconds``) and test
accuracy, then mean +- sd of both and the ratio of the mean times::

    python bench/bench_speedrun.py --data-dir ../shared/datasets --seeds 5
    python bench/bench_speedrun.py --recipe recipes/speedrun-fashion.toml --plain-args "--dataset fashion-mnist --epochs 4"
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT.parent / "shared" / "bench" / "plain_pytorch_mnist99.py"
# The plain script seeds its runs 0, 1, ...; this wrapper runs it unchanged, with torch.manual_seed
# shifted by the seed asked for, so that one process trains exactly that seed.
SEEDED = ("import runpy, sys, torch; seed = int(sys.argv.pop(1)); ms = torch.manual_seed; "
          "torch.manual_seed = lambda s: ms(s + seed); sys.argv[0] = sys.argv[1]; del sys.argv[1]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")
LINE = re.compile(r"train ([\d.]+)s test_acc ([\d.]+)%")


def plain(script: Path, seed: int, extra: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(training seconds, test accuracy %) of the plain script's run of ``seed``."""
    out = subprocess.run([sys.executable, "-c", SEEDED, str(seed), str(script), "--seeds", "1", *extra],
                         capture_output=True, text=True, env=env, check=True).stdout
    seconds, acc = LINE.search(out).groups()  # type: ignore[union-attr]
    return float(seconds), float(acc)


def mnistlab(recipe: Path, seed: int, env: dict[str, str]) -> tuple[float, float]:
    """(training seconds, test accuracy %) of the recipe's first variant trained with ``seed``."""
    out = subprocess.run([sys.executable, __file__, "--one", str(recipe), str(seed)], capture_output=True,
                         text=True, env=env, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], 100 * result["accuracy"]


def one(recipe: str, seed: int) -> None:
    """Train ``recipe``'s first variant with ``seed`` in this process; print its numbers as one JSON line."""
    from mnistlab.config import parse_run_config
    from mnistlab.experiments import load_experiment
    from mnistlab.run import run_config

    config = load_experiment(recipe).cells()[0].config
    config["train"]["seed"] = seed
    result = run_config(parse_run_config(config), progress="none")
    print(json.dumps({"seconds": result.metrics["train_seconds"], "accuracy": result.metrics["test_accuracy"]}))


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        return one(sys.argv[2], int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "speedrun-mnist.toml")
    parser.add_argument("--plain", type=Path, default=PLAIN, help="the plain PyTorch script")
    parser.add_argument("--plain-args", default="", help='extra arguments for it, e.g. "--dataset fashion-mnist"')
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data-dir", default=None, help="datasets folder (else $MNISTLAB_DATA_DIR)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.data_dir:
        env["MNISTLAB_DATA_DIR"] = str(Path(args.data_dir).resolve())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    runs: dict[str, list[tuple[float, float]]] = {"plain PyTorch": [], "mnistlab": []}
    for seed in range(args.seeds):
        runs["plain PyTorch"].append(plain(args.plain, seed, args.plain_args.split(), env))
        runs["mnistlab"].append(mnistlab(args.recipe, seed, env))
        (ps, pa), (ms, ma) = runs["plain PyTorch"][-1], runs["mnistlab"][-1]
        print(f"seed {seed}: plain PyTorch {ps:.2f} s {pa:.2f}%   mnistlab {ms:.2f} s {ma:.2f}%", flush=True)
    print(f"\n{'':14} {'train s (mean +- sd)':>22} {'test acc % (mean +- sd)':>24}   n = {args.seeds}")
    for name, r in runs.items():
        s, a = [x for x, _ in r], [y for _, y in r]
        print(f"{name:14} {statistics.mean(s):12.2f} +- {_sd(s):5.2f} {statistics.mean(a):15.2f} +- {_sd(a):5.2f}")
    ratio = statistics.mean(x for x, _ in runs["plain PyTorch"]) / statistics.mean(x for x, _ in runs["mnistlab"])
    print(f"mnistlab trains {ratio:.2f}x as fast as the plain script ({args.recipe.name})")


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


if __name__ == "__main__":
    main()
