"""Callbacks and schedules as pure logic: fed logs by hand, no training."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from mnistlab.callbacks import (
    EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, StopAtLoss, format_epoch, make_callback, make_reporter,
    resolve_mode,
)
from mnistlab.config import parse_run_config
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
    assert resolve_mode("min", "val_accuracy") == "min"


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
    assert lrs == [1e-3] * 9 + [5e-4]
    assert cb.reductions == [(9, 5e-4)]


def test_reduce_lr_min_lr_and_cooldown():
    cb = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.1, min_lr=2e-5, cooldown=2)
    t = host(cb)
    lrs = []
    for epoch in range(7):
        cb.on_epoch_end(epoch, {"loss": 1.0})
        lrs.append(round(t.lr, 12))
    # epoch 0 sets best; 1 reduces; 2 is cooldown (Keras counts the cooldown down at the start of
    # each epoch end, so cooldown=2 skips one epoch); 3 reduces to the floor; then stays at min_lr
    assert lrs == [1e-3, 1e-4, 1e-4, 2e-5, 2e-5, 2e-5, 2e-5]
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


# -------------------------------------------------------------------------------- progress
def test_progress_lines_and_modes(capsys):
    entry = {"epoch": 2, "loss": 0.41234, "accuracy": 0.85, "val_loss": 0.5, "val_accuracy": 0.8, "lr": 1e-3,
             "epoch_seconds": 3.14, "images_per_second": 18750.2}
    line = format_epoch(entry, 5)
    assert line == ("Epoch 2/5 - 3.1s - loss: 0.4123 - accuracy: 0.8500 - val_loss: 0.5000 - val_accuracy: 0.8000"
                    " - lr: 0.001 - 18,750 img/s")
    rep = make_reporter("auto", 5, 10)  # pytest's stdout is not a terminal: lines
    rep.epoch_begin(1)
    rep.batch_end(0, 0.5)
    rep.epoch_end(entry)
    assert capsys.readouterr().out == line + "\n"
    make_reporter("none", 5, 10).epoch_end(entry)
    assert capsys.readouterr().out == ""
    with pytest.raises(SpecError, match='did you mean "lines"'):
        make_reporter("line", 5, 10)


def test_bar_reporter_draws_and_ends_with_the_summary_line():
    import io

    buf = io.StringIO()
    rep = make_reporter("bar", 1, 3, stream=buf)
    rep.epoch_begin(0)
    for step in range(3):
        rep.batch_end(step, 1.0 / (step + 1))
    rep.epoch_end({"epoch": 1, "loss": 0.3, "accuracy": 0.9, "lr": 0.01, "epoch_seconds": 1.0,
                   "images_per_second": 100.0})
    assert "Epoch 1/1 - 1.0s - loss: 0.3000" in buf.getvalue()
