"""The Plan (mnistlab.accel): every fast path gives the plain model's numbers, hooks are never skipped,
and the speed work stays in accel/.

The pool-before-ReLU forward and the lean Adam step are compared bit for bit with the plain PyTorch
computation they replace; the native kernel and the dense step to float rounding (their own
modules' tests, test_conv_pool.py and test_dense_step.py, go into the details).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnistlab import accel
from mnistlab.accel import conv_pool
from mnistlab.accel import resolve_precision
from mnistlab.accel.fused_adam import is_lean, lean
from mnistlab.models import build_model
from mnistlab.optim import make_optimizer, set_lr
from mnistlab.presets import preset_names, resolve_model


@pytest.mark.parametrize("preset", ["seed000-cnn", "seed001-builder", "seed002-deep-conv"])
def test_pool_before_relu_gives_identical_logits_and_gradients(preset: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    y = torch.randint(0, 10, (16,))
    results = []
    for forward in ("fast", "layer by layer"):
        model = build_model(resolve_model(preset), seed=3).eval()  # eval: dropout off, same maths both ways
        # use_kernel=False: the fused kernel rounds differently; tests/test_conv_pool.py checks it
        fused = conv_pool.FusedForward(model, use_kernel=False)
        logits = fused(x) if forward == "fast" else model(x)
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


@pytest.mark.parametrize(("name", "weight_decay"), [("adam", 0.0), ("adam", 1e-3), ("adamw", 0.004)])
def test_lean_adam_is_bitwise_the_fused_keras_adam(name: str, weight_decay: float) -> None:
    ours_model, ref_model = _net(), _net()
    ours = lean(make_optimizer(name, ours_model.parameters(), weight_decay=weight_decay))
    assert is_lean(ours)
    ref = make_optimizer(name, ref_model.parameters(), weight_decay=weight_decay)  # torch's hooked fused step
    assert not is_lean(ref) and ref.defaults["fused"]
    _train(ours, ours_model)
    _train(ref, ref_model)
    assert all(torch.equal(a, b) for a, b in zip(ours_model.parameters(), ref_model.parameters()))
    for key, state in ours.state_dict()["state"].items():
        for field in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state[field], ref.state_dict()["state"][key][field])
    assert ours.state_dict()["param_groups"] == ref.state_dict()["param_groups"]


def test_lean_adam_still_runs_step_hooks() -> None:
    model = _net()
    opt = lean(make_optimizer("adam", model.parameters()))
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    _train(opt, model, steps=5)
    assert len(calls) == 5



def _plain_and_planned(preset: str, **plan_options):
    """Logits and gradients of one batch through ``model(x)`` and through the plan's forward/step."""
    x = (torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(5)) * 255).round() / 255
    y = torch.arange(16) % 10
    out = []
    for planned in (False, True):
        model = build_model(resolve_model(preset), seed=3).eval()  # eval: dropout off, same maths both ways
        plan = accel.plan(model, precision="float32", **plan_options)
        xin = x.contiguous(memory_format=torch.channels_last) if plan.channels_last else x
        if planned and plan.dense_step is not None:
            loss, logits = plan.dense_step.step(xin, y)
        else:
            logits = (plan.forward if planned else model)(xin)
            loss = F.cross_entropy(logits, y)
            loss.backward()
        out.append((logits.detach(), [p.grad.clone() for p in model.parameters()], plan))
    return out


@pytest.mark.filterwarnings("ignore:layers")  # seed 003 and 004 presets warn about their outputs on purpose
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_trains_on_its_plan_with_the_plain_models_numbers(preset: str) -> None:
    (plain, plain_grads, _), (fast, fast_grads, plan) = _plain_and_planned(preset)
    # The native kernel and the dense step sum in another order: float rounding, nothing more.
    assert torch.allclose(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()) + 1e-7)
    (plain, plain_grads, _), (fast, fast_grads, _) = _plain_and_planned(preset, conv_pool_forward=False,
                                                                        hand_gradients=False)
    assert torch.equal(fast, plain) and all(torch.equal(a, b) for a, b in zip(fast_grads, plain_grads))


def test_each_fast_path_has_a_switch_and_the_plan_records_it() -> None:
    cnn = accel.plan(build_model(resolve_model("seed000-cnn")), precision="float32")
    assert cnn.fused is not None and cnn.dense_step is None and cnn.channels_last
    assert cnn.describe()["gradients"] == "autograd"
    off = accel.plan(build_model(resolve_model("seed000-cnn")), precision="float32", conv_pool_forward=False)
    assert off.forward is not None and off.fused is None
    assert off.native_kernel == "off: conv_pool_forward=False"
    dense = accel.plan(build_model(resolve_model("seed000-dense")))
    assert dense.dense_step is not None and dense.native_kernel == "not applicable" and not dense.channels_last
    assert dense.describe()["gradients"] == "hand-written (dense fast path)"
    assert accel.plan(build_model(resolve_model("seed000-dense")), hand_gradients=False).dense_step is None
    plain = accel.plan(build_model(resolve_model("seed000-dense")), lean_optimizer=False)
    model = build_model(resolve_model("seed000-dense"))
    assert not is_lean(plain.optimizer(make_optimizer("adam", model.parameters())))


def test_a_forward_hook_on_a_conv2d_fires_during_training(data_dir) -> None:
    from mnistlab.config import parse_run_config
    from mnistlab.run import prepare_data
    from mnistlab.trainer import Trainer

    data = prepare_data(parse_run_config({"dataset": "fashion-mnist", "model": "seed000-cnn",
                                          "data": {"subset": 64}}), data_dir)
    model = build_model(resolve_model("seed000-cnn"), seed=0)
    shapes = []
    model[0].register_forward_hook(lambda module, inputs, output: shapes.append(tuple(output.shape)))
    trainer = Trainer(model, batch_size=32)
    outcome = trainer.fit(data.train_x, data.train_y, epochs=1)
    assert outcome.status == "finished" and len(shapes) == 2 and shapes[0][1:] == (64, 26, 26)
    assert trainer.plan.native_kernel == "off: the model has hooks"


@pytest.mark.parametrize(("preset", "layer"), [("seed000-cnn", 0), ("seed000-dense", 1)])
def test_a_hook_a_callback_registers_when_training_begins_fires_too(data_dir, preset: str, layer: int) -> None:
    """The plan is made before the callbacks run: it gives up its fast paths when they hook the model."""
    from mnistlab.callbacks import Callback
    from mnistlab.config import parse_run_config
    from mnistlab.run import prepare_data
    from mnistlab.trainer import Trainer

    calls = []

    class Hook(Callback):
        def on_train_begin(self, logs=None):
            self.trainer.model[layer].register_forward_hook(lambda *_: calls.append(1))

    data = prepare_data(parse_run_config({"dataset": "fashion-mnist", "model": preset, "data": {"subset": 64}}), data_dir)
    trainer = Trainer(build_model(resolve_model(preset), seed=0), batch_size=32, callbacks=[Hook()])
    fast = trainer.plan.fused is not None or trainer.plan.dense_step is not None
    assert fast  # without the hook, a fast path would have run
    assert trainer.fit(data.train_x, data.train_y, epochs=1).status == "finished" and len(calls) == 2
    assert trainer.plan.fused is None and trainer.plan.dense_step is None
    assert trainer.plan.describe()["gradients"] == "autograd"


def test_the_speed_work_stays_in_accel() -> None:
    """models.py imports nothing from accel/, and no module outside accel/ uses a private torch API."""
    import ast
    import re
    from pathlib import Path

    import mnistlab

    root = Path(mnistlab.__file__).parent
    models = ast.parse((root / "models.py").read_text())
    imported = [n.module or "" for n in ast.walk(models) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(models) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if "accel" in m]
    private = re.compile(r"torch(?:\.\w+)*\._[a-z]\w*|\._global_\w+|torch\.ops\.aten|\._(?:forward|backward)(?:_pre)?_hooks")
    offenders = [f"{path.relative_to(root)}: {m.group(0)}" for path in root.rglob("*.py") if "accel" not in path.parts
                 for m in private.finditer(path.read_text())]
    assert offenders == []


def test_precision_auto_keeps_dense_models_in_float32():
    assert resolve_precision("auto", torch.device("cpu"), has_conv=False) == "float32"
    assert resolve_precision("auto", torch.device("cpu"), has_conv=True) in ("float32", "bf16")
    assert resolve_precision("bf16", torch.device("cpu"), has_conv=False) == "bf16"


def test_the_epoch_meter_reads_alike_synced_or_left_on_the_device() -> None:
    """accel.meter.EpochMeter: read each step (the CPU's) or once an epoch (a GPU's), the same sums,
    and a mid-epoch checkpoint's state_dict carries them on (helper-180: tested on a GPU alone)."""
    import torch

    from mnistlab.accel.meter import EpochMeter

    torch.manual_seed(0)
    batches = [(torch.rand(()), torch.randint(0, 33, ()), 32) for _ in range(7)]
    synced, kept = EpochMeter(torch.device("cpu"), True), EpochMeter(torch.device("cpu"), False)
    for loss, hits, n in batches:
        assert synced.add(loss, hits, n) == pytest.approx(float(loss)) and kept.add(loss, hits, n) is None
    assert synced.totals() == pytest.approx(kept.totals(), rel=1e-12)
    resumed = EpochMeter(torch.device("cpu"), False)
    resumed.load_state_dict(synced.state_dict())
    loss, hits, n = batches[0]
    resumed.add(loss, hits, n)
    synced.add(loss, hits, n)
    assert resumed.totals() == pytest.approx(synced.totals(), rel=1e-12) and resumed.seen == 8 * 32
