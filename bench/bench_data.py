"""Dataset loading: the first load (decompress, parse, SHA-256, write the decoded cache) vs a
later load (memory-map the decoded .npy files), side by side in one run.

    python bench/bench_data.py --data-dir ../shared/datasets [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from mnistlab.datasets import load_dataset


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'dataset':<14} {'first load s':>13} {'cached load s':>14} {'ratio':>7}   (median of {args.repeats})")
    for name in ("mnist", "fashion-mnist"):
        first, cached = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                os.environ["XDG_CACHE_HOME"] = cache  # an empty cache: the first load decodes and verifies
                first.append(_timed(lambda name=name: load_dataset(name, args.data_dir)))
                # A later load, touching every pixel so the memory map is really read.
                cached.append(_timed(lambda name=name: int(np.asarray(load_dataset(name, args.data_dir).train_images).sum())))
        a, b = statistics.median(first), statistics.median(cached)
        print(f"{name:<14} {a:>13.3f} {b:>14.4f} {a / b:>6.0f}x")


if __name__ == "__main__":
    main()
