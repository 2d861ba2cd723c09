"""What `mnistlab report` costs with its figures drawn one by one (``-j 1``) and at once (the
default: one forked process per core), side by side in one run, idle and with one busy process.

    python bench/bench_report.py --data-dir ../shared/datasets [--variants 6] [--repeats 5] [--busy]

The experiment is ``--variants`` small models on 600 Fashion-MNIST images, one epoch each, trained
once into a temporary store; its report has 3 + 3 x variants figures (comparison, history,
confusion matrix, misclassified images). Each figure printed is the median wall time of the
repeats, each report a fresh process (imports included), the two ways alternating round by round
so that load on a shared machine hits both alike; the two pages are checked to be the same bytes.
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

HEAD = """name = "bench-report"
[base]
dataset = "fashion-mnist"
model = "seed000-dense"
[base.data]
subset = 600
[base.train]
epochs = 1
batch_size = 60
"""
MODELS = ["seed000-dense", "seed000-cnn", "seed000-ex1", "seed000-ex2", "seed003-dense", "seed001-builder"]


def report_seconds(store: Path, experiment: Path, out: Path, jobs: int | None, env: dict[str, str]) -> float:
    """Wall seconds of one `mnistlab report` in a fresh process."""
    cmd = [sys.executable, "-m", "mnistlab", "report", str(experiment), "--store", str(store), "-o", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd + (["-j", str(jobs)] if jobs else []), check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--variants", type=int, default=6)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--busy", action="store_true", help="with one competing busy process")
    args = p.parse_args()
    env = dict(os.environ, **({"MNISTLAB_DATA_DIR": args.data_dir} if args.data_dir else {}))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        experiment = root / "bench-report.toml"
        experiment.write_text(HEAD + "".join(f'[[variants]]\nname = "v{i}"\nmodel = "{MODELS[i % len(MODELS)]}"\n'
                                              f"train.seed = {i}\n" for i in range(args.variants)))
        subprocess.run([sys.executable, "-m", "mnistlab", "run", str(experiment), "--store", str(root / "runs")],
                       check=True, env=env, capture_output=True)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        times: dict[str, list[float]] = {"-j 1": [], f"-j {cores} (default)": []}
        with busy_load(1 if args.busy else 0):
            for _ in range(args.repeats):
                times["-j 1"].append(report_seconds(root / "runs", experiment, root / "one.html", 1, env))
                times[f"-j {cores} (default)"].append(report_seconds(root / "runs", experiment, root / "all.html", None, env))
        same = (root / "one.html").read_bytes() == (root / "all.html").read_bytes()
    serial, parallel = (statistics.median(v) for v in times.values())
    print(f"{args.variants} variants ({3 + 3 * args.variants} figures), {'one busy process' if args.busy else 'idle'}, "
          f"{cores} cores, median of {args.repeats}; same page: {same}")
    for name, values in times.items():
        print(f"  {name:16} {statistics.median(values):6.2f} s  ({min(values):.2f}-{max(values):.2f})")
    print(f"  ratio (-j 1 / default): {serial / parallel:.2f}")


if __name__ == "__main__":
    main()
