"""Optimisers by Keras name with Keras defaults and update rules, and learning-rate schedules as pure functions.

Keras's numbers come from tests/data/keras_optimizers.json, written by bench/keras_optimizers.py
(Keras 3.15, TensorFlow 2.21); Keras is not needed to run these tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from mnistlab.config import CosineSchedule, OneCycleSchedule, StepSchedule, optimizer_defaults
from mnistlab.accel.fused_adam import is_lean, lean
from mnistlab.optim import (
    cosine_lr,
    make_optimizer,
    onecycle_lr,
    schedule_lr,
    set_lr,
    step_lr,
)


def test_step_schedule():
    assert [step_lr(e, 1.0, step_size=2, gamma=0.5) for e in (0, 1.9, 2, 3.5, 4)] == [1, 1, 0.5, 0.5, 0.25]


def test_cosine_schedule():
    assert cosine_lr(0, 1.0, total_epochs=10) == 1.0
    assert cosine_lr(5, 1.0, total_epochs=10) == pytest.approx(0.5)
    assert cosine_lr(10, 1.0, total_epochs=10, min_lr=0.1) == pytest.approx(0.1)
    assert cosine_lr(0.5, 1.0, total_epochs=10, warmup_epochs=1) == pytest.approx(0.5)
    assert 0 < cosine_lr(0, 1.0, total_epochs=10, warmup_epochs=1) < 0.01
    assert cosine_lr(1, 1.0, total_epochs=11, warmup_epochs=1) == pytest.approx(1.0)
    # a base ReduceLROnPlateau lowered below min_lr stays, never rising toward min_lr (helper-145)
    assert [cosine_lr(e, 0.001, total_epochs=5, min_lr=0.005) for e in (2, 3, 4)] == [0.001] * 3


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


@pytest.mark.parametrize("name, lr, eps", [("adam", 1e-3, 1e-7), ("nadam", 1e-3, 1e-7), ("adamax", 1e-3, 1e-7),
                                           ("adagrad", 1e-3, 1e-7),
                                           ("rmsprop", 1e-3, 1e-7), ("adamw", 1e-3, 1e-7), ("sgd", 0.01, None)])
def test_optimizers_have_keras_defaults(name, lr, eps):
    opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters())
    assert opt.defaults["lr"] == lr and opt.defaults.get("eps") == eps
    if name == "rmsprop":
        assert opt.defaults["rho"] == 0.9 and opt.defaults["momentum"] == 0 and opt.defaults["centered"] is False
    if name == "adam":
        assert opt.defaults["amsgrad"] is False
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


@pytest.mark.parametrize("name", ["adam", "nadam", "adamax", "adagrad", "rmsprop", "sgd"])
def test_weight_decay_is_decoupled_as_in_keras(name):
    """Keras 3: w -= lr * wd * w before each update, whatever the optimizer (not an L2 gradient term)."""
    torch.manual_seed(0)
    start, grad = torch.randn(6), torch.randn(6)
    # Zero gradients: the update is the decay alone, 3 steps of w *= 1 - lr * wd.
    kw = {"momentum": 0.9} if name in ("sgd", "rmsprop") else {}  # plain SGD: decoupled == L2, so use momentum
    decayed = _one_step_from(name, 0.05, torch.zeros(6), start, **kw)
    torch.testing.assert_close(decayed, start * (1 - 0.1 * 0.05) ** 3)
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


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "adamax"])
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


SCHEDULES_RECORDED = json.loads((Path(__file__).parent / "data" / "keras_schedules.json").read_text())


@pytest.mark.parametrize("case", SCHEDULES_RECORDED["cases"],
                         ids=lambda c: f"steps{c['decay_steps']}-rate{c['decay_rate']}-stair{c['staircase']}")
def test_the_trainer_steps_an_exponential_decay_as_keras_does(case):
    """helper-245: Keras's ExponentialDecay (and LearningRateScheduler's lr * 0.9 ** epoch) could not
    be written; each batch's rate as bench/keras_schedules.py recorded Keras's, a short last batch too."""
    from mnistlab.callbacks import Callback
    from mnistlab.config import ExponentialSchedule
    from mnistlab.trainer import Trainer

    class Lrs(Callback):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(self.trainer.optimizer.param_groups[0]["lr"])

    rec = SCHEDULES_RECORDED
    lrs = Lrs()
    images, labels = torch.randint(0, 256, (rec["samples"], 4, 4), dtype=torch.uint8), torch.randint(0, 3, (rec["samples"],))
    schedule = ExponentialSchedule(**{k: case[k] for k in ("decay_steps", "decay_rate", "staircase")})
    trainer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), lr=rec["lr"], optimizer="sgd",
                      batch_size=rec["batch_size"], schedule=schedule, callbacks=[lrs])
    trainer.fit(images, labels, epochs=rec["epochs"])
    assert lrs.seen == pytest.approx(case["rates"], rel=1e-6)  # (Keras's are float32)


def test_an_exponential_schedule_needs_keras_s_arguments():
    from mnistlab.config import parse_run_config
    from mnistlab.errors import SpecError

    for schedule, said in (({"type": "exponential"}, "decay_steps"), ({"type": "exponential", "decay_steps": 0,
                                                                        "decay_rate": 0.9}, "decay_steps"),
                           ({"type": "exponential", "decay_steps": 10, "decay_rate": 1.5}, "decay_rate")):
        with pytest.raises(SpecError, match=said):
            parse_run_config({"train": {"schedule": schedule}})
    with pytest.raises(SpecError, match=r'lambda epoch: lr \* 0.9 \*\* epoch is \{ type = "step", step_size = 1, gamma = 0.9'):
        parse_run_config({"callbacks": [{"type": "LearningRateScheduler"}]})
    with pytest.raises(SpecError, match=r'train.schedule: a function is no schedule here: write a table, \{ type = "step", '
                                        r'step_size = 1, gamma = 0.9 \} \(lr'):
        parse_run_config({"train": {"schedule": lambda epoch: 0.1 * 0.9 ** epoch}})


# ------------------------------------------------------------- Keras's update rules, recorded
KERAS = json.loads((Path(__file__).parent / "data" / "keras_optimizers.json").read_text())
_NAMES = {"SGD": "sgd", "RMSprop": "rmsprop", "Adam": "adam", "AdamW": "adamw", "Nadam": "nadam", "Adagrad": "adagrad",
          "Adamax": "adamax"}
_TENSORS = ("kernel1", "bias1", "kernel2", "bias2")


@pytest.fixture
def one_thread():
    """Tensors of a few numbers: a second torch thread only spins (10x the CPU time on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _make(config: dict, params, variant: str) -> torch.optim.Optimizer:
    kw = dict(config["kwargs"])
    opt = make_optimizer(_NAMES[config["class"]], params, fused=False if variant == "plain" else None, **kw)
    return lean(opt) if variant == "lean" else opt


def _vector_problem():
    w = torch.nn.Parameter(torch.tensor(KERAS["w0"], dtype=torch.float32))
    grads = torch.tensor(KERAS["gradients"], dtype=torch.float32)

    def set_grads(params, t):
        params[0].grad = grads[t - 1].clone()
    return [w], set_grads, lambda params: params[0].detach().tolist()


def _dense_problem():
    prob = KERAS["dense_problem"]
    params = [torch.nn.Parameter(torch.tensor(prob[n], dtype=torch.float32)) for n in _TENSORS]
    x, y = torch.tensor(prob["x"], dtype=torch.float32), torch.tensor(prob["y"])

    def set_grads(params, t):
        for p in params:
            p.grad = None
        k1, b1, k2, b2 = params
        torch.nn.functional.cross_entropy(torch.relu(x @ k1 + b1) @ k2 + b2, y).backward()
    return params, set_grads, lambda params: {n: p.detach().flatten().tolist() for n, p in zip(_TENSORS, params)}


def _follow(config: dict, problem: str, variant: str) -> dict[str, object]:
    """Train like bench/keras_optimizers.py; "resumed" restarts from a saved state dict at step 50."""
    params, set_grads, read = (_vector_problem if problem == "vector" else _dense_problem)()
    opt = _make(config, params, variant)
    base = optimizer_defaults(_NAMES[config["class"]])["lr"]
    seen = {}
    for t in range(1, KERAS["steps"] + 1):
        if variant == "resumed" and t == 51:
            buffer = io.BytesIO()
            torch.save({"params": [p.detach() for p in params], "opt": opt.state_dict()}, buffer)
            buffer.seek(0)
            saved = torch.load(buffer)
            params = [torch.nn.Parameter(p.clone()) for p in saved["params"]]
            opt = _make(config, params, variant)
            opt.load_state_dict(saved["opt"])
        set_grads(params, t)
        set_lr(opt, base * KERAS["lr_factors"][t - 1])  # as schedules and ReduceLROnPlateau do
        opt.step()
        if str(t) in KERAS["configs"][next(iter(KERAS["configs"]))][problem]:
            seen[str(t)] = read(params)
    return seen


@pytest.mark.parametrize("variant", ["fused", "plain", "lean", "resumed"])
@pytest.mark.parametrize("problem", ["vector", "dense"])
@pytest.mark.parametrize("label", sorted(KERAS["configs"]))
def test_every_optimizer_follows_keras_trajectory(label: str, problem: str, variant: str, one_thread) -> None:
    """Same start, same gradients, lr changed at steps 41 and 71: Keras's weights at every recorded step."""
    config = KERAS["configs"][label]
    ours = _follow(config, problem, variant)
    for step, expected in config[problem].items():
        got, want = (ours[step], expected) if problem == "vector" else (
            sum((ours[step][n] for n in _TENSORS), []), sum((expected[n] for n in _TENSORS), []))
        # Centered RMSprop divides by sqrt(velocity - average_grad**2): the subtraction cancels most digits,
        # so float32 kernels that round differently (AVX2 here, AVX-512 where Keras's numbers were recorded)
        # drift to ~1.1e-5 relative after 100 steps of the dense problem. At 3x every centered case still
        # fails when epsilon moves outside the sqrt (tried by hand).
        tol = 3.0 if "centered" in label else 1.0
        torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=1e-5 * tol, atol=1e-6 * tol,
                                   msg=lambda m, s=step: f"{label} {problem} {variant} after step {s}: {m}")


def test_the_lean_step_is_taken_for_keras_adam() -> None:
    opt = lean(make_optimizer("adam", [torch.nn.Parameter(torch.zeros(3))]))
    assert is_lean(opt)


def _one_weight(name: str, grads: list[float], lrs: list[float] | None = None, **kw) -> list[float]:
    w = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer(name, [w], **kw)
    path = []
    for i, g in enumerate(grads):
        if lrs is not None:
            set_lr(opt, lrs[i])
        w.grad = torch.tensor([g])
        opt.step()
        path.append(float(w.detach()))
    return path


def _close(ours: list[float], keras: list[float], atol: float = 1e-9) -> None:
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(keras), rtol=1e-5, atol=atol)


# The smallest cases of issue 14, each against Keras's recorded numbers.
def test_rmsprop_divides_by_sqrt_of_v_plus_eps_at_gradient_1e_4() -> None:
    keras = KERAS["cases"]["rmsprop_one_step_1.09e-4"]
    assert keras[0] == pytest.approx(-3.43e-4, rel=1e-3)  # torch's RMSprop: -3.15e-3
    _close(_one_weight("rmsprop", [1.09e-4]), keras)


def test_rmsprop_divides_by_sqrt_of_v_plus_eps_at_gradient_1e_6() -> None:
    _close(_one_weight("rmsprop", [1e-6]), KERAS["cases"]["rmsprop_one_step_1e-6"])


def test_nadam_uses_keras_momentum_schedule_on_a_sign_flipping_gradient() -> None:
    flip = [(-1.0) ** t + 0.2 for t in range(1, 101)]
    ours, keras = _one_weight("nadam", flip), KERAS["cases"]["nadam_flip_100"]
    _close(ours, keras, atol=1e-8)  # the weight swings about 0 in steps of ~1e-3: 1e-5 of a step
    assert ours[-1] - ours[-2] == pytest.approx(keras[-1] - keras[-2], rel=1e-3)  # the step-100 update


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_adds_epsilon_before_the_bias_correction(name: str) -> None:
    keras = KERAS["cases"][f"{name}_one_step_1.09e-6"]
    assert keras[0] == pytest.approx(-2.563e-4, rel=1e-3)  # torch's rule: -9.16e-4
    _close(_one_weight(name, [1.09e-6]), keras)
    _close(_one_weight(name, [1.09e-6], fused=False), keras)


def test_sgd_momentum_keeps_its_velocity_when_the_lr_drops() -> None:
    keras = KERAS["cases"]["sgd_momentum_lr_drop_100"]
    _close(_one_weight("sgd", [1.0] * 100, [0.01] * 50 + [0.001] * 50, momentum=0.9), keras)


@pytest.mark.parametrize("nesterov, expected", [(False, [-0.1, -0.19, -0.371]), (True, [-0.19, -0.271, -0.5339])])
def test_sgd_momentum_at_lr_zero_coasts_on_its_velocity(nesterov: bool, expected: list[float]) -> None:
    """Keras's rule by hand (g = 1, momentum 0.9, lr 0.1, 0, 0.1): v = 0.9 v - lr g; w += v
    (nesterov: w += 0.9 v - lr g). At lr 0 the velocity still moves the weight."""
    for fused in (None, False):
        ours = _one_weight("sgd", [1.0] * 3, [0.1, 0.0, 0.1], momentum=0.9, nesterov=nesterov, fused=fused)
        torch.testing.assert_close(torch.tensor(ours), torch.tensor(expected))


def _config(train: dict):
    from mnistlab.config import parse_run_config

    return parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train}, source="run.toml")


def test_amsgrad_centered_and_rho_reach_the_optimizer_from_a_run_config() -> None:
    from mnistlab.trainer import Trainer

    adam = _config({"optimizer": "adam", "amsgrad": True}).train
    rms = _config({"optimizer": "rmsprop", "centered": True, "rho": 0.8, "momentum": 0.5}).train
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    group = Trainer(net, optimizer=adam.optimizer, amsgrad=adam.amsgrad).optimizer.param_groups[0]
    assert group["amsgrad"] is True
    group = Trainer(net, optimizer=rms.optimizer, momentum=rms.momentum, centered=rms.centered,
                    rho=rms.rho).optimizer.param_groups[0]
    assert (group["centered"], group["rho"], group["momentum"]) == (True, 0.8, 0.5)
    resolved = _config({"optimizer": "rmsprop"}).resolved()["train"]
    assert resolved["rho"] == 0.9 and resolved["centered"] is False  # Keras's defaults, in the run record


def test_initial_accumulator_value_reaches_adagrad_and_keeps_existing_cells_keys() -> None:
    """tf.keras 2's ``optimizer="adagrad"`` started the accumulator at 0.0 (seed 004's notebook); Keras 3 at 0.1."""
    from mnistlab.config import run_key
    from mnistlab.trainer import Trainer

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    old = _config({"optimizer": "adagrad", "initial_accumulator_value": 0.0})
    group = Trainer(net, optimizer="adagrad", initial_accumulator_value=old.train.initial_accumulator_value
                    ).optimizer.param_groups[0]
    assert group["initial_accumulator_value"] == 0.0
    assert Trainer(net, optimizer="adagrad").optimizer.param_groups[0]["initial_accumulator_value"] == 0.1
    plain, explicit = _config({"optimizer": "adagrad"}), _config({"optimizer": "adagrad", "initial_accumulator_value": 0.1})
    assert plain.resolved()["train"]["initial_accumulator_value"] == 0.1  # Keras 3's default, in the run record
    assert _config({"optimizer": "adam"}).resolved()["train"]["initial_accumulator_value"] is None
    # a cell recorded before the setting existed keeps its key; 0.0 is another cell
    before = plain.resolved()
    del before["train"]["initial_accumulator_value"]
    assert run_key(plain.resolved()) == run_key(explicit.resolved()) == run_key(before) != run_key(old.resolved())
    adam = _config({"optimizer": "adam"}).resolved()
    assert run_key(adam) == run_key({**adam, "train": {k: v for k, v in adam["train"].items()
                                                        if k != "initial_accumulator_value"}})


@pytest.mark.parametrize("setting, message", [
    ({"optimizer": "adam", "initial_accumulator_value": 0.0},
     "train.initial_accumulator_value = 0 applies to adagrad; adam ignores it"),
    ({"optimizer": "sgd", "amsgrad": True}, "train.amsgrad applies to adam and adamw; sgd ignores it"),
    ({"optimizer": "adam", "centered": True}, "train.centered applies to rmsprop; adam ignores it"),
    ({"optimizer": "nadam", "rho": 0.5}, "train.rho = 0.5 applies to rmsprop; nadam ignores it"),
])
def test_a_keras_setting_the_optimizer_lacks_is_warned_about(setting, message) -> None:
    from mnistlab.errors import SpecWarning

    with pytest.warns(SpecWarning, match=message):
        _config(setting)


def test_bad_keras_settings_are_one_line_errors() -> None:
    from mnistlab.errors import SpecError

    with pytest.raises(SpecError, match=r"train.rho"):
        _config({"optimizer": "rmsprop", "rho": 1.5})
    with pytest.raises(SpecError, match=r"train.amsgrad"):
        _config({"amsgrad": "sometimes"})
    for bad in (-0.1, float("inf"), float("nan"), "zero", True):
        with pytest.raises(SpecError, match=r"train.initial_accumulator_value"):
            _config({"optimizer": "adagrad", "initial_accumulator_value": bad})


@pytest.mark.parametrize("name, torch_cls", [("rmsprop", torch.optim.RMSprop), ("nadam", torch.optim.NAdam),
                                             ("adagrad", torch.optim.Adagrad)])
def test_a_state_saved_by_torchs_optimizer_is_refused_not_misread(name: str, torch_cls) -> None:
    """Before issue 14 these were torch's optimizers; their state dicts cannot continue Keras's rule."""
    w = torch.nn.Parameter(torch.ones(2))
    old = torch_cls([w], lr=1e-3)
    w.grad = torch.ones(2)
    old.step()
    with pytest.raises(ValueError, match="saved by another optimizer"):
        make_optimizer(name, [w]).load_state_dict(old.state_dict())


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "nadam", "adamax", "adagrad"])
def test_a_closure_step_equals_a_plain_step(name: str) -> None:
    """torch's closure protocol: the closure makes the gradients the step then uses."""
    kw = {"momentum": 0.9} if name in ("sgd", "rmsprop") else {}
    paths = []
    for use_closure in (False, True):
        w = torch.nn.Parameter(torch.tensor([0.5, -1.0]))
        opt = make_optimizer(name, [w], **kw)
        for t in range(3):
            set_lr(opt, 0.1 / (t + 1))

            def closure(opt=opt, w=w):
                opt.zero_grad()
                loss = (w**2).sum()
                loss.backward()
                return loss
            if use_closure:
                assert float(opt.step(closure).detach()) > 0
            else:
                closure()
                opt.step()
        paths.append(w.detach().clone())
    torch.testing.assert_close(paths[0], paths[1], rtol=0, atol=0)


def test_every_configurable_optimizer_has_its_class_and_takes_its_keras_defaults():
    """config.OPTIMIZERS (what a config accepts, torch-free) and optim's classes name the same
    optimizers, and each class takes Keras's defaults as they are written in the config."""
    from mnistlab import optim
    from mnistlab.config import OPTIMIZERS

    assert sorted(optim._CLASSES) == sorted(OPTIMIZERS)
    for name in OPTIMIZERS:
        opt = make_optimizer(name, torch.nn.Linear(2, 2).parameters(), fused=False)
        for key, value in optimizer_defaults(name).items():
            assert opt.defaults[key] == value, (name, key)


def _keras_adamax(w0: list[float], grads: list[list[float]], lrs: list[float], beta_1: float = 0.9,
                  beta_2: float = 0.999, eps: float = 1e-7, wd: float = 0.0) -> list[list[float]]:
    """Keras 3's Adamax update (``keras/src/optimizers/adamax.py``) in float64, after its decoupled decay
    (``base_optimizer._apply_weight_decay``): the weights after each step."""
    import numpy as np

    w, m, u, path = np.array(w0, dtype=np.float64), 0.0, 0.0, []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        g = np.array(g, dtype=np.float64)
        w = w - w * wd * lr
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - lr * m / ((1 - beta_1**t) * (u + eps))
        path.append(w.tolist())
    return path


@pytest.mark.parametrize("label, wd", [("adamax", 0.0), ("adamax+wd", KERAS["weight_decay"])])
def test_the_written_out_adamax_rule_is_the_one_keras_recorded(label: str, wd: float) -> None:
    """The float64 rule the next test compares against is Keras's: its weights at every recorded step."""
    steps = KERAS["steps"]
    lrs = [1e-3 * f for f in KERAS["lr_factors"][:steps]]
    path = _keras_adamax(KERAS["w0"], KERAS["gradients"][:steps], lrs, wd=wd)
    for step, want in KERAS["configs"][label]["vector"].items():
        torch.testing.assert_close(torch.tensor(path[int(step) - 1], dtype=torch.float32), torch.tensor(want),
                                   rtol=1e-5, atol=1e-6)


def test_adamax_is_not_torchs_which_keeps_eps_inside_the_maximum() -> None:
    """Keras divides by ``max(beta_2 u, |g|) + eps``, torch's Adamax by ``max(beta_2 u, |g| + eps)``: after a
    gradient of 1 and 3000 of 1e-4, Keras's denominator is 0.999**3000 + 0.1 (0.150), torch's 1e-4 + 0.1."""
    grads = [1.0] + [1e-4] * 3000
    ours = _one_weight("adamax", grads, epsilon=0.1)
    keras = _keras_adamax([0.0], [[g] for g in grads], [1e-3] * len(grads), eps=0.1)
    w = torch.nn.Parameter(torch.zeros(1))
    theirs, before = torch.optim.Adamax([w], lr=1e-3, eps=0.1), 0.0
    for g in grads:
        before = float(w.detach())
        w.grad = torch.tensor([g])
        theirs.step()
    keras_step = keras[-1][0] - keras[-2][0]
    assert ours[-1] - ours[-2] == pytest.approx(keras_step, rel=1e-3, abs=0)
    assert float(w.detach()) - before == pytest.approx(keras_step * (0.999**3000 + 0.1) / (1e-4 + 0.1), rel=1e-3, abs=0)


def test_a_schedule_named_alone_or_a_layers_input_dim_says_what_to_write():
    """helper-248: `schedule="exponential"` got pydantic's "must be a valid dictionary"; Dense(input_dim=784)
    a list of arguments with no word of where the input's shape goes."""
    from mnistlab.config import parse_run_config
    from mnistlab.errors import SpecError
    from mnistlab.specs import Dense

    with pytest.raises(SpecError, match=r'train.schedule: unknown schedule "cosin" \(did you mean "cosine"\?\); types: '
                                        r'step, cosine'):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"schedule": "cosin"}})
    # a type alone takes its defaults (helper-251: schedule="cosine" was refused), the same run as its table
    from mnistlab.config import run_key

    alone = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"schedule": "Cosine"}})
    table = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"schedule": {"type": "cosine"}}})
    assert run_key(alone.resolved()) == run_key(table.resolved())
    with pytest.raises(SpecError) as info:  # one whose settings have no defaults says which
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"schedule": "exponential"}})
    assert "decay_steps" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SpecError, match=r"no argument 'input_dim' \(the input's shape is the model's"):
        Dense(10, input_dim=784)


def test_a_schedule_given_by_its_type_alone_is_refined_by_a_variant_or_set(tmp_path):
    """helper-253: with `schedule = "cosine"` in a base, `"train.schedule.min_lr" = 1e-5` said it "is not a table"."""
    from mnistlab.experiments import load_experiment

    (tmp_path / "s.toml").write_text('name = "s"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                                     'train = { schedule = "cosine" }\n[[variants]]\nname = "a"\n'
                                     '"train.schedule.min_lr" = 1e-5\n[[variants]]\nname = "b"\n'
                                     'train = { schedule = { min_lr = 2e-5 } }\n')
    cells = {c.variant: c.config for c in load_experiment(tmp_path / "s.toml").cells()}
    assert cells["a"]["train"]["schedule"]["type"] == "cosine" and cells["a"]["train"]["schedule"]["min_lr"] == 1e-5
    assert cells["b"]["train"]["schedule"]["min_lr"] == 2e-5
