"""What recording costs `mnistlab train`: the same run with the store (its epochs written into its
row as it trains, its result and files at the end) and with ``--no-record``, side by side in one
process, rounds alternating; the training time each run prints is compared, and the whole command's.

    python bench/bench_train_record.py --data-dir ../shared/datasets [--rounds 3] [--epochs 20] [--busy]

``--busy`` runs one competing busy process (``bench_keras.busy_load``, pinned to the last core) beside
the measurements, as a user's machine always has one.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)


def one(data_dir: Path, epochs: int, store: Path | None) -> tuple[float, float]:
    """(training seconds the run reports, whole command seconds) of seed000-dense on Fashion-MNIST."""
    record = ["--store", str(store)] if store is not None else ["--no-record"]
    cmd = [sys.executable, "-m", "mnistlab", "train", "--model", "seed000-dense", "--epochs", str(epochs),
           "--data-dir", str(data_dir), "--progress", "none", "--threads", "1", *record]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    whole = time.perf_counter() - t0
    found = re.search(r"train: ([0-9.]+)s \(", out)
    return (float(found.group(1)) if found else float("nan")), whole


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--busy", action="store_true")
    a = p.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"recorded": [], "--no-record": []}
    with tempfile.TemporaryDirectory() as tmp, busy_load(1 if a.busy else 0):
        for r in range(a.rounds):
            for kind in (("recorded", "--no-record") if r % 2 == 0 else ("--no-record", "recorded")):
                times[kind].append(one(a.data_dir, a.epochs, Path(tmp) / "s" if kind == "recorded" else None))
    base = statistics.median(t for t, _ in times["--no-record"])
    base_whole = statistics.median(w for _, w in times["--no-record"])
    print(f"| {'busy' if a.busy else 'idle'} | run | training s (median of {a.rounds}) | ratio | command s | ratio |")
    print("|---|---|---|---|---|---|")
    for kind, got in times.items():
        train, whole = statistics.median(t for t, _ in got), statistics.median(w for _, w in got)
        print(f"| | {kind} | {train:.2f} | {train / base:.3f} | {whole:.2f} | {whole / base_whole:.3f} |")


if __name__ == "__main__":
    main()
