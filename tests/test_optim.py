"""Optimisers by Keras name with Keras defaults, and learning-rate schedules as pure functions."""

from __future__ import annotations

import pytest
import torch

from mnistlab.config import CosineSchedule, OneCycleSchedule, StepSchedule
from mnistlab.optim import cosine_lr, make_optimizer, onecycle_lr, schedule_lr, set_lr, step_lr


def test_step_schedule():
    assert [step_lr(e, 1.0, step_size=2, gamma=0.5) for e in (0, 1.9, 2, 3.5, 4)] == [1, 1, 0.5, 0.5, 0.25]


def test_cosine_schedule():
    assert cosine_lr(0, 1.0, total_epochs=10) == 1.0
    assert cosine_lr(5, 1.0, total_epochs=10) == pytest.approx(0.5)
    assert cosine_lr(10, 1.0, total_epochs=10, min_lr=0.1) == pytest.approx(0.1)
    assert cosine_lr(0.5, 1.0, total_epochs=10, warmup_epochs=1) == pytest.approx(0.5)
    assert 0 < cosine_lr(0, 1.0, total_epochs=10, warmup_epochs=1) < 0.01
    assert cosine_lr(1, 1.0, total_epochs=11, warmup_epochs=1) == pytest.approx(1.0)


def test_onecycle_schedule():
    lrs = [onecycle_lr(e / 10, 0.1, total_epochs=10) for e in range(101)]
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 30
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert all(a <= b for a, b in zip(lrs[:30], lrs[1:31])) and all(a >= b for a, b in zip(lrs[30:], lrs[31:]))


def test_schedule_lr_dispatch():
    assert schedule_lr(None, 0.3, 5, 10) == 0.3
    assert schedule_lr(StepSchedule(step_size=1, gamma=0.1), 1.0, 2, 10) == pytest.approx(0.01)
    assert schedule_lr(CosineSchedule(), 1.0, 10, 10) == pytest.approx(0.0)
    assert schedule_lr(OneCycleSchedule(), 1.0, 3, 10) == pytest.approx(1.0)


@pytest.mark.parametrize("name, lr, eps", [("adam", 1e-3, 1e-7), ("nadam", 1e-3, 1e-7), ("adagrad", 1e-3, 1e-7),
                                           ("rmsprop", 1e-3, 1e-7), ("adamw", 1e-3, 1e-7), ("sgd", 0.01, None)])
def test_optimizers_have_keras_defaults(name, lr, eps):
    opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters())
    assert opt.defaults["lr"] == lr and opt.defaults.get("eps") == eps
    if name == "rmsprop":
        assert opt.defaults["alpha"] == 0.9
    if name == "adagrad":
        assert opt.defaults["initial_accumulator_value"] == 0.1
    if name == "adamw":
        assert opt.defaults["weight_decay"] == 0.004
    sgd = make_optimizer("sgd", torch.nn.Linear(2, 2).parameters(), momentum=0.9, nesterov=True)
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["nesterov"] is True



def test_fused_optimizer_matches_the_plain_one():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    fused = make_optimizer("Adam", a.parameters())
    plain = make_optimizer("adam", b.parameters(), fused=False)
    assert fused.defaults.get("fused") is True and not plain.defaults.get("fused")
    x = torch.randn(8, 4)
    for opt, model in ((fused, a), (plain, b)):
        for _ in range(5):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    torch.testing.assert_close(a.weight, b.weight)


def _one_step_from(name: str, weight_decay: float | None, grad: torch.Tensor, start: torch.Tensor, **kw):
    w = torch.nn.Parameter(start.clone())
    opt = make_optimizer(name, [w], lr=0.1, weight_decay=weight_decay, **kw)
    for _ in range(3):  # past the first step, where the fused optimizers create their state
        w.grad = grad.clone()
        opt.step()
    return w.detach()


@pytest.mark.parametrize("name", ["adam", "nadam", "adagrad", "rmsprop", "sgd"])
def test_weight_decay_is_decoupled_as_in_keras(name):
    """Keras 3: w -= lr * wd * w before each update, whatever the optimizer (not an L2 gradient term)."""
    torch.manual_seed(0)
    start, grad = torch.randn(6), torch.randn(6)
    # Zero gradients: the update is the decay alone, 3 steps of w *= 1 - lr * wd.
    kw = {"momentum": 0.9} if name in ("sgd", "rmsprop") else {}  # plain SGD: decoupled == L2, so use momentum
    decayed = _one_step_from(name, 0.05, torch.zeros(6), start, **kw)
    torch.testing.assert_close(decayed, start * (1 - 0.1 * 0.05) ** 3)
    # With gradients, the decay is not folded into them: adam's decoupled step is AdamW's.
    if name == "adam":
        w = torch.nn.Parameter(start.clone())
        ref = torch.optim.AdamW([w], lr=0.1, eps=1e-7, weight_decay=0.05)
        for _ in range(3):
            w.grad = grad.clone()
            ref.step()
        torch.testing.assert_close(_one_step_from(name, 0.05, grad, start), w.detach())
    assert not torch.equal(_one_step_from(name, 0.05, grad, start, **kw), _one_step_from(name, None, grad, start, **kw))
    if kw:  # torch's own (L2) decay would fold w into the momentum: a different trajectory
        w = torch.nn.Parameter(start.clone())
        same = {"alpha": 0.9, "eps": 1e-7} if name == "rmsprop" else {}  # mnistlab's Keras defaults
        l2 = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[name]([w], lr=0.1, weight_decay=0.05, **kw, **same)
        for _ in range(3):
            w.grad = grad.clone()
            l2.step()
        assert not torch.allclose(_one_step_from(name, 0.05, grad, start, **kw), w.detach(), atol=1e-3)


def test_decoupled_decay_follows_the_current_learning_rate():
    """As in Keras, the decay uses the lr of the step, so schedules and ReduceLROnPlateau scale it."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer("sgd", [w], lr=0.1, weight_decay=0.5, momentum=0.9)
    set_lr(opt, 0.01)
    w.grad = torch.zeros(3)
    opt.step()
    torch.testing.assert_close(w.detach(), torch.full((3,), 1 - 0.01 * 0.5))


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam"])
def test_keras_betas_and_epsilon_reach_the_optimizer(name):
    opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters(), beta_1=0.7, beta_2=0.9, epsilon=1e-8)
    assert opt.defaults["betas"] == (0.7, 0.9) and opt.defaults["eps"] == 1e-8
    opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters(), beta_2=0.95)
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-7  # Keras's defaults for the rest


def test_epsilon_reaches_every_optimizer_that_has_one_and_betas_only_the_adam_family():
    for name in ("adagrad", "rmsprop"):
        opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters(), beta_1=0.5, epsilon=1e-4)
        assert opt.defaults["eps"] == 1e-4 and "betas" not in opt.defaults
    sgd = make_optimizer("sgd", torch.nn.Linear(2, 2).parameters(), beta_1=0.5, epsilon=1e-4)
    assert "eps" not in sgd.defaults and "betas" not in sgd.defaults  # ignored: the config warns


def test_a_run_trains_with_its_betas_and_epsilon():
    from mnistlab.trainer import Trainer

    trainer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)), beta_1=0.7, beta_2=0.9,
                      epsilon=1e-8)
    group = trainer.optimizer.param_groups[0]
    assert group["betas"] == (0.7, 0.9) and group["eps"] == 1e-8


@pytest.mark.parametrize("steps_per_epoch, epochs, kw", [
    (235, 1, {}),                                              # the speedrun: one epoch of batch 256 on MNIST
    (7, 3, {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
    (4, 1, {}),                                                # few steps: the peak falls between two steps
    (1, 2, {}),
])
def test_onecycle_gives_torchs_lr_at_every_step(steps_per_epoch, epochs, kw):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.01)
    total = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=total, cycle_momentum=False,
                                                anneal_strategy="cos", three_phase=False, **kw)
    expected = []
    for _ in range(total):
        expected.append(opt.param_groups[0]["lr"])  # the lr this step trains with
        opt.step()
        sched.step()
    ours = [schedule_lr(OneCycleSchedule(**kw), 0.01, e + s / steps_per_epoch, epochs, steps_per_epoch)
            for e in range(epochs) for s in range(steps_per_epoch)]
    assert ours == expected


def test_the_trainer_steps_onecycle_as_torch_does():
    from mnistlab.callbacks import Callback
    from mnistlab.trainer import Trainer

    class Lrs(Callback):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(self.trainer.optimizer.param_groups[0]["lr"])

    lrs = Lrs()
    images, labels = torch.randint(0, 256, (50, 4, 4), dtype=torch.uint8), torch.randint(0, 2, (50,))
    trainer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)), lr=0.01, batch_size=16,
                      schedule=OneCycleSchedule(), callbacks=[lrs])
    trainer.fit(images, labels, epochs=2)
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=8, cycle_momentum=False)
    expected = []
    for _ in range(8):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs.seen == expected
