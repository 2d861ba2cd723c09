"""Issue 15's figures in one run: the speedrun, Keras vs mnistlab idle and loaded, sweeps under load.

Three parts, each side by side in the same run (ratios: the machines are shared and noisy), every
training in a fresh process:

1. **Speedrun**: the plain PyTorch script (``../shared/bench/plain_pytorch_mnist99.py``) vs
   ``recipes/speedrun-mnist.toml``, seeds alternating; training seconds and test accuracy, mean +- sd.
2. **Keras vs mnistlab** on seed 000's dense model and CNN (Fashion-MNIST, batch 32, Adam, one epoch
   by default), idle and then with one competing busy process pinned to the last core, which the
   benchmark starts and stops itself; seeds interleaved between the frameworks.
3. **Sweeps**: ``mnistlab run`` on a 4-cell experiment (seed000-cnn on 10,000 images, one epoch,
   seeds 0-3) with ``--jobs 1`` and ``--jobs 2``, idle and with the busy process: wall seconds.

Then one summary table. Usage (TensorFlow in a separate venv; without it the Keras rows are skipped)::

    .venv/bin/python bench/bench_speed.py --keras-python /work/benchvenv/bin/python
    .venv/bin/python bench/bench_speed.py --keras-python /work/benchvenv/bin/python --seeds 5 --keras-seeds 3
    .venv/bin/python bench/bench_speed.py --parts speedrun          # one part only
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
import bench_keras  # noqa: E402  (the sibling benchmarks: one home for each worker)
import bench_speedrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SWEEP = """name = "bench-sweep"
[base]
dataset = "fashion-mnist"
model = "seed000-cnn"
data = {{ subset = 10000 }}
[base.train]
epochs = 1
{variants}"""


def mean_sd(xs: list[float]) -> str:
    """``mean +- sd`` with two decimals (sd 0 for one value)."""
    return f"{statistics.mean(xs):.2f} +- {statistics.stdev(xs) if len(xs) > 1 else 0.0:.2f}"


def speedrun(seeds: int, env: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """Part 1: rows (what, plain script, mnistlab, ratio) for the MNIST speedrun."""
    recipe = ROOT / "recipes" / "speedrun-mnist.toml"
    plain: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for seed in range(seeds):
        plain.append(bench_speedrun.plain(bench_speedrun.PLAIN, seed, [], env))
        ours.append(bench_speedrun.mnistlab(recipe, seed, env))
        print(f"  speedrun seed {seed}: plain {plain[-1][0]:.2f} s {plain[-1][1]:.2f}%   "
              f"mnistlab {ours[-1][0]:.2f} s {ours[-1][1]:.2f}%", flush=True)
    ratio = statistics.mean(s for s, _ in plain) / statistics.mean(s for s, _ in ours)
    return [(f"MNIST speedrun, train s ({seeds} seeds)", mean_sd([s for s, _ in plain]), mean_sd([s for s, _ in ours]),
             f"{ratio:.2f}x"),
            ("MNIST speedrun, test acc %", mean_sd([a for _, a in plain]), mean_sd([a for _, a in ours]), "")]


def keras_vs_mnistlab(args: argparse.Namespace, load: int) -> list[tuple[str, str, str, str]]:
    """Part 2: rows (what, Keras, mnistlab, ratio) for seed 000's models with ``load`` busy processes."""
    ns = argparse.Namespace(epochs=args.epochs, data_dir=args.data_dir, threads=0)
    rows = []
    with bench_keras.busy_load(load):
        for model in ("dense", "cnn"):
            runs: dict[str, list[dict]] = {"keras": [], "mnistlab": []}
            for seed in range(args.seed, args.seed + args.keras_seeds):
                for fw in runs if args.keras_python else ("mnistlab",):
                    python = args.keras_python if fw == "keras" else sys.executable
                    if (r := bench_keras.run_one(python, fw, model, ns, seed)) is not None:
                        runs[fw].append(r)
                        print(f"  {model} {fw} seed {seed} load {load}: {r['seconds']:.1f} s "
                              f"{100 * r['test_accuracy']:.2f}%", flush=True)
            rows.append(_framework_row(f"seed000-{model}, {'idle' if not load else f'{load} busy process'}", runs))
    return rows


def _framework_row(what: str, runs: dict[str, list[dict]]) -> tuple[str, str, str, str]:
    """One summary row: median seconds and mean accuracy of each framework, Keras/mnistlab ratio."""
    cells = {}
    for fw, rs in runs.items():
        cells[fw] = (f"{statistics.median(r['seconds'] for r in rs):.1f} s, "
                     f"{mean_sd([100 * r['test_accuracy'] for r in rs])}%" if rs else "n/a")
    if runs["keras"] and runs["mnistlab"]:
        ratio = statistics.median(r["seconds"] for r in runs["keras"]) / statistics.median(r["seconds"] for r in runs["mnistlab"])
        return what, cells["keras"], cells["mnistlab"], f"{ratio:.2f}x"
    return what, cells["keras"], cells["mnistlab"], ""


def sweeps(env: dict[str, str], data_dir: Path) -> list[tuple[str, str, str, str]]:
    """Part 3: rows (what, --jobs 1 s, --jobs 2 s, speed-up) idle and with one busy process."""
    variants = "\n".join(f'[[variants]]\nname = "seed{s}"\ntrain = {{ seed = {s} }}' for s in range(4))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "sweep.toml"
        exp.write_text(SWEEP.format(variants=variants))
        for load in (0, 1):
            seconds = {}
            with bench_keras.busy_load(load):
                for jobs in (1, 2):
                    store = Path(tmp) / f"store-{load}-{jobs}"
                    cmd = [sys.executable, "-m", "mnistlab", "run", str(exp), "--jobs", str(jobs), "--store", str(store),
                           "--data-dir", str(data_dir)]
                    start = time.perf_counter()
                    subprocess.run(cmd, env=env, check=True, capture_output=True)
                    seconds[jobs] = time.perf_counter() - start
                    print(f"  sweep --jobs {jobs} load {load}: {seconds[jobs]:.1f} s wall", flush=True)
            rows.append((f"4-cell sweep wall s, {'idle' if not load else '1 busy process'}", f"{seconds[1]:.1f}",
                         f"{seconds[2]:.1f}", f"{seconds[1] / seconds[2]:.2f}x"))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="speedrun,keras,sweeps", help="comma-separated: speedrun, keras, sweeps")
    p.add_argument("--seeds", type=int, default=5, help="speedrun seeds")
    p.add_argument("--keras-seeds", type=int, default=1, help="seeds per framework and model in part 2")
    p.add_argument("--seed", type=int, default=3000, help="first seed of part 2")
    p.add_argument("--epochs", type=int, default=1, help="epochs in part 2")
    p.add_argument("--keras-python", default="", help="a Python with tensorflow (empty: mnistlab rows only)")
    p.add_argument("--data-dir", type=Path, default=bench_keras.DEFAULT_DATA)
    args = p.parse_args()
    if args.keras_python and not bench_keras.keras_available(args.keras_python):
        print(f"tensorflow is not importable by {args.keras_python}: Keras rows skipped")
        args.keras_python = ""
    env = {**os.environ, "MNISTLAB_DATA_DIR": str(args.data_dir.resolve()),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    parts = args.parts.split(",")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, {when}")
    sections = []
    if "speedrun" in parts:
        sections.append((("", "plain script", "mnistlab", "plain/mnistlab"), speedrun(args.seeds, env)))
    if "keras" in parts:
        sections.append((("", "Keras", "mnistlab", "Keras/mnistlab"),
                         keras_vs_mnistlab(args, 0) + keras_vs_mnistlab(args, 1)))
    if "sweeps" in parts:
        sections.append((("", "--jobs 1", "--jobs 2", "jobs1/jobs2"), sweeps(env, args.data_dir)))
    print()
    for header, rows in sections:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        print()


if __name__ == "__main__":
    main()
