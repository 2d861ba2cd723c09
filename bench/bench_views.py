"""What reading a comparison by name costs on the user's own data: `mnistlab compare NAME` beside
`mnistlab runs -e NAME` (the listing, which reads the store and no data) on the same store, side by
side in one run, idle and with one busy process.

    python bench/bench_views.py --data-dir ../shared/datasets [--images 3000] [--runs 20] [--repeats 3]

The data is a class folder of the first N MNIST training images as PNGs; the experiment trains
``--runs`` tiny runs on it (two variants, 300 images, one epoch), once. Each figure is the median of
the repeats, each command a fresh process (its imports included). A view by name tells each
variant's setting from the runs' configs and their recorded SHA-256, reading no image
(`experiments.variant_setting`); before 2026-12-03 it hashed the folder about 14 times per run.
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

EXPERIMENT = """name = "own"
[base]
dataset = "digits"
model = {{ dense = [8] }}
[base.data]
subset = 300
[base.train]
epochs = 1
batch_size = 100
[[variants]]
name = "a"
repeats = {half}
[[variants]]
name = "b"
"train.lr" = 0.01
repeats = {half}
"""


def _prepare(folder: Path, data_dir: Path, images: int, runs: int) -> None:
    """The folder of PNGs, the experiment file and its trained runs (store ``folder/store``)."""
    from PIL import Image

    from mnistlab.datasets import load_dataset

    ds = load_dataset("mnist", data_dir=data_dir)
    for i in range(images):
        cls = folder / "digits" / str(int(ds.train_labels[i]))
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.train_images[i]).save(cls / f"{i:05d}.png")
    (folder / "own.toml").write_text(EXPERIMENT.format(half=max(1, runs // 2)))
    subprocess.run([sys.executable, "-m", "mnistlab", "run", "own.toml", "--store", "store", "--data-dir",
                    str(data_dir), "--format", "csv"], cwd=folder, check=True, capture_output=True)


def _seconds(folder: Path, args: list[str], repeats: int) -> float:
    """The median wall time of ``mnistlab ARGS`` in ``folder``, a fresh process each time."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mnistlab", *args, "--store", "store"], cwd=folder, check=True,
                       capture_output=True, env={**os.environ, "COLUMNS": "200"})
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _prepare(folder, a.data_dir.resolve(), a.images, a.runs)
        print(f"{a.runs} runs on a folder of {a.images:,} PNGs; median of {a.repeats}, seconds")
        print("load   runs -e own   compare own   report own   compare / runs")
        for busy in (0, 1):
            with busy_load(busy):
                listing = _seconds(folder, ["runs", "-e", "own"], a.repeats)
                compare = _seconds(folder, ["compare", "own"], a.repeats)
                report = _seconds(folder, ["report", "own", "-o", "r.html"], a.repeats)
            print(f"{'busy' if busy else 'idle':<6} {listing:11.2f} {compare:13.2f} {report:12.2f} "
                  f"{compare / listing:16.2f}")


if __name__ == "__main__":
    main()
