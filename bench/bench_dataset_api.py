"""What a notebook's ``load_dataset`` and ``train(ds)`` cost before and after a change, side by side.

Session 55 made the decoded cache's memory maps copy-on-write (writable, as Keras's ``load_data()``
arrays) and has ``train(ds)`` compare a loaded Dataset with a new load before taking it by its name
(an edited one trains as it is). This times, in one run and in separate processes for the two
checkouts: a cached ``load_dataset("mnist")`` whose every pixel is then read, and the step
``train(ds)`` takes before training (``given_dataset``), medians of ``--repeats``; idle, then beside
one process keeping a core busy::

    python bench/bench_dataset_api.py --before /tmp/old55/src --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
from mnistlab.datasets import load_dataset
from mnistlab.data.arrays import given_dataset
data_dir, repeats = sys.argv[1], int(sys.argv[2])
load_dataset("mnist", data_dir)  # the decoded cache made
loads, gives = [], []
for _ in range(repeats):
    t = time.perf_counter()
    ds = load_dataset("mnist", data_dir)
    int(np.asarray(ds.train_images).sum())
    loads.append(time.perf_counter() - t)
    t = time.perf_counter()
    given_dataset(ds, None)
    gives.append(time.perf_counter() - t)
print(json.dumps({"load": sorted(loads)[len(loads) // 2], "given": sorted(gives)[len(gives) // 2]}))
"""


def _busy() -> None:
    while True:
        pass


def _measure(src: str, data_dir: str, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", CHILD, data_dir, str(repeats)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the src folder of the checkout to compare with")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    after = str(Path(__file__).resolve().parents[1] / "src")
    print(f"{'machine':<8} {'checkout':<8} {'load + read s':>14} {'train(ds) check s':>18}   (median of {args.repeats})")
    for label in ("idle", "busy"):
        spinner = multiprocessing.Process(target=_busy, daemon=True) if label == "busy" else None
        if spinner is not None:
            spinner.start()
        try:
            rows = {name: _measure(src, args.data_dir, args.repeats) for name, src in (("before", args.before),
                                                                                        ("after", after))}
        finally:
            if spinner is not None:
                spinner.terminate()
        for name, r in rows.items():
            print(f"{label:<8} {name:<8} {r['load']:>14.4f} {r['given']:>18.4f}")
        print(f"{label:<8} {'ratio':<8} {rows['after']['load'] / rows['before']['load']:>13.2f}x")


if __name__ == "__main__":
    main()
