"""The measurement behind the inverted-image warning (``mnistlab.evaluate.INVERTED_BORDER``): how
bright the outermost ring of pixels gets in every real image of each dataset, and how many
inverted images (255 - x, a drawing dark on light) the limit catches.

    python bench/bench_border.py --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse

import numpy as np

from mnistlab.datasets import list_datasets, load_dataset
from mnistlab.data.borders import border_brightness
from mnistlab.evaluate import DEFAULT_INVERTED_BORDER, INVERTED_BORDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    print("dataset        split  images  border mean: max  99.99%  median | limit  inverted caught")
    for info in list_datasets():
        ds = load_dataset(info.name, args.data_dir)
        limit = INVERTED_BORDER.get(info.name, DEFAULT_INVERTED_BORDER)
        for split, images in (("train", ds.train_images), ("test", ds.test_images)):
            x = np.asarray(images)
            b = border_brightness(x)
            caught = (border_brightness(255 - x) > limit).mean()
            print(f"{info.name:<14} {split:<5} {len(x):>7}  {b.max():>16.1f} {np.quantile(b, 0.9999):>7.1f} "
                  f"{np.median(b):>7.1f} | {limit:>5g}  {caught:.4%}")


if __name__ == "__main__":
    main()
