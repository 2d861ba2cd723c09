"""Evaluating a model: its loss and accuracy on uint8 images, test-time augmentation, softmax
predictions for a user's images (checked: layout, pixel range, inverted drawings), and the check
that a run blew up. The metrics of stored predictions, without torch, are :mod:`mnistlab.metrics`'.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.data.borders import border_brightness, trained_background
from mnistlab.errors import InvertedImageWarning, user_level
from mnistlab.models import regularization_loss
from mnistlab.optim import lower_lr


def to_input(images: torch.Tensor, *, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1] (pixels / 255, as every seed does)."""
    x = images.unsqueeze(1).to(torch.float32).div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.inference_mode()
def evaluate_model(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 250,
    label_smoothing: float = 0.0,
    channels_last: bool = False,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    return_probs: bool = False,
) -> tuple[float, float, np.ndarray | None]:
    """Mean cross-entropy and accuracy of ``model`` (logits out) on uint8 images (N, H, W); the loss
    includes the model's weight penalties (:func:`~mnistlab.models.regularization_loss`), as Keras's does.

    Returns ``(loss, accuracy, probs)``; ``probs`` is the float32 softmax (N, classes) when
    ``return_probs`` else None. ``forward`` computes the logits instead of ``model(x)`` (a
    trainer's plan: the same numbers, faster, under its precision). The model is put in eval mode
    and left there. Batches of 250 keep
    the activations small: seed000-cnn's test pass raised peak memory by 50 MB, against 170-340
    MB with batches of 1,000, and ran as fast (0.44 vs 0.49 s in bf16).
    """
    model.eval()
    device = next(model.parameters()).device
    n = len(images)
    # Sums on the device (float64: the same numbers as adding Python floats), read once at the end.
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    probs = []
    for start in range(0, n, batch_size):
        xb = to_input(images[start : start + batch_size].to(device), channels_last=channels_last)
        yb = labels[start : start + batch_size].to(device)
        logits = (forward or model)(xb).float()
        total_loss += F.cross_entropy(logits, yb, reduction="sum", label_smoothing=label_smoothing).double()
        correct += (logits.argmax(1) == yb).sum()
        if return_probs:
            probs.append(torch.softmax(logits, 1).cpu())
    out = torch.cat(probs).numpy() if return_probs and probs else None
    loss = float(total_loss) / max(n, 1)
    if n and (penalty := regularization_loss(model)) is not None:  # as Keras's evaluate adds model.losses
        loss += float(penalty)
    return loss, int(correct) / max(n, 1), out


#: One test-time view of an image: (dx, dy, degrees[, mirrored]): moved dx pixels right and dy down,
#: then turned by degrees about its centre (clockwise as the image is drawn, row 0 on top), then with
#: a fourth item True mirrored left-right; (0, 0, 0.0) is the image itself.
View = tuple[int, int, float] | tuple[int, int, float, bool]


def tta_views(shift: int = 0, rotation: float = 0.0, flip: bool = False) -> list[View]:
    """The views test-time augmentation averages over: the image, then (with ``shift`` > 0) the
    image moved ``shift`` pixels right, left, down and up, then (with ``rotation`` > 0) turned by
    +``rotation`` and -``rotation`` degrees, then (with ``flip``) mirrored left-right: a view for
    clothes (fastai's ``tta`` flips), never for digits, which a mirror makes other marks.

    >>> tta_views(1)
    [(0, 0, 0.0), (1, 0, 0.0), (-1, 0, 0.0), (0, 1, 0.0), (0, -1, 0.0)]
    >>> tta_views(flip=True)
    [(0, 0, 0.0), (0, 0, 0.0, True)]
    """
    views: list[View] = [(0, 0, 0.0)]
    if shift:
        views += [(shift, 0, 0.0), (-shift, 0, 0.0), (0, shift, 0.0), (0, -shift, 0.0)]
    if rotation:
        views += [(0, 0, float(rotation)), (0, 0, -float(rotation))]
    if flip:
        views.append((0, 0, 0.0, True))
    return views


def view_of(x: torch.Tensor, view: View) -> torch.Tensor:
    """float (N, C, H, W) images seen as ``view``: mirrored left-right where it says so, shifted by
    whole pixels, then rotated about the centre (bilinear); what comes in is each image's
    background, the median of its border pixels in each channel: 0 for the MNIST family, white for
    dark ink on paper (helper-128: a black fill took inverted digits' TTA accuracy from 72.9% to
    67.6%). Same shape, dtype."""
    dx, dy, degrees = view[:3]
    if len(view) > 3 and view[3]:  # mirrored left-right (the rest of a view moves the mirrored image)
        x = torch.flip(x, dims=(-1,))
    if not (dx or dy or degrees):
        return x.contiguous()
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., 1:-1, 0], x[..., 1:-1, -1]], dim=-1)
    background = border.median(dim=-1).values[..., None, None]  # (N, C, 1, 1)
    x = x - background  # the background is 0 while the view moves the image: what comes in is it
    if dx or dy:
        h, w = x.shape[-2:]
        padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
        top, left = max(-dy, 0), max(-dx, 0)
        x = padded[..., top : top + h, left : left + w]
    if degrees:
        theta = math.radians(degrees)
        cos, sin = math.cos(theta), math.sin(theta)
        # the grid maps output to input coordinates: turning the image by +theta samples at -theta
        matrix = torch.tensor([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(matrix.expand(len(x), 2, 3), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (x + background).contiguous()


@torch.inference_mode()
def evaluate_tta(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    views: Sequence[View],
    *,
    batch_size: int = 250,
    label_smoothing: float = 0.0,
    channels_last: bool = False,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, float, np.ndarray]:
    """Test-time augmentation: ``(loss, accuracy, probs)`` of the softmax averaged over ``views``
    (:func:`tta_views`) of each uint8 image (N, H, W). ``probs``: float32 (N, classes); the loss is
    the cross-entropy of the averaged probabilities (with ``label_smoothing``'s targets), plus the
    model's weight penalties as in :func:`evaluate_model`. With the
    image alone as its one view this is :func:`evaluate_model`, number for number.
    """
    if list(views) == [(0, 0, 0.0)]:
        loss, acc, probs = evaluate_model(model, images, labels, batch_size=batch_size, label_smoothing=label_smoothing,
                                          channels_last=channels_last, forward=forward, return_probs=True)
        return loss, acc, probs  # type: ignore[return-value]  # return_probs: never None
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = to_input(images[start : start + batch_size].to(device))
        mean = torch.zeros(())
        for view in views:
            xv = view_of(x, view)
            xv = xv.contiguous(memory_format=torch.channels_last) if channels_last else xv
            mean = mean + torch.softmax((forward or model)(xv).float(), 1)
        out.append((mean / len(views)).cpu())
    mean_probs = torch.cat(out) if out else torch.zeros((0, 1))
    y = labels.cpu()
    loss = probs_loss(mean_probs, F.one_hot(y, mean_probs.shape[1]).float(), model, label_smoothing=label_smoothing)
    acc = float((mean_probs.argmax(1) == y).double().mean()) if len(y) else 0.0
    return loss, acc, mean_probs.numpy()


PROB_FLOOR = 1e-12  # the least probability whose log a loss of probabilities takes (a committee's averaged ones)


def probs_loss(probs: torch.Tensor, targets: torch.Tensor, model: torch.nn.Module | None, *,
               label_smoothing: float = 0.0) -> float:
    """The loss of predicted probabilities ``probs`` (float32 (N, classes)) against target rows
    ``targets`` (N, classes), one-hot or soft: their cross-entropy with Keras's label smoothing
    (``targets * (1 - s) + s / classes``), probabilities clamped at 1e-12, plus ``model``'s weight
    penalties, as Keras's loss adds them (:func:`evaluate_model`'s loss from logits, to rounding;
    None: a committee's averaged outputs, no one model's penalties). 0.0 for no rows."""
    return log_probs_loss(probs.clamp_min(PROB_FLOOR).log(), targets, model, label_smoothing=label_smoothing)


def log_probs_loss(log_probs: torch.Tensor, targets: torch.Tensor, model: torch.nn.Module | None, *,
                   label_smoothing: float = 0.0) -> float:
    """:func:`probs_loss` of log-probabilities ``log_probs`` (float32 (N, classes), a model's
    ``log_softmax``): no clamp, so a confident mistake costs what it costs from the logits, as
    :func:`evaluate_model`'s loss and Keras's (helper-190: a true class at probability 1e-20 cost
    27.6, not 46). 0.0 for no rows."""
    if not len(log_probs):
        return 0.0
    target = targets * (1 - label_smoothing) + label_smoothing / log_probs.shape[1]
    loss = float(-(target * log_probs).sum(1).double().mean())
    if model is not None and (penalty := regularization_loss(model)) is not None:
        loss += float(penalty.detach())
    return loss


def predict_probs(model: torch.nn.Module, images: Any, *, batch_size: int = 250,
                  autocast_dtype: torch.dtype | None = None, dataset: str | None = None,
                  check_inverted: bool = True, trained_border: Sequence[float] | None = None,
                  log: bool = False) -> np.ndarray:
    """Softmax probabilities for images given as integers (0-255) or floats (already in [0, 1]).

    ``images``: a numpy array, a torch tensor or nested lists, in any layout :func:`check_images`
    takes ((N, H, W), (N, 1, H, W), (N, H, W, 1), or one image (H, W) / (H, W, 1)); anything else
    raises ValueError with one line (colour images: "convert to grayscale"). Returns float32
    (N, classes). Warns :class:`~mnistlab.errors.InvertedImageWarning` when some images look
    inverted for ``dataset`` (see :func:`inverted_images`), or against ``trained_border`` (the
    training images' border brightness, :func:`~mnistlab.data.borders.border_range`, for the user's own data: see
    :func:`warn_if_inverted`); ``check_inverted=False``: no such check. ``autocast_dtype``
    (``torch.bfloat16``) computes them as a run that trained in bf16 was tested. ``log``: their
    logarithms, from the logits (``log_softmax``: no probability rounded to 0 first).
    """
    spec = getattr(model, "spec", None)
    x = check_images(as_array(images), spec.input_shape[:2] if spec is not None else None, single=True)
    if check_inverted:
        warn_if_inverted(x, dataset, trained_border=trained_border)
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[start : start + batch_size])
            xb = xb.to(torch.float32).div(255.0) if xb.dtype == torch.uint8 else xb.to(torch.float32)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
                logits = model(xb.unsqueeze(1).to(device))
            out.append((torch.log_softmax if log else torch.softmax)(logits.float(), 1).cpu())
    if not out:  # no images: no rows, but the right number of columns
        return np.zeros((0, spec.num_classes if spec is not None else 0), np.float32)
    return torch.cat(out).numpy()


def as_array(images: Any) -> np.ndarray:
    """A numpy copy of ``images`` (a torch tensor on any device, with or without grad, an array, lists).

    A copy, because the input may be a read-only memmap; bfloat16 tensors become float32 (numpy
    has no bfloat16). Raises ValueError for ragged lists (numpy's own message).
    """
    if isinstance(images, torch.Tensor):
        t = images.detach().cpu()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()
    return np.array(images)


_CHANNELS = (1, 2, 3, 4)  # gray, gray + alpha, RGB, RGBA: the channel counts an image array can carry


def _readings(a: np.ndarray, single: bool) -> list[np.ndarray]:
    """The ways ``a`` can be read as channels-last images (N, H, W, C), most likely first."""
    s = a.shape
    if a.ndim == 2 and single:
        return [a[None, :, :, None]]
    if a.ndim == 3:
        # (N, H, W) first; one (H, W, C) image when single, or when it has 2-4 channels (a colour image)
        return [a[..., None]] + ([a[None]] if s[2] in _CHANNELS and (single or s[2] > 1) else [])
    if a.ndim == 4:
        return [x for ok, x in ((s[1] in _CHANNELS, np.moveaxis(a, 1, -1)), (s[3] in _CHANNELS, a)) if ok]
    return []


def check_images(a: np.ndarray, shape: Sequence[int] | None = None, *, single: bool = False) -> np.ndarray:
    """Grayscale images in any layout a user holds, as (N, H, W) in :func:`check_pixels`'s dtype.

    Accepted: (N, H, W); (N, 1, H, W) (torch's channels-first); (N, H, W, 1) (Keras's
    channels-last); with ``single``, one image (H, W) or (H, W, 1) too. ``shape`` is the model's
    (H, W). ValueError, one line, otherwise: 3 or 4 channels say "convert to grayscale", a wrong
    size names the size the model takes.
    """
    readings = _readings(a, single)
    if shape is not None:
        fitting = [x for x in readings if tuple(x.shape[1:3]) == tuple(shape)]
    else:  # no size to go by: a side of 1-4 pixels is a channel axis, not an image side
        fitting = sorted(readings, key=lambda x: min(x.shape[1:3]) <= 4)
    if fitting:
        x = fitting[0]
        if x.shape[3] != 1:
            axis = -1 if a.shape[-1] == x.shape[3] else 1
            raise ValueError(f"got {x.shape[3]} channels (shape {a.shape}): the model takes grayscale images; "
                             f"convert to grayscale first (e.g. images.mean(axis={axis}))")
        return check_pixels(x[..., 0])
    h, w = shape if shape is not None else ("H", "W")
    layouts = f"(N, {h}, {w}), (N, 1, {h}, {w}), (N, {h}, {w}, 1)" + (f", or one image ({h}, {w})" if single else "")
    if not readings:
        raise ValueError(f"expected images shaped {layouts}; got shape {a.shape}")
    x = sorted(readings, key=lambda r: (min(r.shape[1:3]) <= 4, r.shape[3] == 1))[0]  # the likeliest reading
    colour = f" with {x.shape[3]} channels (convert to grayscale too)" if x.shape[3] != 1 else ""
    raise ValueError(f"the model takes {h}x{w} images, got {x.shape[1]}x{x.shape[2]}{colour} "
                     f"(shape {a.shape}; it takes {layouts})")
def check_pixels(a: np.ndarray) -> np.ndarray:
    """Images as uint8 (integers 0-255, or floats holding whole numbers 0-255, read so as training
    reads them: helper-251, train took float 0-255 arrays and predict refused them) or float32
    (floats in [0, 1], as ``x / 255``); else ValueError.

    Floats above 1 with fractions are refused rather than saturating the model (scaled by something
    other than 255); so are integers that are all 0 or 1 (images scaled to 0-1 and cast back, or
    thresholded), as training refuses them.
    """
    if a.dtype.kind in "ui":
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError(f"integer pixels must be 0-255, got {a.min()}..{a.max()}")
        if a.size and a.max() == 1:  # as training refuses them (helper-237: predicted nonsense without a word)
            raise ValueError("every pixel value is 0 or 1: the images look scaled to 0-1 (or thresholded); give "
                             "0-255 (multiply by 255) or floats in [0, 1]")
        return a.astype(np.uint8, copy=False)
    if a.dtype.kind == "f":
        if a.size and not np.isfinite(a).all():
            raise ValueError("the images hold NaN or infinite pixels")
        if a.size and a.min() >= 0 and 1 < a.max() <= 255 and np.array_equal(a, np.rint(a)):
            return a.astype(np.uint8)  # whole numbers 0-255: pixels, as an .npz of floats trains on them
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"float pixels must be in [0, 1] (x / 255) or whole numbers 0-255, got {a.min():g}..{a.max():g}"
                             + (" with fractions: scaled by something other than 255?" if a.min() >= 0 and a.max() <= 255
                                else ""))
        return a.astype(np.float32, copy=False)
    raise ValueError(f"expected integer (0-255) or float ([0, 1]) pixels, got {a.dtype}")


# The brightest outer ring of any image in a dataset (train and test, the mean of the 108 pixels
# on the edge of a 28x28 image, 0-255), as bench/bench_border.py measures it: mnist 8.6
# (the digits are centred on black), fashion-mnist 107.5 (a few garments touch the edge). An image
# whose ring is brighter than the limit below was never seen in training: most likely a dark
# drawing on a light background. The limits leave a wide margin (7x for mnist, +50 for fashion).
INVERTED_BORDER: dict[str, float] = {"mnist": 64.0, "fashion-mnist": 160.0}
DEFAULT_INVERTED_BORDER = 160.0  # any other dataset (or none known): fashion-mnist's, the looser


def inverted_images(images: np.ndarray, dataset: str | None = None) -> np.ndarray:
    """Which images look inverted for ``dataset``: a border brighter than any of its images has.

    ``images``: (N, H, W) as :func:`border_brightness` takes them. Returns bool (N,). The rule and
    its limits (:data:`INVERTED_BORDER`) come from measuring every image of each dataset.
    """
    return border_brightness(images) > INVERTED_BORDER.get(dataset or "", DEFAULT_INVERTED_BORDER)


BORDER_MARGIN = 48.0  # how far past the training images' borders an image's must be to look inverted


def _border_limit(trained_border: Sequence[float]) -> tuple[str, float] | None:
    """("dark", the brightest border an image may have) for training images on a dark background,
    ("light", the darkest) for light ones, None for training images of both (no check)."""
    low, high = trained_border
    background = trained_background(trained_border)
    if background == "dark":
        return "dark", max(INVERTED_BORDER["mnist"], high + BORDER_MARGIN)
    if background == "light":
        return "light", min(255.0 - INVERTED_BORDER["mnist"], low - BORDER_MARGIN)
    return None


def warn_if_inverted(images: np.ndarray, dataset: str | None = None, *,
                     trained_border: Sequence[float] | None = None) -> None:
    """One :class:`~mnistlab.errors.InvertedImageWarning` when any of ``images`` looks inverted: for
    a registered ``dataset``, by :func:`inverted_images`; given ``trained_border`` (the user's own
    training images' :func:`~mnistlab.data.borders.border_range`), a border :data:`BORDER_MARGIN` past every one of
    theirs, on the other side (light where all were dark, or dark where all were light), as a
    photo of dark ink on paper is to a model trained on light strokes on black."""
    limit = _border_limit(trained_border) if trained_border and len(trained_border) == 2 else None
    if trained_border and limit is None:  # training images on dark and light backgrounds: either is fine
        return
    if limit is not None and limit[0] == "light":
        bad = np.flatnonzero(border_brightness(images) < limit[1])
        seen, was, drawing = f"dark (mean under {limit[1]:g} of 255)", "light", "dark on a light background"
    else:
        bound = limit[1] if limit is not None else INVERTED_BORDER.get(dataset or "", DEFAULT_INVERTED_BORDER)
        bad = np.flatnonzero(border_brightness(images) > bound)
        seen, was, drawing = f"bright (mean above {bound:g} of 255)", "dark", "light on a dark background"
    if len(bad):
        listed = "index " + ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        warnings.warn(InvertedImageWarning(
            f"{len(bad)} of {len(images)} images look inverted ({listed}): their border is {seen} where every "
            f"{dataset or 'training'} image is {was}; the model expects {drawing}, so invert them (255 - x, or 1 - x "
            "for floats)", bad.tolist(), listed), stacklevel=user_level())


BLOW_UP_FACTOR = 100.0  # "far above": a hundred times the chance-level loss (or the first epoch's, if lower)


def blow_up(history: Sequence[Mapping[str, Any]], num_classes: int, optimizer: str | None = None) -> str | None:
    """Why the last epoch of ``history`` looks blown up by a too-high learning rate, or None; the
    learning rate it suggests is :func:`~mnistlab.optim.lower_lr`'s for ``optimizer``.

    Blown up: accuracy at most 1.5 times chance (``1.5 / num_classes``) in the last epoch, whose
    loss is finite, after an epoch whose mean loss was above ``BLOW_UP_FACTOR * min(ln(num_classes),
    first epoch's loss)`` and above ``10 * ln(num_classes)`` (it may have come down since: a loss of
    3.5e6 that falls to 59 with accuracy still at chance has not recovered). ``ln(num_classes)`` is
    the loss of guessing uniformly: a model at chance whose loss is a hundred times that is
    confidently wrong, which a far too large step does and training does not undo (sgd lr 50 on
    seed000-dense: 1e5 after one epoch; adam lr 100 on seed000-cnn: 4e13). The margin matters:
    seed003's 2000-wide dense model at adam lr 0.01 starts at 29.9 and 18% on a 300-image subset,
    and recovers. A NaN loss is the trainer's own check. ``history``: the trainer's entries (``loss``, ``accuracy``, ``lr``).
    """
    if not history or num_classes < 2:
        return None
    last, chance = history[-1], math.log(num_classes)
    loss, acc = float(last["loss"]), float(last["accuracy"])
    limit = max(10 * chance, BLOW_UP_FACTOR * min(chance, float(history[0]["loss"])))
    losses = [float(h["loss"]) for h in history]
    peak = max((x for x in losses if math.isfinite(x)), default=math.nan)
    if not (math.isfinite(loss) and peak > limit and acc <= 1.5 / num_classes):
        return None
    lr = last.get("lr")
    try_lr = f"; try {lower_lr(lr, optimizer)}" if isinstance(lr, (int, float)) else ""
    when = f"at epoch {len(history)}" if loss == peak else f"at epoch {losses.index(peak) + 1} (now {loss:.3g})"
    return (f"the loss blew up to {peak:.3g} {when} and accuracy is at chance at epoch {len(history)} ({acc:.1%}; "
            f"guessing gives {1 / num_classes:.0%} at loss {chance:.2f}): the learning rate"
            f"{f' ({lr:g})' if try_lr else ''} is probably too high{try_lr}")
