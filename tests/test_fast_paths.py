"""The speed-ups in the training step must not change a single number.

Each fast path is compared bit for bit with the plain PyTorch computation it replaces.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

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
                         [("adam", torch.optim.Adam, 0.0), ("adam", torch.optim.Adam, 1e-3),
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


# ------------------------------------------------------------------ dense stacks without autograd
# The hand-written backward sums in another order than autograd, so these compare to float
# rounding (rtol 1e-5) rather than bit for bit.
def _dense_spec(*layers: dict) -> list:
    return [{"type": "Flatten"}, *layers]


DENSE_STACKS = {
    "relu + softmax (seed 000)": _dense_spec({"type": "Dense", "units": 32, "activation": "relu"},
                                             {"type": "Dense", "units": 10, "activation": "softmax"}),
    "tanh, sigmoid, leaky relu": _dense_spec({"type": "Dense", "units": 24, "activation": "tanh"},
                                             {"type": "Dense", "units": 16, "activation": "sigmoid"},
                                             {"type": "Dense", "units": 12, "activation": "leaky_relu"},
                                             {"type": "Dense", "units": 10}),
    "no bias, Activation layer": _dense_spec({"type": "Dense", "units": 20, "use_bias": False},
                                             {"type": "Activation", "activation": "relu"},
                                             {"type": "Dense", "units": 10, "use_bias": False, "activation": "softmax"}),
    "dropout (seed 002's dense)": _dense_spec({"type": "Dense", "units": 48, "activation": "relu"},
                                              {"type": "Dropout", "rate": 0.2},
                                              {"type": "Dense", "units": 32, "activation": "relu"},
                                              {"type": "Dropout", "rate": 0.5},
                                              {"type": "Dense", "units": 10, "activation": "softmax"}),
    "sigmoid output, folded (seed 003)": _dense_spec({"type": "Dense", "units": 16, "activation": "relu"},
                                             {"type": "Dense", "units": 10, "activation": "sigmoid"}),
}


@pytest.mark.filterwarnings("ignore:.*output activation 'sigmoid'")
@pytest.mark.parametrize("stack", list(DENSE_STACKS))
@pytest.mark.parametrize(("batch", "smoothing"), [(32, 0.0), (7, 0.0), (32, 0.1)])
def test_dense_fast_path_matches_autograd(stack: str, batch: int, smoothing: float) -> None:
    from mnistlab.dense_fastpath import DenseFastPath
    from mnistlab.specs import parse_model_spec

    spec = parse_model_spec(DENSE_STACKS[stack])
    gen = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)

    auto_model, fast_model = build_model(spec, seed=5).train(), build_model(spec, seed=5).train()
    torch.manual_seed(11)  # dropout: both paths must draw the same masks
    auto_logits = auto_model(x)
    auto_loss = F.cross_entropy(auto_logits, y, label_smoothing=smoothing)
    auto_loss.backward()

    fast = DenseFastPath.for_model(fast_model)
    assert fast is not None
    for p in fast_model.parameters():
        p.grad = torch.full_like(p, 7.0)  # stale grads must be overwritten, not accumulated
    torch.manual_seed(11)
    fast_loss, fast_logits = fast.step(x, y, smoothing)

    torch.testing.assert_close(fast_logits, auto_logits.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_loss, auto_loss.detach(), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(auto_model.named_parameters(), fast_model.parameters()):
        assert a.grad.abs().sum() > 0, name  # the comparison means something
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_dense_fast_path_respects_eval_mode_dropout() -> None:
    from mnistlab.dense_fastpath import DenseFastPath
    from mnistlab.specs import parse_model_spec

    model = build_model(parse_model_spec(DENSE_STACKS["dropout (seed 002's dense)"]), seed=1).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    _, logits = DenseFastPath.for_model(model).step(x, y)
    torch.testing.assert_close(logits, model(x).detach())


@pytest.mark.filterwarnings("ignore:.*softmax on a hidden layer")
@pytest.mark.parametrize("layers", [
    [{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 10}],
    _dense_spec({"type": "Dense", "units": 16, "activation": "gelu"}, {"type": "Dense", "units": 10}),
    _dense_spec({"type": "Dense", "units": 16}, {"type": "BatchNormalization"}, {"type": "Dense", "units": 10}),
    _dense_spec({"type": "Dense", "units": 16, "activation": "softmax"}, {"type": "Dense", "units": 10}),
])
def test_dense_fast_path_declines_what_it_does_not_cover(layers: list) -> None:
    from mnistlab.dense_fastpath import DenseFastPath
    from mnistlab.specs import parse_model_spec

    assert DenseFastPath.for_model(build_model(parse_model_spec(layers), seed=0)) is None


def test_dense_fast_path_declines_frozen_weights_and_hooks() -> None:
    from mnistlab.dense_fastpath import DenseFastPath
    from mnistlab.specs import parse_model_spec

    spec = parse_model_spec(DENSE_STACKS["relu + softmax (seed 000)"])
    frozen = build_model(spec, seed=0)
    next(frozen.parameters()).requires_grad_(False)
    hooked = build_model(spec, seed=0)
    hooked[1].register_forward_hook(lambda *_: None)
    assert DenseFastPath.for_model(build_model(spec, seed=0)) is not None
    assert DenseFastPath.for_model(frozen) is None
    assert DenseFastPath.for_model(hooked) is None
    assert DenseFastPath.for_model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))) is None
