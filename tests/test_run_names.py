"""Naming a single run's row (helper-251, -252): `train --variant NAME` and `train(variant=)`, MLflow's
run name, so that runs of one model with other flags are rows of their own in `compare EXPERIMENT`; and
`compare RUN_ID` saying so where the run it stands for is not in its experiment's table."""

from __future__ import annotations

import pytest

import mnistlab
from mnistlab.cli import main as cli_main
from mnistlab.errors import SpecError
from mnistlab.store import RunStore

FLAGS = ["--dataset", "mnist", "--model", "{ dense = [16] }", "--epochs", "1", "--subset", "600", "--progress", "none"]


def test_runs_of_one_model_named_apart_are_rows_of_their_own(data_dir, tmp_path, capsys):
    store = str(tmp_path / "runs")
    for lr in ("0.01", "0.001"):
        assert cli_main(["train", *FLAGS, "--lr", lr, "--variant", f"lr-{lr}", "--experiment", "mine", "--store", store,
                         "--data-dir", str(data_dir)]) == 0
    run = mnistlab.train("mnist", {"dense": [16]}, epochs=1, subset=600, lr=0.1, store=store, experiment="mine",
                         variant="lr-0.1", data_dir=data_dir, progress="none")
    assert RunStore(store).get(run.run_id).variant == "lr-0.1"
    capsys.readouterr()
    assert cli_main(["compare", "mine", "--store", store, "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["lr-0.001", "lr-0.01", "lr-0.1"]


@pytest.mark.parametrize("name", ["bad name", "", "../x", "a" * 81, "é"])
def test_a_variant_name_commands_cannot_take_back_is_refused(name, data_dir, tmp_path, capsys):
    assert cli_main(["train", *FLAGS, "--variant", name, "--store", str(tmp_path), "--data-dir", str(data_dir)]) == 2
    assert "--variant" in capsys.readouterr().err
    with pytest.raises(SpecError, match="variant: must be"):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, store=tmp_path, variant=name, data_dir=data_dir)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_variant_without_a_store_is_refused(data_dir):
    with pytest.raises(SpecError, match="variant= names the run in a store: give store="):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, variant="mine", data_dir=data_dir)


def test_compare_of_one_run_id_says_where_its_experiments_table_does_not_show_it(data_dir, tmp_path, capsys):
    store = str(tmp_path / "runs")
    ids = []
    for lr in ("0.01", "0.001"):
        assert cli_main(["train", *FLAGS, "--lr", lr, "--store", store, "--data-dir", str(data_dir),
                         "--format", "json"]) == 0
        ids.append(__import__("json").loads(capsys.readouterr().out)["run_id"])
    assert cli_main(["compare", ids[0], "--store", store]) == 0  # the older one: its variant's table shows the latest
    err = capsys.readouterr().err
    assert f"run {ids[0]} stands for its experiment train here, and its table does not show it" in err
    assert cli_main(["compare", ids[1], "--store", store]) == 0
    assert "stands for its experiment" not in capsys.readouterr().err


def _swept(tmp_path, data_dir, capsys, monkeypatch) -> str:
    """A store holding the sweep of an experiment file sw.toml (variant "a") in ``tmp_path``, the current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sw.toml").write_text('name = "sw"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                                      'data = { subset = 600 }\ntrain = { epochs = 1 }\n[[variants]]\nname = "a"\n')
    store = str(tmp_path / "runs")
    assert cli_main(["run", "sw.toml", "--store", store, "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    return store


def test_a_single_run_joining_an_experiment_files_runs_is_warned_of(data_dir, tmp_path, capsys, monkeypatch):
    store = _swept(tmp_path, data_dir, capsys, monkeypatch)
    assert cli_main(["train", *FLAGS, "--experiment", "sw", "--store", store, "--data-dir", str(data_dir)]) == 0
    assert "warning: experiment \"sw\" holds the runs of" in capsys.readouterr().err
    assert cli_main(["train", *FLAGS, "--experiment", "mine", "--store", store, "--data-dir", str(data_dir)]) == 0
    assert "holds the runs of" not in capsys.readouterr().err


def test_a_single_run_never_takes_a_files_variant_row_and_says_when_it_takes_anothers(data_dir, tmp_path, capsys,
                                                                                       monkeypatch):
    """helper-254: `train --variant a` into a file's experiment was hidden by the file's run of "a" (and `rm -e FILE`
    counted it the file's); `train --experiment x.toml` could not be named back; a run of other flags took a row unsaid."""
    store = _swept(tmp_path, data_dir, capsys, monkeypatch)
    args = [*FLAGS, "--store", store, "--data-dir", str(data_dir)]
    assert cli_main(["train", *args, "--experiment", "sw", "--variant", "a"]) == 2
    assert 'the row "a" is a variant of ' in capsys.readouterr().err and len(RunStore(store).runs()) == 1
    assert cli_main(["train", *args, "--experiment", "sw.toml"]) == 2
    assert "'sw.toml' reads as a file's name: give the experiment a name, 'sw'" in capsys.readouterr().err
    with pytest.raises(SpecError, match="reads as a file's name"):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, store=store, experiment="x.json", data_dir=data_dir)
    assert cli_main(["train", *args]) == 0 and "takes that row" not in capsys.readouterr().err
    assert cli_main(["train", *args, "--lr", "0.01"]) == 0
    assert 'experiment "train" has runs of "dense=16" with other settings: this run takes that row' in capsys.readouterr().err
