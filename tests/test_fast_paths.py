"""The speed-ups in the training step must not change a single number.

Each fast path is compared bit for bit with the plain PyTorch computation it replaces.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnistlab import native
from mnistlab.models import build_model
from mnistlab.optim import make_optimizer, set_lr
from mnistlab.presets import resolve_model


@pytest.mark.parametrize("preset", ["seed000-cnn", "seed001-builder", "seed002-deep-conv"])
def test_pool_before_relu_gives_identical_logits_and_gradients(preset: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    y = torch.randint(0, 10, (16,))
    results = []
    for forward in ("fast", "layer by layer"):
        model = build_model(resolve_model(preset), seed=3).eval()  # eval: dropout off, same maths both ways
        with native.disabled():  # the fused kernel rounds differently; tests/test_native.py checks it
            logits = model(x) if forward == "fast" else torch.nn.Sequential.forward(model, x)
        F.cross_entropy(logits, y).backward()
        results.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    (fast_logits, fast_grads), (slow_logits, slow_grads) = results
    assert torch.equal(fast_logits, slow_logits)
    assert all(torch.equal(a, b) for a, b in zip(fast_grads, slow_grads))


def _train(optimizer: torch.optim.Optimizer, model: torch.nn.Module, steps: int = 12) -> None:
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        if i == steps // 2:
            set_lr(optimizer, 3e-4)  # a changed learning rate must reach the kernel too
        x = torch.randn(32, 784, generator=gen)
        y = torch.randint(0, 10, (32,), generator=gen)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


@pytest.mark.parametrize(("name", "torch_cls", "weight_decay"),
                         [("adam", torch.optim.Adam, 0.0), ("adam", torch.optim.AdamW, 1e-3),  # decay is decoupled, as Keras 3
                          ("adamw", torch.optim.AdamW, 0.004)])
def test_lean_adam_is_bitwise_torch_fused_adam(name: str, torch_cls, weight_decay: float) -> None:
    ours_model, ref_model = _net(), _net()
    ours = make_optimizer(name, ours_model.parameters(), weight_decay=weight_decay)
    ref = torch_cls(ref_model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=weight_decay, fused=True)
    _train(ours, ours_model)
    _train(ref, ref_model)
    assert all(torch.equal(a, b) for a, b in zip(ours_model.parameters(), ref_model.parameters()))
    for key, state in ours.state_dict()["state"].items():
        for field in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state[field], ref.state_dict()["state"][key][field])


def test_lean_adam_still_runs_step_hooks() -> None:
    model = _net()
    opt = make_optimizer("adam", model.parameters())
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    _train(opt, model, steps=5)
    assert len(calls) == 5

