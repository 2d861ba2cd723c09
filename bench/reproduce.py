"""A seed notebook's recipe at full size over several seeds, for REPRODUCTION.md (issue 16).

Runs ``recipes/<name>.toml`` with ``repeats`` raised to ``--repeats`` (every variant: seeds
train.seed, +1, +2, ...) into a run store of its own, then prints the comparison as Markdown. A
stopped run resumes where it stopped (the store keeps every finished cell)::

    python bench/reproduce.py seed004 --repeats 3 --store ../repro-runs --data-dir ../shared/datasets

``--threads`` sets torch's threads per cell (default: mnistlab's choice); ``--variants a,b`` trains
only the variants named (seed 002's single models without its committees, say); ``--seed`` moves
the first repeat's seed (seed 002's third deep committee alone: ``--seed 10 --repeats 1``).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from mnistlab.comparison import format_rows
from mnistlab.execute import SweepInterrupted, run_experiment
from mnistlab.experiments import parse_experiment
from mnistlab.live import outcome_line
from mnistlab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipe", help="a recipe name in recipes/ (seed000 ... seed004) or a .toml path")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--store", type=Path, default=ROOT.parent / "repro-runs")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--variants", default="", help="comma-separated variant names: train only these")
    p.add_argument("--seed", type=int, default=None,
                   help="train.seed of the first repeat (default: the recipe's). A committee of M members takes seeds "
                        "seed + r*M .. seed + r*M + M-1 in repeat r: --seed 10 --repeats 1 trains the third committee "
                        "of 5 that --repeats 3 would, and only it; it is recorded as repeat 0, so give it a --store of "
                        "its own")
    args = p.parse_args()
    path = Path(args.recipe) if args.recipe.endswith(".toml") else ROOT / "recipes" / f"{args.recipe}.toml"
    raw = tomllib.loads(path.read_text())
    raw["repeats"] = args.repeats
    if args.variants:
        wanted = set(args.variants.split(","))
        raw["variants"] = [v for v in raw.get("variants", []) if v.get("name") in wanted]
        if unknown := sorted(wanted - {v.get("name") for v in raw["variants"]}):
            raise SystemExit(f"error: {path} has no variant named {', '.join(unknown)}")
    if args.threads:
        raw.setdefault("base", {}).setdefault("train", {})["threads"] = args.threads
    if args.seed is not None:
        raw.setdefault("base", {}).setdefault("train", {})["seed"] = args.seed
    exp = parse_experiment(raw, source=str(path), default_name=path.stem)
    with RunStore(args.store) as store:
        def line(outcome, rows) -> None:  # noqa: ANN001
            print(outcome_line(outcome), flush=True)  # as `mnistlab run` says it
        try:
            result = run_experiment(exp, store, jobs=args.jobs, data_dir=args.data_dir, on_cell=line)
        except SweepInterrupted:  # the finished cells are recorded, a stopped one keeps its checkpoint
            raise SystemExit("stopped: the same command continues where it stopped") from None
    sys.stdout.write(format_rows(result.rows, "markdown"))


if __name__ == "__main__":
    main()
