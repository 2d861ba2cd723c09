"""Does the EMA pay in a best recipe? Raw and averaged weights of the same training, side by side.

A recipe with ``train.use_ema`` (``recipes/best-mnist.toml``: Keras's optimizer EMA, momentum
0.99, ``SwapEMAWeights(swap_on_epoch)``, the best validation epoch restored, the test set scored
once) trains as recorded; a callback added here also scores the raw (not averaged) weights on the
same validation images at every epoch end and keeps the raw weights of their best epoch. The raw
weights follow exactly the trajectory the recipe trains (the EMA only reads them), so each seed
is a paired comparison of the two ways to pick and score a model: the EMA's best validation epoch
scored on test (what the recipe records) against the raw weights' best validation epoch scored on
test (the recipe without the EMA), and the same for the last epoch::

    python bench/ema_ablation.py best-mnist --seeds 2 --jobs 2 --data-dir ../shared/datasets \\
        --out bench/results/best-mnist-ema-ablation.json
    python bench/ema_ablation.py best-mnist --seeds 1 --epochs 1 --subset 2000   # smoke check

Each seed runs in its own process with one thread (``--jobs`` at a time). Prints each epoch's two
validation accuracies to stderr as it goes, then one line per seed and the mean difference (EMA -
raw) with its sd; ``--out`` keeps every epoch's validation accuracy of both. The recipe's first
variant is trained (a committee's member 0 settings), seed FIRST+i.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_seed(recipe: Path, seed: int, epochs: int, subset: int, data_dir: str | None) -> dict[str, Any]:
    """One training of ``recipe``'s first variant with ``seed``; both selections' validation and test scores."""
    import torch

    from mnistlab.averaging import ExponentialMovingAverage
    from mnistlab.callbacks import Callback
    from mnistlab.config import parse_run_config
    from mnistlab.evaluate import evaluate_model
    from mnistlab.experiments import load_experiment
    from mnistlab.run import prepare_data, run_config

    torch.set_num_threads(1)
    raw = copy.deepcopy(load_experiment(recipe).variants[0].config)
    raw["train"] = {**raw.get("train", {}), "seed": seed, "threads": 1, **({"epochs": epochs} if epochs else {})}
    if subset:
        raw["data"] = {**raw.get("data", {}), "subset": subset, "validation": subset // 10}
    cfg = parse_run_config(raw)
    if not cfg.train.use_ema:
        raise SystemExit(f"error: {recipe} does not set train.use_ema: there is no average to compare")
    data = prepare_data(cfg, data_dir)
    assert data.val_x is not None and data.val_y is not None

    class RawScore(Callback):
        """At each epoch end (after the recipe's callbacks), the raw weights' validation accuracy."""

        def __init__(self) -> None:
            self.val: list[float] = []
            self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None
            self.last: dict[str, torch.Tensor] = {}

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            trainer = self.trainer
            ema = next(c for c in trainer.callbacks if isinstance(c, ExponentialMovingAverage))
            swapped = ema.ema_in_model
            if swapped:
                ema.swap()  # the raw weights in
            acc = trainer.evaluate(data.val_x, data.val_y)[1]
            trainer.model.train()
            self.val.append(acc)
            ema_acc = (logs or {}).get("val_accuracy", float("nan"))  # the epoch's validation: the EMA's weights
            print(f"  seed {seed} epoch {epoch + 1}: validation EMA {100 * ema_acc:.2f}%, raw {100 * acc:.2f}%",
                  file=sys.stderr, flush=True)  # a run stopped early still leaves its curves in the log
            self.last = copy.deepcopy(trainer.model.state_dict())
            if self.best is None or acc > self.best[0]:  # the first best epoch, as EarlyStopping keeps it
                self.best = (acc, epoch + 1, self.last)
            if swapped:
                ema.swap()

    scorer = RawScore()
    result = run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=[scorer])
    assert scorer.best is not None and result.status == "finished", result.message
    model = result.model

    def test_of(state: dict[str, torch.Tensor]) -> float:
        model.load_state_dict({k: v.to("cpu") for k, v in state.items()})
        model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return evaluate_model(model, data.test_x.cpu(), data.test_y.cpu())[1]

    ema_val = [h["val_accuracy"] for h in result.history]
    ema_best = max(range(len(ema_val)), key=lambda i: (ema_val[i], -i))
    return {"seed": seed, "epochs": len(ema_val),
            "ema": {"best_epoch": ema_best + 1, "val": ema_val[ema_best], "test": result.metrics["test_accuracy"]},
            "raw": {"best_epoch": scorer.best[1], "val": scorer.best[0], "test": test_of(scorer.best[2]),
                    "last_test": test_of(scorer.last)},
            "val_curves": {"ema": ema_val, "raw": scorer.val}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipe", help="a recipe name in recipes/ or a .toml path; its first variant is trained")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    p.add_argument("--subset", type=int, default=0, help="train on this many images (a smoke check)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=None, help="a JSON file for every epoch of both")
    args = p.parse_args()
    recipe = Path(args.recipe) if args.recipe.endswith(".toml") else ROOT / "recipes" / f"{args.recipe}.toml"
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_seed, recipe, s, args.epochs, args.subset, args.data_dir) for s in seeds]
        results = []
        for f in futures:
            r = f.result()
            results.append(r)
            e, w = r["ema"], r["raw"]
            print(f"seed {r['seed']}: EMA best epoch {e['best_epoch']} (validation {100 * e['val']:.2f}%) test "
                  f"{100 * e['test']:.2f}% | raw best epoch {w['best_epoch']} (validation {100 * w['val']:.2f}%) test "
                  f"{100 * w['test']:.2f}%, raw last epoch test {100 * w['last_test']:.2f}%", flush=True)
    diffs = [100 * (r["ema"]["test"] - r["raw"]["test"]) for r in results]
    sd = f" +- {statistics.stdev(diffs):.2f}" if len(diffs) > 1 else ""
    print(f"{recipe.stem}: EMA - raw, each picked on validation, test accuracy {statistics.fmean(diffs):+.2f}{sd} points "
          f"(n={len(diffs)} paired seeds)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
