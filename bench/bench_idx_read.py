"""Reading a gzipped IDX file: the whole stream at once (what read_bytes did before session 36)
vs read_limited (no further than the IDX header says: a gzip bomb is refused after its first
bytes), side by side in one run, alternating.

    python bench/bench_idx_read.py [--file ../shared/datasets/fashion-mnist/train-images-idx3-ubyte.gz] [--repeats 8]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path

from mnistlab.data.idx import MAX_IDX_BYTES, read_limited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="../shared/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    path = Path(args.file)
    ways = {"whole stream": lambda g: g.read(MAX_IDX_BYTES + 1), "read_limited": lambda g: read_limited(g, str(path))}
    took: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.repeats):
        for name, read in ways.items():
            start = time.perf_counter()
            with open(path, "rb") as f, gzip.open(f, "rb") as g:
                read(g)
            took[name].append(time.perf_counter() - start)
    whole, limited = (statistics.median(took[k]) for k in ways)
    print(f"{path.name}: whole stream {1000 * whole:.1f} ms, read_limited {1000 * limited:.1f} ms "
          f"(median of {args.repeats}; ratio {limited / whole:.2f})")


if __name__ == "__main__":
    main()
