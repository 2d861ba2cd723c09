"""Callbacks and schedules as pure logic: fed logs by hand, no training."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mnistlab import callbacks as C
from mnistlab.callbacks import (
    PROGRESS_MODES, Callback, CallbackList, EarlyStopping, ModelCheckpoint, MonitorCallback, ReduceLROnPlateau,
    StopAtLoss, format_epoch, make_callback, make_progress, resolve_mode,
)
from mnistlab.config import CALLBACKS, parse_run_config
from mnistlab.errors import SpecError


def host(callback, lr=1e-3):
    """What a callback sees of the trainer: a model, a settable lr and the stop flag."""
    trainer = SimpleNamespace(model=torch.nn.Linear(2, 2), lr=lr, stop_training=False)
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    return trainer


def feed(callback, trainer, key, values):
    """Run epoch ends until the callback stops training; return the epoch it stopped at (or None)."""
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {key: value})
        if trainer.stop_training:
            return epoch
    return None


def test_stop_at_loss():
    cb = StopAtLoss(0.19)
    t = host(cb)
    assert feed(cb, t, "loss", [0.5, 0.3, 0.2, 0.19, 0.18, 0.1]) == 4  # strictly below the threshold


def test_modes():
    assert resolve_mode("auto", "val_accuracy") == "max" and resolve_mode("auto", "val_loss") == "min"
    assert resolve_mode("min", "val_accuracy") == "min" and resolve_mode("max", "lr") == "max"


def test_a_keras_style_callback_stops_training_through_self_model(data_dir):
    """helper-157: Keras's `self.model.stop_training = True` in a callback of one's own was an
    AttributeError; `mnistlab.Callback`'s `self.model` is the trainer, and the fit ends there."""
    import mnistlab

    class StopAfterFirst(mnistlab.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.seen_lr = self.model.lr
            self.model.stop_training = True

    stop = StopAfterFirst()
    run = mnistlab.train(dataset="mnist", model="seed000-dense", subset=120, epochs=3, callbacks=[stop],
                         data_dir=data_dir, progress="none")
    assert len(run.history.epoch) == 1 and stop.seen_lr == pytest.approx(0.001)
    assert isinstance(stop.model.model, torch.nn.Module)

    class Holder(mnistlab.Callback):  # one that sets self.model itself keeps it (review: no setter failed it)
        def __init__(self):
            self.model = "mine"

    assert Holder().model == "mine"


def test_keras_3s_batch_hook_names_are_called_and_uncalled_ones_said(data_dir):
    """helper-178: a callback overriding Keras 3's on_train_batch_end (its main name; on_batch_end is
    what its default calls) was never called: its stop at batch 2 never came and 3 epochs trained."""
    import mnistlab

    class StopAtBatch2(mnistlab.Callback):
        calls = 0

        def on_train_batch_end(self, batch, logs=None):
            self.calls += 1
            if batch == 1:
                self.model.stop_training = True

    stop = StopAtBatch2()
    run = mnistlab.train(dataset="mnist", model="seed000-dense", subset=240, epochs=3, callbacks=[stop],
                         data_dir=data_dir, progress="none")
    assert stop.calls == 2 and len(run.history.epoch) == 1

    class Old(mnistlab.Callback):  # the old name, through Keras 3's default on_train_batch_end
        seen: list[int] = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append(batch)

    old = Old()
    CallbackList([old]).on_batch_end(4, {"loss": 0.1})
    assert old.seen == [4] and old.wants_batch_hooks and not Callback().wants_batch_hooks

    class Halve(mnistlab.Callback):  # Keras's idiom for the rate (helper-178: an AttributeError)
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.optimizer.learning_rate = self.model.optimizer.learning_rate / 2
                self.base = self.model.lr

    run = mnistlab.train(dataset="mnist", model="seed000-dense", subset=120, epochs=3, callbacks=[Halve()],
                         data_dir=data_dir, progress="none")
    assert run.history["lr"] == pytest.approx([1e-3, 5e-4, 5e-4])  # the trainer's rate, as logged and kept
    halve = Halve()  # under a schedule: the base halved, not the scheduled rate of the moment (helper-180)
    mnistlab.train(dataset="mnist", model="seed000-dense", subset=120, epochs=3, callbacks=[halve], data_dir=data_dir,
                   progress="none", schedule={"type": "cosine"})
    assert halve.base == pytest.approx(5e-4)

    class Tester(mnistlab.Callback):
        def on_test_batch_end(self, batch, logs=None): ...

    with pytest.warns(C.SpecWarning, match="Tester defines on_test_batch_end, which mnistlab never calls"):
        CallbackList([Tester()])


def test_auto_mode_on_the_learning_rate_is_refused_before_training(tmp_path):
    """helper-155: "lr" with mode "auto" was minimised unsaid; Keras 3 cannot tell its direction and
    raises at the first epoch's end. Refused when the file is read, naming the callback."""
    from mnistlab.config import parse_run_config

    with pytest.raises(SpecError, match=r'callbacks\[0\]: mode "auto" cannot tell whether the learning rate "lr"'):
        parse_run_config({"dataset": "mnist", "model": {"dense": [4]},
                          "callbacks": [{"type": "ReduceLROnPlateau", "monitor": "lr"}]})
    with pytest.raises(SpecError, match="cannot tell"):
        EarlyStopping(monitor="lr")
    parse_run_config({"dataset": "mnist", "model": {"dense": [4]},
                      "callbacks": [{"type": "EarlyStopping", "monitor": "lr", "mode": "min"}]})  # said: taken


def test_early_stopping_patience_and_min_delta():
    cb = EarlyStopping(monitor="val_loss", patience=2)
    t = host(cb)
    assert feed(cb, t, "val_loss", [1.0, 0.9, 0.95, 0.91, 0.5]) == 3
    assert cb.best == 0.9 and cb.best_epoch == 1 and cb.stopped_epoch == 3
    cb = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.01)
    t = host(cb)
    assert feed(cb, t, "val_accuracy", [0.80, 0.805, 0.9]) == 1  # +0.005 is not an improvement
    cb = EarlyStopping(monitor="val_loss", patience=0)
    t = host(cb)
    assert feed(cb, t, "val_loss", [1.0, 1.0]) == 1  # patience 0 stops at the first flat epoch (not epoch 0)


def test_early_stopping_restores_best_weights():
    cb = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    t = host(cb)
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.8]):
        with torch.no_grad():
            t.model.weight.fill_(epoch)
        cb.on_epoch_end(epoch, {"val_loss": value})
        if t.stop_training:
            break
    cb.on_train_end({})
    assert torch.all(t.model.weight == 1)  # the weights of epoch 1, the best
    state = cb.state_dict()
    other = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    other.load_state_dict(state)
    assert other.best == 0.5 and torch.equal(other.best_weights["weight"], cb.best_weights["weight"])


def test_missing_monitor_warns_and_does_nothing():
    cb = EarlyStopping(monitor="val_loss", patience=0)
    t = host(cb)
    with pytest.warns(UserWarning, match="'val_loss' is not available"):
        assert feed(cb, t, "loss", [1.0, 2.0, 3.0]) is None


def test_reduce_lr_on_plateau_matches_keras():
    # seed 002: monitor val_accuracy, patience 3, factor 0.5, min_lr 1e-5
    cb = ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.5, min_lr=1e-5)
    t = host(cb)
    accs = [0.90, 0.95, 0.96, 0.96, 0.955, 0.9605, 0.97, 0.96, 0.96, 0.96]
    lrs = []
    for epoch, acc in enumerate(accs):
        cb.on_epoch_end(epoch, {"val_accuracy": acc})
        lrs.append(t.lr)
    # epoch 5's +0.0005 is below min_delta 1e-4? no: 0.9605 > 0.96 + 1e-4, so it resets the wait
    assert lrs[:9] == [1e-3] * 9 and lrs[9] == float(np.float32(np.float32(1e-3) * 0.5))  # float32, as Keras
    assert cb.reductions == [(9, lrs[9])]


def test_reduce_lr_min_lr_and_cooldown():
    cb = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.1, min_lr=2e-5, cooldown=2)
    t = host(cb)
    lrs = []
    for epoch in range(7):
        cb.on_epoch_end(epoch, {"loss": 1.0})
        lrs.append(t.lr)
    # epoch 0 sets best; 1 reduces; 2 is cooldown (Keras counts the cooldown down at the start of
    # each epoch end, so cooldown=2 skips one epoch); 3 reduces to the floor; then stays at min_lr
    assert lrs == pytest.approx([1e-3, 1e-4, 1e-4, 2e-5, 2e-5, 2e-5, 2e-5], rel=1e-6)  # float32 values
    with pytest.raises(SpecError):
        ReduceLROnPlateau(factor=1.5)


def test_model_checkpoint_each_epoch_and_best_only(tmp_path):
    cb = ModelCheckpoint(tmp_path / "e{epoch:02d}-{val_loss:.2f}.safetensors")
    t = host(cb)
    cb.on_epoch_end(0, {"val_loss": 0.5})
    cb.on_epoch_end(1, {"val_loss": 0.7})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e01-0.50.safetensors", "e02-0.70.safetensors"]
    assert torch.equal(load_file(tmp_path / "e01-0.50.safetensors")["weight"], t.model.weight)
    best = ModelCheckpoint(tmp_path / "best" / "e{epoch}.safetensors", save_best_only=True)
    host(best)
    for epoch, v in enumerate([0.5, 0.7, 0.4]):
        best.on_epoch_end(epoch, {"val_loss": v})
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == ["e1.safetensors", "e3.safetensors"]
    threshold = ModelCheckpoint(tmp_path / "t" / "e{epoch}.safetensors", save_best_only=True, initial_value_threshold=0.45)
    host(threshold)
    for epoch, v in enumerate([0.5, 0.7, 0.4]):
        threshold.on_epoch_end(epoch, {"val_loss": v})
    assert [Path(p).name for p in threshold.saved] == ["e3.safetensors"]
    bad = ModelCheckpoint(tmp_path / "{nonsense}.safetensors")
    host(bad)
    with pytest.raises(SpecError, match="cannot format filepath"):
        bad.on_epoch_end(0, {"val_loss": 1.0})


def test_make_callback_from_config():
    cfg = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"validation": 0.1}, "callbacks": [
        {"type": "earlystopping", "patience": 3, "restore_best_weights": True},
        {"type": "StopAtLoss", "threshold": 0.19},
    ]})
    early, stop = [make_callback(c) for c in cfg.callbacks]
    assert isinstance(early, EarlyStopping) and early.patience == 3 and early.restore_best_weights
    assert isinstance(stop, StopAtLoss) and stop.threshold == 0.19


def test_config_callbacks_are_the_registered_callbacks():
    """config.CALLBACKS (the schemas) and callbacks.callback_type (the classes) cannot drift apart."""
    import inspect

    assert list(CALLBACKS) == [*C.CALLBACK_TYPES, "SwapEMAWeights"]
    for name, schema in CALLBACKS.items():
        assert schema.model_fields["type"].default == name
        params = inspect.signature(C.callback_type(name)).parameters
        for field, info in schema.model_fields.items():
            if field == "type":
                continue
            assert field in params, f"{name}.{field} has no constructor argument"
            if params[field].default is not inspect.Parameter.empty:
                assert info.default == params[field].default, f"{name}.{field}: config and class defaults differ"


@pytest.mark.parametrize("name", list(CALLBACKS))
def test_every_callback_type_builds_from_its_config(name, tmp_path):
    extra = {"StopAtLoss": {"threshold": 0.1}, "ModelCheckpoint": {"filepath": "e{epoch}.safetensors"}}.get(name, {})
    cfg = CALLBACKS[name].model_validate(extra)
    cb = make_callback(cfg)
    assert type(cb) is C.callback_type(name)
    cb.load_state_dict(cb.state_dict())  # round trip of a fresh state


# ----------------------------------------------------------------------------- CallbackList
class Recorder(Callback):
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def on_train_begin(self, logs=None):
        self.calls.append((self.name, "train_begin", self.params["epochs"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append((self.name, "epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append((self.name, "batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append((self.name, "batch_end", batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        logs.setdefault("seen_by", []).append(self.name)  # the same logs dict travels down the list
        self.calls.append((self.name, "epoch_end", epoch))

    def on_train_end(self, logs=None):
        self.calls.append((self.name, "train_end"))

    def close(self):
        self.calls.append((self.name, "close"))


def test_callback_list_calls_every_hook_in_order():
    calls = []
    trainer = SimpleNamespace(model=None, lr=1e-3, stop_training=False, history=[])
    cbs = CallbackList([Recorder("a", calls), Recorder("b", calls)], trainer)
    cbs.set_params({"epochs": 1, "steps": 1})
    assert len(cbs) == 2 and all(cb.trainer is trainer and cb.params["steps"] == 1 for cb in cbs)
    logs = {"loss": 0.5}
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_batch_begin(0, {"batch": 0, "size": 32})
    cbs.on_batch_end(0, {"loss": 0.7, "batch": 0, "size": 32})
    cbs.on_epoch_end(0, logs)
    cbs.on_train_end(logs)
    cbs.close()
    assert calls == [
        ("a", "train_begin", 1), ("b", "train_begin", 1), ("a", "epoch_begin", 0), ("b", "epoch_begin", 0),
        ("a", "batch_begin", 0), ("b", "batch_begin", 0), ("a", "batch_end", 0, 0.7), ("b", "batch_end", 0, 0.7),
        ("a", "epoch_end", 0), ("b", "epoch_end", 0), ("a", "train_end"), ("b", "train_end"), ("a", "close"),
        ("b", "close"),
    ]
    assert logs["seen_by"] == ["a", "b"]


def test_callback_list_knows_once_whether_anyone_wants_batch_hooks():
    import io

    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None): ...

    class BatchBegin(Callback):
        def on_batch_begin(self, batch, logs=None): ...

    assert not CallbackList([]).wants_batch_hooks
    assert not CallbackList([EpochOnly(), StopAtLoss(0.1), EarlyStopping(), make_progress("none")]).wants_batch_hooks
    assert CallbackList([EpochOnly(), BatchBegin()]).wants_batch_hooks
    assert not CallbackList([make_progress("lines")]).wants_batch_hooks  # its img/s from params, not from each batch
    assert CallbackList([make_progress("bar", stream=io.StringIO())]).wants_batch_hooks  # the bar moves each step
    on_instance = EpochOnly()
    on_instance.on_batch_end = lambda batch, logs=None: None
    assert CallbackList([on_instance]).wants_batch_hooks
    # Batch hooks reach only the callbacks that want them.
    calls = []
    quiet = Recorder("quiet", calls)
    quiet_cls = type("Quiet", (Recorder,), {"wants_batch_hooks": property(lambda self: False)})
    cbs = CallbackList([quiet_cls("q", calls), quiet])
    cbs.on_batch_end(3, {"loss": 1.0})
    assert calls == [("quiet", "batch_end", 3, 1.0)]


def test_a_callback_without_a_trainer_says_so():
    with pytest.raises(RuntimeError, match="call set_trainer"):
        StopAtLoss(0.1).on_epoch_end(0, {"loss": 0.0})


# --------------------------------------------------------------------------- MonitorCallback
def test_one_improvement_test_with_keras_semantics():
    low = MonitorCallback("val_loss", min_delta=0.1)
    high = MonitorCallback("val_accuracy", min_delta=-0.1)  # abs(), as Keras
    assert low.mode == "min" and high.mode == "max" and high.min_delta == 0.1
    assert low._is_improvement(5.0, None) and high._is_improvement(-5.0, None)
    assert low._is_improvement(0.75, 1.0) and not low._is_improvement(0.95, 1.0)
    assert high._is_improvement(0.95, 0.8) and not high._is_improvement(0.85, 0.8)
    assert not MonitorCallback("loss")._is_improvement(1.0, 1.0)  # equal is not better


def test_every_monitoring_callback_shares_one_improvement_test():
    # issue 14: ReduceLROnPlateau tested value < best - min_delta (tf.keras 2); Keras 3 and every
    # mnistlab monitor now shift the value: 0.14 vs 0.04 with min_delta 0.1 is a tie either way.
    plateau = ReduceLROnPlateau(monitor="val_accuracy", min_delta=0.1)
    early = EarlyStopping(monitor="val_accuracy", min_delta=0.1)
    for a, b in [(0.4, 0.2), (0.25, 0.2), (0.14, 0.04), (0.3000001, 0.2), (0.2, None)]:
        assert plateau._is_improvement(a, b) == early._is_improvement(a, b) == C.is_improvement(a, b, "max", 0.1)
    assert ReduceLROnPlateau(min_delta=-0.5).min_delta == 0.5 and EarlyStopping(min_delta=-0.5).min_delta == 0.5
    assert ModelCheckpoint("x.safetensors").min_delta == 0.0  # no min_delta: any improvement saves
    low = ReduceLROnPlateau(monitor="val_loss", min_delta=0.1)
    assert not low._is_improvement(0.3, 0.4)  # 0.3 + 0.1 < 0.4 is False in float32 (and float64)


def test_is_improvement_compares_in_float32():
    # One image of 10,000 is exactly min_delta=1e-4: Keras sees no improvement; float64 would.
    assert 0.9008 - 1e-4 > 0.9007 and not C.is_improvement(0.9008, 0.9007, "max", 1e-4)
    gains = sum(C.is_improvement((9001 + k) / 10000, (9000 + k) / 10000, "max", 1e-4) for k in range(1000))
    assert gains == 0
    assert C.is_improvement(0.9010, 0.9008, "max", 1e-4)  # two images are
    assert not C.is_improvement(1.0 + 1e-9, 1.0, "max")  # below float32's resolution: equal
    assert not C.is_improvement(0.5, 0.5 + 1e-9, "min")
    assert not C.is_improvement(float("nan"), 1.0, "min") and C.is_improvement(float("nan"), None, "min")
    with pytest.raises(SpecError, match='unknown mode "mix" \\(did you mean "min"\\?\\)'):
        EarlyStopping(mode="mix")


def test_reduce_lr_stops_at_min_lr_without_counting():
    # issue 14: min_lr=1e-4, factor 0.1, patience 1, a constant loss. float32(1e-3) * 0.1 stores one
    # float32 step above float32(1e-4), so Keras reduces twice from 1e-3 and then never again; wait
    # goes on counting (nothing resets it) and no reduction is recorded.
    cb = ReduceLROnPlateau(monitor="val_loss", min_lr=1e-4, factor=0.1, patience=1)
    t = host(cb, lr=1e-3)
    for epoch in range(10):
        cb.on_epoch_end(epoch, {"val_loss": 0.5})
    assert [e for e, _ in cb.reductions] == [1, 2]
    assert t.lr == float(np.float32(1e-4)) and cb.wait == 7


def test_model_checkpoint_best_only_without_the_monitor_warns_and_saves(tmp_path):
    cb = ModelCheckpoint(tmp_path / "e{epoch}.safetensors", save_best_only=True)
    host(cb)
    with pytest.warns(UserWarning, match="ModelCheckpoint: metric 'val_loss' is not available .*saving anyway"):
        cb.on_epoch_end(0, {"loss": 1.0})
    assert [Path(p).name for p in cb.saved] == ["e1.safetensors"] and cb.best is None  # as Keras 3


def test_state_dict_keys_are_stable():
    """Checkpoints of earlier runs hold these keys: a resumed run needs them unchanged."""
    assert set(EarlyStopping().state_dict()) == {"wait", "best", "best_epoch", "best_weights", "stopped_epoch"}
    assert set(ReduceLROnPlateau().state_dict()) == {"wait", "cooldown_counter", "best", "reductions"}
    assert set(ModelCheckpoint("x").state_dict()) == {"best", "saved"}
    assert StopAtLoss(0.1).state_dict() == {} and make_progress("none").state_dict() == {}


# -------------------------------------------------------------------------------- progress
def clock(*times):
    """A fake timer: each call returns the next time (seconds)."""
    return iter(times).__next__


def drive(logger, epochs, steps, epoch, batch_losses, logs, size=32, begin=None, samples=None, tested=False):
    """Call the hooks the way the trainer does, through a CallbackList (``tested``: with validation)."""
    cbs = CallbackList([logger])
    cbs.set_params({"epochs": epochs, "steps": steps, "samples": steps * size if samples is None else samples,
                    "batch_size": size})
    cbs.on_train_begin({})
    cbs.on_epoch_begin(epoch, begin or {})
    for step, loss in enumerate(batch_losses):
        cbs.on_batch_begin(step, {"batch": step, "size": size})
        cbs.on_batch_end(step, {"loss": loss, "batch": step, "size": size})
    if tested:
        cbs.on_test_begin({})
        cbs.on_test_end({})
    cbs.on_epoch_end(epoch, logs)
    cbs.on_train_end(logs)
    cbs.close()


def test_progress_lines_and_modes(capsys):
    entry = {"epoch": 2, "loss": 0.41234, "accuracy": 0.85, "val_loss": 0.5, "val_accuracy": 0.8, "lr": 1e-3,
             "epoch_seconds": 3.14, "images_per_second": 18750.2}
    line = format_epoch(entry, 5)
    assert line == ("Epoch 2/5 - 3.1s - loss: 0.4123 - accuracy: 0.8500 - val_loss: 0.5000 - val_accuracy: 0.8000"
                    " - lr: 0.001 - 18,750 img/s")
    logs = {k: v for k, v in entry.items() if k not in ("epoch", "epoch_seconds", "images_per_second")}
    rep = make_progress("auto")  # pytest's stdout is not a terminal: lines
    assert rep.mode == "lines" and not rep.wants_batch_hooks  # on a GPU, no step waits to read its loss
    # The epoch of 18,750 images begins at t=10, its training ends (validation begins) at t=11, it ends at 13.14.
    rep.clock = clock(10.0, 11.0, 13.14)
    drive(rep, 5, 10, 1, [0.5], logs, size=1875, samples=18750, tested=True)
    assert capsys.readouterr().out == line + "\n"
    # The same epoch resumed from a checkpoint written inside it after 40 s and 9 batches: its line
    # counts the seconds, and the images trained since (the last batch's)
    rep.clock = clock(10.0, 11.0, 13.14)
    drive(rep, 5, 10, 1, [0.5], logs, size=18750, samples=187500, tested=True,
          begin={"resumed_after_batch": 9, "seconds_before_resume": 40.0})
    assert capsys.readouterr().out == line.replace("3.1s", "43.1s") + "\n"
    drive(make_progress("none"), 5, 10, 1, [0.5], logs)
    assert capsys.readouterr().out == ""
    with pytest.raises(SpecError, match='did you mean "lines"'):
        make_progress("line")
    assert set(PROGRESS_MODES) == {"auto", "bar", "lines", "none"}


def test_bar_reporter_draws_and_ends_with_the_summary_line():
    import io

    buf = io.StringIO()
    rep = make_progress("bar", stream=buf)
    rep.clock = clock(0.0, 0.1, 0.2, 0.3, 1.0)
    drive(rep, 1, 3, 0, [1.0, 0.5, 0.2], {"loss": 0.3, "accuracy": 0.9, "lr": 0.01})
    assert "Epoch 1/1 - 1.0s - loss: 0.3000" in buf.getvalue()


def test_bar_shows_the_running_mean_of_the_batch_losses():
    import io

    rep = make_progress("bar", stream=io.StringIO())
    cbs = CallbackList([rep])
    cbs.set_params({"epochs": 2, "steps": 3})
    cbs.on_epoch_begin(0)
    cbs.on_batch_end(0, {"loss": 1.0, "batch": 0, "size": 2})
    cbs.on_batch_end(1, {"loss": 0.25, "batch": 1, "size": 2})
    cbs.on_batch_end(2, {"loss": 0.1, "batch": 2, "size": 1})  # the last, smaller batch weighs less
    task = rep._bar.bar.tasks[0]
    assert task.description == "Epoch 1/2" and task.completed == 3 and task.total == 3
    assert task.fields["loss"] == f"{(2 * 1.0 + 2 * 0.25 + 0.1) / 5:.4f}"


def test_close_ends_the_bar_mid_epoch_and_twice():
    import io

    rep = make_progress("bar", stream=io.StringIO())
    cbs = CallbackList([rep])
    cbs.set_params({"epochs": 2, "steps": 100})
    cbs.on_epoch_begin(0)
    cbs.on_batch_end(0, {"loss": 1.0, "batch": 0, "size": 2})
    live = rep._bar.bar.live
    cbs.close()  # Ctrl-C mid-epoch: the trainer's finally
    assert rep._bar.task is None and rep._bar.bar is None and not live.is_started
    cbs.close()


def test_each_epoch_has_a_live_display_of_its_own_never_one_started_again():
    """helper-182: in Jupyter rich's live display is a widget its stop closes; the bar restarted
    it each epoch, and the restarted one cleared the notebook cell (the lines printed before the
    training and every epoch's line but the last were lost)."""
    import io

    rep = make_progress("bar", stream=io.StringIO())
    cbs = CallbackList([rep])
    cbs.set_params({"epochs": 2, "steps": 1})
    lives = []
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        lives.append(rep._bar.bar.live)
        cbs.on_batch_end(0, {"loss": 1.0, "batch": 0, "size": 2})
        cbs.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5, "lr": 0.01})
        assert not lives[-1].is_started
    assert lives[0] is not lives[1]
    lines = [line for line in rep.stream.getvalue().splitlines() if line]  # (a stopped bar leaves a blank line in a file)
    assert [line.startswith(f"Epoch {e}/2 - ") for e, line in enumerate(lines, 1)] == [True] * 2


def test_progress_needs_params():
    with pytest.raises(RuntimeError, match="set_params"):
        CallbackList([make_progress("lines")]).on_epoch_begin(0)


def test_progress_lines_with_keras_s_params_only_leave_the_speed_out(capsys):
    """Keras's params are epochs and steps: a caller who gives only those gets its lines, without img/s."""
    rep = make_progress("lines")
    rep.clock = clock(10.0, 11.0)
    cbs = CallbackList([rep])
    cbs.set_params({"epochs": 2, "steps": 3})
    cbs.on_epoch_begin(0, {})
    cbs.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.9, "lr": 0.01})
    assert capsys.readouterr().out == "Epoch 1/2 - 1.0s - loss: 0.5000 - accuracy: 0.9000 - lr: 0.01\n"


def test_close_reaches_every_callback_even_when_one_fails():
    calls = []

    class Failing(Callback):
        def close(self):
            raise OSError("stream gone")

    with pytest.raises(OSError, match="stream gone"):
        CallbackList([Failing(), Recorder("after", calls)]).close()
    assert calls == [("after", "close")]


# ----------------------------------------------------------------- Keras's recorded decisions
# bench/keras_callbacks.py fed Keras 3's own callbacks these epoch logs inside model.fit and
# recorded every decision; mnistlab's callbacks, fed the same logs, must take the same ones.
KERAS_CASES = json.loads((Path(__file__).parent / "data" / "keras_callbacks.json").read_text(encoding="utf-8"))


def replay(case, folder):
    """Feed a case's logs to mnistlab's callback as the trainer would; the decisions, as recorded."""
    args = dict(case["args"])
    if case["callback"] == "ModelCheckpoint":
        args["filepath"] = str(folder / "e{epoch:04d}.safetensors")
    cb = C.CALLBACK_TYPES[case["callback"]](**args)
    trainer = SimpleNamespace(model=torch.nn.Linear(1, 1, bias=False), lr=case["lr"], stop_training=False)
    cb.set_trainer(trainer)
    cb.on_train_begin({})
    trace = {"lr": [], "best": [], "wait": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing-monitor cases warn, as Keras does
        for epoch, logs in enumerate(case["logs"]):
            with torch.no_grad():
                trainer.model.weight.fill_(epoch)  # the restored weights tell their epoch
            cb.on_epoch_end(epoch, dict(logs))
            trace["lr"].append(trainer.lr)
            trace["best"].append(getattr(cb, "best", None))
            trace["wait"].append(getattr(cb, "wait", None))
            if trainer.stop_training:
                break
        cb.on_train_end({})
    saved = sorted(int(Path(p).name[1:5]) - 1 for p in getattr(cb, "saved", []))
    return {"epochs_run": len(trace["lr"]), **trace, "saved": saved,
            "weights_of_epoch": int(trainer.model.weight.item())}


def same_floats(ours, keras):
    """Equal as float32 values (Keras keeps the lr and compares values in float32); None and NaN too."""
    if ours is None or keras is None:
        return ours is keras
    if math.isnan(keras):
        return math.isnan(ours)
    return np.float32(ours) == np.float32(keras)


def test_the_record_holds_the_issue_cases_and_random_ones():
    names = {c["name"] for c in KERAS_CASES["cases"]}
    assert {"plateau_min_delta_on_value", "plateau_float32_one_image", "plateau_float32_1000_steps",
            "plateau_min_lr_floor", "checkpoint_monitor_missing", "early_restores_without_stopping"} <= names
    assert sum(n.startswith("random_") for n in names) >= 30
    kinds = {c["callback"] for c in KERAS_CASES["cases"]}
    assert kinds == {"EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"}


@pytest.mark.parametrize("case", KERAS_CASES["cases"], ids=lambda c: c["name"])
def test_callbacks_take_keras_decisions(case, tmp_path):
    ours, keras = replay(case, tmp_path), case["keras"]
    assert ours["epochs_run"] == keras["epochs_run"], "stopped at another epoch"
    assert ours["saved"] == keras["saved"], "checkpoints at other epochs"
    assert ours["weights_of_epoch"] == keras["weights_of_epoch"], "ends with another epoch's weights"
    assert ours["wait"] == keras["wait"]
    for key in ("lr", "best"):
        bad = [e for e, (a, b) in enumerate(zip(ours[key], keras[key])) if not same_floats(a, b)]
        assert not bad, f"{key} differs first at epoch {bad[0]}: {ours[key][bad[0]]} vs Keras {keras[key][bad[0]]}"


def test_issue_14_cases_as_keras_decides_them(tmp_path):
    cases = {c["name"]: c for c in KERAS_CASES["cases"]}
    # min_delta=0.1, val_loss 0.4 then 0.3, patience 1: no improvement, so the rate is halved
    assert replay(cases["plateau_min_delta_on_value"], tmp_path)["lr"] == [1e-3, float(np.float32(5e-4))]
    # 0.9007 then 0.9008 (one image of 10,000, min_delta 1e-4): no improvement, rate halved
    assert replay(cases["plateau_float32_one_image"], tmp_path)["lr"][-1] == float(np.float32(5e-4))
    # 1,000 epochs, each one image better than the last: no one-image gain counts, every two-image
    # gain does (float64 arithmetic counted about one step in ten as an improvement)
    steps = replay(cases["plateau_float32_1000_steps"], tmp_path)
    bests = sorted(set(steps["best"]))
    assert len(bests) == 500 and all(round((b - a) * 10000) == 2 for a, b in zip(bests, bests[1:]))
    # min_lr=1e-4, factor 0.1, patience 1, constant loss from 1e-2: reductions at epochs 2 and 3 (from 1)
    floor = replay(cases["plateau_min_lr_floor"], tmp_path)["lr"]
    assert [e + 1 for e in range(1, len(floor)) if floor[e] != floor[e - 1]] == [2, 3]


@pytest.mark.parametrize("validation", [0, 50])
def test_the_logged_keys_are_what_the_trainer_logs(data_dir, validation):
    """check_monitor validates configs against EPOCH_LOG_KEYS: a real run's epoch logs hold exactly those."""
    from mnistlab.run import run_config

    class Keys(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(logs))

    seen = []
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense",
                            "data": {"subset": 200, "validation": validation}, "train": {"epochs": 1}})
    r = run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=[Keys()])
    assert r.status == "finished" and seen == [sorted(C.logged_keys(validation=bool(validation)))]


def test_a_checkpoint_path_inside_a_run_store_or_below_a_file_is_refused_before_training(tmp_path: Path, data_dir,
                                                                                          monkeypatch) -> None:
    """New-user finding (helper-109): a ModelCheckpoint filepath into a recorded run's folder
    replaced its weights (its card and export then failed), where every -o is refused there; one
    below a file failed after the first epoch ("File exists")."""
    from mnistlab.cli import main
    from mnistlab.store import RunStore

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "mnist", "--subset", "120", "--epochs", "1", "--store", "store",
                 "--data-dir", str(data_dir), "--progress", "none"]) == 0
    (rec,) = RunStore("store").runs()
    weights = Path("store") / "runs" / rec.run_id / "weights.safetensors"
    before = weights.read_bytes()
    base = {"dataset": "mnist", "model": "seed000-dense"}
    for filepath, says in ((str(weights), f"is inside the run store's records ({(tmp_path / weights).parent})"),
                           ("store/runs.sqlite-{epoch}.safetensors", "is inside the run store's records"),
                           ("store/checkpoints/e{epoch}.safetensors", "is inside the run store's records"),
                           ("notes.txt/e{epoch}.safetensors", "is to go in notes.txt, which is a file, not a folder")):
        Path("notes.txt").write_text("a file")
        with pytest.raises(SpecError, match=re.escape(says)) as exc:
            parse_run_config({**base, "callbacks": [{"type": "ModelCheckpoint", "filepath": filepath}]})
        assert exc.value.path == ("callbacks", 0, "filepath") and "\n" not in str(exc.value)
    assert weights.read_bytes() == before
    ok = parse_run_config({**base, "callbacks": [{"type": "ModelCheckpoint", "filepath": "store/e{epoch}.safetensors"}]})
    assert ok.callbacks[0].filepath == "store/e{epoch}.safetensors"  # the store's own folder holds no records


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_a_checkpoint_folder_that_cannot_be_made_or_a_tilde_is_refused_before_training(tmp_path: Path, data_dir,
                                                                                        monkeypatch, capsys) -> None:
    """helper-143: a ModelCheckpoint filepath under /proc trained, then failed the run at its first
    save; one starting with "~" made a folder named "~" here (Python's open() does not expand it)."""
    from mnistlab.cli import main

    monkeypatch.chdir(tmp_path)
    base = {"dataset": "mnist", "model": "seed000-dense"}
    with pytest.raises(SpecError, match=r'"~/ck/e\{epoch\}.safetensors" starts with "~", which is not your home folder'):
        parse_run_config({**base, "callbacks": [{"type": "ModelCheckpoint", "filepath": "~/ck/e{epoch}.safetensors"}]})
    cb = '[[callbacks]]\ntype = "ModelCheckpoint"\nfilepath = "/proc/mnistlab-ck/e{epoch}.safetensors"\n'
    Path("run.toml").write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 120\n[train]\nepochs = 1\n' + cb)
    Path("exp.toml").write_text('[base]\ndataset = "mnist"\nmodel = "seed000-dense"\ndata.subset = 120\ntrain.epochs = 1\n'
                                + cb.replace("[[callbacks]]", "[[base.callbacks]]"))
    said = ('ModelCheckpoint: filepath: "/proc/mnistlab-ck/e{epoch}.safetensors" cannot be written here: a folder '
            "cannot be made in /proc (")
    for args in (["train", "--config", "run.toml", "--progress", "none"], ["run", "exp.toml"]):
        assert main([*args, "--store", "store", "--data-dir", str(data_dir)]) == 2
        out, err = capsys.readouterr()
        assert said in err and len(err.strip().splitlines()) == 1 and "Total params" not in out
        assert not Path("store").exists()  # helper-147: nothing trained, and no store made before the mistake
    assert not Path("~").exists()
    from mnistlab.run import train  # helper-148: the library's train() trained, then failed at its first save

    with pytest.raises(SpecError, match=r'"/proc/mnistlab-ck/e\{epoch\}.safetensors" cannot be written here: a folder'):
        train(dataset="mnist", model={"dense": [8]}, epochs=1, subset=60, data_dir=data_dir, progress="none",
              callbacks=[{"type": "ModelCheckpoint", "filepath": "/proc/mnistlab-ck/e{epoch}.safetensors"}])
    assert C.checkpoint_folder_mistake("new/deeper/e{epoch}.safetensors") is None  # a folder it may make: its probe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml", "run.toml"]  # made and removed, nothing left
    Path("ck.safetensors").mkdir()  # helper-147: a folder named as the file failed the run after its first epoch
    with pytest.raises(SpecError, match=r'"ck.safetensors" is a folder: name a file in it, such as '
                                        r'"ck.safetensors/e\{epoch\}.safetensors"'):
        parse_run_config({**base, "callbacks": [{"type": "ModelCheckpoint", "filepath": "ck.safetensors"}]})


def test_an_experiment_file_s_checkpoint_paths_are_relative_to_it(tmp_path: Path, data_dir, monkeypatch) -> None:
    """New-user finding (helper-109): the README says a path in a config or experiment file is
    relative to the file, as its data paths are; a ModelCheckpoint's was relative to the current
    folder."""
    from mnistlab.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "exp.toml").write_text(
        '[base]\ndataset = "mnist"\nmodel = { dense = [8] }\ndata.subset = 120\ntrain.epochs = 1\n'
        'callbacks = [{ type = "ModelCheckpoint", filepath = "ck/e{epoch}.safetensors" }]\n')
    (tmp_path / "sub" / "run.toml").write_text(
        'dataset = "mnist"\nmodel = { dense = [8] }\n[data]\nsubset = 120\n[train]\nepochs = 1\n'
        '[[callbacks]]\ntype = "ModelCheckpoint"\nfilepath = "ck2/e{epoch}.safetensors"\n')
    assert main(["run", "sub/exp.toml", "--store", "store", "--data-dir", str(data_dir)]) == 0
    assert main(["train", "--config", "sub/run.toml", "--store", "store", "--data-dir", str(data_dir),
                 "--progress", "none"]) == 0
    assert (tmp_path / "sub" / "ck" / "e1.safetensors").is_file() and (tmp_path / "sub" / "ck2" / "e1.safetensors").is_file()
    assert not (tmp_path / "ck").exists() and not (tmp_path / "ck2").exists()
    from mnistlab.store import RunStore
    trained = RunStore("store").runs()[-1]  # that run again from its config.json: its paths as recorded, not
    (tmp_path / "sub" / "ck2" / "e1.safetensors").unlink()  # moved into the run's folder in the store (refused)
    assert main(["train", "--config", f"store/runs/{trained.run_id}/config.json", "--store", "store", "--data-dir",
                 str(data_dir), "--progress", "none"]) == 0
    assert (tmp_path / "sub" / "ck2" / "e1.safetensors").is_file()


def test_model_checkpoint_takes_keras_s_save_weights_only_as_it_saves(tmp_path: Path) -> None:
    """New-user finding (helper-109): Keras's `save_weights_only = true` was an unknown key with a
    "did you mean save_best_only?", though weights alone are what mnistlab saves; false (a whole
    .keras model) is what it cannot do, said in one line."""
    base = {"dataset": "mnist", "model": "seed000-dense"}
    ck = {"type": "ModelCheckpoint", "filepath": str(tmp_path / "e{epoch}.safetensors")}
    with_it = parse_run_config({**base, "callbacks": [{**ck, "save_weights_only": True}]})
    assert with_it.resolved() == parse_run_config({**base, "callbacks": [ck]}).resolved()  # the same run: same key
    with pytest.raises(SpecError, match=r"callbacks\[0\]\.save_weights_only: mnistlab saves the weights alone "
                                        r"\(safetensors\), not Keras's whole-model \.keras file: leave it out, or true"):
        parse_run_config({**base, "callbacks": [{**ck, "save_weights_only": False}]})


def test_callbacks_take_keras_s_verbose_and_save_freq(tmp_path: Path, data_dir, capsys) -> None:
    """New-user finding (helper-111): a Keras notebook's ReduceLROnPlateau(..., verbose=1) or
    ModelCheckpoint(save_freq="epoch") was refused as an unknown key. verbose says what Keras says
    (and is no part of the run's key: it changes no number); save_freq takes Keras's default alone."""
    from mnistlab.config import run_key
    from mnistlab.run import train

    base = {"dataset": "mnist", "model": {"dense": [8]}, "train": {"epochs": 3}, "data": {"subset": 300, "validation": 60}}
    ck = {"type": "ModelCheckpoint", "filepath": str(tmp_path / "e{epoch}.safetensors")}
    quiet = [{"type": "EarlyStopping", "monitor": "loss", "min_delta": 10.0, "patience": 1},
             {"type": "ReduceLROnPlateau", "monitor": "loss", "min_delta": 10.0, "patience": 0}, ck]
    loud = [{**cb, "verbose": 1} for cb in quiet[:2]] + [{**ck, "verbose": 1, "save_freq": "epoch"}]
    assert run_key(parse_run_config({**base, "callbacks": loud}).resolved()) == run_key(
        parse_run_config({**base, "callbacks": quiet}).resolved())
    train(**{k: v for k, v in base.items() if k not in ("train", "data")}, epochs=3, subset=300, validation=60,
          callbacks=loud, data_dir=data_dir, progress="none")
    out = capsys.readouterr().out
    # Keras 3.15.1 printed "... to 0.00010000000474974513." (its float32 rate as Python writes it) for 1e-3 * 0.1
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.00010000000474974513.\n" in out  # its first epoch
    assert "Epoch 2: early stopping" in out and f"Epoch 1: saving model to {tmp_path / 'e1.safetensors'}" in out  # best
    # helper-147: Keras says the stop as training ends, after the epoch's other lines
    assert out.index("ReduceLROnPlateau reducing") < out.index("Epoch 2: early stopping")
    with pytest.raises(SpecError, match=r"callbacks\[0\]\.save_freq: "):
        parse_run_config({**base, "callbacks": [{**ck, "save_freq": 100}]})
    flags = parse_run_config({**base, "callbacks": [{**cb, "verbose": v} for cb, v in zip(quiet, (True, False, True))]})
    assert [c.verbose for c in flags.callbacks] == [1, 0, 1]  # helper-147: Keras's `if self.verbose > 0` takes a bool
    with pytest.raises(SpecError, match=r'callbacks\[0\]\.verbose: must be a valid integer \(got "yes"\)'):
        parse_run_config({**base, "callbacks": [{**quiet[0], "verbose": "yes"}]})


def test_a_callbacks_verbose_prints_under_mnistlab_run_and_keeps_the_cells_key(tmp_path: Path, data_dir, capsys) -> None:
    """helper-143: `verbose = 1` printed Keras's lines under `mnistlab train` and train(), and nothing
    under `mnistlab run` (the cell's resolved config, its key's, leaves verbose out)."""
    from mnistlab.cli import main
    from mnistlab.experiments import load_experiment
    from mnistlab.store import RunStore

    text = ('[base]\ndataset = "mnist"\nmodel = { dense = [8] }\ndata.subset = 120\ntrain.epochs = 3\n'
            '[[base.callbacks]]\ntype = "ReduceLROnPlateau"\nmonitor = "loss"\npatience = 1\nfactor = 0.5\n'
            'min_delta = 100\nverbose = 1\n')  # no epoch improves by 100: a reduction at each epoch from the second
    (tmp_path / "loud.toml").write_text('name = "e"\n' + text)
    (tmp_path / "quiet.toml").write_text('name = "e"\n' + text.replace("verbose = 1", "verbose = 0"))
    store = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(tmp_path / "loud.toml"), *store]) == 0
    out = capsys.readouterr().out
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.0005000000237487257.\n" in out
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.0002500000118743628.\n" in out
    loud, quiet = (load_experiment(tmp_path / f).cells()[0] for f in ("loud.toml", "quiet.toml"))
    assert loud.key == quiet.key and loud.config == quiet.config and (loud.verbose, quiet.verbose) == ((1,), ())
    assert main(["run", str(tmp_path / "quiet.toml"), *store]) == 0  # the same cell: done, and quiet
    out = capsys.readouterr().out
    assert "skipped (already finished)" in out and "ReduceLROnPlateau" not in out
    assert len(RunStore(tmp_path / "s").runs()) == 1


def test_verbose_says_what_keras_3_says_of_a_best_only_save_and_a_restore(tmp_path: Path, data_dir, capsys) -> None:
    """helper-147: ModelCheckpoint(save_best_only, verbose=1) said "saving model to" alone, where Keras
    3 says "val_loss improved from None to 0.12345, saving model to ..." and "did not improve from";
    EarlyStopping(restore_best_weights) did not say "Restoring model weights from the end of the best
    epoch" (keras/src/callbacks/model_checkpoint.py, early_stopping.py)."""
    from mnistlab.run import train

    path = tmp_path / "best.safetensors"
    run = train(dataset="mnist", model={"dense": [8]}, epochs=4, subset=300, validation=60, lr=3.0, data_dir=data_dir,
                progress="none", callbacks=[
                    {"type": "ModelCheckpoint", "filepath": str(path), "monitor": "loss", "save_best_only": True,
                     "verbose": 1},
                    {"type": "EarlyStopping", "monitor": "loss", "patience": 1, "restore_best_weights": True,
                     "verbose": 1}])
    out = capsys.readouterr().out.splitlines()  # (progress none: the callbacks' lines alone, all of them)
    losses = run.history["loss"]
    best = losses[0]
    saved = f"saving model to {path}"
    expected = [f"Epoch 1: loss improved from None to {losses[0]:.5f}, {saved}", f"Epoch 1: finished {saved}"]
    for epoch, loss in enumerate(losses[1:], start=2):
        if np.float32(loss) < np.float32(best):
            expected += [f"Epoch {epoch}: loss improved from {best:.5f} to {loss:.5f}, {saved}",
                         f"Epoch {epoch}: finished {saved}"]
            best = loss
        else:
            expected.append(f"Epoch {epoch}: loss did not improve from {best:.5f}")
    if (stopped := run.metrics.get("stopped_epoch")) is not None:  # (lr 3.0: the loss stalls, so that it stops)
        expected.append(f"Epoch {stopped}: early stopping")  # said as training ends, then the restore
    expected.append(f"Restoring model weights from the end of the best epoch: {losses.index(min(losses)) + 1}.")
    assert out == expected


def test_on_test_end_gets_the_validation_pass_s_loss_and_accuracy_as_keras_3_gives_them(data_dir: Path) -> None:
    """helper-237: on_test_end's logs were empty; Keras 3 gives the pass's numbers, unprefixed."""
    import mnistlab

    class Seen(mnistlab.Callback):
        def __init__(self) -> None:
            self.tested: list[dict] = []

        def on_test_end(self, logs=None):
            self.tested.append(dict(logs or {}))

    seen = Seen()
    run = mnistlab.train(dataset="mnist", model="seed000-dense", subset=240, epochs=2, validation=0.25,
                         callbacks=[seen], data_dir=data_dir, progress="none", store=False)
    assert [t["loss"] for t in seen.tested] == run.history["val_loss"]
    assert [t["accuracy"] for t in seen.tested] == run.history["val_accuracy"]
