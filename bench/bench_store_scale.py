"""A big run store's read commands before and after a change, side by side (helper-196: at 4,274 runs
`compare` of every run id took 40 s, a `run` of a 1,000-cell file all recorded 14.8 s).

The store is built once with the store's own API: a grid experiment file (``--variants`` cells of a
tiny dense model, two seeds each) whose every cell is recorded finished with made-up metrics, as a
sweep that trained them would leave it (no training: the commands timed read the store only). Then
each command runs in a fresh process with mnistlab from ``--before`` (``git worktree add /tmp/old
COMMIT``) and from this checkout, rounds alternating, idle and then beside one busy process
(``bench_keras.busy_load``)::

    python bench/bench_store_scale.py --before /tmp/old/src --variants 500 --rounds 3
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

from bench_keras import busy_load

ROOT = Path(__file__).resolve().parents[1]


def build(folder: Path, variants: int) -> tuple[Path, Path]:
    """The experiment file and the store holding its ``variants`` x 2 cells, each recorded finished."""
    from mnistlab.experiments import load_experiment
    from mnistlab.store import RunStore

    lrs = ", ".join(f"{0.0005 * (1 + i):.6g}" for i in range(variants // 5))
    exp = folder / "grid.toml"
    exp.write_text('name = "grid"\nrepeats = 2\n[base]\ndataset = "mnist"\nmodel = { dense = [32] }\n'
                   'data = { subset = 512 }\ntrain = { epochs = 1 }\n[grid]\n'
                   f'"train.lr" = [{lrs}]\n"model.dense" = [[8], [16], [24], [32], [48]]\n')
    store = RunStore(folder / "store")
    for i, cell in enumerate(load_experiment(exp).cells()):
        rid = store.start_run(experiment="grid", variant=cell.variant, seed=cell.seed, member=cell.member,
                              config=cell.config, config_hash=cell.key, repeat=cell.repeat)
        acc = 0.6 + (i % 97) / 400
        store.finish_run(rid, status="finished", history=[{"epoch": 1, "loss": 1.0, "accuracy": acc, "lr": 0.001}],
                         metrics={"test_accuracy": acc, "test_loss": 1.0, "epochs_run": 1, "params": 1000,
                                  "train_seconds": 0.1, "seconds_per_epoch": 0.1}, env={"experiment_file": str(exp)},
                         files=False)
    return exp, store.root


def timed(src: str, argv: list[str], data_dir: str) -> float:
    """Wall seconds of ``mnistlab ARGV`` with mnistlab from ``src``, in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mnistlab", *argv], env={**os.environ, "PYTHONPATH": src,
                   "MNISTLAB_DATA_DIR": data_dir}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", required=True, help="the src folder of the checkout to compare with")
    p.add_argument("--variants", type=int, default=500, help="grid cells (a multiple of 5), two runs each")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exp, store = build(Path(tmp), args.variants)
        from mnistlab.store import RunStore

        ids = [r.run_id for r in RunStore(store).runs()]
        commands = {f"compare of all {len(ids)} run ids": ["compare", *ids, "--store", str(store)],
                    f"run of the {len(ids)}-cell file, all recorded": ["run", str(exp), "--store", str(store)],
                    "compare grid": ["compare", "grid", "--store", str(store)],
                    "runs": ["runs", "--store", str(store)]}
        for busy in (0, 1):
            with busy_load(busy):
                for name, argv in commands.items():
                    before, after = [], []
                    for _ in range(args.rounds):  # alternating: a drift of the machine's speed falls on both
                        before.append(timed(args.before, argv, args.data_dir))
                        after.append(timed(str(ROOT / "src"), argv, args.data_dir))
                    b, a = statistics.median(before), statistics.median(after)
                    print(f"{'one busy process' if busy else 'idle'}: {name}: before {b:.2f} s, after {a:.2f} s "
                          f"(medians of {args.rounds}), ratio {a / b:.3f}", flush=True)


if __name__ == "__main__":
    main()
