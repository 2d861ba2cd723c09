"""Optimisers by their Keras names, with Keras 3's defaults and update rules, and learning-rate schedules.

``make_optimizer("adam", model.parameters())`` gives what ``model.compile(optimizer="adam")`` gives
a Keras user: the same defaults and the same update, step for step, to float32 rounding (tested
against trajectories recorded from Keras 3.15 by ``bench/keras_optimizers.py``), including when
the learning rate changes between steps (schedules, ReduceLROnPlateau: they write
``group["lr"]``, and every optimizer here reads it at each step as Keras reads its learning rate).

How each follows Keras (sources: Keras 3 ``keras/src/optimizers/<name>.py``):

- ``adam``, ``adamw`` (and ``amsgrad``): torch's Adam/AdamW kernels (fused where available), given
  ``eps / sqrt(1 - beta_2**t)`` at step ``t`` in place of ``eps``: Keras adds epsilon to
  ``sqrt(v)`` before the bias correction, torch after it, and this is the one substitution that
  makes the two formulas equal (:class:`KerasAdam`).
- ``sgd`` with momentum (and ``nesterov``): torch's kernel, whose buffer is Keras's velocity
  divided by ``-lr``; when the lr changes the buffer is rescaled by ``old_lr / new_lr`` before the
  step, so past gradients keep the lr they were taken with, as in Keras (:class:`KerasSGD`).
- ``rmsprop`` (``momentum``, ``centered``), ``nadam`` (Keras's momentum schedule
  ``beta_1 * (1 - 0.5 * 0.96**t)``) and ``adagrad`` (``sqrt(accumulator + eps)``): small
  optimizers of their own, written from Keras's update rules (no torch kernel computes them).
- ``adamax`` (``u = max(beta_2 u, |g|)``, ``w -= lr / (1 - beta_1**t) m / (u + eps)``): written
  here too; torch's Adamax puts eps inside the maximum (:class:`KerasAdamax`).
- ``weight_decay`` is decoupled for every optimizer, as in Keras 3: ``w -= lr * wd * w`` with the
  step's lr, before the update; ``adamw`` defaults to Keras's 0.004.

Differences from Keras that remain: the step count ``t`` is counted per parameter group (Keras
counts optimizer steps); the two agree whenever every parameter gets a gradient at every step, as
in every mnistlab run. Constants such as ``beta_2**t`` are computed in float64 (Keras: float32),
which moves results by about one float32 rounding.

Schedules are pure functions of the step: :func:`schedule_lr` (tested without training, like
nanoGPT's ``get_lr``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

from mnistlab.config import OPTIMIZERS, optimizer_defaults

if TYPE_CHECKING:
    from mnistlab.config import ScheduleConfig

# ------------------------------------------------------------------------------ update rules
def _plain_step(method: Any) -> Callable[..., Any]:
    """The function behind a bound torch ``step``, without torch's hook wrapper: our ``step`` is
    itself wrapped (hooks run once), so the torch step it calls inside must not run them again."""
    func = method.__func__
    return func.__wrapped__ if getattr(func, "hooked", False) else func


def _gradients_from(closure: Callable[[], Any] | None) -> Any:
    """torch's closure protocol: the loss of ``closure()`` run with gradients on (None without one)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _decay(group: dict[str, Any], params: list[torch.Tensor]) -> None:
    """Keras 3's decoupled weight decay (``base_optimizer._apply_weight_decay``): ``w -= w * wd * lr``."""
    wd = group.get("decoupled_decay", 0.0)
    for p in params if wd else ():
        p.mul_(1.0 - group["lr"] * wd)


def _iterations(optimizer: torch.optim.Optimizer, group: dict[str, Any]) -> int:
    """Steps this group has taken (Keras's ``iterations``); read from torch's state in a state dict
    saved before mnistlab counted them."""
    if group.get("iterations") is None:
        states = [optimizer.state.get(p, {}) for p in group["params"]]
        group["iterations"] = max((int(st["step"]) for st in states if "step" in st), default=0)
    return int(group["iterations"])


def keras_adam_eps(optimizer: torch.optim.Optimizer, group: dict[str, Any]) -> float:
    """The eps that makes torch's Adam step equal Keras's at the group's next step ``t``.

    Keras 3 (``keras/src/optimizers/adam.py``): ``w -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m /
    (sqrt(v) + eps)``; torch: ``w -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps')``.
    They are equal for ``eps' = eps / sqrt(1 - b2**t)`` (31.6 eps at t = 1 for b2 = 0.999).
    """
    t = _iterations(optimizer, group) + 1
    return float(group["eps"]) / math.sqrt(1.0 - float(group["betas"][1]) ** t)


class KerasLearningRate:
    """Keras's ``optimizer.learning_rate`` on a torch optimizer, as a Keras callback reads and sets it
    (``self.model.optimizer.learning_rate``; helper-178: an AttributeError). Where a
    :class:`~mnistlab.trainer.Trainer` owns the optimizer it is the trainer's base rate
    (``trainer.lr``), read and set alike: a schedule scales it for each batch, and the history logs
    it (helper-180: read as the scheduled rate and set as the base, ``lr = lr / 2`` applied the
    schedule twice). Keras refuses to set the rate under a schedule; here the base changes. An
    optimizer no trainer owns reads and sets its groups' rate."""

    param_groups: list[dict[str, Any]]
    owner: Any = None  # the Trainer that owns this optimizer (its ``lr``), set by it; not pickled (torch's state)

    @property
    def learning_rate(self) -> float:
        return float(self.owner.lr) if self.owner is not None else float(self.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.owner is not None:
            self.owner.lr = float(value)
        else:
            for group in self.param_groups:
                group["lr"] = float(value)


class KerasAdam(KerasLearningRate, torch.optim.Adam):
    """torch's Adam (fused where it can be) stepping as Keras 3's Adam: see :func:`keras_adam_eps`.

    ``group["eps"]`` keeps Keras's epsilon; only the kernel sees the substituted one. ``amsgrad``
    matches Keras's too (both take the running maximum of ``v`` and use it in place of ``v``)."""

    def __init__(self, params: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.defaults["iterations"] = 0  # add_param_group starts new groups at 0
        for group in self.param_groups:
            group.setdefault("iterations", 0)

    def step(self, closure: Any = None) -> Any:
        loss = _gradients_from(closure)  # before the step count looks at which parameters have gradients
        keras_eps, stepping = [], []
        for group in self.param_groups:
            keras_eps.append(group["eps"])
            stepping.append(any(p.grad is not None for p in group["params"]))
            group["eps"] = keras_adam_eps(self, group)
        try:
            _plain_step(super().step)(self, None)
        finally:
            for group, eps, stepped in zip(self.param_groups, keras_eps, stepping):
                group["eps"] = eps
                group["iterations"] += int(stepped)
        return loss


class KerasAdamW(KerasAdam, torch.optim.AdamW):
    """torch's AdamW stepping as Keras 3's AdamW (Adam with decoupled weight decay, default 0.004)."""


class KerasSGD(KerasLearningRate, torch.optim.SGD):
    """torch's SGD (fused where it can be) stepping as Keras 3's SGD, also when the lr changes.

    Keras (``keras/src/optimizers/sgd.py``): ``v = momentum * v - lr * g; w += v`` (nesterov: ``w
    += momentum * v - lr * g``). torch's buffer ``b`` is ``v / -lr`` while the lr is constant; when
    it changes from ``s`` to ``lr`` the buffer is scaled by ``s / lr`` first, so the old velocity is
    kept as Keras keeps it. ``group["velocity_lr"]`` holds ``s`` (saved in the state dict). A step
    at ``lr == 0`` is taken in Keras's form directly (``v = momentum * v``). Weight decay is
    Keras's decoupled one (``group["decoupled_decay"]``)."""

    def step(self, closure: Any = None) -> Any:
        loss = _gradients_from(closure)  # before the buffers are rescaled for the gradients it makes
        hidden: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        with torch.no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                _decay(group, params)
                if group["momentum"] and params:
                    hidden += self._keep_velocity(group, params)
        try:
            _plain_step(super().step)(self, None)
            return loss
        finally:
            for p, grad in hidden:
                p.grad = grad

    def _keep_velocity(self, group: dict[str, Any], params: list[torch.Tensor]) -> list[Any]:
        """Rescale the buffers to the new lr; at lr 0, step here and hide the gradients from torch."""
        lr, s = group["lr"], group.get("velocity_lr")
        bufs = [self.state[p].get("momentum_buffer") for p in params]
        if any(b is None for b in bufs) or s is None:  # first step: torch sets b = g, i.e. v = -lr * g
            group["velocity_lr"] = lr
            return []
        if lr != 0:
            if lr != s:
                for b in bufs:
                    b.mul_(s / lr)
                group["velocity_lr"] = lr
            return []
        for p, b in zip(params, bufs):  # v = momentum * v; w += v (nesterov: w += momentum * v)
            b.mul_(group["momentum"])
            p.add_(b, alpha=-s * (group["momentum"] if group["nesterov"] else 1.0))
        hidden = [(p, p.grad) for p in params]
        for p in params:
            p.grad = None
        return hidden


class _KerasRule(KerasLearningRate, torch.optim.Optimizer):
    """Base of the optimizers written here: decoupled decay, then ``_update`` on the group's
    parameters that have gradients (dense), under ``no_grad``; counts ``iterations``. Plain tensor
    ops, one parameter at a time (a model here has a handful of parameter tensors)."""

    def step(self, closure: Any = None) -> Any:
        loss = _gradients_from(closure)
        with torch.no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                if not params:
                    continue
                if any(p.grad.is_sparse for p in params):
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                _decay(group, params)
                self._update(group, params, [p.grad for p in params], _iterations(self, group) + 1)
                group["iterations"] += 1
        return loss

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor], t: int) -> None:
        raise NotImplementedError

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's, after checking the state is of this rule: ValueError for one saved by another
        optimizer (e.g. torch's RMSprop, which mnistlab used before it followed Keras)."""
        for group in state_dict.get("param_groups", ()):
            missing = [key for key in self.defaults if key not in group]
            if missing:
                raise ValueError(f"optimizer state without {', '.join(missing)}: saved by another optimizer than "
                                 f"{type(self).__name__}; it cannot be continued exactly")
        super().load_state_dict(state_dict)

    def _buffer(self, p: torch.Tensor, name: str, fill: float = 0.0) -> torch.Tensor:
        if name not in self.state[p]:
            self.state[p][name] = torch.full_like(p, fill, memory_format=torch.preserve_format)
        return self.state[p][name]


class KerasRMSprop(_KerasRule):
    """Keras 3's RMSprop (``keras/src/optimizers/rmsprop.py``), defaults lr 1e-3, rho 0.9, eps 1e-7:

    ``v = rho v + (1 - rho) g^2``; centered: ``a = rho a + (1 - rho) g`` and ``d = v - a^2 + eps``,
    else ``d = v + eps``; ``inc = lr g / sqrt(d)``; with momentum ``mom = momentum mom + inc; w -=
    mom``, else ``w -= inc``. (torch's RMSprop divides by ``sqrt(v) + eps`` and keeps the lr out of
    its momentum buffer: 9x larger steps at gradient 1e-4.)"""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, rho: float = 0.9, momentum: float = 0.0,
                 eps: float = 1e-7, centered: bool = False, decoupled_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "momentum": momentum, "eps": eps, "centered": centered,
                                  "decoupled_decay": decoupled_decay, "iterations": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor], t: int) -> None:
        rho, eps, lr = group["rho"], group["eps"], group["lr"]
        for p, g in zip(params, grads):
            v = self._buffer(p, "velocity").mul_(rho).addcmul_(g, g, value=1.0 - rho)
            if group["centered"]:
                avg = self._buffer(p, "average_gradient").mul_(rho).add_(g, alpha=1.0 - rho)
                denom = (v - avg * avg).add_(eps)  # Keras's order: v - a^2 cancels, so keep it
            else:
                denom = v + eps
            denom.sqrt_()
            if group["momentum"] > 0:
                p.sub_(self._buffer(p, "momentum").mul_(group["momentum"]).addcdiv_(g, denom, value=lr))
            else:
                p.addcdiv_(g, denom, value=-lr)


class KerasNadam(_KerasRule):
    """Keras 3's Nadam (``keras/src/optimizers/nadam.py``), defaults lr 1e-3, betas (0.9, 0.999), eps 1e-7.

    Momentum schedule ``u_t = beta_1 (1 - 0.5 * 0.96**t)``, ``P_t = u_1 ... u_t`` (``group["u_product"]``);
    ``m_hat = u_{t+1} m / (1 - P_{t+1}) + (1 - u_t) g / (1 - P_t)``, ``v_hat = v / (1 - beta_2**t)``,
    ``w -= lr m_hat / (sqrt(v_hat) + eps)``. (torch's NAdam schedule ``momentum_decay=0.004`` is another.)"""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7, decoupled_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "decoupled_decay": decoupled_decay,
                                  "iterations": 0, "u_product": 1.0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor], t: int) -> None:
        beta_1, beta_2 = group["betas"]
        u_t, u_next = beta_1 * (1.0 - 0.5 * 0.96**t), beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        product = group["u_product"] * u_t
        group["u_product"] = product
        c_m, c_g, c_v = u_next / (1.0 - product * u_next), (1.0 - u_t) / (1.0 - product), math.sqrt(1.0 - beta_2**t)
        for p, g in zip(params, grads):
            m = self._buffer(p, "momentum").lerp_(g, 1.0 - beta_1)
            v = self._buffer(p, "velocity").mul_(beta_2).addcmul_(g, g, value=1.0 - beta_2)
            m_hat = (m * c_m).add_(g, alpha=c_g)
            p.addcdiv_(m_hat, v.sqrt().div_(c_v).add_(group["eps"]), value=-group["lr"])


class KerasAdamax(_KerasRule):
    """Keras 3's Adamax (``keras/src/optimizers/adamax.py``), defaults lr 1e-3, betas (0.9, 0.999), eps 1e-7:

    ``m = m + (1 - beta_1) (g - m)``, ``u = max(beta_2 u, |g|)``, ``w -= lr m / ((1 - beta_1**t) (u + eps))``.
    (torch's Adamax takes ``max(beta_2 u, |g| + eps)`` and divides by that: another step while ``u`` is small.)"""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7, decoupled_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "decoupled_decay": decoupled_decay,
                                  "iterations": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor], t: int) -> None:
        beta_1, beta_2 = group["betas"]
        step = group["lr"] / (1.0 - beta_1**t)
        for p, g in zip(params, grads):
            m = self._buffer(p, "momentum").lerp_(g, 1.0 - beta_1)
            u = self._buffer(p, "norm")
            torch.maximum(u.mul_(beta_2), g.abs(), out=u)
            p.addcdiv_(m, u + group["eps"], value=-step)


class KerasAdagrad(_KerasRule):
    """Keras 3's Adagrad (``keras/src/optimizers/adagrad.py``), defaults lr 1e-3, initial
    accumulator 0.1, eps 1e-7: ``acc += g^2; w -= lr g / sqrt(acc + eps)`` (torch: ``sqrt(acc) + eps``)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7, decoupled_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  "decoupled_decay": decoupled_decay, "iterations": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor], t: int) -> None:
        for p, g in zip(params, grads):
            acc = self._buffer(p, "accumulator", group["initial_accumulator_value"]).addcmul_(g, g)
            p.addcdiv_(g, (acc + group["eps"]).sqrt_(), value=-group["lr"])


# name -> class (the names of config.OPTIMIZERS, whose optimizer_defaults are each class's keyword arguments)
_CLASSES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": KerasAdam, "adamw": KerasAdamW, "nadam": KerasNadam, "adamax": KerasAdamax, "adagrad": KerasAdagrad,
    "rmsprop": KerasRMSprop, "sgd": KerasSGD,
}
_FUSABLE = {"adam", "adamw", "sgd"}  # torch has fused kernels for these


def lower_lr(lr: float, optimizer: str | None = None) -> str:
    """The learning rate a diverged run's message suggests: ten times lower, ``lr = 0.01 (--lr
    0.01)``, or Keras's default for ``optimizer`` where that is lower still (SGD at lr 100: its
    0.01, not 10, which would diverge too).

    >>> lower_lr(100.0, "sgd")
    "lr = 0.01 (--lr 0.01), Keras's default for sgd"
    >>> lower_lr(0.1, "sgd")
    'lr = 0.01 (--lr 0.01)'
    """
    key = str(optimizer or "").lower()
    default = float(optimizer_defaults(key)["lr"]) if key in OPTIMIZERS else None
    if default is not None and lr / 10 > default:
        return f"lr = {default:g} (--lr {default:g}), Keras's default for {key}"
    return f"lr = {lr / 10:g} (--lr {lr / 10:g})"


# long: one Keras-name-to-class mapping per optimizer setting, read top to bottom; split, it would scatter them
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
    amsgrad: bool = False,
    centered: bool = False,
    rho: float | None = None,
    initial_accumulator_value: float | None = None,
) -> torch.optim.Optimizer:
    """Build an optimizer that steps as Keras 3's of that name; unset values take Keras's defaults.

    ``beta_1`` / ``beta_2`` (adam, adamw, nadam, adamax; defaults 0.9 and 0.999), ``epsilon`` (every
    optimizer but sgd; default 1e-7), ``momentum`` (sgd, rmsprop), ``nesterov`` (sgd),
    ``amsgrad`` (adam, adamw), ``centered`` and ``rho`` (rmsprop; default 0.9),
    ``initial_accumulator_value`` (adagrad; default 0.1) are ignored by
    optimizers that have no such setting (the run config warns about them). ``weight_decay`` is
    Keras's decoupled one for every optimizer.

    ``fused=None`` uses torch's fused kernel where this torch and device have one (adam, adamw,
    sgd): one kernel per step instead of ~8 small ops per parameter, measured 17% faster per epoch
    for seed 000's dense model on CPU (BENCHMARKS.md). Same maths, same results to float rounding.
    Raises KeyError for an unknown name (the config validates names before this).

    >>> opt = make_optimizer("adam", torch.nn.Linear(2, 2).parameters())
    >>> opt.defaults["eps"]
    1e-07
    """
    from mnistlab.accel import import_compiler

    name = name.lower()
    import_compiler()  # torch's first optimizer imports its compiler: whole, whatever a Ctrl-C meanwhile
    cls, kwargs = _CLASSES[name], optimizer_defaults(name)
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
    if name in ("adam", "adamw"):
        if decay or name == "adamw":  # Adam with decoupled decay is AdamW, in Keras as in torch
            cls, kwargs["weight_decay"] = KerasAdamW, decay
        kwargs["amsgrad"] = bool(amsgrad)
    elif name != "sgd":
        kwargs["decoupled_decay"] = decay
    if name == "rmsprop":
        kwargs.update(momentum=float(momentum), centered=bool(centered))
        if rho is not None:
            kwargs["rho"] = float(rho)
    if name == "adagrad" and initial_accumulator_value is not None:
        kwargs["initial_accumulator_value"] = float(initial_accumulator_value)
    if name == "sgd":
        kwargs.update(momentum=float(momentum), nesterov=bool(nesterov and momentum))
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
    if name == "sgd":
        for group in optimizer.param_groups:
            group["decoupled_decay"] = decay
        optimizer.defaults["decoupled_decay"] = decay
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


def exponential_lr(step: float, base_lr: float, *, decay_steps: int, decay_rate: float, staircase: bool = False) -> float:
    """Keras's ``ExponentialDecay``: ``base_lr * decay_rate ** (step / decay_steps)``, the exponent
    floored with ``staircase``; ``step`` the batches trained before this one (Keras's
    ``optimizer.iterations``, from 0)."""
    p = step / decay_steps
    return base_lr * decay_rate ** (math.floor(p + 1e-9) if staircase else p)


def cosine_lr(epoch: float, base_lr: float, *, total_epochs: float, warmup_epochs: float = 0.0, min_lr: float = 0.0) -> float:
    """Linear warm-up from ~0 to ``base_lr`` over ``warmup_epochs``, then half a cosine down to ``min_lr``;
    a base below ``min_lr`` (ReduceLROnPlateau lowers it) stays as it is, never rising toward
    ``min_lr`` (helper-145: 0.0035, 0.0044, 0.0050 with ``min_lr = 0.005``)."""
    if warmup_epochs > 0 and epoch < warmup_epochs:
        return base_lr * max(epoch / warmup_epochs, 1e-3)  # never exactly 0: step one must move
    span = max(total_epochs - warmup_epochs, 1e-12)
    progress = min(max((epoch - warmup_epochs) / span, 0.0), 1.0)
    floor = min(min_lr, base_lr)
    return floor + 0.5 * (base_lr - floor) * (1.0 + math.cos(math.pi * progress))


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
    if schedule.type == "exponential":  # per batch, as Keras's optimizer iterations count them
        return exponential_lr(round(epoch * steps_per_epoch) if steps_per_epoch else epoch, base_lr,
                              decay_steps=schedule.decay_steps, decay_rate=schedule.decay_rate,
                              staircase=schedule.staircase)
    if schedule.type == "onecycle":
        return onecycle_lr(
            epoch, base_lr, total_epochs=total_epochs, pct_start=schedule.pct_start,
            div_factor=schedule.div_factor, final_div_factor=schedule.final_div_factor, steps_per_epoch=steps_per_epoch,
        )
    raise ValueError(f"unknown schedule type {schedule.type!r}")
