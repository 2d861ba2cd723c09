"""How long the `mnistlab` command takes to answer when it trains nothing (its help, the run
listing, one run shown, the dataset list), side by side with bare Python and with `import torch`
in the same run, idle and with one competing busy process.

    python bench/bench_cli_start.py [--repeats 7] [--store STORE]
    PYTHONPATH=<worktree of an older commit>/src python bench/bench_cli_start.py   # that code's figures

Each figure is the median wall time of ``repeats`` fresh processes. Without ``--store``, a store
with one short recorded run is made in a temporary folder (MNISTLAB_DATA_DIR must reach mnist).
The ratio column is each command against ``python -c "import torch"``: below 1, the command did
not wait for torch, as none of these needs it.
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

# the console script's own entry point, in a fresh Python that honours PYTHONPATH (an older tree)
MNISTLAB = [sys.executable, "-c", "import sys; from mnistlab_launch import main; sys.exit(main())"]


def seconds(command: list[str], repeats: int) -> float:
    """The median wall time of ``command`` run ``repeats`` times, each in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def record_one_run(store: str) -> None:
    """Record one short run (mnist, 1,200 images, one epoch) into ``store``."""
    subprocess.run([*MNISTLAB, "train", "--dataset", "mnist", "--model", "seed000-dense", "--epochs", "1",
                    "--subset", "1200", "--store", store, "--progress", "none"], check=True, capture_output=True)


def last_run(store: str) -> str:
    """The id of the newest run in ``store``."""
    listing = subprocess.run([*MNISTLAB, "runs", "--store", store, "--format", "csv"], check=True,
                             capture_output=True, text=True).stdout
    return listing.strip().splitlines()[-1].split(",")[0]


def table(store: str, run_id: str, repeats: int) -> list[tuple[str, float]]:
    """(command, median seconds) for each command, bare Python and `import torch` first."""
    commands = {
        'python -c "pass"': [sys.executable, "-c", "pass"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "mnistlab --help": [*MNISTLAB, "--help"],
        "mnistlab train --help": [*MNISTLAB, "train", "--help"],
        "mnistlab runs": [*MNISTLAB, "runs", "--store", store],
        "mnistlab show RUN": [*MNISTLAB, "show", run_id, "--store", store],
        "mnistlab datasets": [*MNISTLAB, "datasets"],
    }
    return [(name, seconds(command, repeats)) for name, command in commands.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--store", help="a store to list and show (default: a temporary one with one run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or str(Path(tmp) / "store")
        if not args.store:
            record_one_run(store)
        run_id = last_run(store)
        rows = {}
        for load in (0, 1):
            with busy_load(load):
                rows[load] = table(store, run_id, args.repeats)
    torch_s = {load: dict(rows[load])['python -c "import torch"'] for load in rows}
    print(f"{os.cpu_count()} cores, median of {args.repeats} fresh processes each")
    print("| command | idle (s) | vs import torch | one busy process (s) | vs import torch |")
    print("|---|---|---|---|---|")
    for (name, idle), (_, busy) in zip(rows[0], rows[1]):
        print(f"| `{name}` | {idle:.2f} | {idle / torch_s[0]:.2f} | {busy:.2f} | {busy / torch_s[1]:.2f} |")


if __name__ == "__main__":
    main()
