"""How long `mnistlab predict`'s preprocessing takes per image (mnistlab.preprocess with the MNIST
recipe), for photos of three sizes, side by side with an older tree's code, in one run, idle and
with one competing busy process.

    python bench/bench_preprocess.py [--repeats 5] [--images 40] [--before ../old-tree/src]

The photos are MNIST test digits drawn dark on light, uneven, noisy paper (as the tests make
them), one set per size: 220x260, 400x300 with pale ruled lines, 1200x900. Each figure is the
median, over ``repeats`` fresh processes, of the milliseconds per image of one pass over the
set; the trees alternate process by process. ``--before``: the ``src`` folder of another
checkout (``git worktree add ../old-tree <commit>``). MNISTLAB_DATA_DIR must reach mnist.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)

# One pass over the photos of one size, in a fresh process: prints milliseconds per image.
ONE_PASS = r"""
import sys, time
import numpy as np
from mnistlab.datasets import load_dataset
from mnistlab.preprocessing import preprocess
h, w, lined, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
digits = np.asarray(load_dataset("mnist").test_images[:n], dtype=np.float64) / 255
rng = np.random.default_rng(0)
photos = []
for i, d in enumerate(digits):
    scale = max(2, min(h, w) // 56)
    ink = np.kron(d, np.ones((scale, scale)))
    paper = 190 + 40 * np.linspace(0, 1, w)[None, :] + rng.normal(0, 8, (h, w))
    if lined:
        paper[8::24] *= 0.85
    top, left = (h - ink.shape[0]) // 2, (w - ink.shape[1]) // 2
    paper[top: top + ink.shape[0], left: left + ink.shape[1]] *= 1 - 0.85 * ink
    photos.append(np.clip(paper, 0, 255).astype(np.uint8))
preprocess(photos[0], "mnist")  # imports and first-call costs out of the figure
start = time.perf_counter()
for p in photos:
    preprocess(p, "mnist")
print(1000 * (time.perf_counter() - start) / len(photos))
"""

SIZES = {"220x260": (220, 260, False), "400x300 ruled": (300, 400, True), "1200x900": (900, 1200, False)}


def per_image_ms(size: tuple[int, int, bool], n: int, src: str | None) -> float:
    """Milliseconds per image of one pass, in a fresh process with ``src`` first on its path."""
    h, w, lined = size
    env = {**os.environ, "PYTHONPATH": src} if src else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", ONE_PASS, str(h), str(w), "1" if lined else "0", str(n)],
                         capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--before", default=None, help="the src folder of an older checkout, measured beside this one")
    args = p.parse_args(argv)
    here = str(Path(__file__).resolve().parent.parent / "src")
    trees = {"now": here, **({"before": args.before} if args.before else {})}
    for load, busy in (("idle", 0), ("1 busy process", 1)):
        with busy_load(busy):
            print(f"\n{load}: ms per image (median of {args.repeats} processes, {args.images} images each)")
            for label, size in SIZES.items():
                times: dict[str, list[float]] = {t: [] for t in trees}
                for _ in range(args.repeats):
                    for tree, src in trees.items():
                        times[tree].append(per_image_ms(size, args.images, src))
                shown = "  ".join(f"{t} {statistics.median(v):7.2f}" for t, v in times.items())
                ratio = (f"  now/before {statistics.median(times['now']) / statistics.median(times['before']):.2f}"
                         if "before" in times else "")
                print(f"  {label:15s} {shown}{ratio}")


if __name__ == "__main__":
    main()
