"""Batched, seeded image augmentation on tensors, named as in Keras's ImageDataGenerator.

Every image of a batch gets its own random rotation, zoom, shift, shear and flips, applied together as
ONE ``grid_sample`` call for the whole batch (bilinear, Keras's ``interpolation_order=1``), then
optional random erasing as one masked fill. The random numbers come from a ``torch.Generator``,
so a seed gives the same augmented batches every run (and a resumed run continues the same
stream)::

    aug = Augmenter(AugmentConfig(rotation_range=10, zoom_range=0.1), seed=0)
    x = aug(x)          # x: float (N, C, H, W) in [0, 1]

The reference is Keras's ``ImageDataGenerator.apply_transform`` (``apply_affine_transform``:
scipy.ndimage, order 1). For given transform parameters the output matches it pixel for pixel,
to float32 rounding, with every fill mode (``transform_batch``; ``bench/keras_augment.py``
records Keras's outputs, ``tests/test_augment.py`` compares):

- ``"nearest"`` (Keras's default) repeats the edge pixels: ``aaaa|abcd|dddd``;
- ``"constant"`` fills with ``cval`` (in the model's input scale: 0 black, 1 white), and, as
  scipy's "constant" does, does not blend the edge pixels with it;
- ``"reflect"`` mirrors about the image border: ``dcba|abcd|dcba``;
- ``"wrap"`` repeats the image as scipy's "wrap" does, with period size - 1 (the first and the last
  row or column overlap), which is what Keras computes although its docs draw ``abcd|abcd|abcd``.

Keras's conventions are kept, with the forms its arguments take (``sample_params``): ranges are
symmetric (``[-r, r]`` degrees; a shift below 1 a fraction of the size, from 1 up pixels, an int N
whole pixels in (-N, N), a list one of its values with a random sign), x and y zoom are drawn
independently from ``[1 - z, 1 + z]`` or ``[lo, hi]``, shear is in degrees, and the flips come after
the affine transform. One deliberate difference: ``width_shift_range`` moves the image horizontally
(along its width) and ``height_shift_range`` vertically. Keras's own generator swaps the axes, so
there ``width_shift_range`` moves the image up and down (keras-team/keras#17398).
"""

from __future__ import annotations

import functools
import math
import textwrap
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.config import AugmentConfig


def sample_params(n: int, cfg: AugmentConfig, gen: torch.Generator, height: int = 28,
                  width: int = 28) -> dict[str, torch.Tensor]:
    """Draw each of ``n`` images' transform, for images of ``height`` x ``width`` pixels: ``angle``
    and ``shear`` (radians), ``zoom_x`` / ``zoom_y``, ``shift_x`` / ``shift_y`` (float64 pixels),
    ``flip_horizontal`` / ``flip_vertical`` (bool); tensors of ``n`` on the generator's device.

    The ranges take the forms Keras's ``ImageDataGenerator.get_random_transform`` takes (Keras 3,
    ``keras/src/legacy/preprocessing/image.py``): a zoom z or [lo, hi]; a shift below 1 as a fraction
    of the size, from 1 up in pixels, an int N as one of 0 .. N-1 pixels and a list as one of its
    values, each with a random sign. The draws come in a fixed order, one per image and setting, and
    shear and the vertical flip draw only when set, so a config without them draws what it always drew.
    """

    def rand() -> torch.Tensor:
        return torch.rand(n, generator=gen, device=gen.device)

    def uniform(r: float) -> torch.Tensor:
        return (rand() * 2 - 1) * r

    def zoom(z: float | list[float]) -> torch.Tensor:
        return 1 + uniform(z) if isinstance(z, float) else z[0] + rand() * (z[1] - z[0])

    def shift(r: int | float | list[float], size: int) -> torch.Tensor:
        if isinstance(r, float):  # uniform in [-r, r]: a fraction of the size below 1, pixels from 1 up
            return uniform(r).to(torch.float64) * (size if r < 1 else 1)
        count = r if isinstance(r, int) else len(r)
        pick = (rand() * (2 * count)).long().clamp_max(2 * count - 1)  # (value, sign): one draw
        if isinstance(r, int):  # Keras's np.random.choice(r): whole pixels 0 .. r-1
            return (pick // 2).to(torch.float64) * (pick % 2 * 2 - 1)
        signed = _choices(tuple(r), gen.device)[pick // 2] * (pick % 2 * 2 - 1)
        return signed * (size if max(r) < 1 else 1)  # Keras: fractions of the size if all are below 1

    def coin(on: bool) -> torch.Tensor:
        return rand() < 0.5 if on else torch.zeros(n, dtype=torch.bool, device=gen.device)

    params = {
        "angle": uniform(math.radians(cfg.rotation_range)),
        "zoom_x": zoom(cfg.zoom_range),
        "zoom_y": zoom(cfg.zoom_range),
        "shift_x": shift(cfg.width_shift_range, width),
        "shift_y": shift(cfg.height_shift_range, height),
        "flip_horizontal": coin(cfg.horizontal_flip),
    }
    params["shear"] = uniform(math.radians(cfg.shear_range)) if cfg.shear_range else torch.zeros(n, device=gen.device)
    params["flip_vertical"] = coin(cfg.vertical_flip)
    return params


@functools.lru_cache(maxsize=16)
def _choices(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """A discrete shift's values as a float64 tensor, made once per device (see `_unit_changes`)."""
    return torch.tensor(values, dtype=torch.float64, device=device)


def affine_matrix(params: dict[str, torch.Tensor], height: int, width: int) -> torch.Tensor:
    """Each image's float64 (N, 2, 3) matrix: input (column, row) = A @ (x, y, 1) of the output pixel.

    Keras's ImageDataGenerator maths (``apply_affine_transform`` + ``transform_matrix_offset_center``
    in Keras 3 ``keras/src/legacy/preprocessing/image.py``), written for (x = column, y = row):
    ``input = c + R (S Z (output - c) + t)`` with ``c`` the image centre (``size / 2 - 0.5``), ``R``
    the rotation by ``angle``, ``S = [[1, -sin(shear)], [0, cos(shear)]]``, ``Z = diag(zoom_x,
    zoom_y)`` and ``t = (shift_x, shift_y)`` pixels; the flips mirror the output afterwards
    (x -> W - 1 - x, y -> H - 1 - y), as Keras flips the transformed image. In pixel units, so
    whole-pixel shifts, flips and zoom 1 give exact integer coordinates.
    """
    p = {k: v.to(torch.float64) for k, v in params.items() if not k.startswith("flip")}  # on the device they were drawn on
    angle = p["angle"]
    cos, sin = torch.cos(angle), torch.sin(angle)
    sheared = angle + p["shear"] if "shear" in p else angle  # R S = [[cos a, -sin(a + s)], [sin a, cos(a + s)]]
    cx, cy = width / 2 - 0.5, height / 2 - 0.5
    tx, ty = p["shift_x"], p["shift_y"]
    a11, a12 = cos * p["zoom_x"], -torch.sin(sheared) * p["zoom_y"]
    a21, a22 = sin * p["zoom_x"], torch.cos(sheared) * p["zoom_y"]
    b1 = cx + cos * tx - sin * ty - a11 * cx - a12 * cy
    b2 = cy + sin * tx + cos * ty - a21 * cx - a22 * cy
    flip = params["flip_horizontal"]
    b1, b2 = torch.where(flip, b1 + a11 * (width - 1), b1), torch.where(flip, b2 + a21 * (width - 1), b2)
    a11, a21 = torch.where(flip, -a11, a11), torch.where(flip, -a21, a21)
    if "flip_vertical" in params:
        flip = params["flip_vertical"]
        b1, b2 = torch.where(flip, b1 + a12 * (height - 1), b1), torch.where(flip, b2 + a22 * (height - 1), b2)
        a12, a22 = torch.where(flip, -a12, a12), torch.where(flip, -a22, a22)
    return torch.stack([torch.stack([a11, a12, b1], 1), torch.stack([a21, a22, b2], 1)], 1)


def source_coords(matrix: torch.Tensor, height: int, width: int,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(columns, rows), each (N, H, W): where each output pixel (x, y) samples, ``matrix @ (x, y, 1)``.

    With `affine_matrix`'s matrix these are pixel coordinates; float32 ones differ from scipy's
    float64 ones by ~1e-5 pixel at most (not at all for whole-pixel shifts and flips).
    """
    m = matrix.to(dtype).view(-1, 2, 3, 1, 1)
    cols = torch.arange(width, dtype=dtype, device=matrix.device).view(1, width)
    rows = torch.arange(height, dtype=dtype, device=matrix.device).view(height, 1)
    return (m[:, 0, 0] * cols + (m[:, 0, 1] * rows + m[:, 0, 2]),
            m[:, 1, 0] * cols + (m[:, 1, 1] * rows + m[:, 1, 2]))


@functools.lru_cache(maxsize=16)
def _unit_changes(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel -> grid unit, grid unit -> pixel) float64 (3, 3) matrices, made once per size and device.

    Cached: building a tensor from Python numbers on a GPU is a host-to-device copy that waits for
    the host, which a training step must never do (tests/test_cuda.py).
    """
    to_unit = torch.tensor([[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]],
                           dtype=torch.float64, device=device)
    to_pixel = torch.tensor([[width / 2, 0, (width - 1) / 2], [0, height / 2, (height - 1) / 2], [0, 0, 1]],
                            dtype=torch.float64, device=device)
    return to_unit, to_pixel


def unit_grid(matrix: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.grid_sample``'s (N, H, W, 2) float32 grid for a pixel-coordinate matrix (N, 2, 3).

    Grid units: -1 and 1 are the outer pixel edges (align_corners=False). The change of units on
    both sides is folded into the float64 matrix, then ``F.affine_grid`` makes the grid.
    """
    to_unit, to_pixel = _unit_changes(height, width, matrix.device)
    square = torch.cat([matrix, to_unit[2:].expand(len(matrix), 1, 3)], 1)          # (N, 3, 3)
    theta = (to_unit @ square @ to_pixel)[:, :2]
    return F.affine_grid(theta.float().contiguous(), [len(matrix), 1, height, width], align_corners=False)


def wrap_coords(c: torch.Tensor, size: int) -> torch.Tensor:
    """scipy.ndimage's "wrap" at order 1, on coordinates along one axis of ``size`` pixels.

    [0, size - 1] stays; beyond it, coordinates repeat with period size - 1, so the first and the
    last pixel overlap (scipy's "wrap", which Keras's fill_mode="wrap" is, not its "grid-wrap").
    """
    last = size - 1
    if last == 0:
        return torch.zeros_like(c)
    ratio = c / last
    turns = torch.where(c > last, torch.floor(ratio), torch.where(c < 0, torch.ceil(ratio) - 1, 0))
    return c - turns * last


# grid_sample's padding that computes each fill mode inside (at order 1, as scipy.ndimage does):
# "nearest" clamps (border); "reflect" mirrors about the pixel edges -0.5 and size - 0.5 (reflection
# with align_corners=False); "constant" and "wrap" sample folded or in-range coordinates (border).
_PADDING = {"nearest": "border", "reflect": "reflection", "constant": "border", "wrap": "border"}


def transform_batch(x: torch.Tensor, params: dict[str, torch.Tensor], fill_mode: str = "nearest",
                    cval: float = 0.0) -> torch.Tensor:
    """Apply each image's affine transform (`sample_params`' dict) to a float batch (N, C, H, W).

    Bilinear resampling (Keras's ``interpolation_order=1``) with Keras's fill modes, ONE
    ``grid_sample`` for the whole batch. "constant" puts ``cval`` wherever the sample falls outside
    [0, size - 1] (scipy's "constant" does not blend the edge with cval); "wrap" folds the
    coordinates first (`wrap_coords`). Matches Keras's ``ImageDataGenerator.apply_transform`` pixel
    for pixel to float32 rounding (tests/test_augment.py holds it to outputs recorded by
    ``bench/keras_augment.py``). Returns a new tensor; raises ValueError for an unknown fill_mode.
    """
    if fill_mode not in _PADDING:
        raise ValueError(f"unknown fill_mode {fill_mode!r}; choose from {', '.join(_PADDING)}")
    n, _, height, width = x.shape
    matrix = affine_matrix(params, height, width)
    inside = None
    if fill_mode == "wrap":  # fold the pixel coordinates, then sample inside the image
        cx, cy = source_coords(matrix, height, width)
        grid = torch.empty(n, height, width, 2, device=matrix.device)
        grid[..., 0] = (2 * wrap_coords(cx, width) + 1) / width - 1
        grid[..., 1] = (2 * wrap_coords(cy, height) + 1) / height - 1
    else:
        grid = unit_grid(matrix, height, width)
    if fill_mode == "constant":  # cval jumps in at the edges: decide on exact pixel coordinates
        cx, cy = source_coords(matrix, height, width)
        inside = (cx >= 0) & (cx <= width - 1) & (cy >= 0) & (cy <= height - 1)
    out = F.grid_sample(x, grid.to(device=x.device, dtype=x.dtype), mode="bilinear", padding_mode=_PADDING[fill_mode],
                        align_corners=False)
    if inside is not None:
        out = out.masked_fill(~inside.to(x.device).unsqueeze(1), cval)
    return out


def erase_mask(n: int, height: int, width: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing (Zhong et al.): with probability ``p`` one rectangle per image of 2-33% of
    the area and aspect ratio 0.3-3.3. Returns a bool mask (N, 1, H, W), True = erase."""
    def rand() -> torch.Tensor:
        return torch.rand(n, generator=gen, device=gen.device)

    apply = rand() < p
    area = (0.02 + rand() * 0.31) * height * width
    log_ratio = (rand() * 2 - 1) * math.log(1 / 0.3)
    ratio = torch.exp(log_ratio)
    h = torch.sqrt(area * ratio).round().clamp(1, height)
    w = torch.sqrt(area / ratio).round().clamp(1, width)
    top = (rand() * (height - h + 1)).floor()
    left = (rand() * (width - w + 1)).floor()
    rows = torch.arange(height, device=gen.device).view(1, height, 1)
    cols = torch.arange(width, device=gen.device).view(1, 1, width)
    inside = (
        (rows >= top.view(-1, 1, 1)) & (rows < (top + h).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1)) & (cols < (left + w).view(-1, 1, 1))
    )
    return (inside & apply.view(-1, 1, 1)).unsqueeze(1)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, C, H, W); returns a new tensor, ``x`` is not modified."""
    n, _, height, width = x.shape
    params = sample_params(n, cfg, gen, height, width)
    geometric = cfg.rotation_range or cfg.zoom_range or cfg.width_shift_range or cfg.height_shift_range or cfg.shear_range
    if geometric:
        x = transform_batch(x, params, cfg.fill_mode, cfg.cval)
    else:  # flips alone are exact without resampling
        for on, key, dim in ((cfg.horizontal_flip, "flip_horizontal", -1), (cfg.vertical_flip, "flip_vertical", -2)):
            if on:
                x = torch.where(params[key].to(x.device).view(-1, 1, 1, 1), x.flip(dim), x)
    if cfg.random_erasing > 0:
        mask = erase_mask(n, height, width, cfg.random_erasing, gen).to(x.device)
        x = x.masked_fill(mask, 0.0)
    return x


class Augmenter:
    """A seeded augmentation stream: call it on each training batch.

    ``device``: where the random numbers are drawn and the sampling grids computed: the batches'
    device, so that on a GPU augmenting never waits for the host (a CUDA generator's stream differs
    from the CPU's: the same seed augments differently there).
    """

    def __init__(self, cfg: AugmentConfig, seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.generator = torch.Generator(device=device).manual_seed(int(seed))

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

    from mnistlab.plots import data_cmap

    cmap = data_cmap(np.asarray(images))  # drawn as the sample grid draws them (dark-ink scans not inverted)
    x = torch.from_numpy(np.array(images)).float().div(255).unsqueeze(1)
    gen = torch.Generator().manual_seed(seed)
    batches = [x] + [augment_batch(x, cfg, gen) for _ in range(copies)]
    rows, cols = x.shape[0], copies + 1
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(batches[c][r, 0].numpy(), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:blue")
                    spine.set_linewidth(2)
    axes[0][0].set_title("original", fontsize=8)
    fig.suptitle(textwrap.fill(title or describe(cfg), width=max(24, 13 * cols)), fontsize=9)  # wrapped, never cut
    return fig


def describe(cfg: AugmentConfig) -> str:
    """A short human description of the non-default settings."""
    parts = [f"{k}={v}" for k, v in cfg.model_dump().items() if v != AugmentConfig.model_fields[k].default]
    return ", ".join(parts) or "no augmentation"
