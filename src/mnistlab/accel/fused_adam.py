"""A leaner ``step()`` for mnistlab's fused Adam/AdamW on CPU, swapped in by the Plan.

:class:`mnistlab.optim.KerasAdam` is torch's fused Adam given Keras's epsilon for the step
(:func:`mnistlab.optim.keras_adam_eps`). torch's ``Adam.step`` spends ~35-40 us per call in Python
bookkeeping (the profiler/hook wrapper, grouping tensors by device and dtype, grad-mode switching)
around a ~50 us kernel for seed 000's dense model: ~6% of its ~0.6 ms step. :class:`LeanAdam`
calls the same private kernel (``torch._fused_adam_``) with the same arguments, Keras's step
epsilon included: bit-identical results and the same ``state_dict``. It falls back to the hooked
``step`` whenever anything is unusual (a closure, several groups, step hooks, amsgrad, a tensor
lr, a non-CPU parameter, a parameter without grad or state, or a torch whose kernel takes other
arguments).

    optimizer = make_optimizer("adam", model.parameters())   # KerasAdam(fused=True)
    optimizer = lean(optimizer)                              # the same object, now a LeanAdam
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import optimizer as _torch_optimizer

from mnistlab.optim import KerasAdam, KerasAdamW, keras_adam_eps

__all__ = ["LeanAdam", "LeanAdamW", "lean"]


class _LeanFusedStep:
    """The lean ``step``, mixed into torch's Adam and AdamW classes below."""

    def step(self, closure: Any = None) -> Any:
        groups = self.param_groups  # type: ignore[attr-defined]
        if closure is not None or len(groups) != 1 or not self._lean_ok(groups[0]):
            return self._torch_step(closure)
        group = groups[0]
        params = group["params"]
        grads = [p.grad for p in params]
        states = [self.state[p] for p in params]  # type: ignore[attr-defined]
        if any(g is None for g in grads) or any("exp_avg" not in st for st in states):
            return self._torch_step(closure)  # the first step creates the state
        kernel = torch._fused_adamw_ if group.get("decoupled_weight_decay") else torch._fused_adam_
        beta1, beta2 = group["betas"]
        eps = keras_adam_eps(self, group)  # type: ignore[arg-type]  # Keras's epsilon, as KerasAdam.step
        with torch.no_grad():
            steps = [st["step"] for st in states]
            torch._foreach_add_(steps, 1)
            try:
                kernel(params, grads, [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states], [],
                       steps, amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                       weight_decay=group["weight_decay"], eps=eps, maximize=False, grad_scale=None,
                       found_inf=None)
            except (TypeError, RuntimeError):
                # A torch whose private kernel takes other arguments: the argument check fails before
                # anything is written, so undo the step count and use torch's own step from now on.
                torch._foreach_sub_(steps, 1)
                self._lean_disabled = True
                return self._torch_step(closure)
        group["iterations"] += 1
        return None

    # torch wraps every optimizer class's step() in its profiler/hook wrapper unless it is marked
    # as already hooked; the lean step skips that wrapper (it only runs when no hooks exist).
    step.hooked = True  # type: ignore[attr-defined]

    def _torch_step(self, closure: Any) -> Any:
        base = super().step  # type: ignore[misc]  # KerasAdam.step, hooked or not yet
        if getattr(base, "hooked", False):
            return base(closure)
        return torch.optim.Optimizer.profile_hook_step(base.__func__)(self, closure)

    def _lean_ok(self, group: dict[str, Any]) -> bool:
        if getattr(self, "_lean_disabled", False) or not hasattr(torch, "_fused_adam_"):
            return False
        if (not group.get("fused") or group["amsgrad"] or group["maximize"] or group.get("capturable")
                or group.get("differentiable") or isinstance(group["lr"], torch.Tensor)
                or any(isinstance(b, torch.Tensor) for b in group["betas"])):
            return False
        if (self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks  # type: ignore[attr-defined]
                or _torch_optimizer._global_optimizer_pre_hooks or _torch_optimizer._global_optimizer_post_hooks):
            return False
        params = group["params"]
        dtype = params[0].dtype if params else None
        return bool(params) and all(p.is_cpu and p.dtype == dtype and not p.is_sparse for p in params)


class LeanAdam(_LeanFusedStep, KerasAdam):
    """mnistlab's Keras Adam with the lean fused step."""


class LeanAdamW(_LeanFusedStep, KerasAdamW):
    """mnistlab's Keras AdamW with the lean fused step."""


_LEAN: dict[type, type] = {KerasAdam: LeanAdam, KerasAdamW: LeanAdamW}


def lean(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` with the lean step where it applies (a fused :class:`KerasAdam` / ``KerasAdamW``; the object is
    kept, only its class changes: same state, same ``state_dict``); anything else unchanged."""
    cls = _LEAN.get(type(optimizer))
    if cls is not None and all(g.get("fused") for g in optimizer.param_groups):
        optimizer.__class__ = cls
    return optimizer


def is_lean(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` steps through the lean fused kernel."""
    return isinstance(optimizer, _LeanFusedStep)
