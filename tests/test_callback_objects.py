"""Callback objects given to ``mnistlab.train`` (helper-251): recorded in the run's config and key,
so that no sweep takes a run a callback changed for one without it; the rate an epoch's last batch
ran at logged as ``lr``; a value an earlier callback logs watched as Keras watches it."""

from __future__ import annotations

import pytest

import mnistlab
from mnistlab.callbacks import EarlyStopping
from mnistlab.cli import main as cli_main
from mnistlab.errors import SpecError
from mnistlab.store import RunStore

BASE = dict(epochs=2, subset=600, validation=0.2, progress="none", experiment="cb")


class SlowDown(mnistlab.Callback):
    """Cuts the rate a hundredfold each epoch: a run it trains is not the run without it."""

    def __init__(self, factor: float = 0.01) -> None:
        self.factor = factor

    def on_epoch_begin(self, epoch, logs=None):
        self.model.lr *= self.factor


def test_a_callback_object_of_ones_own_is_recorded_and_keyed_so_a_sweep_never_reuses_its_run(data_dir, tmp_path):
    store = tmp_path / "runs"
    slowed = mnistlab.train("mnist", "seed000-dense", callbacks=[SlowDown()], store=store, data_dir=data_dir, **BASE)
    runs = RunStore(store)
    record = runs.get(slowed.run_id)
    assert record.config["callbacks"] == [{"type": "Python", "class_name": f"{__name__}.SlowDown",
                                           "settings": {"factor": 0.01}}]
    result = mnistlab.run_experiment({"name": "cb", "base": {"dataset": "mnist", "model": "seed000-dense",
                                                             "train": {"epochs": 2},
                                                             "data": {"subset": 600, "validation": 0.2}},
                                      "variants": [{"name": "seed000-dense"}]}, store=store, data_dir=data_dir,
                                     progress="none")
    plain = [r for r in runs.runs() if r.run_id != slowed.run_id]
    assert len(plain) == 1 and plain[0].config_hash != record.config_hash and plain[0].config["callbacks"] == []
    assert plain[0].metrics["test_accuracy"] != pytest.approx(slowed.test_accuracy) and result.ended() == (1, 0)
    # a config cannot rebuild the object: training from the record is refused before anything trains
    code = cli_main(["train", "--config", str(store / "runs" / slowed.run_id / "config.json"), "--store", str(store),
                     "--data-dir", str(data_dir)])
    assert code == 2 and len(runs.runs()) == 2


def test_mnistlabs_own_callback_object_is_recorded_as_the_table_that_builds_it(data_dir, tmp_path):
    store = tmp_path / "runs"
    by_object = mnistlab.train("mnist", "seed000-dense", callbacks=[EarlyStopping(patience=2)], store=store,
                               data_dir=data_dir, **BASE)
    by_table = mnistlab.train("mnist", "seed000-dense", callbacks=[{"type": "EarlyStopping", "patience": 2}],
                              store=store, data_dir=data_dir, **BASE)
    runs = RunStore(store)
    a, b = runs.get(by_object.run_id), runs.get(by_table.run_id)
    assert a.config_hash == b.config_hash and a.config["callbacks"] == b.config["callbacks"]
    assert a.config["callbacks"][0]["patience"] == 2


def test_chosen_runs_named_by_their_callbacks_in_keras_words(data_dir, tmp_path, capsys):
    store = tmp_path / "runs"
    ids = [mnistlab.train("mnist", "seed000-dense", callbacks=cbs, store=store, data_dir=data_dir, **BASE).run_id
           for cbs in ([SlowDown()], [], [EarlyStopping(patience=2)])]
    assert cli_main(["compare", *ids, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    for said in ("(callbacks=SlowDown(factor=0.01))", "(callbacks=none)", "(callbacks=EarlyStopping(patience=2))"):
        assert said in out
    assert cli_main(["compare", *ids, "--store", str(store), "--format", "json"]) == 0  # as pandas reads the rows
    rows = __import__("json").loads(capsys.readouterr().out)
    assert sorted(r["settings"]["callbacks"] for r in rows) == ["EarlyStopping(patience=2)", "SlowDown(factor=0.01)", "none"]
    assert not any(k.startswith("callbacks.") for r in rows for k in r["settings"])


def test_history_logs_the_rate_the_epochs_last_batch_ran_at(data_dir):
    class SetByTorch(mnistlab.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 3 and self.model.epochs_done == 0:
                self.model.optimizer.param_groups[0]["lr"] = 5e-4

    class SetByKeras(mnistlab.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 3 and self.model.epochs_done == 0:
                self.model.lr = 2e-4

    for callback, rate in ((SetByTorch(), 5e-4), (SetByKeras(), 2e-4)):
        run = mnistlab.train("mnist", "seed000-dense", epochs=2, subset=600, callbacks=[callback], data_dir=data_dir,
                             progress="none")
        assert run.history["lr"] == [pytest.approx(rate), pytest.approx(rate)]


def test_early_stopping_watches_a_value_an_earlier_callback_logs(data_dir):
    class F1(mnistlab.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_f1"] = 0.9 - 0.1 * epoch  # worse each epoch

    run = mnistlab.train("mnist", "seed000-dense", epochs=4, subset=600, validation=0.2, data_dir=data_dir,
                         progress="none", callbacks=[F1(), {"type": "EarlyStopping", "monitor": "val_f1", "mode": "max"}])
    assert run.history["val_f1"] == pytest.approx([0.9, 0.8])  # stopped once it fell (patience 0)
    with pytest.raises(SpecError, match=r'callbacks\[1\]\.mode: "auto" cannot tell whether val_f1'):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, validation=0.2, data_dir=data_dir,
                       callbacks=[F1(), {"type": "EarlyStopping", "monitor": "val_f1"}])
    # without a callback of one's own before it, the value is none a run logs; the table named where it stands
    with pytest.raises(SpecError, match=r'callbacks\[1\]\.monitor: "val_f1" is not a value a run logs'):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, validation=0.2, data_dir=data_dir,
                       callbacks=[EarlyStopping(), {"type": "EarlyStopping", "monitor": "val_f1", "mode": "max"}])


def test_an_experiment_given_a_callback_object_says_it_takes_tables():
    with pytest.raises(SpecError, match=r"callbacks\[0\]: a callback object \(SlowDown\) is for mnistlab.train\(\); an "
                                        "experiment takes callbacks as tables"):
        mnistlab.run_experiment({"name": "x", "base": {"dataset": "mnist", "model": "seed000-dense",
                                                       "callbacks": [SlowDown()]}, "variants": [{"name": "a"}]})


def test_an_early_stopping_object_on_a_value_of_ones_own_asks_for_its_mode(data_dir):
    class F1(mnistlab.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_f1"] = 0.5

    with pytest.raises(SpecError, match=r'EarlyStopping\(monitor=.val_f1.\): mode "auto" cannot tell whether val_f1'):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, validation=0.1, data_dir=data_dir,
                       callbacks=[F1(), EarlyStopping(monitor="val_f1")])


def test_lightning_hook_names_are_said_never_to_be_called(data_dir):
    class LightningStyle(mnistlab.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raise AssertionError("never called")

    with pytest.warns(mnistlab.errors.SpecWarning, match="defines on_train_epoch_end: PyTorch Lightning's hook, which "
                                                         r"mnistlab never calls; .* is on_epoch_end\(epoch, logs\)"):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir, progress="none",
                       callbacks=[LightningStyle()])


def test_a_callbacks_lists_and_tables_of_plain_values_are_part_of_its_runs_key():
    from mnistlab.run import callback_config

    class StepAt(mnistlab.Callback):
        def __init__(self, milestones, table=None):
            self.milestones, self.table, self.gamma, self.fn = milestones, table or {}, 0.1, print

    one, two = callback_config(StepAt([1])).model_dump(), callback_config(StepAt((2, 3), {"a": [1.5]})).model_dump()
    assert one["settings"] == {"milestones": [1], "table": {}}  # its __init__'s arguments, as Keras's get_config
    assert two["settings"] == {"milestones": [2, 3], "table": {"a": [1.5]}}


# ----- the review of session 58
def test_a_resume_of_a_run_with_callback_objects_returns_the_recorded_run(data_dir, tmp_path):
    store, ck = tmp_path / "runs", tmp_path / "ck"
    first = mnistlab.train("mnist", "seed000-dense", callbacks=[SlowDown()], checkpoint_dir=ck, store=store,
                           data_dir=data_dir, **BASE)
    again = mnistlab.train("mnist", "seed000-dense", callbacks=[SlowDown()], checkpoint_dir=ck, resume=True, store=store,
                           data_dir=data_dir, **BASE)
    assert again.run_id == first.run_id and len(RunStore(store).runs()) == 1


def test_one_callback_object_given_to_two_runs_is_one_setting(data_dir, tmp_path):
    class Keeps(mnistlab.Callback):
        def __init__(self, factor=0.5):
            self.factor, self.losses = factor, []

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(logs["loss"])

    store, kept = tmp_path / "runs", Keeps()
    ids = [mnistlab.train("mnist", "seed000-dense", callbacks=[kept], store=store, data_dir=data_dir, **BASE).run_id
           for _ in range(2)]
    records = [RunStore(store).get(i) for i in ids]
    assert records[0].config_hash == records[1].config_hash  # (a fit's params and its losses are no settings)
    assert records[1].config["callbacks"][0]["settings"] == {"factor": 0.5}


def test_mnistlabs_callback_objects_record_their_mode_and_threshold_as_given(data_dir, tmp_path):
    import numpy as np

    from mnistlab.callbacks import ModelCheckpoint
    from mnistlab.run import callback_config

    assert callback_config(EarlyStopping(mode="min")).model_dump()["mode"] == "min"  # the table {"mode": "min"}'s key
    assert callback_config(EarlyStopping(monitor="lr", mode="min")).model_dump()["mode"] == "min"  # (it raised)
    check = ModelCheckpoint(str(tmp_path / "b.safetensors"), monitor="val_accuracy", save_best_only=True,
                            initial_value_threshold=0.3)
    assert callback_config(check).model_dump()["initial_value_threshold"] == 0.3

    class Numbers(mnistlab.Callback):
        def __init__(self, factor):
            self.factor = factor

    assert callback_config(Numbers(np.float32(0.5))).model_dump()["settings"] == {"factor": 0.5}


def test_a_value_runs_log_is_still_checked_after_a_callback_of_ones_own(data_dir):
    with pytest.raises(SpecError, match='needs validation data'):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir,
                       callbacks=[SlowDown(), EarlyStopping(monitor="val_loss")])


def test_a_keras_style_object_of_another_class_is_said_where_it_is_given(data_dir):
    class KerasStyle:  # a keras.callbacks.Callback's methods, no mnistlab.Callback
        def on_epoch_end(self, epoch, logs=None):
            pass

    with pytest.raises(SpecError, match="KerasStyle has Keras's callback methods but is no mnistlab.Callback: subclass"):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir, callbacks=[KerasStyle()])
    with pytest.raises(SpecError, match=r"a callback object \(KerasStyle\) is for mnistlab.train\(\); an experiment takes"):
        mnistlab.run_experiment({"name": "x", "base": {"dataset": "mnist", "model": "seed000-dense",
                                                       "callbacks": [KerasStyle()]}, "variants": [{"name": "a"}]})
