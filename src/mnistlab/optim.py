"""Optimisers by their Keras names, with Keras's defaults, and learning-rate schedules.

``make_optimizer("adam", model.parameters())`` gives ``torch.optim.Adam(lr=1e-3, eps=1e-7)``,
i.e. what ``model.compile(optimizer="adam")`` gives a Keras user. Differences from Keras that
remain (documented here, because they can move results in the third decimal):

- ``nadam``: torch's NAdam uses Dozat's momentum schedule with ``momentum_decay=0.004``; Keras's
  Nadam uses the same idea but a slightly different bias correction, so runs are close, not equal.
- ``weight_decay`` is decoupled for every optimizer, as in Keras 3: ``w -= lr * wd * w`` before
  each update, not an L2 term in the gradient (torch's meaning for its non-W optimizers). ``adam``
  with a weight decay therefore steps as torch's AdamW; ``adamw`` defaults to Keras's 0.004.
- ``rmsprop``: ``rho`` is torch's ``alpha``; Keras's default 0.9 is used (torch's is 0.99).
- ``sgd``: torch's momentum form (v = m v + g; w -= lr v) equals Keras's for a constant lr.
- ``epsilon`` sits in slightly different places: Keras's Adam adds it to sqrt(v) before the
  bias correction (torch after it), and Keras's Adagrad takes sqrt(accumulator + eps) where torch
  takes sqrt(accumulator) + eps. With eps = 1e-7 both differ from Keras by far less than a run's
  seed-to-seed spread.

Schedules are pure functions of the step: :func:`schedule_lr` (tested without training, like
nanoGPT's ``get_lr``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # config imports this module (the optimizer names), so only the type checker imports it back
    from mnistlab.config import ScheduleConfig

# name -> (torch class, Keras defaults as torch keyword arguments)
_REGISTRY: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004}),
    "nadam": (torch.optim.NAdam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
    "sgd": (torch.optim.SGD, {"lr": 0.01}),
}
OPTIMIZERS: tuple[str, ...] = tuple(_REGISTRY)


class _DecoupledDecay:
    """Keras 3's weight decay for optimizers whose torch form only knows the L2 kind: before each
    update, ``w -= lr * wd * w`` with ``wd = group["decoupled_decay"]`` (kept in the state dict)."""

    def step(self, closure: Any = None) -> Any:
        with torch.no_grad():
            for group in self.param_groups:  # type: ignore[attr-defined]
                wd = group.get("decoupled_decay", 0.0)
                params = [p for p in group["params"] if p.grad is not None]
                for p in params if wd else ():
                    p.mul_(1.0 - group["lr"] * wd)
        return super().step(closure)  # type: ignore[misc]


class _DecoupledSGD(_DecoupledDecay, torch.optim.SGD):
    pass


class _DecoupledRMSprop(_DecoupledDecay, torch.optim.RMSprop):
    pass


class _DecoupledAdagrad(_DecoupledDecay, torch.optim.Adagrad):
    pass


_DECOUPLED = {"sgd": _DecoupledSGD, "rmsprop": _DecoupledRMSprop, "adagrad": _DecoupledAdagrad}
_MOMENTUM = {"sgd", "rmsprop"}
_FUSABLE = {"adam", "adamw", "sgd", "adagrad"}


def optimizer_defaults(name: str) -> dict[str, Any]:
    """Keras's defaults for an optimizer, as torch keyword arguments (``lr`` always present)."""
    return dict(_REGISTRY[name.lower()][1])


# long: one Keras-name-to-torch mapping per optimizer setting, read top to bottom; split, it would scatter them
def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float | None = None,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float | None = None,
    fused: bool | None = None,
    beta_1: float | None = None,
    beta_2: float | None = None,
    epsilon: float | None = None,
) -> torch.optim.Optimizer:
    """Build a torch optimizer from a Keras name; unset values take Keras's defaults.

    ``beta_1`` / ``beta_2`` (Keras's names for torch's ``betas``; adam, adamw, nadam; defaults 0.9
    and 0.999) and ``epsilon`` (torch's ``eps``; every optimizer but sgd; default 1e-7) are
    ignored by optimizers that have no such setting (the run config warns about them).

    ``fused=None`` uses torch's fused kernel where this torch and device have one (adam, adamw,
    sgd, adagrad): one kernel per step instead of ~8 small ops per parameter, measured 17% faster
    per epoch for seed 000's dense model on CPU (BENCHMARKS.md). Same maths, same results to
    float rounding.

    >>> opt = make_optimizer("adam", torch.nn.Linear(2, 2).parameters())
    >>> opt.defaults["eps"]
    1e-07
    """
    name = name.lower()
    cls, kwargs = _REGISTRY[name]
    kwargs = dict(kwargs)
    if lr is not None:
        kwargs["lr"] = float(lr)
    if weight_decay is not None:
        kwargs["weight_decay"] = float(weight_decay)
    if "betas" in kwargs:
        b1, b2 = kwargs["betas"]
        kwargs["betas"] = (b1 if beta_1 is None else float(beta_1), b2 if beta_2 is None else float(beta_2))
    if "eps" in kwargs and epsilon is not None:
        kwargs["eps"] = float(epsilon)
    decay = kwargs.pop("weight_decay", 0.0)
    if decay and name == "adam":  # Adam with decoupled decay is exactly AdamW
        cls, kwargs["weight_decay"] = torch.optim.AdamW, decay
    elif decay and name == "nadam":
        kwargs.update(weight_decay=decay, decoupled_weight_decay=True)
    elif name == "adamw":
        kwargs["weight_decay"] = decay
    elif decay:
        cls = _DECOUPLED[name]
    if name in _MOMENTUM and momentum:
        kwargs["momentum"] = float(momentum)
    if name == "sgd" and nesterov:
        kwargs["nesterov"] = True
    params = list(params)
    optimizer = None
    if fused is not False and name in _FUSABLE:
        try:
            optimizer = cls(params, **kwargs, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch, or no fused kernel for the device
            if fused:
                raise
    if optimizer is None:
        optimizer = cls(params, **kwargs)
    if decay and isinstance(optimizer, _DecoupledDecay):
        for group in optimizer.param_groups:
            group["decoupled_decay"] = decay
    return optimizer


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


# ---------------------------------------------------------------------------------- schedules
def step_lr(epoch: float, base_lr: float, *, step_size: float, gamma: float) -> float:
    """Step decay (torch StepLR): ``base_lr * gamma ** floor(epoch / step_size)``.

    ``epoch`` counts from 0 and may be fractional."""
    return base_lr * gamma ** math.floor(epoch / step_size + 1e-9)


def cosine_lr(epoch: float, base_lr: float, *, total_epochs: float, warmup_epochs: float = 0.0, min_lr: float = 0.0) -> float:
    """Linear warm-up from ~0 to ``base_lr`` over ``warmup_epochs``, then half a cosine down to ``min_lr``."""
    if warmup_epochs > 0 and epoch < warmup_epochs:
        return base_lr * max(epoch / warmup_epochs, 1e-3)  # never exactly 0: step one must move
    span = max(total_epochs - warmup_epochs, 1e-12)
    progress = min(max((epoch - warmup_epochs) / span, 0.0), 1.0)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def onecycle_lr(
    epoch: float, max_lr: float, *, total_epochs: float, pct_start: float = 0.3, div_factor: float = 25.0,
    final_div_factor: float = 1e4, steps_per_epoch: int | None = None,
) -> float:
    """One-cycle (torch's OneCycleLR, ``anneal_strategy="cos"``, ``three_phase=False``): cosine up
    from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of the run, then cosine down to
    ``max_lr / (div_factor * final_div_factor)``. Defaults are torch's (0.3, 25, 1e4).

    With ``steps_per_epoch`` (the trainer passes it) ``epoch`` is read as the step
    ``round(epoch * steps_per_epoch)`` of ``total = round(total_epochs * steps_per_epoch)``, and the
    lr is exactly torch's for that step: the peak at step ``pct_start * total - 1``, the floor at
    the last step, ``total - 1``. Without it, the same curve over continuous epochs (peak at
    ``pct_start * total_epochs``, floor at ``total_epochs``).
    """
    start = max_lr / div_factor
    end = start / final_div_factor
    peak_at: float
    last: float
    if steps_per_epoch:
        total = round(total_epochs * steps_per_epoch)
        peak_at, last = pct_start * total - 1, total - 1
        progress: float = min(max(round(epoch * steps_per_epoch), 0), last)
    else:
        peak_at, last = pct_start * total_epochs, total_epochs
        progress = min(max(epoch, 0.0), total_epochs)
    if progress <= peak_at:
        return _annealing_cos(start, max_lr, progress / peak_at if peak_at > 0 else 1.0)
    return _annealing_cos(max_lr, end, (progress - peak_at) / (last - peak_at) if last > peak_at else 1.0)


def _annealing_cos(start: float, end: float, pct: float) -> float:
    """Cosine from ``start`` (pct 0) to ``end`` (pct 1), written as torch writes it (same rounding)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def schedule_lr(schedule: ScheduleConfig | None, base_lr: float, epoch: float, total_epochs: float,
                steps_per_epoch: int | None = None) -> float:
    """The lr at (fractional) ``epoch`` for a schedule config (``None``: constant ``base_lr``).

    The trainer calls this before every batch with ``epoch = e + batch / steps_per_epoch``
    (``steps_per_epoch`` puts one-cycle on torch's per-step values; see :func:`onecycle_lr`).
    """
    if schedule is None:
        return base_lr
    if schedule.type == "step":  # comparing schedule.type itself lets the type checker narrow the union
        return step_lr(epoch, base_lr, step_size=schedule.step_size, gamma=schedule.gamma)
    if schedule.type == "cosine":
        return cosine_lr(epoch, base_lr, total_epochs=total_epochs, warmup_epochs=schedule.warmup_epochs, min_lr=schedule.min_lr)
    if schedule.type == "onecycle":
        return onecycle_lr(
            epoch, base_lr, total_epochs=total_epochs, pct_start=schedule.pct_start,
            div_factor=schedule.div_factor, final_div_factor=schedule.final_div_factor, steps_per_epoch=steps_per_epoch,
        )
    raise ValueError(f"unknown schedule type {schedule.type!r}")
