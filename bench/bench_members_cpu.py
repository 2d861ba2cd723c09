"""A committee's members on a CPU: trained one by one (the default there) against stacked into one
model (``mnistlab run --batch-members``, the default on a GPU), idle and with one competing busy
process, side by side in one run. Prints a Markdown table for BENCHMARKS.md::

    MNISTLAB_DATA_DIR=../shared/datasets python bench/bench_members_cpu.py [--members 3] [--subset 6000]

Wall seconds of ``run_experiment`` over the whole committee (data loading included once per
process), and the ratio stacked / one by one. The README says stacking is slower on a CPU
(the CPU's fast paths, the native conv kernel and the hand-written dense step, are for one model);
this puts a number on it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_keras import busy_load  # noqa: E402

from mnistlab.execute import run_experiment  # noqa: E402
from mnistlab.experiments import load_experiment  # noqa: E402
from mnistlab.store import RunStore  # noqa: E402

COMMITTEE = """name = "cpu-committee"
committee = {members}
[base]
dataset = "mnist"
model = "{model}"
[base.data]
subset = {subset}
[base.train]
epochs = 1
[[variants]]
name = "members"
"""


def wall(model: str, members: int, subset: int, stacked: bool) -> float:
    """Seconds to train the committee once, in a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "committee.toml"
        path.write_text(COMMITTEE.format(members=members, model=model, subset=subset))
        exp = load_experiment(path)
        with RunStore(Path(tmp) / "runs") as store:
            start = time.perf_counter()
            run_experiment(exp, store, batch_members=stacked, progress="none")
            return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--subset", type=int, default=6000)
    p.add_argument("--models", nargs="+", default=["seed000-cnn", "seed000-dense"])
    args = p.parse_args()
    print("| committee, 1 epoch | load | one by one | stacked | stacked / one by one |")
    print("|---|---|---:|---:|---:|")
    for model in args.models:
        wall(model, 1, 600, False)  # warm: the data's decoded cache, the native kernel's build
        for load in (0, 1):
            with busy_load(load):
                one = wall(model, args.members, args.subset, False)
                stacked = wall(model, args.members, args.subset, True)
            print(f"| {args.members} x {model}, {args.subset:,} images | {'idle' if not load else '1 busy process'} "
                  f"| {one:.1f} s | {stacked:.1f} s | {stacked / one:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
