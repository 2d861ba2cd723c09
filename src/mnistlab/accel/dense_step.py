"""A training step with hand-written gradients for models made only of dense layers.

Why: seed 000's dense model does ~6.4 M multiply-adds per batch of 32, which one core does in
~0.16 ms, yet an eager PyTorch step (autograd forward, ``backward()``, optimizer) took ~0.55 ms:
most of the rest is autograd's per-op bookkeeping (recording the graph, the backward engine, grad
accumulation). For a stack of Flatten / Dense / activation / Dropout layers the backward pass is
two matrix products and a bias sum per layer, so this module runs the forward without autograd,
keeps the few tensors the backward needs and writes each parameter's ``.grad`` directly (0.55 ->
0.41 ms a step, 1.35x, measured with ``bench/bench_step.py``). The optimizer then steps as usual.

It computes the same gradients as autograd up to float rounding (tested against
``loss.backward()`` layer type by layer type), draws dropout masks from the same RNG stream as
``nn.Dropout`` and is used only where every piece is covered: :meth:`DenseStep.for_model`
returns None for anything else (convolutions, batch norm, other activations, a layer with some of
its parameters frozen and not others, non-float32 or non-CPU parameters, hooks, Sequential
subclasses with their own forward) and the Trainer then uses autograd. Frozen dense layers
(Keras's ``trainable = False``) are covered: their parameters get no gradient, and the backward
stops at the first trainable layer, as autograd's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from mnistlab.accel.hooks import has_hooks
from mnistlab.models import Dense, SequentialModel, penalised

__all__ = ["DenseStep"]

_aten = torch.ops.aten
Tensor = torch.Tensor


class ActivationGrad(NamedTuple):
    """An activation's forward (in place and not) and its backward from the output alone."""

    forward_: Callable[[Tensor], Tensor]      # overwrites its input
    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor], Tensor]  # (grad of output, output) -> grad of input


_ACTIVATIONS: dict[type, ActivationGrad] = {
    nn.ReLU: ActivationGrad(torch.relu_, torch.relu, lambda g, y: _aten.threshold_backward(g, y, 0)),
    nn.Tanh: ActivationGrad(torch.tanh_, torch.tanh, _aten.tanh_backward),
    nn.Sigmoid: ActivationGrad(torch.sigmoid_, torch.sigmoid, _aten.sigmoid_backward),
}


def _leaky(slope: float) -> ActivationGrad:
    # With a non-negative slope the output has the input's sign, so the output suffices.
    return ActivationGrad(lambda x: F.leaky_relu_(x, slope), lambda x: F.leaky_relu(x, slope),
                      lambda g, y: _aten.leaky_relu_backward(g, y, slope, True))


def _activation(module: nn.Module) -> ActivationGrad | None | Literal[False]:
    """The Activation for a covered module, None for identity, False if not covered."""
    if type(module) is nn.Identity:
        return None
    if type(module) is nn.LeakyReLU and module.negative_slope >= 0:
        return _leaky(module.negative_slope)
    return _ACTIVATIONS.get(type(module), False)


class Step(NamedTuple):
    """One entry of the plan: ``kind`` is flatten, dense, activation or dropout."""

    kind: str
    module: Any = None                 # the Dense or nn.Dropout module
    activation: ActivationGrad | None = None
    in_place: bool = False             # the activation may overwrite its input (nothing keeps it)


class DenseStep:
    """Forward and backward of a Flatten/Dense/activation/Dropout stack without autograd.

        fast = DenseStep.for_model(model)      # None when the model is not covered
        loss, logits = fast.step(x, y)             # sets p.grad for every parameter
        optimizer.step()
    """

    def __init__(self, plan: list[Step], params: list[nn.Parameter], every: list[nn.Parameter] | None = None) -> None:
        self.plan = plan
        self.params = params  # the trainable ones: those the step writes a gradient for
        self.every = params if every is None else every  # (a layer frozen or thawed since: usable() says so)
        self._trainable = frozenset(id(p) for p in params)
        # The backward stops at the first trainable dense layer: nothing before it needs a gradient.
        self.first_dense = next(i for i, s in enumerate(plan) if s.kind == "dense" and s.module.weight.requires_grad)
        self._label_weights: dict[tuple[int, float], Tensor] = {}

    @classmethod
    def for_model(cls, model: nn.Module) -> DenseStep | None:
        """The fast path for `model`, or None where autograd must run."""
        # Exactly these types: a subclass may have its own forward (isinstance only narrows the type for mypy).
        if not isinstance(model, nn.Sequential) or type(model) not in (nn.Sequential, SequentialModel):
            return None
        params = list(model.parameters())
        if not params or any(p.dtype != torch.float32 or not p.is_cpu for p in params):
            return None
        if not any(p.requires_grad for p in params) or any(  # a layer frozen whole, or not at all
                len({p.requires_grad for p in m.parameters(recurse=False)}) > 1 for m in model.modules()):
            return None
        if has_hooks(*model.modules(), parameters=params):
            return None
        if penalised(model):  # a weight penalty: autograd adds it
            return None
        plan: list[Step] = []
        flat = fresh = False  # fresh: the current tensor is a new one that nothing else keeps
        for module in model:  # type(module) is X, not isinstance: a subclass may compute something else
            if type(module) is nn.Flatten and module.start_dim == 1 and module.end_dim == -1:
                plan.append(Step("flatten"))
                flat, fresh = True, False  # a view of the caller's batch
            elif type(module) is Dense and flat:
                plan.append(Step("dense", module))
                act = _activation(module.activation)
                if act is False:
                    return None
                if act is not None:
                    plan.append(Step("activation", activation=act, in_place=True))  # on addmm's output
                fresh = act is None
            elif type(module) is nn.Dropout:
                if module.p >= 1:
                    return None
                plan.append(Step("dropout", module))
                fresh = False  # in eval mode it hands its input through
            elif type(module) is not nn.Identity:
                act = _activation(module)  # a standalone Activation layer
                if act is False:
                    return None  # another layer type, or a dense layer before any Flatten
                if act is not None:
                    plan.append(Step("activation", activation=act, in_place=fresh))
                    fresh = False  # its output is saved for the backward
        planned = [id(p) for s in plan if s.kind == "dense" for p in s.module.parameters(recurse=False)]
        if not planned or len(set(planned)) != len(planned) or set(planned) != {id(p) for p in params}:
            return None  # no dense layer, a layer used twice, or parameters the plan would not write
        return cls(plan, [p for p in params if p.requires_grad], params)

    def usable(self) -> bool:
        """False once a parameter was frozen or thawed after construction (autograd must step then)."""
        return all(p.requires_grad == (id(p) in self._trainable) for p in self.every)

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
        """Mean cross-entropy of the model on (x, y) and the logits; sets every parameter's grad.

        The grads are overwritten, as ``zero_grad()`` followed by ``backward()`` would leave them.
        """
        for p in self.params:
            if p.grad is None:
                p.grad = torch.empty_like(p)
        saved: list[Tensor | None] = []  # what each layer's backward needs, in forward order
        for s in self.plan:
            if s.kind == "flatten":
                x = x.flatten(1)
            elif s.kind == "dense":
                saved.append(x)
                w, b = s.module.weight, s.module.bias
                x = torch.addmm(b, x, w.t()) if b is not None else x @ w.t()
            elif s.kind == "activation":
                assert s.activation is not None  # narrowing: every activation step carries one
                x = s.activation.forward_(x) if s.in_place else s.activation.forward(x)
                saved.append(x)
            elif s.module.training and s.module.p > 0:  # dropout, with nn.Dropout's RNG draws
                x, mask = torch.native_dropout(x, s.module.p, True)
                saved.append(mask)
            else:
                saved.append(None)  # dropout in eval mode: identity
        logits = x
        log_probs = torch.log_softmax(logits, 1)
        if label_smoothing:
            loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        else:
            loss = F.nll_loss(log_probs, y)
        # d(mean cross-entropy)/d(logits) = (softmax - target distribution) / batch size, where the
        # target puts 1 - smoothing on the label and smoothing / classes on every class.
        grad = log_probs.exp_()
        grad.scatter_add_(1, y.view(-1, 1), self._label_weight(len(y), label_smoothing))
        if label_smoothing:
            grad.sub_(label_smoothing / logits.shape[1])
        grad.mul_(1.0 / len(y))
        for i in range(len(self.plan) - 1, self.first_dense - 1, -1):
            s = self.plan[i]
            if s.kind == "activation":
                out = saved.pop()
                assert s.activation is not None and out is not None  # narrowing: saved by the forward above
                grad = s.activation.backward(grad, out)
            elif s.kind == "dropout":
                kept = saved.pop()  # the dropout mask, None in eval mode
                if kept is not None:
                    grad = _aten.native_dropout_backward(grad, kept, 1.0 / (1.0 - s.module.p))
            elif s.kind == "dense":
                inputs = saved.pop()
                assert inputs is not None  # narrowing: the forward saved this layer's input
                w, b = s.module.weight, s.module.bias
                if w.requires_grad:  # (a frozen layer passes the gradient on, and keeps none)
                    torch.mm(grad.t(), inputs, out=w.grad)
                    if b is not None:
                        torch.sum(grad, 0, out=b.grad)
                if i > self.first_dense:
                    grad = grad @ w
        return loss, logits

    def _label_weight(self, n: int, label_smoothing: float) -> Tensor:
        """An (n, 1) column of (smoothing - 1): the label's share taken off the softmax."""
        key = (n, label_smoothing)
        if key not in self._label_weights:
            self._label_weights[key] = torch.full((n, 1), label_smoothing - 1.0)
        return self._label_weights[key]
