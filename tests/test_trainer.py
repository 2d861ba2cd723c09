"""The training loop (mnistlab.trainer) on tiny real runs: repeatability, checkpoints and resume,
divergence and Ctrl-C as results, callbacks and schedules in the loop, the dense fast path.

Most tests go through ``run_config`` (the way every run reaches the Trainer); ``cfg``, ``numbers``
and ``InterruptAt`` are shared with test_run.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.callbacks import Callback
from mnistlab.config import parse_run_config
from mnistlab.errors import CheckpointError
from mnistlab.run import prepare_data, run_config
from mnistlab.trainer import Trainer, fit


TIMING = ("epoch_seconds", "images_per_second")


def cfg(**sections):
    base = {"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 300}, "train": {"epochs": 2}}
    for key, value in sections.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) and key != "model" else value
    return parse_run_config(base)


def numbers(history):
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


class InterruptAt(Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_same_seed_same_metrics_other_seed_differs(data_dir):
    a = run_config(cfg(), data_dir=data_dir, progress="none")
    b = run_config(cfg(), data_dir=data_dir, progress="none")
    c = run_config(cfg(train={"seed": 1}), data_dir=data_dir, progress="none")
    assert numbers(a.history) == numbers(b.history)
    assert a.metrics["test_loss"] == b.metrics["test_loss"]
    np.testing.assert_array_equal(a.test_probs, b.test_probs)
    assert numbers(a.history) != numbers(c.history)
    assert "val_loss" not in a.history[0]  # no validation data: no val_ keys, as in Keras


def test_training_leaves_the_global_random_state_as_it_found_it(data_dir):
    """helper-157: train(seed=5) left torch's global generator at seed 5, so a user's own draws after
    training followed the run's seed; Keras's fit leaves them be. The run's own draws (dropout)
    still come from its seed: two runs of one seed agree whatever the user drew before."""
    torch.manual_seed(123)
    a = run_config(cfg(model="seed004-dropout"), data_dir=data_dir, progress="none")
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(3))
    torch.manual_seed(7)
    b = run_config(cfg(model="seed004-dropout"), data_dir=data_dir, progress="none")
    assert numbers(a.history) == numbers(b.history)


# conv + dropout through autograd, and dense + dropout through the dense fast path: the global RNG
# (dropout), the augment RNG and the shuffle RNG all matter.
@pytest.mark.parametrize("model", ["seed000-last", "seed004-dropout"])
def test_resumed_run_ends_exactly_like_an_uninterrupted_one(data_dir, tmp_path, model):
    extra = dict(augment={"rotation_range": 10.0, "random_erasing": 0.5},
                 model=model,
                 callbacks=[{"type": "ReduceLROnPlateau", "monitor": "loss", "patience": 0, "factor": 0.5,
                             "min_delta": 100.0}],
                 data={"subset": 120, "validation": 24})
    full = run_config(cfg(**extra, train={"epochs": 3}), data_dir=data_dir, progress="none")
    first = run_config(cfg(**extra, train={"epochs": 1}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path)
    assert (tmp_path / "last.pt").exists() and len(first.history) == 1
    resumed = run_config(cfg(**extra, train={"epochs": 3}), data_dir=data_dir, progress="none",
                           checkpoint_dir=tmp_path, resume=True)
    assert resumed.metrics["resumed_from_epoch"] == 1
    assert resumed.env["gradients"].startswith("hand-written" if model == "seed004-dropout" else "autograd")
    assert numbers(resumed.history) == numbers(full.history)
    # the plateau callback's "best" came through the checkpoint, so epoch 2 reduced the lr
    assert [h["lr"] for h in full.history] == [1e-3, 1e-3, float(np.float32(5e-4))]  # float32, as Keras
    assert resumed.metrics["test_loss"] == full.metrics["test_loss"]
    for p, q in zip(resumed.model.parameters(), full.model.parameters()):
        assert torch.equal(p, q)


def test_interrupted_scheduled_run_resumes_exactly(data_dir, tmp_path):
    extra = dict(train={"epochs": 3, "schedule": {"type": "onecycle"}}, augment={"width_shift_range": 0.1})
    full = run_config(cfg(**extra), data_dir=data_dir, progress="none")
    cut = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                       extra_callbacks=[InterruptAt(1, 3)])
    assert cut.status == "interrupted" and len(cut.history) == 1
    resumed = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    assert resumed.status == "finished" and numbers(resumed.history) == numbers(full.history)
    again = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    assert numbers(again.history) == numbers(full.history) and again.metrics["resumed_from_epoch"] == 3


# A long epoch (a WRN epoch is 14 minutes on a 2-core CPU) is checkpointed inside, every
# checkpoint_every seconds; 1e-9 s here: after every batch. The conv model goes through autograd,
# the dense one through the hand-written step; a per-batch schedule, augmentation, dropout and the
# EMA all carry state from one batch to the next.
@pytest.mark.parametrize("model", ["seed000-last", "seed004-dropout"])
def test_a_run_stopped_inside_an_epoch_resumes_after_its_last_checkpointed_batch_exactly(data_dir, tmp_path, model):
    extra = dict(model=model, augment={"rotation_range": 10.0, "random_erasing": 0.5},
                 data={"subset": 200, "validation": 40},
                 train={"epochs": 3, "batch_size": 32, "schedule": {"type": "onecycle"}, "use_ema": True})
    full = run_config(cfg(**extra), data_dir=data_dir, progress="none")
    cut = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                     checkpoint_every=1e-9, extra_callbacks=[InterruptAt(1, 3)])  # stopped in batch 4 of epoch 2
    assert cut.status == "interrupted" and len(cut.history) == 1
    assert cut.metrics["checkpoint_epoch"] == 1 and cut.metrics["checkpoint_step"] == 3  # batches 1-3 of epoch 2 kept
    resumed = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                         checkpoint_every=1e-9, resume=True)
    assert resumed.status == "finished"
    assert resumed.metrics["resumed_from_epoch"] == 1 and resumed.metrics["resumed_from_step"] == 3
    assert numbers(resumed.history) == numbers(full.history)  # epoch 2's loss and accuracy sums came through too
    assert resumed.metrics["test_loss"] == full.metrics["test_loss"]
    for p, q in zip(resumed.model.parameters(), full.model.parameters()):
        assert torch.equal(p, q)
    # at epoch ends only (checkpoint_every = 0) a stop inside an epoch goes back to the epoch's start
    cut = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path / "epochs",
                     checkpoint_every=0, extra_callbacks=[InterruptAt(1, 3)])
    assert cut.metrics["checkpoint_epoch"] == 1 and "checkpoint_step" not in cut.metrics
    resumed = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path / "epochs",
                         resume=True)
    assert "resumed_from_step" not in resumed.metrics and numbers(resumed.history) == numbers(full.history)


class Began(Callback):
    """Counts on_train_begin (a resumed fit's callbacks carry their state on: they are not begun again)."""

    def __init__(self) -> None:
        self.began, self.epoch_logs = 0, []

    def on_train_begin(self, logs=None):
        self.began += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs or {}))


def test_a_run_resumed_inside_its_first_epoch_is_not_begun_again(data_dir, tmp_path):
    extra = dict(data={"subset": 200}, train={"epochs": 2})
    run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
               checkpoint_every=1e-9, extra_callbacks=[InterruptAt(0, 2)])
    began = Began()
    resumed = run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                         checkpoint_every=1e-9, resume=True, extra_callbacks=[began])
    assert (resumed.metrics["resumed_from_epoch"], resumed.metrics["resumed_from_step"]) == (0, 2)
    assert began.began == 0 and len(resumed.history) == 2
    first, second = began.epoch_logs  # the resumed epoch says where it resumed, the next one is Keras's {}
    assert first["resumed_after_batch"] == 2 and first["seconds_before_resume"] > 0 and second == {}
    assert resumed.history[0]["epoch_seconds"] > first["seconds_before_resume"]


def test_a_full_disk_at_a_checkpoint_warns_once_and_training_goes_on(data_dir, tmp_path):
    import warnings

    from mnistlab.errors import SpecWarning

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux)")
    from mnistlab.files import temporary_name

    temporary_name(tmp_path / "last.pt").symlink_to("/dev/full")  # the first write fails as on a full disk (ENOSPC)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_config(cfg(train={"epochs": 2}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path)
    said = [str(w.message) for w in caught if issubclass(w.category, SpecWarning)]
    assert result.status == "finished" and len(said) == 1 and "cannot write the checkpoint" in said[0]
    assert "a stop now would train from the first epoch: none was written yet" in said[0]  # (helper-189: "epoch 1")
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epochs_done"] == 2  # the next write went through


def test_a_resume_asking_for_fewer_epochs_than_the_checkpoint_holds_is_refused(data_dir, tmp_path):
    run_config(cfg(train={"epochs": 2}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"holds 2 epochs, past the 1 epoch\(s\) asked for: ask for at least 2"):
        run_config(cfg(train={"epochs": 1}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    same = run_config(cfg(train={"epochs": 2}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    assert same.status == "finished" and len(same.history) == 2  # as many as it holds: nothing left to train


def test_a_damaged_position_inside_an_epoch_is_refused(data_dir, tmp_path):
    extra = dict(data={"subset": 200}, train={"epochs": 2})
    run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
               checkpoint_every=1e-9, extra_callbacks=[InterruptAt(1, 2)])
    ckpt = tmp_path / "last.pt"
    good = torch.load(ckpt, weights_only=True)
    assert good["partial_epoch"]["steps"] == 2 and good["partial_epoch"]["meter"]["seen"] == 64
    for bad in ({"steps": 0, "meter": good["partial_epoch"]["meter"]}, {"steps": "2"}, [2],
                {"steps": 2, "meter": {**good["partial_epoch"]["meter"], "correct": 65}}):
        torch.save({**good, "partial_epoch": bad}, ckpt)
        with pytest.raises(CheckpointError, match="damaged checkpoint: its position inside an epoch"):
            run_config(cfg(**extra), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)


def test_resume_warns_when_threads_or_a_scheduled_run_length_changed(data_dir, tmp_path):
    import warnings

    from mnistlab.errors import SpecWarning

    step = {"epochs": 1, "threads": 1, "schedule": {"type": "step"}}  # a step schedule does not span the run
    run_config(cfg(train=step), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path / "step")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        run_config(cfg(train={**step, "epochs": 2}), data_dir=data_dir, progress="none",
                     checkpoint_dir=tmp_path / "step", resume=True)
    sched = {"epochs": 2, "threads": 1, "schedule": {"type": "cosine"}}
    run_config(cfg(train=sched), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)  # the same settings: silent
        run_config(cfg(train=sched), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    with pytest.warns(SpecWarning) as caught:
        run_config(cfg(train={**sched, "threads": 2, "epochs": 3}), data_dir=data_dir, progress="none",
                     checkpoint_dir=tmp_path, resume=True)
    text = " | ".join(str(w.message) for w in caught)
    assert "written with 1 CPU thread(s) and this run uses 2" in text
    assert "resuming with 3 instead of 2 reshapes it from epoch 3" in text


def test_resume_rejects_other_configs_and_bad_checkpoints(data_dir, tmp_path):
    run_config(cfg(train={"epochs": 1}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"different run config \(train.lr was 0.001, now 0.01\)$"):
        run_config(cfg(train={"lr": 0.01}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    ckpt = tmp_path / "last.pt"
    (tmp_path / "older").mkdir()  # written before checkpoints kept their config: the change cannot be named
    torch.save({k: v for k, v in torch.load(ckpt, weights_only=True).items() if k != "config"},
               tmp_path / "older" / "last.pt")
    with pytest.raises(CheckpointError, match=r"different run config$"):
        run_config(cfg(train={"lr": 0.01}), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path / "older",
                   resume=True)
    (tmp_path / "old").mkdir()  # a checkpoint of an older version, whose config keys were computed differently
    torch.save({**torch.load(ckpt, weights_only=True), "mnistlab": "0.1.0", "config_key": "0" * 16},
               tmp_path / "old" / "last.pt")
    with pytest.raises(CheckpointError, match=r"different run config \(and by mnistlab 0.1.0, not "):
        run_config(cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path / "old", resume=True)
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="not a readable"):
        run_config(cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": 1, "x": Evil()}, ckpt)  # a pickle that would run code: refused by weights_only
    with pytest.raises(CheckpointError, match="not a readable"):
        run_config(cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    torch.save({"format": 99}, ckpt)
    with pytest.raises(CheckpointError, match="not a mnistlab checkpoint"):
        run_config(cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    # resume without a checkpoint yet starts fresh
    fresh = run_config(cfg(train={"epochs": 1}), data_dir=data_dir, progress="none",
                         checkpoint_dir=tmp_path / "new", resume=True)
    assert fresh.status == "finished" and fresh.metrics["resumed_from_epoch"] == 0


def overflowing():
    """Random 8x8 images, 3 classes, and a linear model whose logits overflow to inf in the first batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (96, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 3, (96,), generator=g)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    with torch.no_grad():
        model[1].weight.fill_(3e37)  # the loss turns NaN
    return model, x, y


def test_divergence_is_a_result_with_a_hint():
    model, x, y = overflowing()
    out = fit(model, x, y, epochs=2, batch_size=32, optimizer="sgd", lr=0.1)
    assert out.status == "diverged" and out.history == []
    assert "epoch 1, batch 1" in out.message and "too high" in out.message and "--lr 0.01" in out.message


def test_ctrl_c_is_interrupted_with_history_kept(data_dir):
    r = run_config(cfg(train={"epochs": 3}), data_dir=data_dir, progress="none", extra_callbacks=[InterruptAt(1, 2)])
    assert r.status == "interrupted" and len(r.history) == 1 and "1 complete epoch" in r.message
    assert r.metrics["test_accuracy"] is not None and r.metrics["epochs_run"] == 1


def test_a_failing_callback_is_recorded_not_raised(data_dir):
    class Broken(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("disk full")

    r = run_config(cfg(train={"epochs": 3}), data_dir=data_dir, progress="none", extra_callbacks=[Broken()])
    assert r.status == "failed" and "disk full" in r.message and len(r.history) == 2  # epoch 2 trained: it counts


def test_callbacks_from_config_act_on_the_run(data_dir):
    r = run_config(cfg(train={"epochs": 30}, callbacks=[{"type": "StopAtLoss", "threshold": 10.0}]),
                     data_dir=data_dir, progress="none")
    assert r.metrics["epochs_run"] == 1 and r.status == "finished"
    r = run_config(cfg(train={"epochs": 4}, data={"validation": 50},
                         callbacks=[{"type": "ReduceLROnPlateau", "monitor": "val_loss", "min_delta": 100.0,
                                     "patience": 1, "factor": 0.5}]), data_dir=data_dir, progress="none")
    # Keras: applies from the next epoch; the reduced lr is a float32 value, as Keras's lr variable
    assert [h["lr"] for h in r.history] == [1e-3, 1e-3, float(np.float32(5e-4)), float(np.float32(2.5e-4))]


def test_schedule_sets_the_lr_per_batch(data_dir):
    r = run_config(cfg(train={"epochs": 2, "schedule": {"type": "step", "step_size": 1, "gamma": 0.5}}),
                     data_dir=data_dir, progress="none")
    assert [h["lr"] for h in r.history] == [1e-3, 5e-4]


def test_cnn_with_augmentation_and_label_smoothing_trains(data_dir):
    r = run_config(cfg(model="seed000-ex1", train={"epochs": 1, "label_smoothing": 0.1, "optimizer": "rmsprop"},
                         augment={"rotation_range": 10, "zoom_range": 0.1, "horizontal_flip": True}),
                     data_dir=data_dir, progress="none")
    assert r.status == "finished" and r.metrics["params"] == 55_098
    assert r.metrics["test_accuracy"] > 0.2  # 300 images, one epoch: well above chance (0.1)


def test_fit_trains_any_module_on_uint8_tensors():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 8, 8), dtype=torch.uint8, generator=g)
    y = (x.float().mean((1, 2)) > 127.5).long()  # a learnable rule
    torch.manual_seed(0)  # the layer's first weights (CI148: unseeded, a draw whose third epoch scored below its first)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    out = fit(model, x, y, epochs=3, batch_size=16, lr=0.01, val=(x, y))
    assert out.status == "finished" and len(out.history) == 3
    losses = [h["loss"] for h in out.history]
    assert losses == sorted(losses, reverse=True) and out.history[-1]["val_accuracy"] > out.history[0]["val_accuracy"]


def test_a_callback_sees_each_entry_and_bf16_runs(data_dir):
    class Seen(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append({"epoch": epoch + 1, **logs})

    seen = []
    r = run_config(cfg(model="seed000-ex1", train={"epochs": 2, "precision": "bf16"}), data_dir=data_dir,
                   progress="none", extra_callbacks=[Seen()])
    assert seen == numbers(r.history) and r.status == "finished"
    assert r.env["precision"] == "bf16" and r.env["channels_last"] is True
    assert r.test_probs.dtype == np.float32 and np.isfinite(r.test_probs).all()


def test_dense_models_skip_autograd_and_train_as_autograd_does(data_dir):
    """The dense fast path (mnistlab.accel.dense_step) is used where it applies and changes only rounding."""
    from mnistlab.models import build_model
    from mnistlab.presets import resolve_model

    data = prepare_data(cfg(), data_dir=data_dir)
    histories = {}
    for hand in (True, False):
        model = build_model(resolve_model("seed000-dense"), seed=4)
        trainer = Trainer(model, seed=4, hand_gradients=hand)
        assert (trainer.plan.dense_step is not None) is hand
        histories[hand] = trainer.fit(data.train_x, data.train_y, epochs=2).history
    for fast, auto in zip(histories[True], histories[False]):
        assert fast["loss"] == pytest.approx(auto["loss"], rel=1e-4)
        assert fast["accuracy"] == pytest.approx(auto["accuracy"], abs=1 / 300 + 1e-9)  # one image at most

    r = run_config(cfg(train={"epochs": 1}), data_dir=data_dir, progress="none")
    assert r.env["gradients"].startswith("hand-written")
    conv = run_config(cfg(model="seed000-ex1", train={"epochs": 1, "precision": "float32"}), data_dir=data_dir,
                        progress="none")
    assert conv.env["gradients"] == "autograd"
    bf16 = build_model(resolve_model("seed000-dense"), seed=4)
    assert Trainer(bf16, precision="bf16").plan.dense_step is None  # autocast runs through autograd


def test_stop_training_in_a_batch_ends_the_epoch_there(data_dir):
    class StopAtBatch(Callback):
        def __init__(self) -> None:
            self.batches = 0
            self.losses = []

        def on_batch_end(self, batch, logs=None):
            self.batches += 1
            self.losses.append(logs["loss"])
            if batch == 2:
                self.trainer.stop_training = True

    stop = StopAtBatch()
    r = run_config(cfg(train={"epochs": 3}), data_dir=data_dir, progress="none", extra_callbacks=[stop])
    assert r.status == "finished" and stop.batches == 3 and r.metrics["epochs_run"] == 1
    # The epoch's loss is the mean over the 96 images seen, not the 300 of a whole epoch.
    assert r.history[0]["loss"] == pytest.approx(sum(stop.losses) / 3)


def _plain_trainer(model, sync: bool, **kwargs):
    from mnistlab import accel

    return Trainer(model, plan=accel.plan(model, precision="float32", sync_each_step=sync), **kwargs)


def test_metrics_kept_on_the_device_give_the_synced_numbers(data_dir):
    """The GPU's way (sums left on the device, read once per epoch) run on the CPU: same history."""
    from mnistlab.models import build_model
    from mnistlab.presets import resolve_model

    data = prepare_data(cfg(data={"subset": 400, "validation": 100}), data_dir)
    histories = []
    for sync in (True, False):
        model = build_model(resolve_model("seed000-ex1"), seed=0)
        trainer = _plain_trainer(model, sync, batch_size=32, seed=0)
        out = trainer.fit(data.train_x, data.train_y, epochs=2, val=(data.val_x, data.val_y))
        assert out.status == "finished"
        assert trainer.plan.describe()["host_sync"] == ("each step" if sync else "once per epoch")
        histories.append(numbers(out.history))
    assert histories[0] == histories[1]


def test_a_nan_left_on_the_device_ends_the_run_at_the_epoch():
    model, x, y = overflowing()
    out = _plain_trainer(model, False, optimizer="sgd", lr=0.1, batch_size=32).fit(x, y, epochs=2)
    assert out.status == "diverged" and out.history == []
    assert "during epoch 1" in out.message and "too high" in out.message


@pytest.mark.parametrize("model, optimizer, lr", [("seed000-dense", "sgd", 50.0), ("seed000-cnn", "adam", 100.0)])
def test_a_loss_blown_up_at_chance_accuracy_ends_the_fit_as_diverged(data_dir, model, optimizer, lr):
    """Issue 14: a far too high learning rate blows the loss up to 1e5-1e13 without a NaN; the fit
    stops after that epoch, diverged, with the hint (the loss never comes back from there)."""
    r = run_config(cfg(dataset="mnist", model=model, data={"subset": 300},
                       train={"epochs": 3, "optimizer": optimizer, "lr": lr}), data_dir=data_dir, progress="none")
    assert r.status == "diverged" and len(r.history) == 1, (r.status, r.history)
    assert r.history[0]["loss"] > 1e3 and r.history[0]["accuracy"] < 0.2
    default = {"sgd": 0.01, "adam": 0.001}[optimizer]  # lr / 10 would diverge too: Keras's default instead
    assert (f"the learning rate ({lr:g}) is probably too high; try lr = {default:g} (--lr {default:g}), Keras's "
            f"default for {optimizer}") in r.message
    assert r.metrics["test_accuracy"] is not None  # finite weights: still tested, and scored at about chance


def test_a_slow_but_sane_start_is_not_called_a_blow_up(data_dir):
    r = run_config(cfg(dataset="mnist", train={"epochs": 2, "optimizer": "sgd", "lr": 0.001}), data_dir=data_dir,
                   progress="none")
    assert r.status == "finished" and r.history[0]["accuracy"] < 0.5  # barely learning, and not diverged


KERAS_CLASS_WEIGHT = __import__("json").loads((Path(__file__).parent / "data" / "keras_class_weight.json").read_text())


@pytest.mark.parametrize("case", KERAS_CLASS_WEIGHT["cases"], ids=lambda c: c["name"])
def test_class_weights_weigh_the_loss_as_keras_s_fit_does(case: dict) -> None:
    """helper-245: Keras's fit(class_weight=...) could not be written. Each epoch's logged loss and the
    weights after fit, as bench/keras_class_weight.py recorded Keras's (a class not in the table: 1.0)."""
    from mnistlab.run import Split, class_weights

    rec = KERAS_CLASS_WEIGHT
    images, y = torch.tensor(rec["images"], dtype=torch.uint8), torch.tensor(rec["y"])
    layer = torch.nn.Linear(16, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(rec["kernel"]).T)
        layer.bias.copy_(torch.tensor(rec["bias"]))
    split = Split(images, y, None, None, images, y, False, 3, {"class_names": ["0", "1", "2"]})
    weights = class_weights(case["class_weight"], split)  # a file's table: class indices as strings
    assert (weights is None) == (case["class_weight"] is None)
    trainer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), layer), optimizer="sgd", lr=rec["lr"],
                      batch_size=len(y), class_weight=weights)
    history = trainer.fit(images, y, epochs=rec["epochs"]).history
    assert [h["loss"] for h in history] == pytest.approx(case["loss"], rel=2e-6)
    torch.testing.assert_close(layer.weight.detach().T, torch.tensor(case["kernel"]), atol=2e-6, rtol=0)
    torch.testing.assert_close(layer.bias.detach(), torch.tensor(case["bias"]), atol=2e-6, rtol=0)


def test_class_weights_by_name_balanced_and_wrong(data_dir: Path) -> None:
    """A table by class name, scikit-learn's "balanced", and each mistake in one line before training."""
    from mnistlab.errors import SpecError
    from mnistlab.run import class_weights

    cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 300}})
    data = prepare_data(cfg, data_dir, torch.device("cpu"))
    by_name = class_weights({"Ankle boot": 3.0, "0": 2.0}, data)
    assert by_name.tolist() == [2.0] + [1.0] * 8 + [3.0]
    counts = torch.bincount(data.train_y, minlength=10).double()
    assert torch.allclose(class_weights("balanced", data).double(), len(data.train_y) / (10 * counts))
    for setting, said in (([1.0] * 3, "3 weights for 10 classes"), ({"Sock": 1.0}, "'Sock' is no class of the data"),
                          ({12: 1.0}, "12 is no class of the data"), ([0.0] * 10, "every class weighs 0")):
        with pytest.raises(SpecError, match=said):
            class_weights(setting, data)
    for setting, said in (("balance", 'must be "balanced", a list of one weight per class'),
                          ([-1.0] * 10, "a class's weight is a number from 0")):
        with pytest.raises(SpecError, match=said):
            parse_run_config({"train": {"class_weight": setting}})


def test_a_class_weight_key_of_digits_is_an_index_as_keras_s_in_python_and_in_a_file() -> None:
    """helper-249: with classes named "1", "10", "2" (folders sorted as text), {1: 5.0} weighed index 1 but
    {"1": 5.0} (a file's, and what a run records of the first) the class named "1": one key, two trainings."""
    from mnistlab.run import Split, class_weights

    y = torch.tensor([0, 1, 2])
    split = Split(torch.zeros(3, 2, 2, dtype=torch.uint8), y, None, None, torch.zeros(3, 2, 2, dtype=torch.uint8), y, False,
                  3, {"class_names": ["1", "10", "2"]})
    assert class_weights({1: 5.0}, split).tolist() == class_weights({"1": 5.0}, split).tolist() == [1.0, 5.0, 1.0]
