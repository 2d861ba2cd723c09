"""Whether anyone listens to a module: a fast path that skips ``module(x)`` must not skip a hook.

torch keeps hooks in private registries (per module, per parameter, and global ones registered
with ``torch.nn.modules.module.register_module_forward_hook`` and friends); this is the one place
that reads them. A torch without one of these registries simply has no such hooks to skip.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules import module as _module_hooks

__all__ = ["has_hooks"]

_MODULE_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")
_PARAMETER_HOOKS = ("_backward_hooks", "_post_accumulate_grad_hooks")


def has_hooks(*modules: nn.Module, parameters: Iterable[torch.Tensor] = ()) -> bool:
    """True if any global module hook, any hook on one of ``modules`` (not their children: pass
    ``*model.modules()`` for a whole model), or any gradient hook on ``parameters`` is registered."""
    if any(getattr(_module_hooks, name, None) for name in _GLOBAL_HOOKS):
        return True
    if any(getattr(m, name, None) for m in modules for name in _MODULE_HOOKS):
        return True
    return any(getattr(p, name, None) for p in parameters for name in _PARAMETER_HOOKS)
