"""How long the `mnistlab` command takes to answer when it trains nothing (its help, the run
listing, one run shown, the dataset list, model summaries, figures of a stored run), side by
side with bare Python and `import torch`, and with an older tree's code, in one run, idle and
with one competing busy process.

    python bench/bench_cli_start.py [--repeats 5] [--before ../old-tree/src] [--store STORE] [--only WORD ...]

Each figure is the median wall time of ``repeats`` fresh processes, the trees alternating command
by command. ``--before``: the ``src`` folder of another checkout (``git worktree add ../old-tree
<commit>``), put first on the path of its processes. Without ``--store``, a store with one short
recorded run is made in a temporary folder (MNISTLAB_DATA_DIR must reach mnist).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)

# the console script's own entry point, in a fresh Python whose path may start with another tree
MNISTLAB = [sys.executable, "-c", "import sys; from mnistlab_launch import main; sys.exit(main())"]


def seconds(command: list[str], src: str | None) -> float:
    """Wall time of one fresh process running ``command``, with ``src`` first on its path."""
    env = {**os.environ, "PYTHONPATH": src} if src else dict(os.environ)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def record_one_run(store: str) -> None:
    """Record one short run (mnist, 1,200 images, one epoch) into ``store``."""
    subprocess.run([*MNISTLAB, "train", "--dataset", "mnist", "--model", "seed000-dense", "--epochs", "1",
                    "--subset", "1200", "--store", store, "--progress", "none"], check=True, capture_output=True)


def last_run(store: str) -> str:
    """The id of the newest run in ``store``."""
    listing = subprocess.run([*MNISTLAB, "runs", "--store", store, "--format", "csv"], check=True,
                             capture_output=True, text=True).stdout
    return listing.strip().splitlines()[-1].split(",")[0]


def commands(store: str, run_id: str) -> dict[str, list[str]]:
    return {
        'python -c "pass"': [sys.executable, "-c", "pass"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "mnistlab --help": [*MNISTLAB, "--help"],
        "mnistlab train --help": [*MNISTLAB, "train", "--help"],
        "mnistlab runs": [*MNISTLAB, "runs", "--store", store],
        "mnistlab show RUN": [*MNISTLAB, "show", run_id, "--store", store],
        "mnistlab datasets": [*MNISTLAB, "datasets"],
        "mnistlab models": [*MNISTLAB, "models"],
        "mnistlab summary resnet20": [*MNISTLAB, "summary", "resnet20"],
        "mnistlab plot history RUN": [*MNISTLAB, "plot", "history", run_id, "--store", store, "-o",
                                      str(Path(store).parent / "history.png")],
        "mnistlab plot confusion RUN": [*MNISTLAB, "plot", "confusion", run_id, "--store", store, "-o",
                                        str(Path(store).parent / "confusion.png")],
    }


def medians(store: str, run_id: str, trees: dict[str, str | None], repeats: int,
            only: list[str]) -> dict[tuple[str, str], float]:
    """(command, tree) -> median seconds, the trees taking turns; ``only``: the commands whose
    names hold one of these words (all when empty)."""
    times: dict[tuple[str, str], list[float]] = {}
    for name, command in chosen(commands(store, run_id), only).items():
        for _ in range(repeats):
            for tree, src in trees.items():
                times.setdefault((name, tree), []).append(seconds(command, src))
    return {key: statistics.median(values) for key, values in times.items()}


def chosen(table: dict[str, list[str]], only: list[str]) -> dict[str, list[str]]:
    """The rows of ``table`` whose names hold one of ``only`` (every row when it is empty)."""
    return {name: c for name, c in table.items() if not only or any(word in name for word in only)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", help="the src folder of an older checkout, measured beside this one")
    parser.add_argument("--store", help="a store to list and show (default: a temporary one with one run)")
    parser.add_argument("--only", action="append", default=[],
                        help="measure only the commands whose names hold this word (repeatable): --only models")
    args = parser.parse_args()
    trees: dict[str, str | None] = {"now": None}
    if args.before:
        trees = {"before": str(Path(args.before).resolve()), "now": None}
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or str(Path(tmp) / "store")
        if not args.store:
            record_one_run(store)
        run_id = last_run(store)
        figures = {}
        for load in (0, 1):
            with busy_load(load):
                figures[load] = medians(store, run_id, trees, args.repeats, args.only)
    print(f"{os.cpu_count()} cores, median of {args.repeats} fresh processes each; seconds")
    head = " | ".join(f"{tree} ({'idle' if load == 0 else 'busy'})" for load in (0, 1) for tree in trees)
    ratios = " | now / before (idle) | now / before (busy)" if args.before else ""
    print(f"| command | {head}{ratios} |")
    print("|---" * (1 + 2 * len(trees) + (2 if args.before else 0)) + "|")
    for name in chosen(commands(store, run_id), args.only):
        cells = [f"{figures[load][name, tree]:.2f}" for load in (0, 1) for tree in trees]
        if args.before:
            cells += [f"{figures[load][name, 'now'] / figures[load][name, 'before']:.2f}" for load in (0, 1)]
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
