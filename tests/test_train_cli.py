"""`mnistlab train` end to end through the CLI entry point."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mnistlab.cli import main
from mnistlab.config import build_run_config
from mnistlab.errors import SpecError
from mnistlab.store import RunStore

QUICK = ["--dataset", "mnist", "--model", "seed000-dense", "--subset", "300", "--progress", "lines"]


def test_train_prints_summary_epochs_and_metrics(data_dir, tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    code = main(["train", *QUICK, "--epochs", "2", "--validation", "0.1", "--data-dir", str(data_dir),
                 "--save-weights", str(weights)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Total params: 101,770" in out and "Epoch 1/2 - " in out and "Epoch 2/2 - " in out
    assert "val_accuracy" in out and "test_accuracy: " in out and "finished" in out
    assert ": 2 epochs, batch" in out and "s (2 epochs) - params" in out
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert ": 1 epoch, batch" in out and "s (1 epoch) - params" in out  # not "1 epochs"
    assert {k: tuple(v.shape) for k, v in load_file(weights).items()} == {
        "dense.weight": (128, 784), "dense.bias": (128,), "dense_1.weight": (10, 128), "dense_1.bias": (10,)}


def test_train_rebuilds_a_database_damaged_while_it_trained(data_dir, tmp_path, capsys, monkeypatch,
                                                            truncated_store_head):
    """helper-156: runs.sqlite overwritten by a truncated copy while `train` ran: it said "recorded
    as run ..." into a database no command could read. It rebuilds it from the run folders (the
    damaged file kept aside) and says so; every run, its own too, is listed after."""
    from mnistlab.run import Recorder

    store = tmp_path / "s"
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--store", str(store)]) == 0
    first = RunStore(store).runs()[0].run_id
    finish = Recorder._finish

    head = truncated_store_head
    def damaged_after(self, result):  # the user's `head -c 5000 other.sqlite > runs.sqlite` as the run's end was
        said = finish(self, result)  # written (helper-158: such a copy can take the write unhurt, and "recorded"
        if not list(store.glob("runs.sqlite.damaged-*")):  # was said of a file no command could read); once
            (store / "runs.sqlite").write_bytes(head)
        return said

    monkeypatch.setattr(Recorder, "_finish", damaged_after)
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {store / 'runs.sqlite'} was damaged while the run trained: rebuilt from the run folders" in err
    assert "recorded as run" in out and "not recorded" not in out + err  # recorded in the rebuilt one (review)
    assert len(list(store.glob("runs.sqlite.damaged-*[0-9]"))) == 1
    runs = RunStore(store).runs()
    assert len(runs) == 2 and runs[0].run_id == first and {r.status for r in runs} == {"finished"}


def test_train_from_config_file_with_flag_overrides_and_resume(data_dir, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 300\n[train]\nepochs = 1\n'
                   'optimizer = "sgd"\n[[callbacks]]\ntype = "EarlyStopping"\nmonitor = "loss"\n')
    ckpt = tmp_path / "ckpt"
    base = ["train", "--config", str(cfg), "--data-dir", str(data_dir), "--checkpoint-dir", str(ckpt), "--progress", "lines"]
    assert main(base) == 0
    assert "sgd lr 0.01" in capsys.readouterr().out
    assert main([*base, "--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "Epoch 1/2" not in out  # epoch 1 came from the checkpoint
    assert main([*base, "--epochs", "3", "--lr", "0.05", "--resume"]) == 2  # another config's checkpoint
    out, err = capsys.readouterr()
    assert ("written by a different run config (train.lr was 0.01, now 0.05): use another --checkpoint-dir, "
            "or drop --resume") in err
    assert "Resuming from" not in out and "Total params" not in out  # refused before the data loads, said once


@pytest.mark.parametrize("args, needle", [
    (["--model", "seed000-dence"], "model:"),
    (["--dataset", "mnsit"], 'did you mean "mnist"'),
    (["--dataset", "{ folder = digits }"], "neither JSON nor a TOML inline table"),
    (["--dataset", '{ fold = "digits" }'], "unknown key 'fold' (did you mean \"folder\"?)"),
    (["--dataset", '{"fold": "digits"}'], "unknown key 'fold' (did you mean \"folder\"?)"),  # JSON, as --model takes
    (["--dataset", "{ folder = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ }"], "neither JSON nor a TOML inline table"),
    (["--epochs", "0"], "train.epochs"),
    (["--optimizer", "adamm"], 'did you mean "adam"'),
    (["--validation", "lots"], "--validation"),
    (["--validation", "2.5"], "data.validation"),
    (["--validation", "60"],  # new-user finding: said without the settings it came from
     "error: data.validation = 60: validation count must be between 1 and 59, got 60 (data.subset = 60 of its"),
    (["--resume"], "--resume needs --checkpoint-dir"),
    (["--checkpoint-every", "60"], "--checkpoint-every needs --checkpoint-dir"),
    (["--checkpoint-every", "-1", "--checkpoint-dir", "ck"], "expected seconds (a number >= 0), got -1"),
    (["--checkpoint-every", "nan", "--checkpoint-dir", "ck"], "--checkpoint-every"),
    (["--checkpoint-every", "inf", "--checkpoint-dir", "ck"], "--checkpoint-every"),
    (["--checkpoint-every", "1m", "--checkpoint-dir", "ck"], "--checkpoint-every"),
    (["--config", "nope.toml"], "no such file"),
    (["--progress", "fancy"], "fancy"),
    (["--batch-size", "x"], "batch-size"),
    (["--set", "train.lr=0.1", "--lr", "0.5"], "--set train.lr contradicts --lr"),
    (["--set", "data.validation=0.1", "--validation", "0.2"], "contradicts --validation"),
    (["--set", "train.optimizer=nan"], 'train.optimizer: got "nan"'),
    (["--set", "train.optimizer=-nan"], 'train.optimizer: got "-nan"'),
    (["--set", "train.lr=0.1\nx=1"], "one KEY=VALUE per --set"),
    (["--set", "train.épochs=1"], "--set: unknown key 'train.épochs': mnistlab's keys are ASCII"),
    (["--experiment", " "], "--experiment"),
    (["--experiment", "a/b"], "--experiment: must be ASCII letters, digits"),
    (["--experiment", "bad\x01name"], "--experiment: must be ASCII letters, digits"),
    (["--nesterov"], "nesterov needs optimizer sgd"),
    (["--lr", "nan"], "finite"),
    (["--set", "noequals"], "expected KEY=VALUE"),
    (["--set", "=3"], "expected KEY=VALUE"),
    (["--set", "train..lr=3"], "expected KEY=VALUE"),
    (["--set", "train.lr=fast"], "train.lr"),
    # helper-184: a German user's decimal comma, in a flag and in --set: said how to write it
    (["--lr", "0,001"], "'0,001' is not a valid float. (numbers take a decimal point: 0.001)"),
    (["--set", "train.lr=1,5e-3"], 'train.lr: must be a valid number (got "1,5e-3"); numbers take a decimal point: 1.5e-3'),
    (["--set", "train.batch_size=1,024"], 'train.batch_size: must be a valid integer (got "1,024"); whole numbers take no '
     "separator: 1024"),  # (helper-187: told "1.024")
    (["--set", "train.bogus=1"], 'unknown key "bogus"'),
    (["--set", "model.x=1"], '--set model.x: the model is a list of layers (a preset or spec file), which has no key '
                             '"x": change a layer\'s key, as model.layers[0].units'),
    (["--set", "model.layers[1].units=16", "--set", "model=seed000-cnn"],
     "--set model sets it whole and --set model.layers[1].units a key inside it: give one of them"),
    (["--model", "seed000-dense", "--set", 'model.layers."\u00b2".units=8'], "model.layers is a list of 3"),
    (["--model", "seed000-dense", "--set", "model.layers.\u00b2.units=8"], "mnistlab's keys are ASCII"),
    (["--model", "seed000-dense", "--set", "model.layers[3].units=8"],
     "--set model.layers[3].units: model.layers is a list of 3: give a position 0 to 2 (-1: the last)"),
    (["--model", "seed000-dense", "--set", "model.layers.x=8"], "model.layers is a list of 3"),
    (["--model", "seed000-dense", "--set", "model.layers[1].units.x=8"],
     "--set model.layers[1].units.x: model.layers[1].units is not a table"),
    (["--set", "callbacks=[{type = \"EarlyStopping\"}]"], "needs validation data"),
    (["--set", "callbacks[0].patience=3"],
     "--set callbacks[0].patience: callbacks is empty: it has no position 0 (callbacks[0:0] puts items in)"),
])
def test_train_bad_input_is_one_line(args, needle, data_dir, capsys):
    code = main(["train", "--data-dir", str(data_dir), "--subset", "60", "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err and err.count("\n") == 1


def test_train_hostile_config_files(tmp_path, data_dir, capsys):
    bad = tmp_path / "bad.toml"
    for text, needle in [
        ('dataset = "mnist"\n[train\n', "invalid TOML"),
        ('dataset = "mnist"\nmodel = "seed000-dense"\n[train]\nepocs = 2\n', 'did you mean "epochs"'),
        ('dataset = "mnist"\nmodel = "seed000-dense"\n[[callbacks]]\ntype = "Nope"\n', 'unknown type "Nope"'),
    ]:
        bad.write_text(text)
        assert main(["train", "--config", str(bad), "--data-dir", str(data_dir)]) == 2
        assert needle in capsys.readouterr().err
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["train", "--config", str(bad)]) == 2
    corrupt = tmp_path / "ckpt"
    corrupt.mkdir()
    (corrupt / "last.pt").write_bytes(b"PK\x03\x04 not really")
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--checkpoint-dir", str(corrupt),
                 "--resume"]) == 2
    assert "not a readable mnistlab checkpoint" in capsys.readouterr().err


def test_train_in_a_subprocess_non_tty_prints_lines(data_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "train", *QUICK[:-2], "--epochs", "1",
                           "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Epoch 1/1 - ") == 1 and "\r" not in proc.stdout


def test_spec_file_named_in_a_config_is_found_beside_it(data_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "tiny.json").write_text('{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10, '
                                      '"activation": "softmax"}]}')
    (folder / "run.toml").write_text('dataset = "mnist"\nmodel = "tiny.json"\n[data]\nsubset = 120\n[train]\nepochs = 1\n')
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", str(folder / "run.toml"), "--data-dir", str(data_dir), "--progress", "none"]) == 0
    assert "Total params: 7,850" in capsys.readouterr().out


def _train_until(line_start: str, args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """`mnistlab train ARGS` in a process of its own (one thread, lines as printed), once it has
    printed a line starting ``line_start`` (its stdout is read up to there)."""
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(line_start):
            break
    return proc


def test_ctrl_c_in_a_real_process_keeps_the_epochs_and_exits_130(data_dir, tmp_path):
    proc = _train_until("Epoch 2/200", [*QUICK[:-2], "--subset", "2000", "--epochs", "200", "--progress", "lines",
                                        "--data-dir", str(data_dir), "--checkpoint-dir", str(tmp_path / "ck")], tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run interrupted" in err and "Traceback" not in err
    assert "interrupted: interrupted" not in err and "\nrun interrupted by Ctrl-C or a stop signal after" in f"\n{err}"
    assert "error:" not in err  # a stop the user asked for (new-user finding 36: it read "error: run interrupted")
    assert "test_accuracy: " in out  # the partly trained model was still evaluated and reported
    assert "complete epoch" in out and "then stopped: tested as the weights stood at the stop" in out
    assert (tmp_path / "ck" / "last.pt").exists()
    [rec] = RunStore(os.environ["MNISTLAB_STORE"], create=False).runs()  # and recorded as such
    assert rec.status == "interrupted" and len(rec.history) >= 1 and rec.metrics["test_accuracy"] is not None


def test_weights_saved_after_a_stop_are_said_to_be_the_weights_at_the_stop(data_dir, tmp_path, monkeypatch, capsys):
    """helper-98: after a Ctrl-C in epoch 2 of 3, --save-weights said only "weights saved to ..."."""
    from mnistlab.trainer import Trainer

    run_epoch = Trainer.run_epoch

    def ctrl_c_in_epoch_2(self, epoch, *args, **kwargs):  # the user presses Ctrl-C as epoch 2 starts
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return run_epoch(self, epoch, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run_epoch", ctrl_c_in_epoch_2)
    weights = tmp_path / "w.safetensors"
    assert main(["train", *QUICK, "--epochs", "3", "--data-dir", str(data_dir), "--save-weights", str(weights)]) == 130
    out = capsys.readouterr().out
    assert weights.is_file()
    assert f"weights saved to {weights} (the weights at the stop: interrupted after 1 of 3 epochs)\n" in out, out


def test_ctrl_c_while_the_result_is_written_waits_for_the_record(data_dir, tmp_path, monkeypatch, capsys):
    """helper-96: a Ctrl-C between the printed test metrics and "recorded as" left the finished run
    without its record (status running, or interrupted). The weights and the record are now written
    first, a stop waiting until both are whole; then everything is said, and the exit status is 130."""
    from mnistlab import files

    save = files.save_weights

    def ctrl_c_then_save(*args, **kwargs):  # the user presses Ctrl-C as --save-weights is written
        os.kill(os.getpid(), signal.SIGINT)
        return save(*args, **kwargs)

    monkeypatch.setattr(files, "save_weights", ctrl_c_then_save)
    weights = tmp_path / "w.safetensors"
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--save-weights", str(weights)]) == 130
    out, err = capsys.readouterr()
    [rec] = RunStore(os.environ["MNISTLAB_STORE"], create=False).runs()
    assert rec.status == "finished" and rec.metrics["test_accuracy"] is not None and weights.is_file()
    assert "test_accuracy: " in out and f"weights saved to {weights}" in out and f"recorded as run {rec.run_id} in " in out
    assert f"(mnistlab show {rec.run_id})" in out  # the default store (MNISTLAB_STORE): no --store to copy
    assert err.splitlines()[-1] == f"interrupted by Ctrl-C after training; run {rec.run_id} was recorded (finished)"


def test_train_format_json_says_a_run_stopped_before_or_after_training(data_dir, tmp_path, monkeypatch, capsys):
    """helper-165: a Ctrl-C while the run was recorded (or before training began) printed no JSON
    object: the script had no run id for a run the store holds."""
    from mnistlab import files
    from mnistlab.cli import train_cmds

    def ctrl_c_then(original):
        def call(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            return original(*args, **kwargs)
        return call

    base = ["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--format", "json", "--store"]
    with monkeypatch.context() as m:
        m.setattr(files, "save_weights", ctrl_c_then(files.save_weights))
        assert main([*base, str(tmp_path / "a"), "--save-weights", str(tmp_path / "w.safetensors")]) == 130
    ended = json.loads(capsys.readouterr().out)
    [rec] = RunStore(tmp_path / "a", create=False).runs()
    assert (ended["run_id"], ended["status"], rec.status) == (rec.run_id, "finished", "finished")
    monkeypatch.setattr(train_cmds, "_announce", ctrl_c_then(train_cmds._announce))
    assert main([*base, str(tmp_path / "b")]) == 130
    ended = json.loads(capsys.readouterr().out)
    [rec] = RunStore(tmp_path / "b", create=False).runs()
    assert (ended["run_id"], ended["status"]) == (rec.run_id, "interrupted") and "before training" in ended["message"]


def test_train_says_when_it_scored_part_of_the_test_set(data_dir, capsys):
    """New-user finding (35): `train --subset 300` printed test_accuracy without saying it was of 50
    test images, as `compare` and `run` say under their tables."""
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    assert "test_accuracy: " in out and err.endswith(
        "note: test accuracy here is on part of the test set (50 of mnist's 10,000 test images, the first of them: "
        "data.subset keeps subset // 6), so it is not the figure a full-size run reports on the whole set\n"), err


def test_ctrl_c_in_the_first_epoch_says_so_not_zero_complete_epochs_in_no_time(data_dir, tmp_path, capsys):
    """New-user finding (34): a run stopped in its first epoch said "0 complete epochs (0.0s)"."""
    # then a second or three of setup, and epoch 1 (30,000 images of seed 002's deep CNN: 20 s+ on a
    # CPU with bf16, where seed000-cnn's took 4.8 s). On a machine busy enough that the setup
    # outlasts the wait, the stop comes before training began (said so): wait longer.
    for wait in (6, 15):
        proc = _train_until("Training on mnist", ["--dataset", "mnist", "--model", "seed002-deep-conv", "--epochs", "3",
                                                  "--subset", "36000", "--progress", "lines", "--data-dir", str(data_dir)],
                            tmp_path)
        time.sleep(wait)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        if "before training began" not in err:
            break
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "train: stopped in epoch 1, before it completed: tested as the weights stood at the stop" in out, out
    assert "complete epoch" not in out
    assert "\nrun interrupted by Ctrl-C or a stop signal in epoch 1, before it completed" in f"\n{err}" and "error:" not in err
    assert err.rstrip().endswith("; it kept no checkpoint: with --checkpoint-dir DIR a stopped run continues with --resume")
    rec = RunStore(os.environ["MNISTLAB_STORE"], create=False).runs()[-1]
    assert main(["show", rec.run_id]) == 0  # new-user finding (35): "status interrupted: interrupted (Ctrl-C ...)"
    assert "status interrupted by Ctrl-C or a stop signal in epoch 1, before it completed" in capsys.readouterr().out


@pytest.mark.parametrize("flag, target, needle", [
    ("--save-weights", "afile/w.safetensors", "is a file"),
    ("--save-weights", "folder", "is a directory"),
    ("--checkpoint-dir", "afile/ck", "is a file"),
    ("--save-weights", "w.txt", "--save-weights writes safetensors, so the file name must end in .safetensors"),
])
def test_unusable_output_paths_are_refused_before_training(flag, target, needle, data_dir, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder").mkdir()
    code = main(["train", "--data-dir", str(data_dir), "--subset", "60", "--epochs", "1", "--progress", "none",
                 flag, str(tmp_path / target)])
    captured = capsys.readouterr()
    assert code == 2 and needle in captured.err and captured.err.count("\n") == 1
    assert "Epoch" not in captured.out  # nothing was trained only to be lost


@pytest.mark.parametrize("argv", [
    ["train", "--subset", "60", "--epochs", "1", "--store", ""],
    ["train", "--subset", "60", "--epochs", "1", "--checkpoint-dir", ""],
    ["train", "--subset", "60", "--epochs", "1", "--data-dir", " "],
    ["run", ""], ["search", ""], ["runs", "--store", ""], ["report", "x", "-o", ""], ["plot", "curves", "x", "-o", ""],
    ["predict", "x", "a.png", ""], ["export", "x", "-o", ""], ["card", "x", "-o", ""], ["summary", "dense", "--save", ""],
    ["search-best", "x", "-o", ""], ["train", "--dataset", ""], ["show-data", " "], ["show-augment", "--dataset", ""],
])
def test_an_empty_path_is_refused_not_taken_for_this_folder(argv, tmp_path, monkeypatch, capsys):
    # `--store "$STORE"` with the variable unset: click takes "" for ".", a store in the folder it runs in
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(r"an empty (path|value) \(an unset shell variable\?\)", err) and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_optimizer_flags_and_set_reach_the_run(data_dir, tmp_path, capsys):
    code = main(["train", *QUICK, "--epochs", "2", "--data-dir", str(data_dir), "--optimizer", "sgd",
                 "--momentum", "0.9", "--nesterov", "--weight-decay", "0.001", "--label-smoothing", "0.1",
                 "--set", "train.schedule.type=cosine", "--set", "augment.rotation_range=10",
                 "--set", "batch_size=16", "--set", '"data".stratify=true', "--set", "data.validation=0.1",
                 "--store", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0, out
    [rec] = RunStore(tmp_path / "runs", create=False).runs()
    train = rec.config["train"]
    assert (train["momentum"], train["nesterov"], train["weight_decay"], train["label_smoothing"]) == (0.9, True, 0.001, 0.1)
    assert train["batch_size"] == 16 and rec.config["augment"]["rotation_range"] == 10  # flat key -> train.
    assert rec.config["data"]["stratify"] is True and rec.metrics["val_size"] == 30
    sizes = f"({rec.metrics['train_size']:,} training, 30 validation, {rec.metrics['test_size']:,} test images)"  # helper-121
    said = f"Training on mnist {sizes}: 2 epochs, batch 16, sgd lr 0.01 (momentum 0.9, nesterov, weight decay 0.001), cosine "
    assert said + "schedule, label smoothing 0.1, seed 0" in out  # what trains, as the flags said it (not "sgd lr 0.01")
    last = [line for line in out.splitlines() if line.startswith("Epoch 2/2")][0]
    assert float(re.search(r"lr: (\S+) ", last).group(1)) < 1e-3  # cosine decays from sgd's 0.01 towards 0


def test_every_optimizer_setting_is_said_in_the_training_line_and_the_card(data_dir, tmp_path, capsys):
    """helper-168: the training line left adagrad's initial_accumulator_value out, the card the betas,
    epsilon and rho (two lists of the settings had drifted apart; now one, config.OPTIMIZER_SETTINGS)."""
    from mnistlab.card import model_card
    from mnistlab.run import Run

    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--optimizer", "adagrad", "--set",
                 "train.initial_accumulator_value=0", "--store", str(tmp_path / "runs")]) == 0
    assert "adagrad lr 0.001 (initial accumulator value 0), seed 0" in capsys.readouterr().out
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--set", "train.beta_1=0.8",
                 "--store", str(tmp_path / "runs")]) == 0
    assert "adam lr 0.001 (beta 1 0.8), seed 0" in capsys.readouterr().out
    rec = RunStore(tmp_path / "runs", create=False).runs()[-1]
    table = model_card(Run.from_store(RunStore(tmp_path / "runs"), rec.run_id)).split("## Training")[1]
    assert "| beta_1 | 0.8 |" in table and "| epsilon | 1e-07 |" in table and "momentum" not in table.split("<details>")[0]


def test_set_removes_or_puts_in_layers_by_a_slice():
    cfg = build_run_config(settings=["model.layers[2:4]=[]"], flags={"model": "seed000-cnn"})
    assert [layer.type for layer in cfg.model_spec().layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    cfg = build_run_config(settings=['model.layers[1:1]=[{type = "Dropout", rate = 0.2}]'], flags={"model": "seed000-dense"})
    assert [layer.type for layer in cfg.model_spec().layers] == ["Flatten", "Dropout", "Dense", "Dense"]
    for settings, message in [(["model.layers[2:4]=3"], "--set model.layers[2:4]: a slice takes a list (of layers: "
                                                        "[] removes them), got integer 3"),
                              (["model.layers[9:10]=[]"], "model.layers[9:10] reaches past a list of 7"),
                              (['model.layers[5:5]=[{type = "Dropout", rate = 0.5}]'] * 2,
                               '"model.layers[5:5]" and "model.layers[5:5]" both change model.layers'),
                              (["model.layers[2:4]=[]", "model.layers[5].units=8"], "a slice moves the items after it")]:
        with pytest.raises(SpecError) as exc:
            build_run_config(settings=settings, flags={"model": "seed000-cnn"})
        assert message in str(exc.value)


@pytest.mark.parametrize("setting", ['"model".layers[1].units=32', "model . layers[1].units=32",
                                     "model.layers.1.units=32"])
def test_set_reaches_the_model_flag_s_layer_however_the_key_is_spelled(setting):
    cfg = build_run_config(settings=[setting], flags={"model": "seed000-dense"})
    assert [getattr(layer, "units", None) for layer in cfg.model_spec().layers] == [None, 32, 10]


def test_set_of_a_table_without_a_type_changes_a_layers_keys_as_a_variant_does():
    """A layer's table without a type changed nothing but an error ("missing 'type'"), where a
    variant's merges it: --set 'model.layers[1]={ kernel_regularizer = "l2" }' (session 23's list)."""
    cfg = build_run_config(settings=['model.layers[1]={ kernel_regularizer = "l2", units = 64 }'],
                           flags={"model": "seed000-dense"})
    dense = cfg.model_spec().layers[1]
    assert (dense.units, dense.activation, dense.kernel_regularizer.l2) == (64, "relu", 0.01)  # relu: the preset's, kept
    cfg = build_run_config(settings=['model.layers[-1]={ type = "Dense", units = 10 }'], flags={"model": "seed000-dense"})
    assert cfg.model_spec().layers[-1].activation == "linear"  # with a type: the layer replaced whole, Keras's default
    with pytest.raises(SpecError, match=r"layers\[1\] \(Dense\): unknown key 'typo'"):
        build_run_config(settings=["model.layers[1]={ typo = 3 }"], flags={"model": "seed000-dense"})


def test_a_bad_value_set_inside_a_layer_is_blamed_on_the_command_line(tmp_path):
    run = tmp_path / "run.toml"
    run.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n')
    with pytest.raises(SpecError) as exc:
        build_run_config(run, ["model.layers[1].units=-3"])
    assert str(exc.value).startswith("command line: model: layers[1] (Dense): units")
    run.write_text('dataset = "mnist"\nmodel = { layers = [{ type = "Flatten" }, { type = "Dense", units = 0 }, '
                   '{ type = "Dense", units = 10 }] }\n')
    with pytest.raises(SpecError, match=r"run.toml:2: model: layers\[1\] \(Dense\): units"):  # the file's own mistake
        build_run_config(run, ["model.layers[2].activation=softmax"])


def test_set_changes_one_layer_of_the_model_given_by_name(data_dir, tmp_path, capsys):
    """``--model`` first, then ``--set`` inside it: a ``--set model.`` used to be written into the
    default model, which ``--model`` then replaced, silently."""
    code = main(["train", *QUICK, "--data-dir", str(data_dir), "--model", "seed000-dense", "--set",
                 "model.layers[1].units=32", "--set", "model.layers[-1].activation=softmax", "--store", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    [rec] = RunStore(tmp_path / "r", create=False).runs()
    assert [layer.get("units") for layer in rec.config["model"]["layers"]] == [None, 32, 10]
    assert rec.config["model"]["name"] == "seed000-dense" and rec.metrics["params"] == 784 * 32 + 32 + 32 * 10 + 10


def test_a_bad_flag_value_is_blamed_on_the_command_line_not_the_file(data_dir, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[train]\nepochs = 1\n')
    for args, needle in [(["--model", "nope"], "error: command line: model:"),
                         (["--set", "train.bogus=1"], "error: command line: train:"),
                         (["--set", "train.learning_rate=0.1"],
                          'unknown key "learning_rate" (Keras 3\'s learning_rate is lr here, train.lr)'),
                         (["--subset", "0"], "'--subset': 0 is not in the range x>=1")]:  # not "all of them"
        assert main(["train", "--config", str(cfg), "--data-dir", str(data_dir), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where nothing can be created")
@pytest.mark.parametrize("flag, target", [("--save-weights", "/proc/w.safetensors"), ("--checkpoint-dir", "/proc/ck")])
def test_unwritable_output_folders_are_refused_before_training(flag, target, data_dir, capsys):
    code = main(["train", "--data-dir", str(data_dir), "--subset", "60", "--epochs", "1", "--progress", "none",
                 flag, target])
    captured = capsys.readouterr()
    assert code == 2 and "cannot write in /proc" in captured.err and captured.err.count("\n") == 1
    assert "Epoch" not in captured.out


def test_resume_says_where_it_starts(data_dir, tmp_path, capsys):
    base = ["train", *QUICK, "--data-dir", str(data_dir), "--checkpoint-dir", str(tmp_path / "ck"), "--resume"]
    assert main([*base, "--epochs", "1"]) == 0
    assert "No checkpoint in" in capsys.readouterr().out
    assert main([*base, "--epochs", "2"]) == 0
    assert "Resuming from" in capsys.readouterr().out


def test_resuming_a_run_already_recorded_trains_nothing_and_records_no_copy(data_dir, tmp_path, capsys):
    """A finished run's checkpoint stays (to train on from it); --resume of that same run again
    (a scheduler retrying a job that had ended) finds it recorded instead of recording a copy with
    the same seed, which `compare` would count as a second run."""
    ck, weights = tmp_path / "ck", tmp_path / "w.safetensors"
    base = ["train", *QUICK, "--data-dir", str(data_dir), "--checkpoint-dir", str(ck), "--progress", "none"]
    store = RunStore(tmp_path / "mnistlab-runs")
    assert main([*base, "--epochs", "1"]) == 0
    (first,) = store.runs()
    capsys.readouterr()
    assert main([*base, "--epochs", "1", "--resume", "--save-weights", str(weights)]) == 0
    out, err = capsys.readouterr()
    assert f"recorded as run {first.run_id}" in out and f"{first.metrics['test_accuracy']:.4f}" in out
    assert f"nothing to train: the checkpoint in {ck} is where run {first.run_id} ended" in err
    assert "--epochs above 1 trains on from it" in err and err.count("\n") == 1
    assert [r.run_id for r in store.runs()] == [first.run_id]
    saved, recorded = load_file(weights), store.load_model(first.run_id).state_dict()
    assert saved.keys() == recorded.keys() and all(torch.equal(saved[k], recorded[k]) for k in saved)
    assert main([*base, "--epochs", "2", "--resume"]) == 0  # more epochs: trained on, a run of its own
    out = capsys.readouterr().out
    assert f"Resuming from {ck / 'last.pt'}: epoch 2\n" in out and "s (2 epochs) - params" in out
    assert len(store.runs()) == 2
    assert main([*base, "--epochs", "2", "--resume"]) == 0  # ... and found in its turn
    assert "nothing to train" in capsys.readouterr().err and len(store.runs()) == 2
    assert main([*base, "--epochs", "2", "--resume", "--lr", "0.01"]) == 2  # another config: refused as before
    assert "written by a different run config" in capsys.readouterr().err


@pytest.mark.parametrize("note", ["", "{", "[1]", '{"run_id": ""}', '{"run_id": 7, "epochs": 1}', "\x00" * 9])
def test_a_resume_with_a_damaged_or_stale_recorded_note_trains_as_before(data_dir, tmp_path, capsys, note):
    ck = tmp_path / "ck"
    base = ["train", *QUICK, "--data-dir", str(data_dir), "--checkpoint-dir", str(ck), "--progress", "none",
            "--epochs", "1"]
    assert main(base) == 0
    (ck / "recorded.json").write_text(note)
    capsys.readouterr()
    assert main([*base, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "nothing to train" not in err
    assert len(RunStore(tmp_path / "mnistlab-runs").runs()) == 2
    # hostile-input review: the copy was recorded in silence
    assert (f"warning: {ck / 'recorded.json'}: not the note mnistlab writes (damaged or edited): which recorded run "
            "ended with this checkpoint is unknown, so --resume tests it and records a run of its own") in err


def test_a_resume_never_reads_a_fifo_and_names_the_experiment_a_recorded_run_is_under(data_dir, tmp_path, capsys):
    """Hostile-input review: a FIFO as recorded.json or last.pt hung `train --resume` for ever; a
    resume under another --experiment said "recorded as run X", a run of experiment "train"."""
    import os

    ck = tmp_path / "ck"
    base = ["train", *QUICK, "--data-dir", str(data_dir), "--checkpoint-dir", str(ck), "--progress", "none",
            "--epochs", "1"]
    assert main(base) == 0
    (first,) = RunStore(tmp_path / "mnistlab-runs").runs()
    capsys.readouterr()
    assert main([*base, "--resume", "--experiment", "other"]) == 0
    out, err = capsys.readouterr()
    assert f"recorded as run {first.run_id} of experiment 'train', not 'other'" in out
    assert err.rstrip().endswith("without --resume the run trains afresh (and is recorded under 'other')")
    (ck / "recorded.json").unlink()
    os.mkfifo(ck / "recorded.json")
    assert main([*base, "--resume"]) == 0  # not read: tested and recorded again, saying why
    assert "recorded.json: not a regular file" in capsys.readouterr().err
    (ck / "recorded.json").unlink()
    (ck / "last.pt").unlink()
    os.mkfifo(ck / "last.pt")
    assert main([*base, "--resume"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {ck / 'last.pt'}: not a regular file, so not a checkpoint: use "
                                               "another --checkpoint-dir, or drop --resume to train afresh")


def test_a_resume_finds_nothing_recorded_once_the_run_is_deleted_or_the_checkpoint_rewritten(data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    base = ["train", *QUICK, "--data-dir", str(data_dir), "--checkpoint-dir", str(ck), "--progress", "none",
            "--epochs", "1"]
    store = RunStore(tmp_path / "mnistlab-runs")
    assert main(base) == 0
    note = (ck / "recorded.json").read_text()
    store.rm([r.run_id for r in store.runs()])
    assert main([*base, "--resume"]) == 0  # its record deleted: tested and recorded again
    assert "nothing to train" not in capsys.readouterr().err and len(store.runs()) == 1
    (ck / "recorded.json").write_text(note.replace(store.runs()[0].run_id, "0" * 10))
    assert main([*base, "--resume"]) == 0  # the note names the deleted run: not this one
    assert len(store.runs()) == 2
    assert main([*base, "--no-record"]) == 0  # a checkpoint written since: the note no longer matches it
    (ck / "recorded.json").write_text(note.replace("0" * 10, store.runs()[0].run_id))
    capsys.readouterr()
    assert main([*base, "--resume"]) == 0 and "nothing to train" not in capsys.readouterr().err


def _saved_early_inside_a_later_epoch(path: Path) -> bool:
    """Whether the checkpoint at ``path`` was written inside epoch 2 or later, before its 150th batch."""
    try:
        state = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError):
        return False
    return state["epochs_done"] >= 1 and state["partial_epoch"] is not None and state["partial_epoch"]["steps"] < 150


def test_checkpoint_every_saves_inside_epochs_and_resume_continues_there(data_dir, tmp_path, capsys):
    """Ctrl-C in the middle of an epoch: with --checkpoint-every the checkpoint holds the batches of
    that epoch done so far; --resume continues after them (and refuses to stop before that epoch)."""
    ckpt = tmp_path / "ck"
    base = [sys.executable, "-m", "mnistlab", "train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "6000",
            "--batch-size", "8", "--data-dir", str(data_dir), "--checkpoint-dir", str(ckpt), "--no-record",
            "--progress", "none"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    store = tmp_path / "runs"
    proc = subprocess.Popen([*base, "--epochs", "40", "--checkpoint-every", "0.05", "--record", "--store", str(store)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    # until a checkpoint inside epoch 2 or later, in the first 150 of its epoch's 750 batches: the
    # next ones the process writes (every 0.05 s) are inside that epoch too, not at its end
    while not _saved_early_inside_a_later_epoch(ckpt / "last.pt") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # a batch scheduler's stop: as Ctrl-C, with SIGTERM's exit status
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    state = torch.load(ckpt / "last.pt", weights_only=True)
    done, inside = state["epochs_done"], state["partial_epoch"]
    assert inside is not None and 1 <= inside["steps"] < 750 and inside["meter"]["seen"] == 8 * inside["steps"]
    assert f"add --resume to continue from epoch {done + 1}, batch {inside['steps'] + 1} (the checkpoint in {ckpt})" \
        in err.decode()
    [rec] = RunStore(store).runs()
    assert rec.status == "interrupted" and rec.metrics["checkpoint_step"] == inside["steps"]
    assert main([*base[3:], "--epochs", str(done), "--resume"]) == 2  # in this process: the CLI's own handling
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"written inside epoch {done + 1}, past the {done} epoch(s) asked for" in err
    assert main([*base[3:], "--epochs", str(done + 1), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "Resuming from" in out and f"last.pt: epoch {done + 1}, batch {inside['steps'] + 1}\n" in out  # where it goes on
    assert torch.load(ckpt / "last.pt", weights_only=True)["partial_epoch"] is None  # the last epoch's end is saved


def test_the_show_hint_after_train_names_a_store_whose_name_is_not_utf8_as_bash_reads_it(data_dir, tmp_path, capsys):
    """helper-163: `--store 'bad\\xffdir/s'` pasted named another folder ("no run store at ...")."""
    store = tmp_path / os.fsdecode(b"bad\xffdir") / "s"
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--store", str(store)]) == 0
    said = capsys.readouterr().out.strip().splitlines()[-1]
    [rec] = RunStore(store, create=False).runs()
    quoted = said.split("--store ", 1)[1].rstrip(")")
    assert said.startswith(f"recorded as run {rec.run_id} in ") and "\ufffd" not in said and quoted.startswith("$'")
    done = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True)
    assert done.stdout == os.fsencode(store)  # what bash makes of it: the store's own bytes


def test_models_given_inline_are_rows_of_their_own(data_dir, tmp_path, capsys):
    """Session 44's trials: `train --model '{ dense = [8] }'`, then `{ dense = [32] }`, were both variant
    "model", and `compare train` showed the second alone ("1 run of other settings not shown")."""
    store = tmp_path / "s"
    models = ["{ dense = [8] }", "{ conv = [4, 8], dense = [16], activation = 'tanh' }",
              "{ layers = [{ type = 'Flatten' }, { type = 'Dense', units = 10, activation = 'softmax' }] }"]
    for model in models:
        assert main(["train", "--dataset", "mnist", "--model", model, "--subset", "120", "--epochs", "1",
                     "--data-dir", str(data_dir), "--store", str(store)]) == 0
    variants = [r.variant for r in RunStore(store, create=False).runs()]
    assert variants[:2] == ["dense=8", "conv=4/8,dense=16,activation=tanh"] and variants[2].startswith("model-")
    capsys.readouterr()
    assert main(["compare", "train", "--store", str(store), "--format", "json"]) == 0
    assert [r["variant"] for r in json.loads(capsys.readouterr().out)] == variants


def test_train_records_the_run_in_the_store(data_dir, tmp_path, capsys):
    store = tmp_path / "runs"
    assert main(["train", *QUICK, "--epochs", "2", "--data-dir", str(data_dir), "--store", str(store),
                 "--experiment", "lab"]) == 0
    out = capsys.readouterr().out
    [rec] = RunStore(store, create=False).runs()
    assert f"recorded as run {rec.run_id} in {store} (mnistlab show {rec.run_id} --store {store})" in out  # helper-162:
    assert (rec.experiment, rec.variant, rec.status, len(rec.history)) == ("lab", "seed000-dense", "finished", 2)
    assert f"test_accuracy: {rec.metrics['test_accuracy']:.4f}" in out
    assert RunStore(store, create=False).load_predictions(rec.run_id).shape == (50, 10)
    capsys.readouterr()
    assert main(["show", rec.run_id[:6], "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    from mnistlab.comparison import seconds

    assert f", took {seconds(rec.finished_at - rec.created_at)} s\n" in shown and "found ended" not in shown, shown


def test_bad_input_found_late_leaves_no_record_and_no_record_means_none(data_dir, tmp_path, capsys):
    store = tmp_path / "runs"
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--store", str(store),
                 "--validation", "0.001"]) == 2  # found before the data is read: the run never started
    assert "holds out 0" in capsys.readouterr().err
    assert not store.exists()  # (found before the store was opened, now)
    assert main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--no-record",
                 "--store", str(tmp_path / "unused")]) == 0
    assert not (tmp_path / "unused").exists()


def test_store_file_errors_other_than_oserror_are_recorded_as_failed(tmp_path, monkeypatch):
    import safetensors.torch
    import torch

    def broken(*args, **kwargs):
        raise safetensors.SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    store = RunStore(tmp_path / "runs")
    run_id = store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="k")
    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    store.finish_run(run_id, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={},
                     weights={"w": torch.zeros(2)})
    rec = store.get(run_id)
    assert rec.status == "failed" and "No space left on device" in rec.message and rec.metrics["test_accuracy"] == 0.5


def test_a_weights_file_that_cannot_be_written_still_leaves_the_run_recorded(data_dir, tmp_path, capsys, monkeypatch):
    import safetensors.torch

    from mnistlab.files import temporary_name

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"an older file")
    real = safetensors.torch.save_file

    def disk_full_for_the_weights_file(tensors, filename, *args, **kwargs):  # the store's own writes still work
        if str(filename) == str(temporary_name(weights)):  # (safetensors replaces a link to /dev/full)
            Path(filename).write_bytes(b"half a")
            raise OSError(28, "No space left on device")
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full_for_the_weights_file)
    code = main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--save-weights", str(weights),
                 "--store", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 1 and "cannot write weights: No space left on device" in err and "Traceback" not in err  # it
    [rec] = RunStore(tmp_path / "runs", create=False).runs()  # trained: not exit 2, "nothing done" (helper-255)
    assert f"the run is recorded as {rec.run_id}: `mnistlab export {rec.run_id}" in err
    assert rec.status == "finished" and len(rec.history) == 1
    assert weights.read_bytes() == b"an older file" and not temporary_name(weights).exists()  # whole or not at all


def _disk_full_in_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """safetensors' writes of weights under a folder "runs" (a store's) fail as on a full disk (ENOSPC);
    others (--save-weights elsewhere) are written."""
    import safetensors.torch

    real = safetensors.torch.save_file

    def save_file(tensors, filename, *args, **kwargs):
        if "runs" in Path(filename).parts:
            raise OSError(28, "No space left on device")
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)


def test_a_run_whose_files_the_store_cannot_write_is_said_failed_not_recorded(data_dir, tmp_path, capsys, monkeypatch):
    """helper-156: a full disk under the store's run folder failed the run in the store, and `train`
    said "recorded as run ..." with exit 0 (a script saw success); the Python API said nothing."""
    import mnistlab

    _disk_full_in_the_store(monkeypatch)
    code = main(["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--store", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    [rec] = RunStore(tmp_path / "runs", create=False).runs()
    assert code == 1 and "recorded as run" not in out and "Traceback" not in err
    said = err.strip().splitlines()[-1]
    assert said.startswith(f"error: run {rec.run_id} is recorded failed, its metrics without its files")
    assert "weights: No space left on device" in said
    assert rec.status == "failed" and rec.metrics["test_accuracy"] is not None
    with pytest.warns(UserWarning, match=r"is recorded failed, its metrics without its files .*No space left"):
        run = mnistlab.train(dataset="mnist", model={"dense": [8]}, epochs=1, subset=120, data_dir=data_dir,
                             store=tmp_path / "runs")
    assert run.run_id is None and run.metrics["test_accuracy"] is not None


def test_help_shows_the_defaults_of_the_config_schema(capsys):
    from mnistlab.config import RUN_DEFAULTS, TrainConfig

    assert main(["train", "--help"]) == 0
    out = "".join(capsys.readouterr().out.split())  # click wraps lines (even inside "fashion-mnist")
    t = TrainConfig()
    for words in (f"Epochs (default {t.epochs})", f"(default {t.batch_size}, as Keras)", f"(default {t.optimizer})",
                  f"Default {RUN_DEFAULTS['model']}", f"(default {RUN_DEFAULTS['dataset']})"):
        assert "".join(words.split()) in out, words


def test_a_recorded_run_s_config_json_trains_that_run_again(data_dir, tmp_path, capsys):
    assert main(["train", *QUICK, "--epochs", "2", "--data-dir", str(data_dir), "--store", str(tmp_path / "a")]) == 0
    [first] = RunStore(tmp_path / "a", create=False).runs()
    recorded = tmp_path / "a" / "runs" / first.run_id / "config.json"
    assert main(["train", "--config", str(recorded), "--data-dir", str(data_dir), "--store", str(tmp_path / "b")]) == 0
    [again] = RunStore(tmp_path / "b", create=False).runs()
    assert again.config_hash == first.config_hash and again.config == first.config
    assert again.metrics["test_accuracy"] == first.metrics["test_accuracy"]
    assert again.history[-1]["loss"] == pytest.approx(first.history[-1]["loss"], rel=1e-5)
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    for text, needle in [('{"dataset": "mnist", "train": {"epochs": 2', "invalid JSON: Expecting ',' delimiter at line 1 "
                          "column 43 (the file ends there: cut short?)"),
                         ("[1, 2]", "a run config is a table of settings, got array"),
                         ("{}", "the file sets nothing"),
                         ('{"dataset": "mnist", "train": {"epocs": 2}}', 'unknown key "epocs" (did you mean "epochs"?)'),
                         ('{"dataset": "mnist", "train": {"lr": NaN}}', "train.lr"),
                         ('{"dataset": "mnist", "dataset": "fashion-mnist"}', 'the key "dataset" is given twice'),
                         ('{"name": "x", "base": {"dataset": "mnist"}}', "is an experiment file ([base], [[variants]]), "
                          f"not a run config: run it with `mnistlab run {bad}`")]:
        bad.write_text(text)
        assert main(["train", "--config", str(bad), "--data-dir", str(data_dir), "--store", str(tmp_path / "c")]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "c").exists()  # nothing trained, no store made
    assert main(["run", str(recorded), "--store", str(tmp_path / "c")]) == 2  # the other way round
    assert f"(an experiment file is TOML; a run config in JSON trains with `mnistlab train --config {recorded}`)" in (
        capsys.readouterr().err)


def test_a_train_killed_outright_keeps_its_epochs_in_its_row(tmp_path: Path, data_dir: Path, capsys) -> None:
    """kill -9 of `mnistlab train` left a row with no epochs: its history was written only at the end."""
    store = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "train", "--model", "seed000-dense", "--subset", "600",
                             "--epochs", "3000", "--store", str(store), "--data-dir", str(data_dir), "--progress", "none"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    try:
        for _ in range(600):
            time.sleep(0.1)
            if (store / "runs.sqlite").exists() and any(len(r.history) >= 2 for r in RunStore(store).runs()):
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert main(["runs", "--store", str(store), "--format", "csv"]) == 0
    [row] = capsys.readouterr().out.splitlines()[1:]
    status, epochs = row.split(",")[5], row.split(",")[7]
    assert status == "interrupted" and int(epochs) >= 2  # the epochs it trained, not "-"


def test_ctrl_c_between_training_on_and_the_first_batch_is_said_and_recorded(data_dir, tmp_path, capsys):
    """New-user finding (37): a Ctrl-C in the seconds between "Training on ..." and the first batch
    (the model built, the plan chosen) printed a bare "interrupted", recorded "interrupted:
    interrupted before it finished", and said nothing of what to do. Sent as the line appears, it
    lands there or, on a fast machine, in epoch 1: either way one line says it, without "error:"."""
    proc = _train_until("Training on mnist", ["--dataset", "mnist", "--model", "seed000-cnn", "--epochs", "2", "--subset",
                                              "20000", "--progress", "lines", "--data-dir", str(data_dir)], tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "error:" not in err, err
    [rec] = RunStore(os.environ["MNISTLAB_STORE"], create=False).runs()
    assert rec.status == "interrupted" and rec.message.startswith("interrupted by Ctrl-C or a stop signal "), rec.message
    assert err.strip().splitlines()[-1].startswith(f"run {rec.message}"), err  # the record says what the line says
    if "before training began" in rec.message:
        assert f"(recorded as run {rec.run_id}); run the same command again to train it" in err
    assert main(["show", rec.run_id]) == 0
    assert f"status {rec.message}" in capsys.readouterr().out  # the word once: not "interrupted: interrupted"


def test_train_of_a_weight_average_prints_the_final_weights_validation(data_dir, tmp_path, capsys):
    """helper-130: `train` with SWA printed only its last epoch's val_accuracy, the raw weights',
    beside the averaged weights' test score."""
    assert main(["train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "300", "--epochs", "2",
                 "--validation", "60", "--set", "train.swa.start_epoch=1", "--progress", "none",
                 "--store", str(tmp_path / "runs"), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    [rec] = RunStore(tmp_path / "runs").runs()
    said = re.search(r"^val_accuracy: (\d\.\d{4}) - val_loss: \d+\.\d{4} \(these final weights: the model the test set "
                     r"scores\)$", out, re.M)
    assert said and float(said[1]) == pytest.approx(rec.metrics["val_accuracy"], abs=5e-5), out


def test_train_format_json_gives_scripts_the_run_as_it_ended_on_stdout_alone(data_dir, tmp_path, capsys, monkeypatch):
    """helper-165: a script found the run id only inside "recorded as run ..." prose on stdout,
    among the summary and the epoch lines."""
    store = tmp_path / "s"
    base = ["train", *QUICK, "--epochs", "1", "--data-dir", str(data_dir), "--format", "json"]
    assert main([*base, "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    ended = json.loads(out)  # stdout holds the object alone
    [rec] = RunStore(store, create=False).runs()
    assert (ended["run_id"], ended["status"], ended["store"]) == (rec.run_id, "finished", str(store))
    assert ended["metrics"]["test_accuracy"] == rec.metrics["test_accuracy"] and "Epoch 1/1" in err
    assert main([*base, "--no-record"]) == 0
    ended = json.loads(capsys.readouterr().out)
    assert ended["run_id"] is None and ended["status"] == "finished" and ended["metrics"]["test_accuracy"] > 0
    _disk_full_in_the_store(monkeypatch)
    assert main([*base, "--store", str(store)]) == 1  # recorded failed (its files): said as the store has it, exit 1
    out, err = capsys.readouterr()
    ended = json.loads(out)
    assert ended["status"] == "failed" and "No space left on device" in ended["message"] and "is recorded failed" in err


def test_training_a_recorded_runs_config_warns_where_its_own_data_changed_since(tmp_path, capsys):
    """helper-171: `train --config <store>/runs/ID/config.json` trained on edited labels without a word,
    where `run` said the data changed and `--resume` refused the checkpoint."""
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (60, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60)
    data = tmp_path / "mine.npz"
    np.savez(data, x_train=x[:50], y_train=y[:50], x_test=x[50:], y_test=y[50:])
    store = tmp_path / "store"
    assert main(["train", "--dataset", str(data), "--model", "seed000-dense", "--epochs", "1", "--store", str(store)]) == 0
    [run_id] = [r.run_id for r in RunStore(store).runs()]
    config = store / "runs" / run_id / "config.json"
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--store", str(store)]) == 0  # the same data: nothing said
    assert "changed since" not in capsys.readouterr().err
    np.savez(data, x_train=x[:50], y_train=y[:50][::-1], x_test=x[50:], y_test=y[50:])
    assert main(["train", "--config", str(config), "--store", str(store)]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"warning: {re.escape(str(config))}: its training data changed since run {run_id} trained on it "
                     r"\(SHA-256 [0-9a-f]{12}\.\.\. then, [0-9a-f]{12}\.\.\. now\): this run trains on the data as it is "
                     "now, so it need not give that run's numbers", err), err
    other = tmp_path / "other.npz"  # other data given on purpose: nothing to say (helper-175: a garbled warning)
    np.savez(other, x_train=x[:50], y_train=y[:50], x_test=x[50:], y_test=y[50:])
    assert main(["train", "--config", str(config), "--dataset", str(other), "--store", str(store)]) == 0
    assert "changed since" not in capsys.readouterr().err


def test_a_resumed_run_names_the_run_whose_checkpoint_it_continued(data_dir, tmp_path, capsys):
    """helper-171: a run resumed with more epochs recorded `resumed_from_epoch` but not which run
    had written the checkpoint, so its own config did not say how its first epochs were trained."""
    store, ck = tmp_path / "store", tmp_path / "ck"
    args = ["train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "600", "--data-dir", str(data_dir),
            "--store", str(store), "--checkpoint-dir", str(ck)]
    assert main([*args, "--epochs", "1"]) == 0
    [first] = RunStore(store).runs()
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    second = [r for r in RunStore(store).runs() if r.run_id != first.run_id][0]
    assert second.metrics["resumed_from_epoch"] == 1 and second.metrics["resumed_from_run"] == first.run_id
    assert "resumed_from_run" not in first.metrics
    capsys.readouterr()
    assert main(["show", second.run_id, "--store", str(store)]) == 0
    assert f"\nresumed from the checkpoint of run {first.run_id} after epoch 1\n" in capsys.readouterr().out
    assert main(["rm", first.run_id, "--store", str(store)]) == 0  # (helper-206: still named as if there)
    capsys.readouterr()
    assert main(["show", second.run_id, "--store", str(store)]) == 0
    assert f"of run {first.run_id} after epoch 1 (that run deleted since)\n" in capsys.readouterr().out


def test_the_warnings_a_run_gave_are_kept_in_its_record_and_shown(tmp_path, capsys):
    """helper-171: a warning said while a run trained (data left out, a thread count changed, a
    resumed schedule reshaped) was on the screen and nowhere after: its record keeps it."""
    import numpy as np

    rng = np.random.default_rng(0)
    data = tmp_path / "by_class.npz"  # class by class, and read in that order (an .npz is not shuffled)
    np.savez(data, x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8), y_train=np.repeat(np.arange(4), 15),
             x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.repeat(np.arange(4), 5))
    store = tmp_path / "store"
    args = ["train", "--dataset", str(data), "--model", "seed000-dense", "--set", "model.layers[-1].units=4", "--epochs", "1",
            "--store", str(store)]
    assert main([*args, "--subset", "20"]) == 0
    said = capsys.readouterr().err
    assert "warning: data.subset = 20 keeps the first 20 training images, which leave out 2 of its 4" in said
    [run] = RunStore(store).runs()
    [kept] = run.metrics["warnings"]
    assert kept.startswith("data.subset = 20 keeps the first 20 training images, which leave out 2 of its 4") and kept in said
    assert main(["show", run.run_id, "--store", str(store)]) == 0
    shown = capsys.readouterr().out.splitlines()
    at = shown.index("warnings while it ran (1):")
    assert shown[at + 1] == f"  {kept}"
    assert main(args) == 0  # every class trained: no warning, none kept, none shown
    [other] = [r for r in RunStore(store).runs() if r.run_id != run.run_id]
    assert "warnings" not in other.metrics
    capsys.readouterr()
    assert main(["show", other.run_id, "--store", str(store)]) == 0
    assert "warnings while it ran" not in capsys.readouterr().out


_WITH_LITTLE_ADDRESS_SPACE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (200 * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))  # ulimit -v 204800
from mnistlab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_torch_that_cannot_load_is_one_line_not_a_traceback(tmp_path: Path, data_dir: Path) -> None:
    """helper-189: under `ulimit -v 200000` train, run --dry-run and predict printed 30 lines of traceback
    ending in "ImportError: libtorch_cpu.so: failed to map segment from shared object"."""
    done = subprocess.run([sys.executable, "-c", _WITH_LITTLE_ADDRESS_SPACE, "train", "--dataset", "mnist", "--model",
                           "seed000-dense", "--epochs", "1", "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: cannot load torch ("), done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_run_started_afresh_never_writes_over_a_checkpoint_it_could_continue(data_dir, tmp_path, capsys):
    """helper-206: the same command without --resume started from epoch 1 and wrote over a stopped
    run's checkpoint, unsaid."""
    from mnistlab.errors import SpecError
    from mnistlab.run import TrainingInterrupted, train
    from test_trainer import InterruptAt

    ck = tmp_path / "ck"
    given = dict(data_dir=data_dir, checkpoint_dir=ck, subset=600, progress="none", store=False)
    with pytest.raises(TrainingInterrupted):
        train("mnist", "seed000-dense", 3, callbacks=[InterruptAt(1, 3)], **given)
    before = (ck / "last.pt").read_bytes()
    args = ["train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "600", "--epochs", "3",
            "--data-dir", str(data_dir), "--store", str(tmp_path / "store"), "--checkpoint-dir", str(ck)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"--checkpoint-dir {ck}: holds the checkpoint of a run stopped after 1 of 3 epochs" in err
    assert "--resume continues it" in err and err.count("\n") == 1
    with pytest.raises(SpecError, match="holds the checkpoint of a run stopped after 1 of 3 epochs.*resume=True"):
        train("mnist", "seed000-dense", 3, **given)
    assert (ck / "last.pt").read_bytes() == before and not (tmp_path / "store").exists()
    assert main([*args, "--resume"]) == 0
    assert main(args) == 0  # a checkpoint at its run's end: a fresh run may write over it
    from mnistlab.callbacks import EarlyStopping  # (review: a run EarlyStopping ended is over too)

    train("mnist", "seed000-dense", 6, callbacks=[EarlyStopping(monitor="loss", min_delta=10, patience=0)], **given)
    assert train("mnist", "seed000-dense", 6, **given).status == "finished"


def test_resuming_a_checkpoint_whose_epochs_are_all_trained_says_so(tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """helper-241: "Resuming from ck/last.pt: epoch 3" was said of a run of 2 epochs that were both trained."""
    base = ["train", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "300", "--epochs", "2",
            "--data-dir", str(data_dir), "--checkpoint-dir", str(tmp_path / "ck"), "--no-record", "--progress", "none"]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--resume"]) == 0
    assert f"Resuming from {tmp_path / 'ck' / 'last.pt'}: all 2 epochs trained already, nothing left to train\n" in \
        capsys.readouterr().out


def test_a_run_records_the_command_line_that_trained_it_and_show_says_it(tmp_path: Path, data_dir: Path, capsys,
                                                                         monkeypatch) -> None:
    # note 58's leftover: no run kept the command that made it (MLflow's source and entry point)
    from mnistlab.store import RunStore

    monkeypatch.chdir(tmp_path)
    exp = tmp_path / "my lab.toml"
    exp.write_text('name = "lab"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\ndata = { subset = 300 }\n'
                   'train = { epochs = 1 }\n[[variants]]\nname = "a"\n')
    args = ["run", "my lab.toml", "--store", "s", "--data-dir", str(data_dir), "--jobs", "2"]
    assert main(args) == 0
    (run,) = RunStore(tmp_path / "s").runs()
    assert run.env["command"] == f"mnistlab run 'my lab.toml' --store s --data-dir {data_dir} --jobs 2"
    assert run.env["cwd"] == str(tmp_path) and "MNISTLAB_COMMAND" not in os.environ  # (a notebook's main() leaves none)
    capsys.readouterr()
    assert main(["show", run.run_id, "--store", "s"]) == 0
    assert f"command {run.env['command']}  (in {tmp_path})" in capsys.readouterr().out
    from mnistlab.run import train

    plain = train("mnist", "seed000-dense", 1, data_dir=data_dir, store=tmp_path / "s", subset=300, progress="none")
    assert "command" not in RunStore(tmp_path / "s").get(plain.run_id).env  # Python's train(): no command line
