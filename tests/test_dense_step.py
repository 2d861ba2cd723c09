"""The dense fast path (hand-written gradients) against autograd, and where it must decline.

The hand-written backward sums in another order than autograd, so these compare to float
rounding (rtol 1e-5) rather than bit for bit.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnistlab.accel.dense_step import DenseStep
from mnistlab.models import build_model
from mnistlab.specs import parse_model_spec


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
    # Activations on saved outputs: each must not overwrite what the one before kept.
    "relu then Activation sigmoid": _dense_spec({"type": "Dense", "units": 16, "activation": "relu"},
                                                {"type": "Activation", "activation": "sigmoid"},
                                                {"type": "Dense", "units": 10}),
    "relu, Dropout 0, Activation sigmoid": _dense_spec({"type": "Dense", "units": 16, "activation": "relu"},
                                                       {"type": "Dropout", "rate": 0.0},
                                                       {"type": "Activation", "activation": "sigmoid"},
                                                       {"type": "Dense", "units": 10}),
    "sigmoid then two Activations": _dense_spec({"type": "Dense", "units": 16, "activation": "sigmoid"},
                                                {"type": "Activation", "activation": "tanh"},
                                                {"type": "Activation", "activation": "relu"},
                                                {"type": "Dense", "units": 10}),
    "Activation before the first Dense": _dense_spec({"type": "Activation", "activation": "tanh"},
                                                     {"type": "Dropout", "rate": 0.3},
                                                     {"type": "Dense", "units": 10}),
}


@pytest.mark.filterwarnings("ignore:.*output activation 'sigmoid'")
@pytest.mark.parametrize("stack", list(DENSE_STACKS))
@pytest.mark.parametrize(("batch", "smoothing"), [(32, 0.0), (7, 0.0), (32, 0.1)])
def test_dense_fast_path_matches_autograd(stack: str, batch: int, smoothing: float) -> None:
    spec = parse_model_spec(DENSE_STACKS[stack])
    gen = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)

    auto_model, fast_model = build_model(spec, seed=5).train(), build_model(spec, seed=5).train()
    torch.manual_seed(11)  # dropout: both paths must draw the same masks
    auto_logits = auto_model(x)
    auto_loss = F.cross_entropy(auto_logits, y, label_smoothing=smoothing)
    auto_loss.backward()

    fast = DenseStep.for_model(fast_model)
    assert fast is not None
    for p in fast_model.parameters():
        p.grad = torch.full_like(p, 7.0)  # stale grads must be overwritten, not accumulated
    torch.manual_seed(11)
    x_before = x.clone()
    fast_loss, fast_logits = fast.step(x, y, smoothing)
    assert torch.equal(x, x_before)  # the caller's batch is never overwritten

    torch.testing.assert_close(fast_logits, auto_logits.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_loss, auto_loss.detach(), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(auto_model.named_parameters(), fast_model.parameters()):
        assert a.grad.abs().sum() > 0, name  # the comparison means something
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_dense_fast_path_respects_eval_mode_dropout() -> None:
    model = build_model(parse_model_spec(DENSE_STACKS["dropout (seed 002's dense)"]), seed=1).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    _, logits = DenseStep.for_model(model).step(x, y)
    torch.testing.assert_close(logits, model(x).detach())


@pytest.mark.filterwarnings("ignore:.*softmax on a hidden layer")
@pytest.mark.parametrize("layers", [
    [{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 10}],
    _dense_spec({"type": "Dense", "units": 16, "activation": "gelu"}, {"type": "Dense", "units": 10}),
    _dense_spec({"type": "Dense", "units": 16}, {"type": "BatchNormalization"}, {"type": "Dense", "units": 10}),
    _dense_spec({"type": "Dense", "units": 16, "activation": "softmax"}, {"type": "Dense", "units": 10}),
])
def test_dense_fast_path_declines_what_it_does_not_cover(layers: list) -> None:
    assert DenseStep.for_model(build_model(parse_model_spec(layers), seed=0)) is None


def _seed000(seed: int = 0) -> torch.nn.Module:
    return build_model(parse_model_spec(DENSE_STACKS["relu + softmax (seed 000)"]), seed=seed)


@pytest.mark.parametrize("change", [
    "frozen weight", "forward hook", "backward pre-hook", "parameter hook", "post-accumulate hook",
    "global forward hook", "layer used twice", "dropout rate 1", "own forward", "torch Linear",
])
def test_dense_fast_path_declines_what_it_would_silently_skip(change: str) -> None:
    from collections import OrderedDict

    from mnistlab.models import SequentialModel

    assert DenseStep.for_model(_seed000()) is not None
    model = _seed000()
    handle = None
    if change == "frozen weight":
        next(model.parameters()).requires_grad_(False)
    elif change == "forward hook":
        model[1].register_forward_hook(lambda *_: None)
    elif change == "backward pre-hook":
        model[1].register_full_backward_pre_hook(lambda *_: None)
    elif change == "parameter hook":
        next(model.parameters()).register_hook(lambda g: g)
    elif change == "post-accumulate hook":
        next(model.parameters()).register_post_accumulate_grad_hook(lambda p: None)
    elif change == "global forward hook":
        handle = torch.nn.modules.module.register_module_forward_hook(lambda *_: None)
    elif change == "layer used twice":
        model = torch.nn.Sequential(model[0], model[1], torch.nn.Identity(), model[1])
    elif change == "dropout rate 1":
        model = torch.nn.Sequential(model[0], model[1], torch.nn.Dropout(1.0), model[2])
    elif change == "own forward":
        class Doubled(SequentialModel):
            def forward(self, x):
                return 2 * super().forward(x)
        model = Doubled(OrderedDict(model._modules), model.spec, model.folded_activation)
    else:
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    try:
        assert DenseStep.for_model(model) is None
    finally:
        if handle is not None:
            handle.remove()


def test_freezing_after_the_trainer_is_built_falls_back_to_autograd() -> None:
    from mnistlab.trainer import Trainer

    model = _seed000(seed=2)
    trainer = Trainer(model, seed=0)
    assert trainer.plan.dense_step is not None
    x, y = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (32,))
    trainer.train_step(x, y)
    first = model[1].weight.detach().clone()
    model[1].requires_grad_(False)
    trainer.train_step(x, y)
    assert torch.equal(model[1].weight, first)  # frozen means frozen, as under autograd
    assert not torch.equal(model[2].weight.grad, torch.zeros_like(model[2].weight))


@pytest.mark.parametrize("frozen", [(1,), (3,), (1, 3), (5,)])
def test_frozen_dense_layers_take_the_fast_path_with_autograds_gradients(frozen: tuple[int, ...]) -> None:
    """Note 52's leftover 3: a model with frozen layers (Keras's trainable = False: fine-tuning) fell back
    to autograd. Frozen layers get no gradient; the gradient passes through them to the layers before."""
    from mnistlab.models import freeze

    spec = parse_model_spec(_dense_spec({"type": "Dense", "units": 24, "activation": "relu"},
                                        {"type": "Dropout", "rate": 0.2},
                                        {"type": "Dense", "units": 16, "activation": "tanh"},
                                        {"type": "Activation", "activation": "relu"},
                                        {"type": "Dense", "units": 10, "activation": "softmax"}))
    x, y = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(3)), torch.arange(16) % 10
    models = [build_model(spec, seed=4).train() for _ in range(2)]
    for model in models:
        for i in frozen:
            freeze(model[i])
    torch.manual_seed(1)
    F.cross_entropy(models[0](x), y).backward()
    fast = DenseStep.for_model(models[1])
    assert fast is not None and fast.usable()
    torch.manual_seed(1)
    fast.step(x, y)
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        if not a.requires_grad:
            assert a.grad is None and b.grad is None, name
        else:
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-7, msg=name)
    models[1][5].requires_grad_(not models[1][5].weight.requires_grad)  # frozen or thawed since: autograd then
    assert not fast.usable()
