"""The train/test overlap count that reading the user's own data with a test file now does
(:func:`mnistlab.data.userdata._shared_images`, session 37), on MNIST-sized arrays, idle and with
one busy process beside it: what it adds to a read of the data (a CSV of 60,000 rows reads in
seconds: bench/bench_userdata.py).

    python bench/bench_overlap.py [--train 60000] [--test 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)

from mnistlab.data.userdata import _shared_images  # noqa: E402


def median_ms(train: np.ndarray, test: np.ndarray, repeats: int) -> float:
    """The median milliseconds of ``repeats`` counts of ``test``'s images found in ``train``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _shared_images(train, test)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (args.train, 28, 28), dtype=np.uint8)
    test = np.concatenate([train[: args.test // 10], rng.integers(0, 256, (args.test - args.test // 10, 28, 28),
                                                                   dtype=np.uint8)])  # a tenth shared
    print(f"idle: {median_ms(train, test, args.repeats):.1f} ms")
    with busy_load(1):
        print(f"one busy process: {median_ms(train, test, args.repeats):.1f} ms")


if __name__ == "__main__":
    main()
