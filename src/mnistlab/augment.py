"""Batched, seeded image augmentation on tensors, named as in Keras's ImageDataGenerator.

Every image of a batch gets its own random rotation, zoom, shift and flip, applied together as
ONE ``affine_grid`` + ``grid_sample`` call for the whole batch (bilinear, like Keras's order-1
interpolation), then optional random erasing as one masked fill. The random numbers come from a
``torch.Generator``, so a seed gives the same augmented batches every run (and a resumed run
continues the same stream)::

    aug = Augmenter(AugmentConfig(rotation_range=10, zoom_range=0.1), seed=0)
    x = aug(x)          # x: float (N, C, H, W) in [0, 1]

Keras's conventions are kept: ranges are symmetric (``[-r, r]`` degrees / fractions of the size),
x and y zoom are drawn independently from ``[1 - z, 1 + z]``, and ``fill_mode="nearest"``
repeats the edge pixels (``"constant"`` fills with 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.config import AugmentConfig


def sample_params(n: int, cfg: AugmentConfig, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw each image's transform: angle (radians), zoom x/y, shift x/y (fractions), flip (bool)."""

    def uniform(r: float) -> torch.Tensor:
        return (torch.rand(n, generator=gen) * 2 - 1) * r

    return {
        "angle": uniform(math.radians(cfg.rotation_range)),
        "zoom_x": 1 + uniform(cfg.zoom_range),
        "zoom_y": 1 + uniform(cfg.zoom_range),
        "shift_x": uniform(cfg.width_shift_range),
        "shift_y": uniform(cfg.height_shift_range),
        "flip": (torch.rand(n, generator=gen) < 0.5) if cfg.horizontal_flip else torch.zeros(n, dtype=torch.bool),
    }


def affine_theta(params: dict[str, torch.Tensor], height: int, width: int) -> torch.Tensor:
    """The (N, 2, 3) matrices for ``F.affine_grid`` mapping output to input coordinates.

    Built in pixel units (so a rotation stays a rotation on non-square images) as Keras does:
    ``input = R @ (Z @ output + shift)``, with the flip applied to the output, then converted to
    affine_grid's [-1, 1] coordinates.
    """
    cos, sin = torch.cos(params["angle"]), torch.sin(params["angle"])
    zx, zy = params["zoom_x"], params["zoom_y"]
    fx = torch.where(params["flip"], -1.0, 1.0)
    # A = D^-1 R Z D Fl, with D = diag(W/2, H/2) taking [-1, 1] coordinates to pixels
    a11 = cos * zx * fx
    a12 = -sin * zy * (height / width)
    a21 = sin * zx * fx * (width / height)
    a22 = cos * zy
    # shift in pixels t = (sx * W, sy * H), rotated, back to [-1, 1] units: D^-1 R t
    tx, ty = params["shift_x"] * width, params["shift_y"] * height
    b1 = (cos * tx - sin * ty) * (2 / width)
    b2 = (sin * tx + cos * ty) * (2 / height)
    return torch.stack([torch.stack([a11, a12, b1], 1), torch.stack([a21, a22, b2], 1)], 1)


def erase_mask(n: int, height: int, width: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing (Zhong et al.): with probability ``p`` one rectangle per image of 2-33% of
    the area and aspect ratio 0.3-3.3. Returns a bool mask (N, 1, H, W), True = erase."""
    apply = torch.rand(n, generator=gen) < p
    area = (0.02 + torch.rand(n, generator=gen) * 0.31) * height * width
    log_ratio = (torch.rand(n, generator=gen) * 2 - 1) * math.log(1 / 0.3)
    ratio = torch.exp(log_ratio)
    h = torch.sqrt(area * ratio).round().clamp(1, height)
    w = torch.sqrt(area / ratio).round().clamp(1, width)
    top = (torch.rand(n, generator=gen) * (height - h + 1)).floor()
    left = (torch.rand(n, generator=gen) * (width - w + 1)).floor()
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    inside = (
        (rows >= top.view(-1, 1, 1)) & (rows < (top + h).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1)) & (cols < (left + w).view(-1, 1, 1))
    )
    return (inside & apply.view(-1, 1, 1)).unsqueeze(1)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, C, H, W); returns a new tensor, ``x`` is not modified."""
    n, _, height, width = x.shape
    params = sample_params(n, cfg, gen)
    geometric = cfg.rotation_range or cfg.zoom_range or cfg.width_shift_range or cfg.height_shift_range
    if geometric:
        theta = affine_theta(params, height, width).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        padding = "border" if cfg.fill_mode == "nearest" else "zeros"
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    elif cfg.horizontal_flip:  # a flip alone is exact without resampling
        x = torch.where(params["flip"].to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)
    if cfg.random_erasing > 0:
        mask = erase_mask(n, height, width, cfg.random_erasing, gen).to(x.device)
        x = x.masked_fill(mask, 0.0)
    return x


class Augmenter:
    """A seeded augmentation stream: call it on each training batch."""

    def __init__(self, cfg: AugmentConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return augment_batch(x, self.cfg, self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def preview_figure(images: Any, cfg: AugmentConfig, *, seed: int = 0, copies: int = 7, title: str | None = None) -> Any:
    """A grid: each row is one original image (left, framed) followed by ``copies`` augmentations.

    ``images``: uint8 (N, H, W). Returns a matplotlib Figure (Agg; save it with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    x = torch.from_numpy(np.array(images)).float().div(255).unsqueeze(1)
    gen = torch.Generator().manual_seed(seed)
    batches = [x] + [augment_batch(x, cfg, gen) for _ in range(copies)]
    rows, cols = x.shape[0], copies + 1
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(batches[c][r, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:blue")
                    spine.set_linewidth(2)
    axes[0][0].set_title("original", fontsize=8)
    fig.suptitle(title or describe(cfg), fontsize=9)
    return fig


def describe(cfg: AugmentConfig) -> str:
    """A short human description of the non-default settings."""
    parts = [f"{k}={v}" for k, v in cfg.model_dump().items() if v != AugmentConfig.model_fields[k].default]
    return ", ".join(parts) or "no augmentation"
