"""A best recipe's first epochs on this CPU: per-epoch time, validation and test accuracy (issue 16).

Trains the ``[base]`` of a recipe (one committee member) for a few epochs with ``train.threads``
fixed, and prints a Markdown table: per epoch the seconds, training loss/accuracy and validation
accuracy (of the averaged weights when the recipe swaps them in), then the test accuracy of the
restored best epoch, plain and with the recipe's TTA. The issue's full-size runs are GPU runs; this
shows what an epoch costs here and that the curve rises::

    python bench/best_curve.py recipes/best-mnist.toml --epochs 3 --threads 1 > bench/results/best-mnist-cpu.md
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from mnistlab.config import parse_run_config
from mnistlab.errors import MnistlabError
from mnistlab.experiments import load_experiment
from mnistlab.run import run_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recipe")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subset", type=int, default=0,
                    help="train on the first N images only (validation: a tenth of them), to time a slow model")
    args = ap.parse_args()
    try:
        cell = load_experiment(args.recipe).cells()[0]
    except MnistlabError as exc:
        raise SystemExit(f"error: {exc}") from None
    raw: dict[str, Any] = dict(cell.config)
    raw["train"] = {**raw["train"], "epochs": args.epochs, "threads": args.threads, "seed": args.seed}
    if args.subset:
        raw["data"] = {**raw["data"], "subset": args.subset, "validation": max(1, args.subset // 10)}
    start = time.perf_counter()
    result = run_config(parse_run_config(raw), progress="none")
    wall = time.perf_counter() - start
    m = result.metrics
    print(f"# {args.recipe}: {args.epochs} epochs of one member on this CPU ({args.threads} thread(s))"
          + (f", first {args.subset} training images only" if args.subset else "") + "\n")
    print(f"status {result.status}; {m['train_size']} train / {m['val_size']} validation / {m['test_size']} test images; "
          f"{result.env.get('device_name', result.env.get('device'))}; precision {result.env.get('precision')}; "
          f"mnistlab {result.env.get('mnistlab')}\n")
    print("| epoch | seconds | loss | accuracy | val_accuracy | lr |")
    print("|---|---|---|---|---|---|")
    for h in result.history:
        print(f"| {h['epoch']} | {h['epoch_seconds']:.1f} | {h['loss']:.4f} | {h['accuracy']:.4f} | "
              f"{h.get('val_accuracy', float('nan')):.4f} | {h['lr']:.2e} |")
    tta = m.get("tta_test_accuracy")
    print(f"\ntest accuracy (weights of the best validation epoch, scored once): {m['test_accuracy']:.4f}"
          + (f"; with TTA ({m['tta_views']} views): {tta:.4f}" if tta is not None else ""))
    print(f"\nwall {wall:.0f} s (data preparation and the test pass included)")


if __name__ == "__main__":
    main()
