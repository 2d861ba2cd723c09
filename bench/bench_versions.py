"""Two versions of mnistlab side by side: the same runs, alternating, each in a fresh subprocess.

For a refactor that must not cost speed (or a change that should gain it): point ``--before`` at
a checkout of the old commit and ``--after`` at this one; each round trains every model once with
each version, in alternating order, and the table shows median training seconds, the after/before
ratio (under 1.00 = faster) and test accuracy::

    git worktree add /tmp/before 8742bcc
    python bench/bench_versions.py --before /tmp/before --after . --models seed000-dense,seed000-cnn --rounds 3
    MNISTLAB_ADAPTIVE_THREADS=0 python bench/bench_versions.py ...   # the new version without load-following threads

Each worker imports mnistlab from ``<tree>/src`` (``PYTHONPATH``) and runs ``mnistlab.run_config``
on seed 000's settings (Fashion-MNIST, batch 32, Adam 1e-3), so both versions train the same
config with the same seed; "train s" is the sum of the run's ``epoch_seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MNISTLAB_DATA_DIR") or ROOT.parent / "shared" / "datasets")

WORKER = """
import json, sys, warnings
import mnistlab
warnings.simplefilter("ignore")
model, epochs, seed, data_dir, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
cfg = mnistlab.parse_run_config({"dataset": "fashion-mnist", "model": model,
                                 "train": {"epochs": epochs, "seed": seed, "batch_size": 32, "threads": threads}})
r = mnistlab.run_config(cfg, data_dir=data_dir, progress="none")
print(json.dumps({"train_seconds": r.metrics["train_seconds"], "test_accuracy": r.metrics["test_accuracy"],
                  "version": mnistlab.__version__, "native_kernel": r.env.get("native_kernel"),
                  "precision": r.env.get("precision"), "threads": r.env.get("threads")}))
"""


def run_one(tree: Path, model: str, epochs: int, seed: int, data_dir: Path, threads: int = 0) -> dict:
    """One training run with the mnistlab found in ``tree/src``; its metrics as a dict."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    out = subprocess.run([sys.executable, "-c", WORKER, model, str(epochs), str(seed), str(data_dir), str(threads)],
                         capture_output=True, text=True, env=env, check=False, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{tree} {model}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed'}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the old version")
    parser.add_argument("--after", type=Path, default=ROOT, help="a checkout of the new version (default: this one)")
    parser.add_argument("--models", default="seed000-dense,seed000-cnn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=0, help="train.threads for every run (0: mnistlab's choice)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for model in args.models.split(","):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")  # neither always goes first
            for which in order:
                res = run_one(trees[which], model, args.epochs, args.seed + r, args.data_dir, args.threads)
                results.setdefault((model, which), []).append(res)
                print(f"round {r + 1} {model:14} {which:6} {res['train_seconds']:7.2f} s  "
                      f"acc {res['test_accuracy']:.4f}  ({res['version']}, {res['precision']}, "
                      f"{res['threads']} threads, kernel {res['native_kernel']})", flush=True)
    print(f"\n{args.epochs} epoch(s), {args.rounds} rounds, {os.cpu_count()} CPUs; median train seconds")
    print(f"{'model':14} {'before s':>9} {'after s':>8} {'after/before':>13} {'acc before':>11} {'acc after':>10}")
    for model in args.models.split(","):
        b, a = results[(model, "before")], results[(model, "after")]
        sb, sa = (statistics.median(x["train_seconds"] for x in v) for v in (b, a))
        ab, aa = (statistics.mean(x["test_accuracy"] for x in v) for v in (b, a))
        print(f"{model:14} {sb:9.2f} {sa:8.2f} {sa / sb:12.2f}x {ab:11.4f} {aa:10.4f}")


if __name__ == "__main__":
    main()
