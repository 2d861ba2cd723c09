"""What the store does with the damage real life brings (helper-250): a run folder that cannot be
made, a run whose files are gone, a run folder whose JSON is damaged."""

from __future__ import annotations

import pytest

from mnistlab.errors import StoreError
from mnistlab.store import RunStore


def test_a_run_folder_that_cannot_be_made_is_a_store_error_and_leaves_nothing(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    monkeypatch.setattr("mnistlab.store.new_run_id", lambda: "0123456789")
    (store.root / "runs").mkdir(parents=True, exist_ok=True)
    (store.root / "runs" / "0123456789").write_text("in the way")  # a file where the run's folder goes
    with pytest.raises(StoreError, match=r"0123456789: cannot start the run's folder: .*cannot be written here"):
        store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="x")
    assert store.runs() == []


def _sweep(tmp_path):
    (tmp_path / "sw.toml").write_text('name = "sw"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                                      'data = { subset = 600 }\ntrain = { epochs = 1 }\n[[variants]]\nname = "a"\n')
    return tmp_path / "sw.toml"


@pytest.mark.parametrize("damage", ["folder", "weights", "cut"])
def test_a_finished_run_whose_files_are_gone_is_said_and_its_cell_trains_again(damage, data_dir, tmp_path, capsys):
    import shutil

    from mnistlab.cli import main as cli_main

    file, store = _sweep(tmp_path), str(tmp_path / "runs")
    assert cli_main(["run", str(file), "--store", store, "--data-dir", str(data_dir)]) == 0
    (first,) = RunStore(store).runs()
    folder = tmp_path / "runs" / "runs" / first.run_id
    if damage == "folder":
        shutil.rmtree(folder)
    elif damage == "weights":
        (folder / "weights.safetensors").unlink()
    else:
        (folder / "weights.safetensors").write_bytes((folder / "weights.safetensors").read_bytes()[:1000])
    capsys.readouterr()
    assert cli_main(["show", first.run_id, "--store", store]) == 0
    err = capsys.readouterr().err
    assert f"warning: run {first.run_id} is finished, but its " in err and "cannot predict, be exported" in err
    assert cli_main(["runs", "--store", store]) == 0  # (note 58: listed as finished, unmarked)
    out, err = capsys.readouterr()
    gone = damage != "cut"  # (a file cut short: `show` and `reindex --check` read it; `runs` stats files alone)
    assert out.splitlines()[0].split()[-1] == ("files" if gone else "dataset")
    assert out.splitlines()[1].split()[-1] == ("gone" if gone else "mnist")
    assert ("warning: 1 finished run listed lacks its weights or predictions (files gone)" in err) is gone
    assert cli_main(["run", str(file), "--store", store, "--data-dir", str(data_dir)]) == 0
    err = capsys.readouterr().err
    assert err.count(f"run {first.run_id} is finished, but") == 1 and "its cell trains again" in err
    runs = RunStore(store).runs()
    assert len(runs) == 2 and runs[-1].status == "finished" and RunStore(store).unusable(runs[-1].run_id) is None


@pytest.mark.parametrize("file, content, status", [
    ("history.json", b"\xb0garbage", "finished"),       # the curve lost; the result whole
    ("history.json", b'[{"epoch": "x"}]', "finished"),  # another shape than mnistlab writes
    ("metrics.json", b"garbage{", "failed"),            # the result's figures lost: failed, saying so
])
def test_a_rebuild_indexes_a_run_from_its_other_files_where_one_is_damaged(file, content, status, data_dir, tmp_path,
                                                                           capsys):
    from mnistlab.cli import main as cli_main

    sweep, store = _sweep(tmp_path), tmp_path / "runs"
    assert cli_main(["run", str(sweep), "--store", str(store), "--data-dir", str(data_dir)]) == 0
    (run,) = RunStore(store).runs()
    (store / "runs" / run.run_id / file).write_bytes(content)
    assert cli_main(["reindex", "--check", "--store", str(store)]) == 1
    assert f"(its row holds the run; a rebuild would index it {status} without the file; deleting the damaged file " \
        "clears this" in capsys.readouterr().out
    for path in store.glob("runs.sqlite*"):
        path.unlink()
    assert cli_main(["reindex", "--store", str(store)]) == 1  # said, and exit status 1: a folder not whole
    err = capsys.readouterr().err
    assert f"runs/{run.run_id}: indexed without its {file} (" in err and "its other files are whole" in err
    again = RunStore(store).get(run.run_id)
    assert again.status == status and again.config == run.config
    assert cli_main(["reindex", "--check", "--store", str(store)]) == 1  # the file's damage stays said, the run stands
    assert f"(its row holds the run; a rebuild would index it {status} without the file" in capsys.readouterr().out
    (store / "runs" / run.run_id / file).unlink()  # as it says: its check is then clean, whatever the file held
    assert cli_main(["reindex", "--check", "--store", str(store)]) == (0 if file == "history.json" else 1)
    if status == "finished":
        assert again.metrics == run.metrics and again.history == []
        assert cli_main(["show", run.run_id, "--store", str(store)]) == 0
        assert f"status finished: indexed without its {file}, which could not be read" in capsys.readouterr().out
        assert cli_main(["run", str(sweep), "--store", str(store), "--dry-run"]) == 0  # its cell is done
        row = next(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("a "))
        assert row[:3] == ["a", "1", "0"]  # variant, finished, to train


def test_a_checkpoint_folder_that_is_a_stores_own_is_refused_before_training(data_dir, tmp_path, capsys):
    from mnistlab.cli import main as cli_main

    store = tmp_path / "runs"
    RunStore(store).close()
    code = cli_main(["train", "--dataset", "mnist", "--epochs", "1", "--subset", "600", "--store", str(store),
                     "--checkpoint-dir", str(store), "--data-dir", str(data_dir)])
    assert code == 2 and "a run store's folder; a checkpoint goes in a folder of its own" in capsys.readouterr().err
    assert not (store / "last.pt").exists() and RunStore(store).runs() == []


def test_a_sigterm_while_a_run_is_recorded_ends_train_as_a_ctrl_c_then_does(data_dir, tmp_path, capsys, monkeypatch):
    """helper-255: a SIGTERM held back while the result was written killed `train` once it came, printing
    nothing (no result line, no run id, no JSON), though the run was recorded finished."""
    import json
    import os
    import signal

    from mnistlab.cli import main as cli_main
    from mnistlab.run import Recorder

    finish = Recorder.finish

    def terminated_meanwhile(self, result):  # the signal comes while the result is being written
        os.kill(os.getpid(), signal.SIGTERM)
        return finish(self, result)

    monkeypatch.setattr(Recorder, "finish", terminated_meanwhile)
    store = tmp_path / "runs"
    code = cli_main(["train", "--dataset", "mnist", "--model", "{ dense = [8] }", "--epochs", "1", "--subset", "600",
                     "--store", str(store), "--data-dir", str(data_dir), "--format", "json", "--progress", "none"])
    out, err = capsys.readouterr()
    (run,) = RunStore(store).runs()
    assert code == 128 + signal.SIGTERM and run.status == "finished"
    assert json.loads(out)["run_id"] == run.run_id and f"interrupted by SIGTERM after training; run {run.run_id} was " \
                                                      "recorded (finished)" in err


def test_a_run_whose_row_cannot_be_written_leaves_no_folder_behind(tmp_path, monkeypatch):
    """helper-255: a full disk (or a read-only runs.sqlite) at the row's write left a run folder no command could
    see or delete, which `reindex --check` then reported for ever (a sweep's: taken in as a run that never trained)."""
    import sqlite3

    store = RunStore(tmp_path / "runs")

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("mnistlab.store._insert", full)
    with pytest.raises(StoreError, match="database or disk is full"):
        store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="x")
    assert not any((tmp_path / "runs" / "runs").iterdir())
