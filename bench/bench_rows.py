"""How often `mnistlab predict` says an image holds several digits side by side
(mnistlab.preprocess.side_by_side): on single MNIST test digits drawn as a photo would show them
(dark ink on white paper, 4x larger, a margin), where it must never say it, and on rows of 2 and
3 of them with a gap between, where it should.

    MNISTLAB_DATA_DIR=../shared/datasets python bench/bench_rows.py [--count 10000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from PIL import Image

from mnistlab.datasets import load_dataset
from mnistlab.errors import DataWarning
from mnistlab.preprocessing import preprocess


def as_photo(digits: list[np.ndarray], gap: int) -> Image.Image:
    """MNIST digits (28x28, light on black) side by side, ``gap`` px apart (at 28 px), as dark ink on white, 4x."""
    cropped = []
    for d in digits:
        cols = np.flatnonzero(d.max(0) > 0)
        cropped.append(d[:, cols.min(): cols.max() + 1])
    spacer = np.zeros((28, gap), np.uint8)
    row = np.concatenate([part for d in cropped for part in (d, spacer)][:-1], axis=1)
    row = np.pad(row, 8)
    return Image.fromarray(255 - row).resize((row.shape[1] * 4, row.shape[0] * 4), Image.Resampling.BILINEAR)


def said(image: Image.Image) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        preprocess(image, "mnist")
    return any(issubclass(w.category, DataWarning) and "side by side" in str(w.message) for w in caught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    ds = load_dataset("mnist")
    x = np.asarray(ds.test_images[: args.count])
    single = sum(said(as_photo([d], 0)) for d in x)
    print(f"single digits said to be a row: {single} of {len(x)}")
    rng = np.random.default_rng(0)
    for n in (2, 3):
        for gap in (2, 6):
            picks = rng.integers(0, len(x), (500, n))
            hits = sum(said(as_photo([x[i] for i in p], gap)) for p in picks)
            print(f"rows of {n} digits {gap} px apart said to be a row: {hits} of 500")


if __name__ == "__main__":
    main()
