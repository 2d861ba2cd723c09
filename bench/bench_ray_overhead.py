"""Seconds per cell on tiny cells (a 120-image subset, one epoch of a small dense model): the local
backend (in this process) against the Ray backend on a local Ray instance (``--cpus`` CPUs, one
per cell, cells in parallel), cold (the sweep that starts Ray's workers) and warm (the same cells again with force).
Each sweep's time over its cells: what it shows is the backend's overhead per cell, not training speed.

    python bench/bench_ray_overhead.py --data-dir ../shared/datasets --cells 12 --cpus 2
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import ray

from mnistlab.backends import RayRunner
from mnistlab.execute import run_experiment

TINY = """
name = "overhead"
[base]
dataset = "mnist"
model = {{ dense = [8] }}
[base.data]
subset = 120
[base.train]
epochs = 1
batch_size = 60
[[variants]]
name = "a"
repeats = {cells}
"""


def _per_cell(exp: Path, store: Path, data_dir: str | None, cells: int, **kw: object) -> float:
    t0 = time.perf_counter()
    run_experiment(exp, store, data_dir=data_dir, **kw)  # type: ignore[arg-type]
    return (time.perf_counter() - t0) / cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "exp.toml"
        exp.write_text(TINY.format(cells=args.cells))
        cold_local = _per_cell(exp, Path(tmp) / "local", args.data_dir, args.cells)
        local = _per_cell(exp, Path(tmp) / "local", args.data_dir, args.cells, force=True)
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        start = time.perf_counter() - t0
        cold = _per_cell(exp, Path(tmp) / "ray", args.data_dir, args.cells, runner=RayRunner())
        warm = _per_cell(exp, Path(tmp) / "ray", args.data_dir, args.cells, runner=RayRunner(), force=True)
        ray.shutdown()
    print(f"{args.cells} tiny cells; Ray: local instance, {args.cpus} CPUs, 1 per cell")
    print(f"local, first sweep   {cold_local:7.3f} s/cell   (loads the data once)")
    print(f"local, again         {local:7.3f} s/cell")
    print(f"ray, cold workers    {cold:7.3f} s/cell   (ray.init itself: {start:.1f} s, once)")
    print(f"ray, warm workers    {warm:7.3f} s/cell   ({warm / local:.1f}x local)")


if __name__ == "__main__":
    main()
