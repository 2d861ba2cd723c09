"""Weight averaging (mnistlab.averaging): Keras's optimizer EMA on Keras's recorded numbers, in the
trainer and in runs (finalised, resumed, swapped in for validation), and its config."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mnistlab.accel.members import batch_refusal
from mnistlab.averaging import ExponentialMovingAverage, SwapEMAWeights
from mnistlab.callbacks import Callback
from mnistlab.config import apply_overrides, parse_run_config, run_key
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.evaluate import evaluate_model
from mnistlab.optim import make_optimizer
from mnistlab.run import prepare_data, run_config
from mnistlab.trainer import Trainer

KERAS = json.loads((Path(__file__).parent / "data" / "keras_ema.json").read_text())


def _keras_case_weights(case: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Train the recorded Dense layer as Keras did (SGD, batches of 4 in order), with mnistlab's EMA."""
    x, y = torch.tensor(KERAS["x"]), torch.tensor(KERAS["y"])
    layer = torch.nn.Linear(x.shape[1], 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(KERAS["kernel"]).T)
        layer.bias.copy_(torch.tensor(KERAS["bias"]))
    optimizer = make_optimizer("sgd", layer.parameters(), lr=KERAS["lr"])
    ema = ExponentialMovingAverage(case["ema_momentum"], case["ema_overwrite_frequency"])
    if case["use_ema"]:
        ema.attach(layer, optimizer)
    bs = KERAS["batch_size"]
    for _ in range(case["epochs"]):
        for i in range(0, len(x), bs):
            loss = F.cross_entropy(layer(x[i : i + bs]), y[i : i + bs])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    ema.finalize()  # what Keras's fit ends with
    ema.close()
    assert ema.iterations == (case["steps"] if case["use_ema"] else 0)
    return layer.weight.detach().T, layer.bias.detach()


@pytest.mark.parametrize("case", KERAS["cases"], ids=lambda c: c["name"])
def test_the_average_is_keras_s(case: dict) -> None:
    kernel, bias = _keras_case_weights(case)
    torch.testing.assert_close(kernel, torch.tensor(case["kernel"]), atol=3e-7, rtol=0)
    torch.testing.assert_close(bias, torch.tensor(case["bias"]), atol=3e-7, rtol=0)


def test_keras_s_cases_tell_the_settings_apart() -> None:
    """The recorded weights differ between the settings, so matching them says something."""
    biases = [tuple(round(b, 4) for b in c["bias"]) for c in KERAS["cases"]]
    assert len(set(biases)) == len(biases)


class LastWeights(Callback):
    """Keeps the weights and buffers each epoch ends with (before any on_train_end)."""

    def on_epoch_end(self, epoch, logs=None):
        self.state = {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}


def _bn_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32),
                               torch.nn.ReLU(), torch.nn.Linear(32, 10))


def test_a_fit_ends_with_the_average_of_the_trainable_weights_only(data_dir: Path) -> None:
    data = prepare_data(parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 300}}), data_dir)
    model = _bn_model()
    ema, last = ExponentialMovingAverage(0.9), LastWeights()
    trainer = Trainer(model, optimizer="sgd", lr=0.1, batch_size=32, callbacks=[ema, last])
    outcome = trainer.fit(data.train_x, data.train_y, epochs=2)
    assert outcome.status == "finished" and ema.iterations == 2 * 10
    named = dict(model.named_parameters())
    for (name, param), avg in zip(named.items(), ema.average or []):
        assert torch.equal(param.detach(), avg)  # the model holds the average...
        assert not torch.equal(param.detach(), last.state[name])  # ...not the weights training left
    for name, buf in model.named_buffers():  # BatchNorm's moving statistics are not averaged (as in Keras)
        assert torch.equal(buf, last.state[name])
    assert ema._handle is None  # the optimizer hook is gone with the fit


def ema_cfg(**train):
    return parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense",
                             "data": {"subset": 300, "validation": 60},
                             "train": {"epochs": 2, "optimizer": "sgd", "lr": 0.1, "use_ema": True, **train}})


def test_a_second_fit_goes_on_averaging(data_dir: Path) -> None:
    """Keras's fit called again (a notebook training on): the average goes on over the new steps and
    the model ends with it; the second fit's training was thrown away for the first fit's stale average."""
    data = prepare_data(parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 300}}), data_dir)
    model = _bn_model()
    ema, last = ExponentialMovingAverage(0.9), LastWeights()
    trainer = Trainer(model, optimizer="sgd", lr=0.1, batch_size=32, callbacks=[ema, last])
    trainer.fit(data.train_x, data.train_y, epochs=1)
    first = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer.fit(data.train_x, data.train_y, epochs=2)  # Keras's epochs: up to epoch 2, one more
    assert ema.iterations == 2 * 10
    for (name, param), avg in zip(model.named_parameters(), ema.average or []):
        assert torch.equal(param.detach(), avg) and not torch.equal(param.detach(), first[name])


def test_use_ema_changes_the_run_and_its_key(data_dir: Path) -> None:
    plain = run_config(ema_cfg(use_ema=False), data_dir=data_dir, progress="none")
    ema = run_config(ema_cfg(), data_dir=data_dir, progress="none")
    assert [h["loss"] for h in plain.history] == [h["loss"] for h in ema.history]  # training itself is unchanged
    assert plain.metrics["test_loss"] != ema.metrics["test_loss"]  # the test sees the averaged weights
    assert ema.config["train"]["use_ema"] is True and ema.config["train"]["ema_momentum"] == 0.99
    assert run_key(plain.config) != run_key(ema.config)
    assert ema.env["weight_average"] == "ema: Keras's optimizer EMA, momentum 0.99, written into the weights at the end"
    assert "weight_average" not in plain.env
    every = run_config(ema_cfg(ema_momentum=0.9, ema_overwrite_frequency=3), data_dir=data_dir, progress="none")
    assert "momentum 0.9, written into the weights every 3 steps" in every.env["weight_average"]


def test_a_config_at_the_new_defaults_keeps_its_old_run_key() -> None:
    """Runs recorded before the EMA and TTA settings existed keep their keys (no re-training)."""
    resolved = parse_run_config({"dataset": "mnist", "model": "seed000-dense"}).resolved()
    before = {**resolved, "train": {k: v for k, v in resolved["train"].items() if not k.startswith(("use_ema", "ema_"))}}
    del before["evaluate"]
    assert run_key(resolved) == run_key(before)
    tta = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "evaluate": {"tta": {"shift": 1}}}).resolved()
    assert run_key(tta) != run_key(resolved)


def test_an_ema_run_resumes_exactly(data_dir: Path, tmp_path: Path) -> None:
    from test_trainer import InterruptAt  # the trainer tests' Ctrl-C in the middle of an epoch

    cfg = ema_cfg(epochs=3)
    whole = run_config(cfg, data_dir=data_dir, progress="none")
    first = run_config(cfg, data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                       extra_callbacks=[InterruptAt(1, 3)])
    assert first.status == "interrupted"
    resumed = run_config(cfg, data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    assert resumed.metrics["test_loss"] == whole.metrics["test_loss"]
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_swap_ema_weights_validates_the_average_and_trains_the_weights(data_dir: Path) -> None:
    plain = run_config(ema_cfg(), data_dir=data_dir, progress="none")
    swapped = run_config(parse_run_config({**ema_cfg().model_dump(), "callbacks": [{"type": "SwapEMAWeights"}]}),
                         data_dir=data_dir, progress="none")
    assert [h["loss"] for h in plain.history] == [h["loss"] for h in swapped.history]
    assert [h["val_loss"] for h in plain.history] != [h["val_loss"] for h in swapped.history]
    assert swapped.metrics["test_loss"] == plain.metrics["test_loss"]  # both end with the average


@pytest.mark.parametrize("ema", [True, False], ids=["ema", "plain"])
def test_restore_best_weights_ends_with_the_best_validated_weights(ema: bool, data_dir: Path) -> None:
    """Chosen on validation, scored once on test: the model the run tests holds the weights of its
    best epoch by val_accuracy (with an EMA, the averaged weights: EarlyStopping after
    SwapEMAWeights(swap_on_epoch) sees the average, as in Keras)."""
    early = {"type": "EarlyStopping", "monitor": "val_accuracy", "patience": 4, "restore_best_weights": True}
    raw = {**ema_cfg(epochs=4, lr=0.5, use_ema=ema).model_dump(),
           "callbacks": [{"type": "SwapEMAWeights", "swap_on_epoch": True}, early] if ema else [early]}
    result = run_config(parse_run_config(raw), data_dir=data_dir, progress="none")
    data = prepare_data(parse_run_config(raw), data_dir)
    loss, acc, _ = evaluate_model(result.model, data.val_x, data.val_y)
    best = max(result.history, key=lambda h: h["val_accuracy"])
    assert acc == best["val_accuracy"] and loss == pytest.approx(best["val_loss"], rel=1e-6)
    assert best is not result.history[-1]  # the last epoch was not the best: restoring mattered
    # the record describes the model it tested: the restored epoch's figures, and which epoch that was
    assert result.metrics["restored_epoch"] == best["epoch"]
    assert result.metrics["val_accuracy"] == best["val_accuracy"] and result.metrics["train_loss"] == best["loss"]
    assert result.metrics["epochs_run"] == len(result.history)
    assert ("replaced by EarlyStopping" in result.env.get("weight_average", "")) is False


def test_restore_best_weights_without_a_swap_warns_that_the_average_is_replaced(data_dir: Path) -> None:
    early = {"type": "EarlyStopping", "monitor": "val_accuracy", "patience": 4, "restore_best_weights": True}
    raw = {**ema_cfg(epochs=4, lr=0.5).model_dump(), "callbacks": [early]}
    with pytest.warns(SpecWarning, match=r"replacing train.use_ema's average .*SwapEMAWeights\(swap_on_epoch = true\)"):
        cfg = parse_run_config(raw)
    result = run_config(cfg, data_dir=data_dir, progress="none")
    epoch = result.metrics["restored_epoch"]
    assert f"then replaced by EarlyStopping's restored weights of epoch {epoch}" in result.env["weight_average"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with the swap first, no warning
        parse_run_config({**raw, "callbacks": [{"type": "SwapEMAWeights", "swap_on_epoch": True}, early]})


def test_swap_without_an_ema_is_a_config_error() -> None:
    with pytest.raises(SpecError, match=r"callbacks\[0\]: SwapEMAWeights needs an optimizer EMA: set train.use_ema"):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "callbacks": [{"type": "SwapEMAWeights"}]})
    trainer = Trainer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)), callbacks=[SwapEMAWeights()])
    with pytest.raises(SpecError, match="train.use_ema"):
        trainer.fit(torch.zeros(4, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), epochs=1)


@pytest.mark.parametrize("train, fragment", [
    ({"use_ema": True, "ema_momentum": 1.5}, "train.ema_momentum"),
    ({"use_ema": True, "ema_overwrite_frequency": 0}, "train.ema_overwrite_frequency"),
    ({"use_ema": "yes"}, "train.use_ema"),
])
def test_bad_ema_settings_are_one_line_errors(train: dict, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment) as info:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train})
    assert "\n" not in str(info.value)


def test_ema_settings_without_use_ema_warn() -> None:
    with pytest.warns(UserWarning, match=r"^train.ema_momentum applies with train.use_ema = true; without it it is "
                                         r"ignored$"):  # the key set alone (helper-130: both were named)
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"ema_momentum": 0.9}})


def test_the_average_is_checked_like_keras() -> None:
    with pytest.raises(ValueError, match="ema_momentum"):
        ExponentialMovingAverage(-0.1)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        ExponentialMovingAverage(0.9, 0)


def test_stacked_committees_refuse_the_average() -> None:
    cfgs = [ema_cfg(seed=s) for s in (0, 1)]
    assert "use_ema" in (batch_refusal(cfgs) or "")


# ------------------------------------------------------------------------------------------- SWA
class EveryEpochWeights(Callback):
    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([p.detach().clone() for p in self.trainer.model.parameters()])


def test_swa_is_the_mean_of_the_epochs_from_its_start_and_bn_is_recomputed(data_dir: Path) -> None:
    from mnistlab.averaging import StochasticWeightAveraging, recompute_bn
    from mnistlab.evaluate import to_input

    data = prepare_data(parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 300}}), data_dir)
    model = _bn_model()
    swa, seen = StochasticWeightAveraging(start_epoch=2, lr=0.05), EveryEpochWeights()
    trainer = Trainer(model, optimizer="sgd", lr=0.1, batch_size=30, callbacks=[swa, seen])
    trainer.fit(data.train_x, data.train_y, epochs=4)
    assert swa.averaged == 3 and [h["lr"] for h in trainer.history] == [0.1, 0.05, 0.05, 0.05]
    for p, *epochs in zip(model.parameters(), *seen.epochs[1:]):
        torch.testing.assert_close(p.detach(), torch.stack(epochs).mean(0), atol=1e-6, rtol=1e-5)
    assert recompute_bn(model, data.train_x, to_input, batch_size=30)
    with torch.no_grad():  # BN's input for every training image, in the 10 batches of 30 update_bn saw
        features = model[1](model[0](to_input(data.train_x))).view(10, 30, -1)
    bn = model[2]  # an equal-weight mean over the batches of each batch's mean and (unbiased) variance
    torch.testing.assert_close(bn.running_mean, features.mean(1).mean(0), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(bn.running_var, features.var(1).mean(0), atol=1e-5, rtol=1e-4)
    assert not recompute_bn(torch.nn.Linear(2, 2), data.train_x, to_input)  # no BN: nothing to do


def swa_cfg(**train):
    return parse_run_config({"dataset": "mnist", "model": "seed001-builder-f16", "data": {"subset": 300},
                             "train": {"epochs": 3, "optimizer": "sgd", "lr": 0.1, "precision": "float32",
                                       "swa": {"start_epoch": 2, "lr": 0.05}, **train}})


def test_an_swa_run_records_its_average_and_resumes_exactly(data_dir: Path, tmp_path: Path) -> None:
    from test_trainer import InterruptAt

    whole = run_config(swa_cfg(), data_dir=data_dir, progress="none")
    assert whole.env["weight_average"].startswith("swa: the mean of 2 epochs' weights")
    assert whole.config["train"]["swa"] == {"start_epoch": 2, "lr": 0.05}
    plain = run_config(swa_cfg(swa=None), data_dir=data_dir, progress="none")
    assert plain.metrics["test_loss"] != whole.metrics["test_loss"]
    first = run_config(swa_cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path,
                       extra_callbacks=[InterruptAt(2, 3)])
    assert first.status == "interrupted"
    resumed = run_config(swa_cfg(), data_dir=data_dir, progress="none", checkpoint_dir=tmp_path, resume=True)
    assert resumed.metrics["test_loss"] == whole.metrics["test_loss"]


def test_swa_that_never_started_says_so(data_dir: Path) -> None:
    stop = {"type": "StopAtLoss", "threshold": 100.0}  # stops after the first epoch, before SWA's start
    result = run_config(parse_run_config({**swa_cfg().model_dump(), "callbacks": [stop]}), data_dir=data_dir,
                        progress="none")
    assert result.env["weight_average"] == ("swa: never started (training ended after epoch 1, before "
                                            "swa.start_epoch 2): the model is the plain one")


def test_quick_runs_swa_from_the_first_epoch(tmp_path: Path) -> None:
    from mnistlab.experiments import load_experiment

    path = tmp_path / "swa.toml"
    path.write_text('[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[base.train]\nepochs = 4\n'
                    'swa = { start_epoch = 3 }\n[[variants]]\nname = "swa"\n')
    (cell,) = load_experiment(path).cells(quick=True)
    assert cell.config["train"]["epochs"] == 1 and cell.config["train"]["swa"]["start_epoch"] == 1


@pytest.mark.parametrize("train, callbacks, fragment", [
    ({"swa": {"start_epoch": 2, "lr": 0.01}}, [{"type": "ReduceLROnPlateau", "monitor": "loss"}],
     r"callbacks\[0\]: ReduceLROnPlateau and train.swa.lr both set the learning rate"),
])
def test_swa_lr_and_reduce_lr_on_plateau_are_refused(train: dict, callbacks: list, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment) as info:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train, "callbacks": callbacks})
    assert "\n" not in str(info.value)
    parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"swa": {"start_epoch": 2}},
                      "callbacks": callbacks})  # without swa.lr the callback alone sets the rate: fine


@pytest.mark.parametrize("train, callbacks, fragment", [
    ({"swa": {"start_epoch": 2}, "use_ema": True}, [], "swa and use_ema both average"),
    ({"swa": {"start_epoch": 9}}, [], r"swa.start_epoch \(9\) is after the last epoch \(5\)"),
    ({"swa": {"start_epoch": 2, "lr": 0.01}, "schedule": {"type": "cosine"}}, [], "swa.lr and a schedule"),
    ({"swa": {"start_epoch": 0}}, [], "train.swa.start_epoch"),
    ({"swa": {"start_epoch": 2}}, [{"type": "EarlyStopping", "monitor": "loss", "restore_best_weights": True}],
     "would replace train.swa's average"),
])
def test_bad_swa_settings_are_one_line_errors(train: dict, callbacks: list, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment) as info:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train, "callbacks": callbacks})
    assert "\n" not in str(info.value)


def test_a_stop_asked_for_as_an_epoch_ends_keeps_that_epochs_swapped_in_average(data_dir: Path) -> None:
    """`mnistlab train | head`: the stop noticed while epoch 1's line is printed is taken before
    epoch 2 begins, before any callback's on_epoch_begin (SwapEMAWeights(swap_on_epoch) would swap
    the average out again): the run is interrupted with epoch 1 kept, on the weights it ended with."""
    import signal

    from mnistlab.callbacks import StopBetweenEpochs
    from mnistlab.execute import StopSignal

    stop = StopSignal()
    between = StopBetweenEpochs(stop)
    ended: dict[str, torch.Tensor] = {}

    class OutputCloses(Callback):  # what closed_output_stops does when the epoch's line finds no reader
        def on_epoch_end(self, epoch, logs=None):
            assert stop.defer
            stop.pending = signal.SIGPIPE
            ended.update({k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()})

    raw = {**ema_cfg(epochs=3).model_dump(), "callbacks": [{"type": "SwapEMAWeights", "swap_on_epoch": True}]}
    result = run_config(parse_run_config(raw), data_dir=data_dir, progress="none",
                        extra_callbacks=[between, OutputCloses()], interrupt=between.asked)
    assert result.status == "interrupted" and len(result.history) == 1
    assert stop.signum == signal.SIGPIPE and not stop.defer
    for key, value in result.model.state_dict().items():
        torch.testing.assert_close(value, ended[key], rtol=0, atol=0, msg=key)


def test_a_weight_averaged_runs_validation_figures_are_its_averaged_weights(data_dir: Path) -> None:
    """helper-128: an SWA run recorded its last epoch's val_accuracy, the raw weights' (87.80%), for
    weights that score 89.2% on the same images: choosing on validation, or a search, could not see
    what the average did. The record's val figures are the tested weights' now, as its test ones."""
    raw = {**swa_cfg().model_dump(), "data": {"subset": 300, "validation": 60}}
    result = run_config(parse_run_config(raw), data_dir=data_dir, progress="none")
    data = prepare_data(parse_run_config(raw), data_dir)
    loss, acc, _ = evaluate_model(result.model, data.val_x, data.val_y)
    assert result.metrics["val_accuracy"] == acc and result.metrics["val_loss"] == pytest.approx(loss, rel=1e-6)
    assert result.metrics["val_scored"] == "final weights" and result.history[-1]["val_loss"] != result.metrics["val_loss"]
    plain = run_config(parse_run_config({**raw, "train": {**raw["train"], "swa": None}}), data_dir=data_dir, progress="none")
    assert "val_scored" not in plain.metrics and plain.metrics["val_loss"] == plain.history[-1]["val_loss"]


def test_early_stopping_before_the_swap_says_it_kept_raw_weights(data_dir: Path) -> None:
    """helper-128: with EarlyStopping(restore_best_weights) before SwapEMAWeights(swap_on_epoch), it
    restores its best epoch's raw weights (as in Keras), and the record said the EMA was written in."""
    early = {"type": "EarlyStopping", "monitor": "val_accuracy", "patience": 4, "restore_best_weights": True}
    swap = {"type": "SwapEMAWeights", "swap_on_epoch": True}
    said = {}
    for name, order in (("after", [early, swap]), ("before", [swap, early])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfg = parse_run_config({**ema_cfg(epochs=4, lr=0.5).model_dump(), "callbacks": order})
        said[name] = (run_config(cfg, data_dir=data_dir, progress="none"), [str(w.message) for w in caught])
    result, warned = said["after"]
    epoch = result.metrics["restored_epoch"]
    assert result.env["weight_average"].endswith(f"; then replaced by EarlyStopping's restored weights of epoch {epoch}")
    assert any("put SwapEMAWeights(swap_on_epoch = true) before it" in w for w in warned), warned
    result, warned = said["before"]
    assert result.env["weight_average"].endswith(f"; then EarlyStopping's restored average of epoch "
                                                  f"{result.metrics['restored_epoch']}") and not warned


def test_weight_average_callback_objects_are_checked_before_training(data_dir: Path, tmp_path: Path) -> None:
    """helper-128: `train(callbacks=[SwapEMAWeights()])` without use_ema trained nothing, raised
    nothing and recorded a failed run scored on its untrained weights; the table form was refused."""
    from mnistlab.callbacks import EarlyStopping
    from mnistlab.run import train
    from mnistlab.store import RunStore

    with pytest.raises(SpecError, match=r"^train\(\): callbacks: SwapEMAWeights needs an optimizer EMA: pass "
                                        r"use_ema=True$"):
        train("mnist", "seed000-dense", epochs=1, subset=60, data_dir=data_dir, progress="none",
              callbacks=[SwapEMAWeights(swap_on_epoch=True)], store=tmp_path / "runs")
    with pytest.raises(SpecError, match=r"EarlyStopping\(restore_best_weights=True\) would replace swa's average"):
        train("mnist", "seed000-dense", epochs=2, subset=60, data_dir=data_dir, progress="none", validation=10,
              swa={"start_epoch": 1}, callbacks=[EarlyStopping(monitor="val_loss", restore_best_weights=True)])
    from mnistlab.callbacks import ReduceLROnPlateau  # helper-131: as its table is refused

    with pytest.raises(SpecError, match=r"ReduceLROnPlateau and swa's lr both set the learning rate"):
        train("mnist", "seed000-dense", epochs=2, subset=60, data_dir=data_dir, progress="none",
              swa={"start_epoch": 1, "lr": 0.01}, callbacks=[ReduceLROnPlateau(monitor="loss")])
    assert not RunStore(tmp_path / "runs", create=True).runs()  # nothing trained, nothing recorded
    run = train("mnist", "seed000-dense", epochs=1, subset=60, data_dir=data_dir, progress="none", use_ema=True,
                validation=10, callbacks=[SwapEMAWeights(swap_on_epoch=True)])
    assert run.status == "finished" and run.metrics["val_scored"] == "final weights"


def test_false_switches_off_a_bases_swa_and_tta_as_augment_false_does() -> None:
    """helper-128: a variant could not drop the base's SWA or TTA (`"train.swa" = false`: "must be a
    valid dictionary or instance of SWAConfig"); false is none now, the same run as leaving it out."""
    base = {"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": 3, "swa": {"start_epoch": 2}},
            "evaluate": {"tta": {"shift": 1}}}
    on = parse_run_config(base)
    off = parse_run_config(apply_overrides(base, {"train.swa": False, "evaluate.tta": False}))
    plain = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": 3}})
    assert on.train.swa is not None and on.evaluate.tta is not None and off.train.swa is None and off.evaluate.tta is None
    assert run_key(off.resolved()) == run_key(plain.resolved()) != run_key(on.resolved())
    for key, example in (("train.swa", "{ start_epoch = 31, lr = 0.01 }"), ("evaluate.tta", "{ shift = 1, rotation = 8.0 }")):
        with pytest.raises(SpecError, match=rf"{key}: must be a table of settings, e.g. {key} = {re.escape(example)}, or "
                                            r"false for none, got integer 3$"):
            parse_run_config(apply_overrides(base, {key: 3}))


def test_ema_settings_with_use_ema_written_false_do_not_warn() -> None:
    """helper-128: a variant (or a search) that switched the base's EMA off with use_ema = false
    warned that the base's ema_momentum is ignored, unnamed, once a variant; it is what was asked."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_run_config({"dataset": "mnist", "model": "seed000-dense",
                          "train": {"ema_momentum": 0.9, "use_ema": False}})


def test_an_ema_momentum_of_1_warns_that_the_average_never_moves() -> None:
    """helper-128: ema_momentum = 1.0 was taken silently; the run ended with the weights after step 1."""
    with pytest.warns(SpecWarning, match="train.ema_momentum = 1 keeps the weights after the first step"):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"use_ema": True, "ema_momentum": 1.0}})


def test_tta_is_a_setting_of_train_by_its_own_name(data_dir: Path) -> None:
    """helper-128: `train(tta={...})` said only 'unknown setting "tta"'."""
    from mnistlab.run import train

    run = train("mnist", "seed000-dense", epochs=1, subset=60, data_dir=data_dir, progress="none", tta={"shift": 1})
    assert run.metrics["tta_views"] == 5


def test_callback_objects_and_tables_run_in_the_order_given(data_dir: Path) -> None:
    """helper-130: `train(callbacks=[EarlyStopping(...), {"type": "SwapEMAWeights", ...}])` ran the
    table first (the objects after the config's), so the record said the EMA was kept, with no
    warning, where Keras's order restores the raw weights; SwapEMAWeights is a mnistlab.callbacks name."""
    from mnistlab.callbacks import EarlyStopping
    from mnistlab.callbacks import SwapEMAWeights as FromCallbacks
    from mnistlab.run import train

    assert FromCallbacks is SwapEMAWeights
    seen: list[str] = []

    class Log(Callback):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            seen.append(self.name)

    early = EarlyStopping(monitor="val_accuracy", patience=4, restore_best_weights=True)
    with pytest.warns(SpecWarning, match=r"put SwapEMAWeights\(swap_on_epoch=True\) before it"):
        run = train("fashion-mnist", "seed000-dense", epochs=3, subset=300, validation=60, data_dir=data_dir,
                    progress="none", use_ema=True, optimizer="sgd", lr=0.5,
                    callbacks=[Log("a"), early, {"type": "SwapEMAWeights", "swap_on_epoch": True}, Log("b")])
    assert seen == ["a", "b"] * 3
    assert "then replaced by EarlyStopping's restored weights of epoch" in run.result.env["weight_average"]
    early_table = {"type": "EarlyStopping", "monitor": "val_accuracy", "patience": 4, "restore_best_weights": True}
    with warnings.catch_warnings():  # the swap first, as given: no warning (helper-131: the tables' own order was read)
        warnings.simplefilter("error", SpecWarning)
        run = train("fashion-mnist", "seed000-dense", epochs=2, subset=300, validation=60, data_dir=data_dir,
                    progress="none", use_ema=True, callbacks={SwapEMAWeights(swap_on_epoch=True)} | set())
    assert run.status == "finished"  # a set of callback objects is taken, not dropped (helper-131)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        train("fashion-mnist", "seed000-dense", epochs=1, subset=300, validation=60, data_dir=data_dir, progress="none",
              use_ema=True, callbacks=[SwapEMAWeights(swap_on_epoch=True), early_table])


def test_a_ctrl_c_after_the_test_pass_keeps_the_run_and_says_so(data_dir: Path, monkeypatch) -> None:
    """helper-131: a Ctrl-C while an SWA run scored its final weights' validation (after its test
    pass) escaped run_config, and train() recorded the trained, tested run as failed. The Ctrl-C
    comes in the validation pass itself (the trainer's evaluate, called once training is over)."""
    from mnistlab.trainer import Trainer

    def ctrl_c(self, images, labels):  # noqa: ANN001 - what a Ctrl-C in the middle of the pass raises
        raise KeyboardInterrupt

    class StopTheScoring(Callback):
        def on_train_end(self, logs=None):  # noqa: ANN001
            monkeypatch.setattr(Trainer, "evaluate", ctrl_c)

    raw = {**swa_cfg().model_dump(), "data": {"subset": 300, "validation": 60}}
    result = run_config(parse_run_config(raw), data_dir=data_dir, progress="none", extra_callbacks=[StopTheScoring()])
    assert result.status == "interrupted" and result.metrics["test_accuracy"] is not None
    assert result.message.endswith("interrupted after its test pass, while taking its TTA or final validation scores")
    assert "val_scored" not in result.metrics


def test_recompute_bn_leaves_out_a_last_batch_of_one_image() -> None:
    """helper-144: with 251 images in batches of 250, the last batch's one image (variance 0) was
    averaged in with an equal weight, halving a Dense layer's BN variance."""
    from mnistlab.averaging import recompute_bn
    from mnistlab.models import build_model
    from mnistlab.specs import parse_model_spec

    model = build_model(parse_model_spec({"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 4},
                                                     {"type": "BatchNormalization"}, {"type": "Dense", "units": 10}]}), seed=0)
    images = torch.randint(0, 256, (251, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    def inputs(batch: torch.Tensor) -> torch.Tensor:
        return batch.float().div(255).unsqueeze(1)

    assert recompute_bn(model, images, inputs, batch_size=250)
    with torch.no_grad():
        features = model[1](model[0](inputs(images[:250])))
    bn = model[2]
    torch.testing.assert_close(bn.running_var, features.var(0, unbiased=False), rtol=1e-4, atol=1e-6)  # the 250 alone
    torch.testing.assert_close(bn.running_mean, features.mean(0), rtol=1e-4, atol=1e-6)
