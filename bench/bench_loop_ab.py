"""The training loop before and after a change, side by side: one epoch of seed 000's dense model
(``--model``: another preset, such as seed000-cnn, whose steps run through autograd; Fashion-MNIST,
batch 32, float32, one thread) per run, each in a fresh process, rounds alternating,
idle and then beside one competing busy process (``bench_keras.busy_load``). ``--before`` is the
``src`` folder of another checkout (``git worktree add /tmp/old COMMIT``)::

    python bench/bench_loop_ab.py --before /tmp/old/src --data-dir ../shared/datasets --rounds 3 [--model seed000-cnn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench_keras import busy_load

ROOT = Path(__file__).resolve().parents[1]
CODE = ("import sys; from mnistlab.config import parse_run_config; from mnistlab.run import run_config; "
        "r = run_config(parse_run_config({'dataset': 'fashion-mnist', 'model': sys.argv[2], 'train': "
        "{'epochs': 1, 'threads': 1, 'precision': 'float32'}}), data_dir=sys.argv[1], progress='none'); "
        "print(r.metrics['train_seconds'])")


def one(src: str, data_dir: str, model: str = "seed000-dense") -> float:
    """Training seconds of one epoch of ``model`` with mnistlab from ``src``, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CODE, data_dir, model], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}).stdout
    return float(out.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", required=True, help="the src folder of the checkout to compare with")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", default="seed000-dense", help="the preset trained (default seed000-dense)")
    args = p.parse_args()
    for busy in (0, 1):
        with busy_load(busy):
            before, after = [], []
            for _ in range(args.rounds):
                before.append(one(args.before, args.data_dir, args.model))
                after.append(one(str(ROOT / "src"), args.data_dir, args.model))
        b, a = statistics.median(before), statistics.median(after)
        print(f"{'one busy process' if busy else 'idle'}: before {b:.2f} s, after {a:.2f} s (medians of "
              f"{args.rounds}), ratio {a / b:.3f}", flush=True)


if __name__ == "__main__":
    main()
