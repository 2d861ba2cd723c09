"""Record Keras's augmentation output for fixed transforms, for tests/test_augment.py to match.

Runs Keras 3's ``ImageDataGenerator.apply_transform`` (scipy.ndimage, interpolation order 1) on
the first three MNIST test images and the first one inverted (a white background, so that what a
fill mode brings in at the edges shows) for a handful of fixed transforms (rotations, zooms, whole and
fractional shifts, a flip, combinations) with every fill mode mnistlab offers, and writes
``tests/data/keras_augment.npz``: the images, each transform's parameters as Keras takes them
(``theta`` degrees, ``tx``/``ty`` pixels, ``zx``/``zy``, ``flip_horizontal``) and the outputs.
Then shears and vertical flips (``SHEARED``: theta, shear degrees, zx, zy, flip_horizontal,
flip_vertical) with each fill mode, and what ``get_random_transform`` draws for each form the
ranges take (``DRAWS``: a zoom [lo, hi], shifts as an int, a float from 1 up, a list of pixels,
a list of fractions; 4,000 draws each, as the set of values drawn or their extremes).
It also records what Keras's own generator does with ``width_shift_range`` alone (the shift goes
into ``ty``, which moves the image vertically: keras-team/keras#17398). Needs Keras and scipy,
which the tests do not; ImageDataGenerator is numpy and scipy, so any Keras backend will do::

    python -m venv kvenv && kvenv/bin/pip install keras scipy
    KERAS_BACKEND=numpy kvenv/bin/python bench/keras_augment.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "keras_augment.npz"
DEFAULT_DATA = Path(os.environ.get("MNISTLAB_DATA_DIR") or ROOT.parent / "shared" / "datasets")

# (theta degrees, tx pixels, ty pixels, zx, zy, flip_horizontal), Keras's apply_transform keys.
TRANSFORMS = np.array([
    (15.0, 0.0, 0.0, 1.0, 1.0, 0),        # rotations
    (-40.0, 0.0, 0.0, 1.0, 1.0, 0),
    (0.0, 0.0, 0.0, 1.2, 0.85, 0),        # zoom, x and y apart
    (0.0, 0.0, 0.0, 0.7, 0.7, 0),         # zoom in: nothing comes in from outside
    (0.0, 5.0, -3.0, 1.0, 1.0, 0),        # whole-pixel shift: samples land exactly on the edges
    (0.0, 3.4, -7.6, 1.0, 1.0, 0),        # fractional shift
    (0.0, 0.0, 0.0, 1.0, 1.0, 1),         # flip alone
    (25.0, 2.5, 1.0, 1.1, 0.9, 1),        # everything together
    (-170.0, -9.3, 11.2, 1.6, 1.3, 1),    # far out: most of the output is fill
])
# (theta degrees, shear degrees, zx, zy, flip_horizontal, flip_vertical)
SHEARED = np.array([
    (0.0, 20.0, 1.0, 1.0, 0, 0),          # shear alone
    (0.0, -35.0, 1.0, 1.0, 0, 0),
    (0.0, 0.0, 1.0, 1.0, 0, 1),           # vertical flip alone
    (0.0, 0.0, 1.0, 1.0, 1, 1),           # both flips
    (12.0, 15.0, 1.1, 0.9, 0, 1),         # rotation, shear, zoom, vertical flip
    (-30.0, -10.0, 0.8, 1.2, 1, 1),       # everything
])
# get_random_transform's draws for each form a range takes: (generator arguments, drawn key, discrete?)
DRAWS = [
    ({"width_shift_range": 3}, "ty", True),           # an int: whole pixels 0 .. 2, with a sign
    ({"width_shift_range": 2.5}, "ty", False),        # a float from 1 up: pixels, uniform
    ({"width_shift_range": [1, 4]}, "ty", True),      # a list from 1 up: pixels, with a sign
    ({"width_shift_range": [0.1, 0.25]}, "ty", True),  # a list below 1: fractions of the size
    ({"height_shift_range": 2}, "tx", True),
    ({"zoom_range": [0.8, 1.3]}, "zx", False),         # [lo, hi]: each of zx and zy uniform in it
    ({"zoom_range": [0.8, 1.3]}, "zy", False),
    ({"shear_range": 12.0}, "shear", False),           # degrees, uniform in [-s, s]
]
DRAW_COUNT = 4000
FILLS = [("nearest", 0.0), ("constant", 0.0), ("constant", 0.5), ("reflect", 0.0), ("wrap", 0.0)]
IMAGES = 3


def read_images(data_dir: Path) -> np.ndarray:
    """The first IMAGES MNIST test images, uint8 (IMAGES, 28, 28), read from the IDX file."""
    raw = gzip.decompress((data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())
    n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h, w)[:IMAGES].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    import keras
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    images = read_images(args.data_dir)
    images = np.concatenate([images, 255 - images[:1]])  # and a white-background one: fills show at the edges
    x = images[..., None].astype(np.float32) / 255  # channels last, the model's input scale
    outputs = np.zeros((len(FILLS), len(TRANSFORMS), len(x), 28, 28), np.float32)
    for f, (mode, cval) in enumerate(FILLS):
        gen = ImageDataGenerator(fill_mode=mode, cval=cval)
        for t, (theta, tx, ty, zx, zy, flip) in enumerate(TRANSFORMS):
            params = {"theta": theta, "tx": tx, "ty": ty, "zx": zx, "zy": zy, "flip_horizontal": bool(flip)}
            for i in range(len(x)):
                outputs[f, t, i] = gen.apply_transform(x[i], params)[..., 0]
    sheared = np.zeros((len(FILLS), len(SHEARED), len(x), 28, 28), np.float32)
    for f, (mode, cval) in enumerate(FILLS):
        gen = ImageDataGenerator(fill_mode=mode, cval=cval)
        for t, (theta, shear, zx, zy, flip_h, flip_v) in enumerate(SHEARED):
            params = {"theta": theta, "shear": shear, "zx": zx, "zy": zy, "flip_horizontal": bool(flip_h),
                      "flip_vertical": bool(flip_v)}
            for i in range(len(x)):
                sheared[f, t, i] = gen.apply_transform(x[i], params)[..., 0]
    draws = {}
    for d, (kwargs, key, discrete) in enumerate(DRAWS):
        gen = ImageDataGenerator(**kwargs)
        np.random.seed(d)
        values = np.array([gen.get_random_transform((28, 28, 1))[key] for _ in range(DRAW_COUNT)], np.float64)
        draws[f"draws_{d}"] = np.unique(values) if discrete else np.array([values.min(), values.max()])
    # Keras's own generator with width_shift_range only: which of tx / ty does it fill?
    shifter = ImageDataGenerator(width_shift_range=0.1, fill_mode="constant")
    drawn = shifter.get_random_transform((28, 28, 1), seed=1)
    width_shifted = shifter.apply_transform(x[0], drawn)[..., 0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT, keras_version=np.array(keras.__version__), images=images, transforms=TRANSFORMS,
        angle_rad=np.deg2rad(TRANSFORMS[:, 0]), fill_modes=np.array([m for m, _ in FILLS]),
        cvals=np.array([c for _, c in FILLS]), outputs=outputs,
        width_shift_params=np.array([drawn["tx"], drawn["ty"]]), width_shifted=width_shifted.astype(np.float32),
        sheared_transforms=SHEARED, sheared=sheared, draw_settings=np.array([repr(k) for k, _, _ in DRAWS]),
        draw_keys=np.array([k for _, k, _ in DRAWS]), **draws)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB, Keras {keras.__version__}); "
          f"width_shift_range=0.1 drew tx={drawn['tx']:.3f}, ty={drawn['ty']:.3f}")


if __name__ == "__main__":
    main()
