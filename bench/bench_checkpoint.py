"""What a sweep's resume checkpoints cost: the same sweep timed with a checkpoint at every epoch's end
(``MNISTLAB_CHECKPOINT_EVERY=0``, Keras's BackupAndRestore cadence) and with mnistlab's default (one a
minute or more apart: none in these short cells), side by side in one process, rounds alternating.
Also the time of one checkpoint write for the best recipes' models (weights and Adam's two moments).

    python bench/bench_checkpoint.py --data-dir ../shared/datasets [--rounds 3] [--busy]

``--busy`` runs one competing busy process (``bench_keras.busy_load``: a Python spin loop pinned to
the last core, as bench_speed.py's) beside the measurements, as a user's machine always has one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mnistlab.execute import run_experiment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)

SWEEP = """
name = "ckpt"
[base]
dataset = "mnist"
model = {{ conv = [16], pool = [true], dense = [32] }}
data = {{ subset = {subset}, validation = 0.1 }}
train = {{ epochs = {epochs}, batch_size = 64, threads = 1 }}
[grid]
"train.seed" = {seeds}
"""


def time_sweep(path: Path, data_dir: str | None, every: str | None) -> tuple[float, float]:
    """Wall seconds of one sweep into a fresh store, and its summed train_seconds."""
    if every is None:
        os.environ.pop("MNISTLAB_CHECKPOINT_EVERY", None)
    else:
        os.environ["MNISTLAB_CHECKPOINT_EVERY"] = every
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_experiment(path, Path(tmp) / "store", data_dir=data_dir)
        wall = time.perf_counter() - start
    return wall, sum(o.record.metrics["train_seconds"] for o in result.outcomes)


def write_seconds(preset: str, repeats: int = 5) -> tuple[float, float]:
    """Median seconds of one Trainer.save_checkpoint for ``preset`` (Adam), and its size in MB."""
    import torch

    from mnistlab.config import parse_run_config
    from mnistlab.models import build_model
    from mnistlab.trainer import Trainer

    model = build_model(parse_run_config({"dataset": "mnist", "model": preset}).model, seed=0)
    trainer = Trainer(model, optimizer="adam")
    x = torch.zeros(8, 28, 28)
    trainer.train_step(x, torch.zeros(8, dtype=torch.long))  # the optimizer's state exists
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "last.pt"
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.save_checkpoint(path)
            times.append(time.perf_counter() - start)
        size = path.stat().st_size / 1e6
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=3000)
    parser.add_argument("--busy", action="store_true", help="one competing busy process beside the runs")
    args = parser.parse_args()
    with busy_load(1 if args.busy else 0):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ckpt.toml"
            path.write_text(SWEEP.format(subset=args.subset, epochs=args.epochs, seeds=list(range(args.cells))))
            time_sweep(path, args.data_dir, None)  # warm-up: the dataset cache, imports
            walls: dict[str, list[float]] = {"default": [], "every epoch": []}
            for _ in range(args.rounds):
                for label, every in (("default", None), ("every epoch", "0")):
                    walls[label].append(time_sweep(path, args.data_dir, every)[0])
        print(f"sweep of {args.cells} cells x {args.epochs} epochs on {args.subset} images, one thread, "
              f"{args.rounds} rounds{' beside one busy process' if args.busy else ''}")
        base = statistics.median(walls["default"])
        for label, ws in walls.items():
            print(f"  checkpoints {label:<12} median wall {statistics.median(ws):6.2f} s  "
                  f"(runs {', '.join(f'{w:.2f}' for w in ws)})  ratio {statistics.median(ws) / base:.3f}")
        n = args.cells * args.epochs
        print(f"  per checkpoint: {(statistics.median(walls['every epoch']) - base) / n * 1000:.1f} ms "
              f"({n} checkpoints a sweep)")
        for preset in ("deotte-bn-cnn", "resnet20", "wide-resnet-16-4"):
            secs, mb = write_seconds(preset)
            print(f"  one checkpoint of {preset:<17} {mb:6.1f} MB in {secs * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
