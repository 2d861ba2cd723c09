"""Images' backgrounds, read from their borders: the mean of each image's outermost ring of pixels.

MNIST's digits are light ink on black, a phone photo's dark ink on light paper. A model learns one
kind: the border tells which kind an image is (:func:`border_brightness`), and a run records the
range its training images' borders span (:func:`border_range`, ``env["data"]["border"]``), so
that a prediction (:mod:`mnistlab.evaluate`) and the user's own test images
(:mod:`mnistlab.data.userdata`) can be told apart from what it trained on. NumPy alone: the data
layer reads it without torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def border_brightness(images: np.ndarray) -> np.ndarray:
    """Mean of each image's outermost ring of pixels on the 0-255 scale: float64 (N,).

    ``images``: (N, H, W), uint8 (0-255) or float ([0, 1], scaled by 255 here).
    """
    x = np.asarray(images)
    if x.shape[0] == 0:
        return np.zeros(0)
    ring = np.concatenate([x[:, 0, :], x[:, -1, :], x[:, 1:-1, 0], x[:, 1:-1, -1]], axis=1)  # the ring alone converted:
    return (ring.astype(np.float64) * (255.0 if x.dtype.kind == "f" else 1.0)).mean(1)  # not every pixel


def border_range(images: np.ndarray) -> list[float]:
    """The training images' border brightness (:func:`border_brightness`) as a run records it
    (``env["data"]["border"]``): its least and greatest over every image (N, H, W), 0-255, so that
    one image on the other background is enough to leave every polarity unwarned; [] for none."""
    images = np.asarray(images)
    if not len(images):
        return []
    parts = [border_brightness(images[i:i + 10_000]) for i in range(0, len(images), 10_000)]  # a ring each: small
    return [round(float(min(p.min() for p in parts)), 1), round(float(max(p.max() for p in parts)), 1)]


def trained_background(trained_border: Any) -> str | None:
    """``"dark"`` where training images whose borders' brightness ranged over ``trained_border``
    (low, high; :func:`border_range`) all had dark backgrounds (each at most 100 of 255: light ink,
    as MNIST's), ``"light"`` where all had light ones (each at least 155: dark ink on paper), None
    for both kinds, or no recorded range."""
    if trained_border is None or np.ndim(trained_border) != 1 or len(trained_border) != 2:
        return None
    low, high = (float(b) for b in trained_border)
    return "dark" if high <= 100.0 else "light" if low >= 155.0 else None
