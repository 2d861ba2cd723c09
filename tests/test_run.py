"""A run (mnistlab.run) on tiny real runs: what it records (metrics, environment, precision),
data preparation and validation splits, ``train()`` and ``Run`` for notebooks, the Recorder, and
settings refused before training."""

from __future__ import annotations

import copy
import json
import re
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from test_trainer import TIMING, cfg, numbers

from mnistlab.accel import resolve_precision
from mnistlab.callbacks import Callback
from mnistlab.cli import main as cli_main
from mnistlab.config import parse_run_config
from mnistlab.datasets import load_dataset
from mnistlab.errors import MnistlabError, SpecError, SpecWarning
from mnistlab.models import weights_finite
from mnistlab.run import TrainingInterrupted, prepare_data, run_config, train
from mnistlab.store import RunStore


def test_tiny_run_records_everything(data_dir, capsys):
    r = run_config(cfg(data={"validation": 0.2}), data_dir=data_dir, progress="lines")
    assert r.status == "finished" and r.message == ""
    assert [h["epoch"] for h in r.history] == [1, 2]
    for h in r.history:
        assert set(h) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", *TIMING}
        assert 0 <= h["accuracy"] <= 1 and h["loss"] > 0 and h["lr"] == 1e-3 and h["images_per_second"] > 0
    assert r.history[1]["loss"] < r.history[0]["loss"]
    m = r.metrics
    assert m["params"] == 101_770 and m["epochs_run"] == 2 and m["train_size"] == 240 and m["val_size"] == 60
    assert m["test_size"] == 50 and m["validation_is_test"] is False and 0 <= m["test_accuracy"] <= 1
    assert r.test_probs.shape == (50, 10) and r.test_probs.dtype == np.float32
    np.testing.assert_allclose(r.test_probs.sum(1), 1, rtol=1e-5)
    labels = load_dataset("fashion-mnist", data_dir).test_labels[:50]
    assert m["test_accuracy"] == pytest.approx(float((r.test_probs.argmax(1) == labels).mean()))
    for key in ("python", "torch", "numpy", "mnistlab", "device", "threads", "deterministic", "git_commit", "git_dirty"):
        assert key in r.env
    assert r.env["device"] == "cpu" and r.env["deterministic"] is True
    assert r.config["model"]["layers"][0]["type"] == "Flatten" and r.config["train"]["lr"] == 1e-3
    assert not r.model.training and next(r.model.parameters()).device.type == "cpu"
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("Epoch 1/2 - ") and "val_accuracy: " in out[0]


def test_validation_on_test_set_is_recorded(data_dir):
    r = run_config(cfg(data={"validation": "test"}, train={"epochs": 1}), data_dir=data_dir, progress="none")
    assert r.metrics["validation_is_test"] is True
    assert r.history[-1]["val_accuracy"] == pytest.approx(r.metrics["test_accuracy"])


def test_model_with_wrong_number_of_outputs_is_refused(data_dir):
    spec = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 5, "activation": "softmax"}]}
    with pytest.raises(SpecError, match="5 outputs but fashion-mnist has 10 classes"):
        run_config(cfg(model=spec), data_dir=data_dir, progress="none")


def test_a_model_for_other_images_than_the_datasets_is_refused_before_it_trains(data_dir, tmp_path, capsys):
    """New-user finding (helper-99): a model for 32x32 images trained on MNIST's 28x28 ones (its
    loss on nothing), then ended in a traceback from its test pass."""
    wide = {"input_shape": [32, 32, 1], "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"},
                                                   {"type": "Dense", "units": 10}]}
    with pytest.raises(SpecError, match=r"^the model takes 32x32x1 images .* but fashion-mnist's images are 28x28") as err:
        run_config(cfg(model=wide), data_dir=data_dir, progress="none")
    assert err.value.path == ("model", "input_shape")
    with pytest.raises(SpecError, match="the model takes 28x28x3 images"):
        train("mnist", {**wide, "input_shape": [28, 28, 3]}, epochs=1, data_dir=data_dir, progress="none", subset=60)
    spec = tmp_path / "wide.toml"
    spec.write_text('input_shape = [32, 32, 1]\nlayers = [{ type = "Conv2D", filters = 4, kernel_size = 3 }, "Flatten", '
                    '{ type = "Dense", units = 10 }]\n')
    store = tmp_path / "store"
    assert cli_main(["train", "--model", str(spec), "--dataset", "mnist", "--subset", "60", "--epochs", "1",
                     "--data-dir", str(data_dir), "--store", str(store)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: the model takes 32x32x1 images") and err.count("\n") == 1 and "Training on" not in out
    assert not (store / "runs.sqlite").exists() or RunStore(store).runs() == []
    # the user's own images are resized to the model's input: the same model trains on them
    folder = tmp_path / "own"
    for label in range(2):
        (folder / str(label)).mkdir(parents=True)
        for i in range(6):
            img = np.full((20, 24), 40 + 150 * label + i, np.uint8)
            img[5:15, 6:18] = 255 - img[0, 0]  # a shape on it: flat images are refused (nothing to learn from)
            Image.fromarray(img).save(folder / str(label) / f"{i}.png")
    run = train({"folder": str(folder)}, {**wide, "layers": [*wide["layers"][:2], {"type": "Dense", "units": 2}]},
                epochs=1, progress="none", store=False)
    assert run.status == "finished" and run.metrics["test_accuracy"] is not None


def test_notebook_api(data_dir):
    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=300, lr=2e-3,
                  validation=0.1, callbacks=[{"type": "EarlyStopping", "patience": 2}])
    assert run.status == "finished" and len(run.history) == 1 and run.config["train"]["lr"] == 2e-3
    assert run.test_accuracy == run.metrics["test_accuracy"] and run.test_loss > 0
    assert repr(run).startswith("Run(mnist, seed000-dense, finished, epochs=1, test_accuracy=")
    assert " on 50 of 10,000 test images, train_seconds=" in repr(run)  # helper-117: subset=300 scores 300 // 6
    assert f"train_seconds={run.metrics['train_seconds']:.3g})" in repr(run)  # (helper-237: 0.0095 read 0.0)
    with pytest.raises(SpecError, match=r"^evaluate: give the labels of x too, evaluate\(x, y\)"):  # (helper-211)
        run.evaluate(load_dataset("mnist", data_dir).test_images[:5])
    ds = load_dataset("mnist", data_dir)
    p_uint8 = run.predict(ds.test_images[:5])
    p_float = run.predict(ds.test_images[:5].astype(np.float32) / 255)
    assert p_uint8.shape == (5, 10)
    np.testing.assert_allclose(p_uint8, p_float, atol=1e-6)
    np.testing.assert_allclose(run.predict(ds.test_images[0]), p_uint8[:1], atol=1e-6)
    with pytest.raises(SpecError, match="predict"):
        run.predict(np.zeros((2, 3, 28, 28)))
    with pytest.raises(MnistlabError, match="unknown setting"):
        train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", learning_rate=0.1)


@pytest.mark.slow
def test_accuracy_gate_seed000_cnn(data_dir):
    """Seed 000's CNN at the notebook's settings (batch 32, Adam, default precision) averages >= 88%
    on Fashion-MNIST after two epochs over three seeds, and no seed falls below 87%.

    One seed after one epoch is too noisy to gate on: seeds 1234-1237 gave 86.5-88.3% after one
    epoch (float32 and bf16 alike, mean 87.2%; Keras 87.1-87.7% at seed 1234), and 87.9-89.4%
    after two (bf16, mean of the first three 88.7%), measured on the bench machine."""
    accuracies = []
    for seed in (1234, 1235, 1236):
        cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-cnn", "train": {"epochs": 2, "seed": seed}})
        r = run_config(cfg, data_dir=data_dir, progress="lines")
        assert r.status == "finished"
        accuracies.append(r.metrics["test_accuracy"])
    assert min(accuracies) >= 0.87 and sum(accuracies) / 3 >= 0.88, accuracies


def test_impossible_validation_split_is_a_clear_error(data_dir):
    from mnistlab.errors import DataError

    with pytest.raises(DataError, match="validation count must be between 1 and 299"):
        run_config(cfg(data={"validation": 5000}), data_dir=data_dir, progress="none")
    with pytest.raises(DataError, match="fraction 0.001 of 300 training images holds out 0"):
        run_config(cfg(data={"validation": 0.001}), data_dir=data_dir, progress="none")


def test_threads_setting_is_recorded_and_restored(data_dir):
    before = torch.get_num_threads()
    r = run_config(cfg(train={"epochs": 1, "threads": 1}), data_dir=data_dir, progress="none")
    assert r.env["threads"] == 1 and torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_unavailable_device_is_a_clear_error(data_dir):
    with pytest.raises(SpecError, match="CUDA is not available"):
        run_config(cfg(train={"device": "cuda"}), data_dir=data_dir, progress="none")


def test_default_precision_is_auto_recorded_and_repeatable(data_dir):
    conv = cfg(model="seed000-ex1")
    assert conv.train.precision == "auto"
    a = run_config(conv, data_dir=data_dir, progress="none")
    b = run_config(conv, data_dir=data_dir, progress="none")
    exact = run_config(cfg(model="seed000-ex1", train={"precision": "float32"}), data_dir=data_dir, progress="none")
    assert a.env["precision"] == resolve_precision("auto", torch.device("cpu"), has_conv=True)  # what auto became on this machine
    assert numbers(a.history) == numbers(b.history)  # bf16 or not, a CPU run repeats exactly
    assert exact.env["precision"] == "float32"
    if a.env["precision"] == "bf16":
        assert numbers(a.history) != numbers(exact.history)


class BlowUpAt(Callback):
    """Sets an absurd learning rate at the start of one epoch: the next steps overflow to NaN."""

    def __init__(self, epoch: int) -> None:
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            for group in self.trainer.optimizer.param_groups:
                group["lr"] = 1e38


def test_a_diverged_model_is_not_scored_and_restore_best_weights_still_applies(data_dir):
    r = run_config(cfg(train={"epochs": 4}), data_dir=data_dir, progress="none", extra_callbacks=[BlowUpAt(2)])
    assert r.status == "diverged" and len(r.history) == 2 and "too high" in r.message
    assert not weights_finite(r.model)
    assert r.metrics["test_accuracy"] is None and r.metrics["test_loss"] is None and "not tested" in r.message
    # With EarlyStopping(restore_best_weights), the run ends as Keras's TerminateOnNaN ends fit:
    # on_train_end runs and hands back the best epoch's weights, which are then scored.
    early = [{"type": "EarlyStopping", "monitor": "loss", "patience": 10, "restore_best_weights": True}]
    r = run_config(cfg(train={"epochs": 4}, callbacks=early), data_dir=data_dir, progress="none",
                     extra_callbacks=[BlowUpAt(2)])
    assert r.status == "diverged" and weights_finite(r.model)
    assert r.metrics["test_accuracy"] > 0.3 and "not tested" not in r.message


def test_bad_progress_mode_fails_before_any_data_is_read(tmp_path):
    with pytest.raises(SpecError, match='did you mean "bar"'):
        train("mnist", "seed000-dense", epochs=1, data_dir=tmp_path / "no-data-here", progress="bars")


def test_predict_checks_what_it_is_given(data_dir):
    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120)
    images = load_dataset("mnist", data_dir).test_images[:3]
    np.testing.assert_allclose(run.predict(images.astype(np.int64)), run.predict(images), atol=1e-6)
    # floats holding whole numbers 0-255 are pixels, as training reads an array of them (helper-251)
    np.testing.assert_allclose(run.predict(images.astype(np.float32)), run.predict(images), atol=1e-6)
    assert run.predict(images[:0]).shape == (0, 10)
    for bad, needle in [(np.zeros((2, 10, 10), np.uint8), "28x28 images, got 10x10"),
                        (np.full((1, 28, 28), 300), "0-255"), (np.zeros((1, 28, 28), bool), "pixels"),
                        (np.full((1, 28, 28), -1, np.int8), "0-255"), (np.full((1, 28, 28), 300, np.uint16), "0-255"),
                        (images.astype(np.float32) / 128, "with fractions: scaled by something other than 255"),
                        (np.full((1, 28, 28), np.nan), "NaN")]:
        with pytest.raises(SpecError, match=needle):
            run.predict(bad)


@pytest.mark.parametrize(("settings", "needle"), [
    ({"train": {"lr": float("nan")}}, "finite"),
    ({"callbacks": [{"type": "EarlyStopping"}]}, 'callbacks[0].monitor: "val_loss" needs validation data'),
    ({"callbacks": [{"type": "ReduceLROnPlateau", "monitor": "val_accuracy"}]}, '"val_accuracy" needs validation'),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "e{val_accuracy:.2f}.safetensors"}]},
     'callbacks[0].filepath: "val_accuracy"'),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "/nowhere/best.keras"}]},
     'callbacks[0].filepath: "/nowhere/best.keras" must end in .safetensors'),
    # helper-143: each of these trained, then failed the run when it saved (the 1 GB name built first)
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/" + "y" * 300 + "-{epoch}.safetensors"}]},
     "makes a file or folder name of 314 bytes: file systems take 255 at most"),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/a\x00{epoch}.safetensors"}]}, "holds a control character"),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/{epoch:>999999999}.safetensors"}]},
     '"{epoch:>999999999}" makes 999,999,999 characters: 32 at most'),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/{loss:.999999999f}.safetensors"}]},
     '"{loss:.999999999f}" makes 999,999,999 characters'),  # helper-144: the precision built it too
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/{epoch.__class__.__name__}.safetensors"}]},
     '"{epoch.__class__.__name__}" reaches into a value'),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/{loss[0]}.safetensors"}]}, '"{loss[0]}" reaches into'),
    # helper-145: a format in the format grew past a name's length at epoch 25; a 4.7 KB path; a right-to-left mark
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/{epoch:>{epoch}0}.safetensors"}]},
     "formats its format with a value"),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": ("d" * 79 + "/") * 60 + "x.safetensors"}]},
     "is 4,813 bytes long: file systems take 4,000 at most"),
    ({"callbacks": [{"type": "ModelCheckpoint", "filepath": "ck/e{epoch}\u202egpj.safetensors"}]},
     "holds a control character"),
])
def test_settings_a_run_could_not_honour_are_refused_up_front(settings, needle):
    with pytest.raises(SpecError) as info:
        cfg(**settings)
    assert needle in str(info.value)


def test_val_callbacks_are_fine_with_validation_and_checkpoints_without_val_keys():
    cfg(data={"validation": 0.1}, callbacks=[{"type": "EarlyStopping"}])
    cfg(callbacks=[{"type": "ModelCheckpoint", "filepath": "e{epoch}.safetensors"}])  # default monitor unused
    cfg(callbacks=[{"type": "ModelCheckpoint", "filepath": "val_models/e{epoch}.safetensors"}])  # a folder name
    cfg(callbacks=[{"type": "ModelCheckpoint", "filepath": "x" * 200 + "/e{epoch:05d}-{loss:012.4f}.safetensors"}])


def test_momentum_an_optimizer_ignores_is_a_warning():
    from mnistlab.errors import SpecWarning

    with pytest.warns(SpecWarning, match="train.momentum = 0.9 applies to sgd and rmsprop; adam ignores it") as record:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"optimizer": "adam", "momentum": 0.9}})
    assert record[0].filename == __file__  # the caller's line, not config.py's


def test_keras_style_split_holds_out_the_last_images(data_dir):
    from mnistlab.datasets import validation_split

    # What Keras's validation_split holds out for these (n - floor(n * (1 - f))), worked out by hand.
    for n, f, keras in [(1001, 0.1, 101), (50000, 1 / 6, 8334), (60000, 0.33, 19801), (2, 0.1, 1)]:
        assert len(validation_split(np.zeros(n), fraction=f, last=True)[1]) == keras
    last = prepare_data(cfg(data={"validation": 0.1, "split": "last"}), data_dir)
    everything = prepare_data(cfg(), data_dir)
    assert torch.equal(last.val_x, everything.train_x[270:]) and torch.equal(last.train_x, everything.train_x[:270])
    assert torch.equal(last.val_y, everything.train_y[270:])
    rand = prepare_data(cfg(data={"validation": 0.1}), data_dir)
    assert len(rand.val_x) == 30 and not torch.equal(rand.val_x, last.val_x)
    with pytest.raises(SpecError, match='stratify needs split = "random"'):
        cfg(data={"validation": 0.1, "split": "last", "stratify": True})
    with pytest.raises(SpecError, match="data.split"):
        cfg(data={"validation": 0.1, "split": "first"})


def test_notebook_validation_data_is_used_and_recorded(data_dir):
    ds = load_dataset("mnist", data_dir)
    images, labels = ds.test_images[100:140], ds.test_labels[100:140]
    early = [{"type": "EarlyStopping", "monitor": "val_accuracy", "patience": 5}]  # fine: validation comes with the run
    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                  validation_data=(images.astype(np.float32) / 255, labels), callbacks=early)
    assert run.metrics["validation"] == "given" and run.metrics["val_size"] == 40
    expected = float((run.predict(images).argmax(1) == labels).mean())
    assert run.history[-1]["val_accuracy"] == pytest.approx(expected)
    plain = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120, validation=0.1)
    assert plain.metrics["validation"] == "random"
    # helper-117: Keras takes the labels one-hot (to_categorical's) or as a column (N, 1), a callback alone
    from mnistlab.callbacks import EarlyStopping

    for given in (np.eye(10, dtype=np.float32)[labels], labels[:, None]):
        again = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                      validation_data=(images.astype(np.float32) / 255, given),
                      callbacks=EarlyStopping(monitor="val_accuracy", patience=5))
        assert again.history[-1]["val_accuracy"] == pytest.approx(run.history[-1]["val_accuracy"])


def test_an_error_in_the_users_own_callback_is_raised_once_the_run_is_recorded(data_dir, tmp_path, capsys):
    """helper-117: a ValueError raised in the user's callback came back as a failed Run (the message
    alone, no traceback); Keras's fit lets it through. It is raised, the run recorded failed."""
    import traceback

    from mnistlab.callbacks import Callback
    from mnistlab.store import RunStore

    class Boom(Callback):
        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            raise ValueError("my bug")

    with pytest.raises(ValueError, match="^my bug") as raised:
        train("mnist", "seed000-dense", epochs=2, data_dir=data_dir, progress="none", subset=60, callbacks=[Boom()],
              store=tmp_path / "runs")
    assert "on_epoch_end" in "".join(traceback.format_tb(raised.value.__traceback__))  # the user's line, to debug
    [rec] = RunStore(tmp_path / "runs").runs()
    assert rec.status == "failed" and rec.message == "ValueError: my bug"
    if sys.version_info >= (3, 11):  # helper-120: the user had no run id to look at
        assert raised.value.__notes__ == [f"mnistlab: the run is recorded as failed, run {rec.run_id} "
                                          f"(`mnistlab show {rec.run_id}`: its epochs so far)"]
    from mnistlab.cli import main  # helper-118: `runs` listed the failed run's tested weights as its accuracy

    assert main(["runs", "--store", str(tmp_path / "runs"), "--format", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["status"] == "failed" and listed["test_accuracy"] is None
    with pytest.raises(ValueError, match="^my bug$"):  # not recorded (no run id to say): raised all the same
        train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60, callbacks=Boom())


def test_a_callback_object_is_checked_before_training_as_its_table_is(data_dir, tmp_path):
    """helper-117: {"type": "EarlyStopping", "monitor": "val_acc"} was refused before training, the
    object EarlyStopping(monitor="val_acc") only warned each epoch and stopped nothing."""
    from mnistlab.callbacks import EarlyStopping, ReduceLROnPlateau

    for cb, said in ((EarlyStopping(monitor="val_acc"), 'did you mean "val_accuracy"?'),
                     (ReduceLROnPlateau(), "ReduceLROnPlateau(monitor='val_loss') needs validation data")):
        with pytest.raises(SpecError, match=re.escape(said)):
            train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60, callbacks=[cb])
    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60, validation=0.2,
                callbacks=[EarlyStopping()])
    assert run.status == "finished"
    with pytest.warns(SpecWarning, match=r"^train\(\): callbacks: ReduceLROnPlateau's min_lr = 1 is not below the "):
        train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60,  # helper-164
              callbacks=[ReduceLROnPlateau(monitor="loss", min_lr=1.0)])
    from mnistlab.callbacks import ModelCheckpoint  # saving every epoch: its monitor (val_loss) is never read

    every = ModelCheckpoint(str(tmp_path / "e{epoch}.safetensors"))
    assert train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60,
                 callbacks=every).status == "finished" and (tmp_path / "e1.safetensors").is_file()


@pytest.mark.parametrize(("given", "needle"), [
    ("nope", "expected (images, labels)"),
    ((np.zeros((3, 10, 10), np.uint8), np.zeros(3, np.int64)), "(N, 28, 28)"),
    ((np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.int64)), "3 images need 3 labels"),
    ((np.zeros((3, 28, 28), np.uint8), np.full(3, 10)), "labels must be integers 0-9"),
    ((np.full((3, 28, 28), 2.5), np.zeros(3, np.int64)), "[0, 1]"),  # (2.0: a pixel, as training reads one)
    ((np.full((3, 28, 28), 256), np.zeros(3, np.int64)), "0-255"),
    ((np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)), "0 images"),
])
def test_bad_validation_data_is_refused(given, needle, data_dir):
    with pytest.raises(SpecError) as info:
        train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60,
                validation_data=given)
    assert needle in str(info.value)
    with pytest.raises(SpecError, match="choose one"):
        train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60, validation=0.1,
                validation_data=(np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.int64)))


def test_notebook_runs_can_be_recorded_even_when_they_diverge(data_dir, tmp_path):
    from mnistlab.store import RunStore

    ok = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                 store=tmp_path / "runs", experiment="lab")
    rec = RunStore(tmp_path / "runs", create=False).get(ok.run_id)
    assert (rec.experiment, rec.variant, rec.status) == ("lab", "seed000-dense", "finished")
    for name in ("a/b", "bad\x01", " "):  # names no command could take back are refused before training
        with pytest.raises(SpecError, match="experiment: must be ASCII letters"):
            train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                  store=tmp_path / "runs", experiment=name)
    assert len(RunStore(tmp_path / "runs", create=False).runs()) == 1
    assert rec.metrics["test_accuracy"] == ok.test_accuracy
    bad = train("mnist", "seed000-dense", epochs=3, data_dir=data_dir, progress="none", subset=120,
                  store=tmp_path / "runs", callbacks=[BlowUpAt(1)])
    rec = RunStore(tmp_path / "runs", create=False).get(bad.run_id)
    assert rec.status == "diverged" and len(rec.history) == 1 and "not tested" in rec.message
    assert train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120).run_id is None


def test_a_runs_history_has_keras_params(data_dir):
    """helper-117: Keras's history.params ({"verbose", "epochs", "steps"}) was missing."""
    run = train("mnist", "seed000-dense", epochs=2, data_dir=data_dir, progress="none", subset=130, batch_size=32)
    assert run.history.params == {"verbose": 0, "epochs": 2, "steps": 5}  # 130 images: 4 batches of 32 and one of 2
    assert list(run.history.history) == run.history.keys() and len(run.history) == 2
    shown = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="lines", subset=130, batch_size=32)
    assert shown.history.params["verbose"] == 2  # Keras's verbose=2 is one line an epoch (note 37: always 0)


def test_an_epoch_whose_on_epoch_end_raised_is_kept_in_the_recorded_history(data_dir, tmp_path):
    """helper-117: the epoch whose on_epoch_end raised (the user's error, a Ctrl-C in a slow
    callback) was left out of the history, though its weights had trained it."""
    from mnistlab.callbacks import Callback
    from mnistlab.store import RunStore

    class FailsInEpoch2(Callback):
        def __init__(self, error: type[BaseException]) -> None:
            super().__init__()
            self.error = error

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            if epoch == 1:
                raise self.error("in my callback")

    with pytest.raises(ValueError, match="in my callback"):
        train("mnist", "seed000-dense", epochs=3, data_dir=data_dir, progress="none", subset=60,
              callbacks=FailsInEpoch2(ValueError), store=tmp_path / "runs")
    [rec] = RunStore(tmp_path / "runs", create=False).runs()
    assert rec.status == "failed" and [h["epoch"] for h in rec.history] == [1, 2]
    assert all(h["accuracy"] is not None and h["epoch_seconds"] > 0 for h in rec.history)
    with pytest.raises(TrainingInterrupted) as stopped:
        train("mnist", "seed000-dense", epochs=3, data_dir=data_dir, progress="none", subset=60,
              callbacks=FailsInEpoch2(KeyboardInterrupt), store=tmp_path / "runs")
    run = stopped.value.run
    assert run.status == "interrupted" and len(run.history) == 2 and "after 2 complete epochs" in run.message
    assert len(RunStore(tmp_path / "runs", create=False).get(run.run_id).history) == 2


def test_a_run_deleted_from_the_store_while_training_is_a_warning_not_a_crash(data_dir, tmp_path):
    from mnistlab.store import RunStore

    class DeleteMyRecord(Callback):  # `mnistlab rm` from another terminal, mid-run
        def on_epoch_end(self, epoch, logs=None):
            store = RunStore(tmp_path / "runs", create=False)
            store.rm([r.run_id for r in store.runs(status="running")])

    with pytest.warns(UserWarning, match="the run was not recorded: .*deleted while it ran"):
        run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                      store=tmp_path / "runs", callbacks=[DeleteMyRecord()])
    assert run.status == "finished" and run.run_id is None and run.test_accuracy is not None
    assert list((tmp_path / "runs" / "runs").iterdir()) == []  # its folder is not made again


def test_a_callbacks_tensor_in_the_logs_is_recorded_and_bad_store_arguments_are_refused(data_dir, tmp_path):
    from mnistlab.store import RunStore

    class PutTensor(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["scale"] = torch.tensor(0.5)  # JSON has no tensors: stored as its value

    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                  store=tmp_path / "runs", callbacks=[PutTensor()])
    assert RunStore(tmp_path / "runs", create=False).get(run.run_id).history[0]["scale"] == 0.5
    for kwargs, needle in [({"store": 0}, "store: expected a folder"), ({"store": True, "experiment": " "}, "experiment")]:
        with pytest.raises(SpecError, match=needle):
            train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=60, **kwargs)


def test_predict_agrees_with_the_test_pass_in_the_runs_precision(data_dir):
    run = train("fashion-mnist", "seed000-ex1", epochs=1, data_dir=data_dir, progress="none", subset=600,
                precision="bf16")
    test = load_dataset("fashion-mnist", data_dir)
    n = run.metrics["test_size"]
    probs = run.predict(test.test_images[:n])
    assert run.result.env["precision"] == "bf16"
    assert (probs.argmax(1) == run.result.test_probs.argmax(1)).mean() >= 0.99
    assert float((probs.argmax(1) == np.asarray(test.test_labels[:n])).mean()) == pytest.approx(run.test_accuracy, abs=0.01)


def test_validation_data_from_a_memory_mapped_dataset_is_copied_quietly(data_dir):
    import warnings

    ds = load_dataset("mnist", data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # torch warns about tensors over read-only arrays
        run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120,
                    validation_data=(ds.test_images[:50], ds.test_labels[:50]))
    assert run.metrics["validation"] == "given" and run.metrics["val_size"] == 50


def test_a_checkpoint_records_the_chosen_thread_count_not_the_loads(data_dir, tmp_path):
    class LoadTookACore(Callback):  # what the thread governor does when another process takes a core
        def on_epoch_begin(self, epoch, logs=None):
            torch.set_num_threads(1)

    cnn = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-ex1", "data": {"subset": 64},
                            "train": {"epochs": 1, "threads": 2}})
    run_config(cnn, data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, extra_callbacks=[LoadTookACore()])
    assert torch.load(tmp_path / "last.pt", weights_only=True)["threads"] == 2


def test_a_normalization_is_adapted_from_the_training_images_and_recorded(data_dir, tmp_path):
    from mnistlab.config import run_key
    from mnistlab.models import adapt_normalization
    from mnistlab.specs import parse_model_spec
    from mnistlab.store import RunStore

    model = {"layers": ["Normalization", {"type": "Conv2D", "filters": 16, "kernel_size": 5, "activation": "relu"},
                        "MaxPooling2D", "Flatten", {"type": "Dense", "units": 10, "activation": "softmax"}]}
    written = parse_run_config({"dataset": "mnist", "model": model, "data": {"subset": 300, "validation": 0.2},
                                "train": {"epochs": 1}})
    run = train("mnist", model, epochs=1, data_dir=data_dir, progress="none", subset=300, validation=0.2,
                store=tmp_path / "runs")
    layer = run.config["model"]["layers"][0]
    split = prepare_data(written, data_dir)  # the 240 images it trains on, not the 60 held out
    expected = adapt_normalization(written.model_spec(), split.train_x).layers[0]
    assert (layer["mean"], layer["variance"]) == (expected.mean, expected.variance)
    assert 0.1 < layer["mean"] < 0.15 and 0.08 < layer["variance"] < 0.11
    assert run.metrics["params"] == 23_466 + 3  # Keras's count of the model as written: mean, variance, count
    store = RunStore(tmp_path / "runs", create=False)
    rec = store.get(run.run_id)
    assert rec.config["model"]["layers"][0] == layer  # recorded, so the record rebuilds without the data
    assert rec.config_hash == run_key(written.resolved())  # still the key of the config as written
    images = load_dataset("mnist", data_dir).test_images[:20]
    from mnistlab.evaluate import predict_probs

    bf16 = torch.bfloat16 if run.result.env["precision"] == "bf16" else None  # predict() computes as the run tested
    np.testing.assert_allclose(predict_probs(store.load_model(run.run_id), images, autocast_dtype=bf16),
                               run.predict(images), atol=1e-5)
    again = parse_run_config({**written.resolved(), "model": rec.config["model"]})
    assert again.model_spec() == parse_model_spec(rec.config["model"]) and not again.model_spec().layers[0].needs_adapt


def test_a_run_passes_its_betas_and_epsilon_to_the_optimizer(data_dir):
    class Look(Callback):
        def on_train_begin(self, logs=None):
            self.group = dict(self.trainer.optimizer.param_groups[0])

    look = Look()
    run_config(cfg(train={"epochs": 1, "beta_1": 0.7, "beta_2": 0.9, "epsilon": 1e-8}), data_dir=data_dir,
               progress="none", extra_callbacks=[look])
    assert look.group["betas"] == (0.7, 0.9) and look.group["eps"] == 1e-8


# ------------------------------------------------------------------------------------ issue 14
def test_predict_takes_keras_and_torch_layouts_and_single_images(data_dir):
    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120)
    x = np.array(load_dataset("mnist", data_dir).test_images[:3])
    ref = run.predict(x)
    for given in (x[:, None], x[..., None], torch.from_numpy(x), torch.from_numpy(x).float() / 255, x / 255.0):
        np.testing.assert_allclose(run.predict(given), ref, atol=1e-6)
    for one in (x[0], x[0][..., None], torch.from_numpy(x[0])):  # one image: one row
        np.testing.assert_allclose(run.predict(one), ref[:1], atol=1e-6)
    colour = np.repeat(x[0][..., None], 3, axis=-1)  # the (28, 28, 3): it read 28 images of 28x3
    for bad, needle in [(colour, "got 3 channels"), (colour[None], "convert to grayscale"),
                        (np.zeros((28, 28, 4), np.uint8), "convert to grayscale"),
                        (np.zeros((1, 32, 32), np.uint8), "the model takes 28x28 images, got 32x32")]:
        with pytest.raises(SpecError, match=needle) as info:
            run.predict(bad)
        assert "\n" not in str(info.value)


def test_predict_warns_when_images_look_inverted(data_dir):
    import warnings

    from mnistlab.errors import InvertedImageWarning

    run = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120)
    x = np.array(load_dataset("mnist", data_dir).test_images[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.predict(x)
        run.predict(x / 255.0)
    for inverted in (255 - x, 1 - x / 255.0, 255 - x[0]):  # a digit drawn black on white
        with pytest.warns(InvertedImageWarning, match="look inverted.*every mnist image is dark") as record:
            run.predict(inverted)
        assert record[0].filename == __file__  # the warning points at the caller's line


BIG = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 400_000, "activation": "relu"},
                  {"type": "Dense", "units": 10, "activation": "softmax"}]}  # the 318M-parameter model


# Three 2048-filter convolutions on a batch of all 60,000 images: about 1.2 TB of activations, more
# than any machine this runs on (the parameter limit keeps weights alone from getting there).
HUGE = {"layers": [{"type": "Conv2D", "filters": 2048, "kernel_size": 3, "padding": "same", "activation": "relu"},
                   {"type": "Conv2D", "filters": 2048, "kernel_size": 3, "padding": "same", "activation": "relu"},
                   {"type": "Conv2D", "filters": 2048, "kernel_size": 3, "padding": "same", "activation": "relu"},
                   {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 10, "activation": "softmax"}]}


def test_a_model_that_cannot_fit_fails_before_training_and_is_recorded_failed(data_dir, tmp_path):
    from mnistlab.errors import ResourceError
    from mnistlab.store import RunStore

    with pytest.raises(ResourceError) as info:
        train("mnist", HUGE, epochs=1, data_dir=data_dir, progress="none", batch_size=60_000, store=tmp_path / "runs")
    message = str(info.value)
    assert message.startswith("not enough memory for a 75.5M-parameter model: about 1,157.9 GB needed with adam")
    assert "batch 60000" in message and "GB available" in message
    [rec] = RunStore(tmp_path / "runs", create=False).runs()
    assert rec.status == "failed" and rec.message == message and rec.history == []


def test_the_train_command_says_not_enough_memory_in_one_line(data_dir, tmp_path, capsys):
    import json

    from mnistlab.cli import main

    spec = tmp_path / "huge.json"
    spec.write_text(json.dumps(HUGE))
    code = main(["train", "--dataset", "mnist", "--model", str(spec), "--batch-size", "60000", "--epochs", "1",
                 "--data-dir", str(data_dir), "--progress", "none", "--store", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 1 and "Training memory: about 1.16 TB with adam at batch 60000" in out
    assert err.startswith("error: not enough memory for a 75.5M-parameter model") and err.count("\n") == 1


def test_a_real_failed_allocation_while_building_is_one_line_and_recorded_failed(data_dir, tmp_path):
    """The issue's traceback, reproduced: the estimate (5.1 GB) fits the machine, but the process may
    not map more than 1 GB beyond what it holds (ulimit -v), so building the 1.27 GB model fails."""
    import subprocess
    import sys

    script = (
        "import re, resource, sys\n"
        "from mnistlab.cli import main\n"
        "held = int(re.search(r'VmSize:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (held + 10**9, held + 10**9))\n"
        "sys.exit(main(sys.argv[1:]))\n")
    spec = tmp_path / "big.json"
    spec.write_text(__import__("json").dumps(BIG))
    args = ["train", "--dataset", "mnist", "--model", str(spec), "--subset", "60", "--epochs", "1", "--device", "cpu",
            "--threads", "1", "--data-dir", str(data_dir), "--progress", "none", "--store", str(tmp_path / "runs")]
    p = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr
    assert p.stderr == ("error: not enough memory for a 318M-parameter model: about 5.1 GB needed with adam "
                        "(batch 32; the allocation failed)\n")
    from mnistlab.store import RunStore

    [rec] = RunStore(tmp_path / "runs", create=False).runs()
    assert rec.status == "failed" and rec.message in p.stderr


def test_a_real_failed_allocation_while_training_ends_the_run_failed(data_dir):
    class Hog(Callback):  # something in the run asks for far more memory than exists (a real allocation)
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                torch.empty(2**50, dtype=torch.uint8)

    r = run_config(cfg(dataset="mnist", train={"epochs": 3}), data_dir=data_dir, progress="none", extra_callbacks=[Hog()])
    assert r.status == "failed" and len(r.history) == 1
    # helper-128: a failed run's weights are no result: untested, as a stacked member's never were
    assert r.metrics["test_accuracy"] is None and r.metrics["test_loss"] is None and np.isnan(r.test_probs).all()
    assert r.message.startswith("not enough memory for a 102K-parameter model: about ")
    assert r.message.endswith("needed with adam (batch 32; an allocation failed while training)")


def test_a_real_failed_allocation_while_testing_keeps_the_history_and_says_so(data_dir):
    class HogAtTest(Callback):  # the model's test pass asks for far more memory than exists
        def on_train_end(self, logs=None):
            def hog(module, inputs, output):
                if not module.training:
                    torch.empty(2**50, dtype=torch.uint8)
            self.trainer.model.register_forward_hook(hog)

    r = run_config(cfg(dataset="mnist", train={"epochs": 2}), data_dir=data_dir, progress="none",
                   extra_callbacks=[HogAtTest()])
    assert r.status == "failed" and len(r.history) == 2 and r.metrics["test_accuracy"] is None
    assert r.message.startswith("not enough memory for a 102K-parameter model: about ")
    assert r.message.endswith("(batch 32; an allocation failed while testing)")


def test_a_stop_while_testing_records_the_run_interrupted_not_finished_without_a_result(data_dir, tmp_path):
    """A finished run without a test accuracy was skipped by every later sweep and averaged into its
    committee as NaN outputs (store attack, session 22): a stop during the test pass is a stop."""
    import os
    import signal

    class StopAtTest(Callback):  # Ctrl-C arrives while the test set is being scored
        def on_train_end(self, logs=None):
            def stop(module, inputs, output):
                if not module.training:
                    os.kill(os.getpid(), signal.SIGINT)
            self.trainer.model.register_forward_hook(stop)

    r = run_config(cfg(dataset="mnist", train={"epochs": 1}), data_dir=data_dir, progress="none",
                   extra_callbacks=[StopAtTest()])
    assert r.status == "interrupted" and r.metrics["test_accuracy"] is None and len(r.history) == 1
    assert r.message.endswith("interrupted before its test pass")

    from mnistlab.cli.train_cmds import _resume_hint  # what `mnistlab train` adds to its error line

    ckpt = tmp_path / "ckpt"
    r = run_config(cfg(dataset="mnist", train={"epochs": 2}), data_dir=data_dir, progress="none",
                   extra_callbacks=[StopAtTest()], checkpoint_dir=ckpt)
    assert r.status == "interrupted" and _resume_hint(r, ckpt) == (
        f"; add --resume to test it (its 2 epochs are in the checkpoint in {ckpt})")  # not "continue from epoch 3"
    again = run_config(cfg(dataset="mnist", train={"epochs": 2}), data_dir=data_dir, progress="none",
                       checkpoint_dir=ckpt, resume=True)
    assert again.status == "finished" and again.metrics["resumed_from_epoch"] == 2 and len(again.history) == 2


def test_ctrl_c_in_train_stops_a_loop_of_runs_with_each_recorded(data_dir, tmp_path):
    """Keras's fit lets Ctrl-C through: so does train(), once the run is recorded, and the
    exception holds the run as it ended (helper-96: a loop of train() calls went on silently)."""
    import os
    import signal

    from mnistlab.store import RunStore

    class CtrlCInEpoch2(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    kw = dict(epochs=3, data_dir=data_dir, progress="none", subset=120)
    trained = []
    with pytest.raises(TrainingInterrupted) as stopped:
        for seed in (0, 1):
            trained.append(train("mnist", "seed000-dense", seed=seed, callbacks=[CtrlCInEpoch2()],
                                 store=tmp_path / "runs", **kw))
    assert trained == [] and isinstance(stopped.value, KeyboardInterrupt)
    run = stopped.value.run
    assert run.status == "interrupted" and len(run.history) == 1 and run.test_accuracy is not None
    assert str(stopped.value) == (f"training interrupted after 1 of 3 epochs, recorded as run {run.run_id}; "
                                  "the run as it ended is this exception's .run")
    (rec,) = RunStore(tmp_path / "runs", create=False).runs()
    assert (rec.run_id, rec.status, len(rec.history)) == (run.run_id, "interrupted", 1)

    with pytest.raises(KeyboardInterrupt) as unrecorded:
        train("mnist", "seed000-dense", callbacks=[CtrlCInEpoch2()], **kw)
    assert unrecorded.value.run.run_id is None and str(unrecorded.value).startswith("training interrupted after 1 of 3 "
                                                                                    "epochs; the run")


def test_ctrl_c_as_training_ends_keeps_the_epochs_it_trained(data_dir, tmp_path):
    """helper-98: a Ctrl-C in a callback's on_train_end (EarlyStopping restoring its best epoch, a
    slow user callback) came out as a bare KeyboardInterrupt, the run recorded with no epochs."""
    import os
    import signal

    from mnistlab.store import RunStore

    class CtrlCAtTheEnd(Callback):
        def on_train_end(self, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as stopped:  # (a bare one would end the test session: caught, then judged)
        train("mnist", "seed000-dense", epochs=2, data_dir=data_dir, progress="none", subset=120,
              callbacks=[CtrlCAtTheEnd()], store=tmp_path / "runs")
    assert isinstance(stopped.value, TrainingInterrupted)
    run = stopped.value.run
    assert run.status == "interrupted" and len(run.history) == 2 and run.test_accuracy is not None
    assert run.message.endswith("after 2 complete epochs, as training ended (its callbacks' on_train_end, such as "
                                "EarlyStopping's restore, may not have finished)")
    assert len(RunStore(tmp_path / "runs", create=False).get(run.run_id).history) == 2


def test_ctrl_c_while_train_records_its_run_waits_for_the_record_and_its_note(data_dir, tmp_path, monkeypatch):
    """A stop while train(store=...) records a finished run comes once the run is recorded and its
    checkpoint noted as its end (review of session 31: the note was skipped, so a resume of the same
    run tested it again and recorded a copy); the exception holds the run and says how it stands."""
    import os
    import pickle
    import signal

    from mnistlab.run import RECORDED_FILE
    from mnistlab.store import RunStore

    finish = RunStore.finish_run

    def ctrl_c_then_finish(self, *args, **kwargs):  # the user presses Ctrl-C as the result is written
        os.kill(os.getpid(), signal.SIGINT)
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(RunStore, "finish_run", ctrl_c_then_finish)
    kw = dict(epochs=1, data_dir=data_dir, progress="none", subset=120, store=tmp_path / "runs",
              checkpoint_dir=tmp_path / "ck")
    with pytest.raises(TrainingInterrupted) as stopped:
        train("mnist", "seed000-dense", **kw)
    run = stopped.value.run
    assert str(stopped.value) == f"stopped once run {run.run_id} was recorded (finished); the run is this exception's .run"
    monkeypatch.undo()
    assert RunStore(tmp_path / "runs", create=False).get(run.run_id).status == "finished"
    assert (tmp_path / "ck" / RECORDED_FILE).is_file()  # noted: the same run resumed is that run, not a copy
    assert train("mnist", "seed000-dense", resume=True, **kw).run_id == run.run_id
    again = pickle.loads(pickle.dumps(stopped.value))  # as from a worker process
    assert str(again) == str(stopped.value) and again.run.test_accuracy == run.test_accuracy


def test_train_resumed_where_a_recorded_run_ended_returns_that_run(data_dir, tmp_path):
    from mnistlab.store import RunStore

    kw = dict(epochs=1, data_dir=data_dir, progress="none", subset=120, store=tmp_path / "runs",
              checkpoint_dir=tmp_path / "ck")
    first = train("mnist", "seed000-dense", **kw)
    again = train("mnist", "seed000-dense", resume=True, **kw)
    assert again.run_id == first.run_id and again.test_accuracy == first.test_accuracy
    assert len(RunStore(tmp_path / "runs", create=False).runs()) == 1
    on = train("mnist", "seed000-dense", resume=True, **{**kw, "epochs": 2})
    assert on.run_id != first.run_id and on.metrics["resumed_from_epoch"] == 1 and len(on.history) == 2
    with pytest.raises(SpecError, match=r"^train\(resume=True\) needs checkpoint_dir="):  # helper-117: trained afresh
        train("mnist", "seed000-dense", resume=True, **{**kw, "checkpoint_dir": None})
    assert len(RunStore(tmp_path / "runs", create=False).runs()) == 2  # nothing recorded


def test_recording_a_result_whose_row_was_deleted_or_that_is_stopped(data_dir, tmp_path):
    """A run deleted while it trained no longer ends its sweep with "no run" (rm of a running
    cell); a stop while its result is written leaves it recorded whole, never running (store attack,
    session 22; helper-96 found finished results recorded as interrupted)."""
    import dataclasses
    import os
    import signal

    from mnistlab.execute import record_cells
    from mnistlab.run import Recorder
    from mnistlab.store import RunStore

    store = RunStore(tmp_path / "s")
    config = cfg(dataset="mnist", train={"epochs": 1})
    result = run_config(config, data_dir=data_dir, progress="none")
    gone = Recorder.for_config(store, "e", config)
    store.rm([gone.run_id])
    assert record_cells({}, [(0, gone)], [result]) == [(gone.run_id, "deleted")]

    class StopWhileSaved(torch.nn.Module):  # Ctrl-C arrives while the weights are taken for writing
        def __init__(self, model):
            super().__init__()
            self.model = model

        def state_dict(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            return self.model.state_dict(*args, **kwargs)

    stopped = Recorder.for_config(store, "e", config)
    with pytest.raises(KeyboardInterrupt):  # the stop is held until the whole result is recorded, then comes
        record_cells({}, [(0, stopped)], [dataclasses.replace(result, model=StopWhileSaved(result.model))])
    rec = store.get(stopped.run_id)  # (a finished result was once marked "interrupted while its result was recorded")
    assert rec.status == "finished" and rec.metrics["test_accuracy"] == result.metrics["test_accuracy"]
    assert store.load_model(stopped.run_id) is not None  # its weights whole

    class StopInTheCommit(dict):  # an epoch's figures: Ctrl-C while the store's transaction holds it back
        def items(self):
            if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []):
                os.kill(os.getpid(), signal.SIGINT)  # delivered right after the commit
            return super().items()

    held = Recorder.for_config(store, "e", config)
    late = dataclasses.replace(result, history=[StopInTheCommit(e) for e in result.history])
    with pytest.raises(KeyboardInterrupt):
        record_cells({}, [(0, held)], [late])
    rec = store.get(held.run_id)  # recorded whole before the stop: kept, not emptied into "interrupted"
    assert rec.status == "finished" and rec.metrics["test_accuracy"] == result.metrics["test_accuracy"]


def test_weights_finite_finds_nan_and_inf_anywhere():
    from mnistlab.models import weights_finite

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    assert weights_finite(model)
    for value in (float("nan"), float("inf"), -float("inf")):
        for tensor in (model[0].weight, model[1].running_var):
            with torch.no_grad():
                saved = tensor.flatten()[1].item()
                tensor.view(-1)[1] = value
                assert not weights_finite(model)
                tensor.view(-1)[1] = saved
    assert weights_finite(model)


def test_a_blown_up_run_says_so_in_the_record_the_table_and_the_train_command(data_dir, tmp_path, capsys):
    from mnistlab.cli import main
    from mnistlab.comparison import compare, format_rows
    from mnistlab.store import RunStore

    store = tmp_path / "runs"
    args = ["train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "300", "--epochs", "2",
            "--data-dir", str(data_dir), "--progress", "none", "--store", str(store)]
    assert main([*args, "--optimizer", "sgd", "--lr", "50"]) == 1  # was: finished, exit 0, no hint
    out, err = capsys.readouterr()
    assert "- diverged" in out and "error: run diverged: the loss blew up" in err
    # lr / 10 = 5 would diverge too: Keras's default for SGD instead
    assert "the learning rate (50) is probably too high; try lr = 0.01 (--lr 0.01), Keras's default for sgd" in err
    [rec] = RunStore(store, create=False).runs()
    assert rec.status == "diverged" and "the learning rate (50) is probably too high" in rec.message
    rows = compare(RunStore(store, create=False), "train")
    assert rows[0]["note"] == "1 diverged: the learning rate is probably too high"
    assert "seed000-dense (1 diverged: the learning rate is probably too high)" in format_rows(rows, "markdown")


def test_keras_habits_in_train_get_mnistlabs_words(tmp_path, data_dir):
    """New-user finding (35): fit(x, y) written as dataset=(x, y), verbose=0 and progress=False
    each said only "must be a valid string" or "unknown setting"; load_trained took no folder."""
    from mnistlab.run import load_trained
    from mnistlab.errors import StoreError

    x, y = np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.int64)
    with pytest.raises(SpecError, match=r"dataset: is a name, a path or a table here; arrays in memory are "
                                        r"mnistlab.train\(\)'s: \(x, y\), \(\(x_train, y_train\), \(x_test, y_test\)\)"):
        train(dataset=(x, y, y), model="seed000-dense", epochs=1)
    with pytest.raises(SpecError, match=r'unknown setting "verbose": mnistlab\'s is progress= \(Keras\'s verbose=0 is '
                                        r'progress="none"'):
        train("mnist", "seed000-dense", 1, verbose=0)
    with pytest.raises(SpecError, match=r'unknown setting "x": mnistlab trains on a dataset, not fit\'s x and y: give '
                                        r"the arrays as the dataset, train\(\(x, y\), model\)"):
        train(x=x, y=y, model="seed000-dense", epochs=1)  # type: ignore[call-arg]
    with pytest.raises(SpecError, match=r'unknown setting "validation_split": mnistlab\'s is validation=0.2; Keras holds '
                                        r'out the last images, which validation=0.2, split="last" does'):
        train("mnist", "seed000-dense", 1, validation_split=0.2)
    with pytest.raises(SpecError, match=r'unknown setting "loss": the loss is always Keras\'s sparse_categorical_crossentropy'):
        train("mnist", "seed000-dense", 1, loss="categorical_crossentropy")
    with pytest.raises(SpecError, match=r'unknown setting "metrics": accuracy and loss, and their val_ twins'):
        train("mnist", "seed000-dense", 1, metrics=["accuracy"])
    with pytest.raises(SpecError, match=r'unknown setting "sample_weight": every image counts once in the loss'):
        train("mnist", "seed000-dense", 1, sample_weight=np.ones(3))
    with pytest.raises(SpecError, match=r'unknown setting "initial_epoch": a stopped run continues from its checkpoint '
                                        r"where it stopped \(mnistlab train --resume, or train\(checkpoint_dir=..., "
                                        r"resume=True\)\)"):
        train("mnist", "seed000-dense", 3, initial_epoch=1)
    with pytest.raises(SpecError, match=r'unknown setting "input_shape": the input\'s shape is the model\'s: '
                                        r'model=\{"input_shape": \[28, 28, 1\], "layers": \[...\]\}'):
        train("mnist", "seed000-dense", 1, input_shape=(28, 28, 1))
    with pytest.warns(SpecWarning, match=r"train\(shuffle=False\) sets data.shuffle, the order your own data's images "
                                         r"are read in, not Keras's fit\(shuffle=False\)"):
        train("mnist", "seed000-dense", 1, subset=60, progress="none", data_dir=data_dir, shuffle=False)
    with pytest.raises(SpecError, match=r"progress=False: progress is a mode, not a number or a flag"):
        train("mnist", "seed000-dense", 1, progress=False)  # type: ignore[arg-type]
    run = train("mnist", "seed000-dense", 1, subset=300, progress="none", data_dir=data_dir, store=tmp_path / "s")
    loaded = load_trained(str(tmp_path / "s"), run.run_id)  # a folder, as train(store=) takes one
    assert loaded.test_accuracy == run.test_accuracy
    x = load_dataset("mnist", data_dir).test_images[:5]
    assert np.array_equal(run.predict(x.reshape(5, 784)), run.predict(x))  # flat rows, as a CSV holds them
    with pytest.raises(StoreError, match="no run store at"):
        load_trained(tmp_path / "nothing", run.run_id)


PENALISED = {"input_shape": [28, 28, 1], "layers": [
    {"type": "Flatten"},
    {"type": "Dense", "units": 32, "activation": "relu", "kernel_regularizer": {"l2": 1e-3}},
    {"type": "Dense", "units": 10, "activation": "softmax"}]}


@pytest.fixture(scope="module")
def penalised_run(data_dir):
    return train("mnist", PENALISED, epochs=1, data_dir=data_dir, progress="none", subset=600, precision="float32",
                 label_smoothing=0.1, validation=0.1)


def test_evaluate_on_the_runs_test_images_is_its_recorded_test_score(penalised_run, data_dir):
    """Keras's model.evaluate(x, y): [loss, accuracy], the loss with the run's label smoothing and
    weight penalty, as the test pass computed it; one-hot labels (to_categorical) score the same."""
    run, test = penalised_run, load_dataset("mnist", data_dir)
    n = run.metrics["test_size"]
    x, y = test.test_images[:n], np.asarray(test.test_labels[:n])
    loss, acc = run.evaluate(x, y)
    assert acc == run.test_accuracy
    assert loss == pytest.approx(run.test_loss, rel=1e-5)
    assert run.evaluate(x, np.eye(10)[y], return_dict=True) == pytest.approx({"loss": loss, "accuracy": acc})
    assert run.evaluate(torch.tensor(x), torch.tensor(y)) == pytest.approx([loss, acc])  # torch tensors too
    unpenalised = loss - float(sum(1e-3 * (w.detach() ** 2).sum() for name, w in run.model.named_parameters()
                                   if name.endswith("weight") and w.ndim == 2 and w.shape[0] == 32))
    assert 0 < unpenalised < loss  # the penalty is in, as Keras adds it


def test_evaluate_of_confident_mistakes_is_the_loss_from_the_logits(penalised_run, data_dir):
    """helper-190: evaluate took the log of float32 probabilities clamped at 1e-12, so a model sure of
    its mistakes scored 2.39 where its logits (the recorded test_loss, and Keras's) give 11.15."""
    from mnistlab.evaluate import evaluate_model

    run, test = copy.deepcopy(penalised_run), load_dataset("mnist", data_dir)
    with torch.no_grad():
        last = [m for m in run.model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(300)  # confident: many a true class far below a probability of 1e-12
    x, y = test.test_images[:500], np.asarray(test.test_labels[:500])
    loss, acc = run.evaluate(x, y)
    direct, direct_acc, _ = evaluate_model(run.model, torch.from_numpy(x), torch.from_numpy(y), label_smoothing=0.1)
    assert loss == pytest.approx(direct, rel=1e-5) and acc == direct_acc
    assert loss > 28  # beyond what a clamp at 1e-12 allows any image (27.6 at most)


@pytest.mark.parametrize("labels, needle", [
    (np.zeros(3), r"6 images but labels of shape \(3,\): give 6 class indices"),
    (np.array([0, 1, 2, 3, 4, 10]), r"label 10 \(at index 5\) is not a class of the model \(0-9\)"),
    (np.array([0, 1, 2, 3, 4, 1.5]), r"label 1.5 \(at index 5\)"),
    (np.array([0, 1, 2, 3, 4, -1]), r"label -1 \(at index 5\)"),
    (np.array([0, 1, 2, 3, 4, np.nan]), r"label nan \(at index 5\)"),
    (np.eye(9)[:6], r"labels of shape \(6, 9\) are not one-hot rows of the model's 10 classes"),
    (np.full((6, 10), 0.5), "summing to 1"),
    (["a", "b", "c", "d", "e", "f"], "labels must be class indices or one-hot rows of numbers, got strings"),
    (np.array(["1", "2", "3", "4", "5", "6"]), "got strings"),  # numbers written as text: not silently read
    (np.ones(6, bool), "got booleans"),
    (None, "got None"),
    (np.zeros((6, 10, 1)), r"labels of shape \(6, 10, 1\)"),
])
def test_evaluate_refuses_labels_that_do_not_fit_in_one_line(penalised_run, data_dir, labels, needle):
    x = load_dataset("mnist", data_dir).test_images[:6]
    with pytest.raises(SpecError, match=needle) as info:
        penalised_run.evaluate(x, labels)
    assert "\n" not in str(info.value) and str(info.value).startswith("evaluate: ")


def test_evaluate_takes_kerass_keywords_one_image_and_refuses_none(penalised_run, data_dir):
    """New-user finding (37): evaluate(x, y, verbose=0) and batch_size= were a TypeError; one image
    with its bare label was refused; no images gave [0.0, 0.0]."""
    test = load_dataset("mnist", data_dir)
    x, y = test.test_images[:40], np.asarray(test.test_labels[:40])
    assert penalised_run.evaluate(x, y, verbose=0, batch_size=7) == pytest.approx(penalised_run.evaluate(x, y))
    one = penalised_run.evaluate(x[0], int(y[0]), return_dict=True)  # as predict takes one image
    assert one == pytest.approx(penalised_run.evaluate(x[:1], y[:1], return_dict=True))
    with pytest.raises(SpecError, match=r"^evaluate: 1 image but labels of shape \(2,\): give 1 class index "):
        penalised_run.evaluate(x[0], y[:2])
    with pytest.raises(SpecError, match="^evaluate: no images to evaluate on$"):
        penalised_run.evaluate(x[:0], y[:0])
    with pytest.raises(SpecError, match=r"^evaluate: the model takes 28x28 images, got 27x27"):  # helper-157: said
        penalised_run.evaluate(np.zeros((2, 27, 27), np.uint8), y[:2])  # "predict:", of a call of evaluate
    with pytest.raises(SpecError, match=r"^predict: the images hold NaN or infinite pixels$"):  # no "or pass
        penalised_run.predict(np.full((2, 28, 28), np.nan, np.float32))  # preprocess=True": no size makes NaN do
    # helper-117: Keras's positional batch_size and verbose, sparse labels as a column (N, 1), predict's
    # verbose; a batch of -1 returned no rows (and evaluate then said "no images"), 2.5 a raw TypeError
    whole = penalised_run.evaluate(x, y)
    assert penalised_run.evaluate(x, y, 7, 0) == pytest.approx(whole)
    assert penalised_run.evaluate(x, y[:, None]) == pytest.approx(whole)
    assert np.array_equal(penalised_run.predict(x, verbose=0), penalised_run.predict(x))
    for size in (-1, 0, 2.5, True, "8"):
        with pytest.raises(SpecError, match=r"^predict: batch_size must be a whole number of images, at least 1"):
            penalised_run.predict(x, batch_size=size)
    with pytest.raises(SpecError, match=r"^evaluate: batch_size must be a whole number of images, at least 1, got integer -1$"):
        penalised_run.evaluate(x, y, batch_size=-1)


def test_history_reads_as_keras_history_history_by_metric(penalised_run, capsys):
    run = penalised_run
    assert "val_accuracy" in run.history and "val_acc" not in run.history  # as Keras's `in history.history`
    assert run.history.history == {k: run.history[k] for k in run.history.keys()} == dict(run.history)
    assert run.history.epoch == [0]  # Keras's History.epoch: indices from 0
    assert dict(run.history.items()) == run.history.history and run.history.get("val_acc", "none") == "none"
    assert run.history.get("loss") == run.history["loss"]
    # Keras 3 logs the rate as learning_rate (Keras 2 and mnistlab: lr); keys() lists what is recorded
    assert "learning_rate" in run.history and run.history["learning_rate"] == run.history["lr"] == [run.config["train"]["lr"]]
    assert run.history.get("learning_rate") == run.history["lr"] and "learning_rate" not in run.history.keys()
    h = run.history.history  # helper-147: Keras 3's idiom, history.history["learning_rate"], raised KeyError
    assert h["learning_rate"] == h["lr"] and "learning_rate" in h and h.get("learning_rate") == h["lr"]
    assert "learning_rate" not in list(h) and json.loads(json.dumps(h)) == dict(h)  # a dict to save as JSON
    for missing in (lambda: h["acc"], lambda: run.history["acc"]):  # Keras 2's name: said in Keras 3's
        with pytest.raises(KeyError) as info:
            missing()
        assert info.value.args[0].startswith("no metric 'acc' in this history (did you mean \"accuracy\"?); it has loss")
    assert run.history[-1]["val_accuracy"] == run.history["val_accuracy"][-1]  # a list of epochs, and by metric
    assert run.history.keys()[:4] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(run.history["loss"]) == len(run.history) == 1 and run.history[0]["epoch"] == 1
    with pytest.raises(KeyError) as info:
        run.history["val_acc"]
    assert info.value.args[0].startswith("no metric 'val_acc' in this history (did you mean \"val_accuracy\"?); it has loss, ")
    from mnistlab.run import History

    with pytest.raises(KeyError) as info:  # helper-157: without validation it said 'did you mean "accuracy"'
        History([{"epoch": 1, "loss": 0.5, "accuracy": 0.9, "lr": 0.001}])["val_accuracy"]
    assert info.value.args[0] == ("no metric 'val_accuracy' in this history: the run had no validation data "
                                  '(validation=0.1, a count, "test" or validation_data=(x, y) gives it); it has loss, '
                                  "accuracy, lr")
    assert str(info.value) == info.value.args[0]  # printed as written (helper-182: a KeyError's repr, quotes escaped)
    run.summary()
    out = capsys.readouterr().out
    assert "Total params: 25,450" in out and "Dense" in out and "Output Shape" in out
    lines: list[str] = []
    run.summary(print_fn=lines.append)
    assert lines == [out.rstrip("\n")]


def test_a_runs_summary_estimates_memory_with_its_own_optimizer_and_batch(data_dir, tmp_path, capsys):
    """helper-168: Run.summary() said the training memory "with adam at batch 32" for any run, and
    so did `mnistlab summary RUN_ID`; helper-170: read as recorded, a run whose data is gone since
    still has its summary."""
    from mnistlab.cli import main
    from mnistlab.run import Run

    rng = np.random.default_rng(0)
    own = tmp_path / "own.npz"
    np.savez(own, x_train=rng.integers(0, 256, (120, 28, 28), np.uint8), y_train=np.arange(120) % 10,
             x_test=rng.integers(0, 256, (20, 28, 28), np.uint8), y_test=np.arange(20) % 10)
    run = train(str(own), "seed000-dense", epochs=1, progress="none", optimizer="sgd", momentum=0.9, batch_size=64,
                store=tmp_path / "s")
    own.unlink()
    Run.from_store(RunStore(tmp_path / "s"), run.run_id).summary()
    assert main(["summary", run.run_id, "--store", str(tmp_path / "s")]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Training memory: ")]
    assert len(said) == 2 and all("with sgd at batch 64" in line for line in said), said


def test_validation_data_of_another_dataset_is_warned_about(data_dir):
    """New-user trap: train(model=..., validation_data=(MNIST images, labels)) trains on the default
    dataset, Fashion-MNIST, and validates on digits: val_accuracy near chance and EarlyStopping
    choosing by it, said by nothing. Images of the dataset trained on are not warned about."""
    import warnings

    from mnistlab.errors import DataWarning

    mnist, fashion = load_dataset("mnist", data_dir), load_dataset("fashion-mnist", data_dir)
    digits = (mnist.test_images[:200], mnist.test_labels[:200])
    with pytest.warns(DataWarning, match=r"validation_data: its images look unlike fashion-mnist's training images "
                                         r"\(\d+% of pixels inked, against \d+%\): images of another dataset, or inverted\? "
                                         r"\(train\(dataset=...\) names the one trained on; the default is fashion-mnist\)"):
        train(model="seed000-dense", epochs=1, subset=300, progress="none", data_dir=data_dir, validation_data=digits)
    with pytest.warns(DataWarning, match="look unlike mnist's training images"):  # inverted digits
        train("mnist", "seed000-dense", 1, subset=300, progress="none", data_dir=data_dir,
              validation_data=(255 - digits[0], digits[1]))
    for name, ds in (("mnist", mnist), ("fashion-mnist", fashion)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            train(name, "seed000-dense", 1, subset=300, progress="none", data_dir=data_dir,
                  validation_data=(ds.test_images[:200], ds.test_labels[:200]))


def test_git_commit_is_mnistlabs_own_checkout_not_the_folder_the_command_runs_in(tmp_path, monkeypatch):
    """New-user finding (37): env.git_commit was `git rev-parse HEAD` of the current folder: run
    from a project of the user's, a run recorded that project's commit as if it were the code's."""
    import subprocess
    from pathlib import Path

    import mnistlab.run as run_module

    source = Path(run_module.__file__).resolve().parent
    ours = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    other = tmp_path / "project"
    other.mkdir()
    git = ["git", "-C", str(other), "-c", "user.name=u", "-c", "user.email=u@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "theirs"], check=True)
    theirs = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.chdir(other)
    run_module._git_source.cache_clear()  # asked here, in the user's project, not earlier elsewhere
    assert run_module._git_source()[0] == (ours or None) and run_module._git_source()[0] != theirs


def test_git_dirty_says_whether_the_source_differs_from_its_commit(tmp_path):
    """helper-171: a run recorded the checkout's commit while src/ held uncommitted edits, so the
    commit checked out gave other code; README edits or new files beside it are not the code."""
    import subprocess

    import mnistlab.run as run_module

    package = tmp_path / "repo" / "src" / "mnistlab"
    package.mkdir(parents=True)
    (package / "run.py").write_text("x = 1\n")
    (package.parents[1] / "README.md").write_text("hi\n")
    git = ["git", "-C", str(package.parents[1]), "-c", "user.name=u", "-c", "user.email=u@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "code"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert run_module._git_source(package) == (commit, False)
    (package.parents[1] / "README.md").write_text("edited\n")
    (package / "new.py").write_text("")  # untracked: not what the commit's code imports
    run_module._git_source.cache_clear()
    assert run_module._git_source(package) == (commit, False)
    (package / "run.py").write_text("x = 2\n")
    run_module._git_source.cache_clear()
    assert run_module._git_source(package) == (commit, True)
    run_module._git_source.cache_clear()
    assert run_module._git_source(tmp_path) == (None, None)  # no checkout


def test_validation_data_sharing_test_or_training_images_is_said(data_dir):
    """helper-128: validation_data of 100 of the 166 test images the run is scored on, or of
    training images, passed without a word (only the whole test set was told)."""
    from mnistlab.datasets import load_dataset
    from mnistlab.errors import DataWarning

    ds = load_dataset("mnist", data_dir=data_dir)
    cases = {"test": (ds.test_images[:100], ds.test_labels[:100]), "train": (ds.train_images[:300], ds.train_labels[:300])}
    for where, given in cases.items():
        with pytest.warns(DataWarning) as caught:
            r = run_config(cfg(dataset="mnist", data={"subset": 1000}, train={"epochs": 1}), data_dir=data_dir,
                           progress="none", validation_data=given)
        said = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
        n = 100 if where == "test" else 300
        assert any(s.startswith(f"validation_data: {n} of its {n} images are {where}ing images too" if where == "train"
                                else f"validation_data: {n} of its {n} images are test images: ") for s in said), said
        assert r.metrics["validation_is_test"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # images of neither: nothing said
        run_config(cfg(dataset="mnist", data={"subset": 1000}, train={"epochs": 1}), data_dir=data_dir, progress="none",
                   validation_data=(ds.train_images[-200:], ds.train_labels[-200:]))


def test_a_run_stopped_early_says_by_what_and_when(data_dir, tmp_path) -> None:  # noqa: ANN001
    """helper-143: a table of "epochs 2" for a 6-epoch run said nothing of EarlyStopping (Keras's
    log says "Epoch 2: early stopping"); the run's message and metrics say so now."""
    from mnistlab.run import train

    run = train("mnist", "seed000-dense", epochs=6, subset=300, validation=0.2, data_dir=data_dir, progress="none",
                callbacks=[{"type": "EarlyStopping", "patience": 0, "min_delta": 0.5, "restore_best_weights": True}],
                store=tmp_path / "runs")
    record = RunStore(tmp_path / "runs").get(run.run_id)
    assert record.status == "finished" and record.metrics["stopped_epoch"] == 2 and len(record.history) == 2
    assert record.message == "stopped early by EarlyStopping after epoch 2 of 6; the weights of epoch 1 restored"
    full = train("mnist", "seed000-dense", epochs=2, subset=300, data_dir=data_dir, progress="none",
                 callbacks=[{"type": "StopAtLoss", "threshold": 0.0}], store=tmp_path / "runs")  # never below 0: no stop
    again = RunStore(tmp_path / "runs").get(full.run_id)
    assert again.message == "" and "stopped_epoch" not in again.metrics
    stop = train("mnist", "seed000-dense", epochs=3, subset=300, data_dir=data_dir, progress="none",
                 callbacks=[{"type": "StopAtLoss", "threshold": 100.0}], store=tmp_path / "runs")
    assert RunStore(tmp_path / "runs").get(stop.run_id).message == "stopped early by StopAtLoss after epoch 1 of 3"


@pytest.mark.parametrize("setting, said", [({"subset": 100_000}, "data.subset = 100,000 is more than mnist's 60,000"),
                                           ({"device": "cuda:99"}, 'device "cuda:99" was asked for')])
def test_the_python_api_refuses_what_the_cli_refuses_before_training(data_dir, setting, said) -> None:
    """helper-164: `mnistlab train --subset 100000` exits 2 before training; `mnistlab.train(subset=100000)`
    warned, trained on all 60,000 images and scored the whole test set."""
    import mnistlab

    with pytest.raises(SpecError, match=re.escape(said)):
        mnistlab.train(dataset="mnist", model={"dense": [8]}, epochs=1, data_dir=data_dir, progress="none", **setting)


def test_a_python_run_stopped_and_resumed_names_the_run_it_continues(data_dir, tmp_path) -> None:
    """helper-206: a checkpoint written as train() was stopped named no run, so the resumed run
    recorded no resumed_from_run and `show` never said it continued one (the CLI's did)."""
    from mnistlab.run import TrainingInterrupted, train
    from mnistlab.store import RunStore
    from test_trainer import InterruptAt

    store = RunStore(tmp_path / "store")
    given = dict(data_dir=data_dir, store=store, checkpoint_dir=tmp_path / "ck", subset=600, progress="none", threads=1)
    with pytest.raises(TrainingInterrupted) as stopped:
        train("mnist", "seed000-dense", 3, callbacks=[InterruptAt(1, 3)], **given)
    resumed = train("mnist", "seed000-dense", 3, resume=True, **given)
    assert resumed.metrics["resumed_from_run"] == stopped.value.run.run_id
    assert repr(resumed).endswith(f", run_id={resumed.run_id!r})")  # (helper-211: a recorded Run named no run)


def test_a_callback_class_given_for_an_instance_is_said_so() -> None:
    """helper-211: callbacks=[Callback] said "must be a table with a type, got type"."""
    from mnistlab.callbacks import Callback, EarlyStopping
    from mnistlab.run import train

    for given in (Callback, EarlyStopping):
        with pytest.raises(SpecError, match=f"callbacks\\[0\\]: the class {given.__name__} itself: give an instance, "
                                            f"{given.__name__}\\(...\\)"):
            train("mnist", "seed000-dense", 1, subset=300, store=False, progress="none", callbacks=[given])
    with pytest.raises(SpecError, match=r"a callback goes in a list: callbacks=\[EarlyStopping\(...\)\]"):
        train("mnist", "seed000-dense", 1, subset=300, store=False, progress="none", callbacks=EarlyStopping)


def test_python_callers_mistakes_are_said_in_their_own_words(tmp_path) -> None:
    """helper-228: a setting given twice (epochs=1 and train={"epochs": 2}; subset and data={"subset"})
    trained with the table's without a word; a Keras-style callback not subclassing mnistlab.Callback
    was "must be a table with a type"; run_config(dict) was an AttributeError; a variant's list of
    rates (where a grid goes) was only "must be a valid number"."""
    from mnistlab.experiments import load_experiment
    from mnistlab.run import run_config, train

    class KerasStyle:
        def on_epoch_end(self, epoch, logs=None) -> None:
            pass

    for kwargs, said in [({"train": {"epochs": 2}}, r"train.epochs is given twice, as epochs \(1\) and as "
                                                    r"train=\{'epochs': ...\} \(2\): give it once"),
                         ({"subset": 300, "data": {"subset": 500}}, r"data.subset is given twice, as subset \(300\)"),
                         ({"epochs": 5, "train": {"epochs": 2}}, r"given twice, as epochs \(5\)"),  # (the default, said)
                         ({"augment": {"rotation_range": 10}, "augment.rotation_range": 5},
                          r"augment.rotation_range is given twice"),
                         ({"lr": 0.1, "train.lr": 0.2}, r"train.lr is given twice, as lr \(0.1\) and as train.lr"),
                         ({"callbacks": [KerasStyle()]}, r"callbacks\[0\]: KerasStyle has Keras's callback methods "
                                                         r"but is no mnistlab.Callback: subclass mnistlab.Callback")]:
        with pytest.raises(SpecError, match=said):
            train("mnist", "seed000-dense", **{"epochs": 1, "subset": 300, **kwargs}, store=False, progress="none")
    with pytest.raises(SpecError, match=r"run_config: cfg must be a RunConfig, got dict: make one with "
                                        r"mnistlab.parse_run_config"):
        run_config({"dataset": "mnist", "model": "seed000-dense"})  # type: ignore[arg-type]
    (tmp_path / "e.toml").write_text('name = "e"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                                     '[[variants]]\nname = "rates"\n"train.lr" = [0.001, 0.01]\n')
    with pytest.raises(SpecError, match=r'e.toml:7: variant "rates": train.lr: must be a valid number \(got array '
                                        r'\[0.001, 0.01\]\); to train one run for each value, put the list in the '
                                        r'variant\'s grid: grid = \{ "train.lr" = \[...\] \} \(in Python, "grid": '
                                        r'\{"train.lr": \[...\]\}\)'):
        load_experiment(tmp_path / "e.toml")


def test_a_committee_gives_its_networks_summary_as_a_run_does(data_dir) -> None:
    """helper-211: Committee.summary() was an AttributeError (a Run's is Keras's model.summary())."""
    from mnistlab.run import Committee, train

    runs = [train("mnist", "seed000-dense", 1, data_dir=data_dir, subset=300, progress="none", store=False, seed=s)
            for s in (0, 1)]
    lines: list[str] = []
    Committee(runs).summary(lines.append)
    assert lines[0] == "2 of the committee's 2 members:" and "Total params: 101,770" in lines[1] and len(lines) == 2


def test_keras_s_history_dict_holds_the_metrics_not_the_timings(data_dir):
    """helper-248: pd.DataFrame(history.history).plot() drew images_per_second (72,000) on the scale of a
    loss: Keras's History.history holds the logs alone; the timings stay in each epoch's dict."""
    run = train("mnist", "seed000-dense", epochs=2, data_dir=data_dir, progress="none", subset=130, validation=0.2)
    assert list(run.history.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert all(isinstance(s, float) and s > 0 for s in run.history["epoch_seconds"])  # read by name still
    assert run.history[-1]["images_per_second"] > 0 and "epoch_seconds" not in run.history.keys()
    assert "epoch_seconds" in run.history and run.history.get("epoch_seconds") == run.history["epoch_seconds"]
