"""A ModelCheckpoint filepath naming its run (note 57): ``{experiment}``, ``{variant}`` and ``{seed}``
filled once per run, so that one filepath in an experiment's base gives each run a file of its own,
where the runs replaced each other's saves."""

from __future__ import annotations

import warnings

import pytest

from mnistlab.callbacks import check_filepath, named_filepath
from mnistlab.cli import main as cli_main
from mnistlab.errors import SpecError
from mnistlab.experiments import load_experiment

SWEEP = '''name = "ck"
[base]
dataset = "mnist"
model = "seed000-dense"
data = { subset = 600, validation = 0.2 }
train = { epochs = 1 }
callbacks = [{ type = "ModelCheckpoint", filepath = "ckpt/{experiment}-{variant}-s{seed:02d}-e{epoch}.safetensors" }]
[[variants]]
name = "a"
[[variants]]
name = "b"
repeats = 2
"train.lr" = 0.01
'''


def test_a_run_name_in_a_filepath_is_filled_and_the_rest_kept_for_each_save():
    assert named_filepath("c/{variant}-s{seed:03d}-{epoch:02d}-{val_loss:.2f}.safetensors", experiment="e",
                          variant="lr=0.1", seed=4) == "c/lr=0.1-s004-{epoch:02d}-{val_loss:.2f}.safetensors"
    assert check_filepath("c/{experiment}/{variant}-{seed}.safetensors") == []
    with pytest.raises(SpecError, match="is not a value a run logs"):
        check_filepath("c/{model}.safetensors")


def test_each_run_of_a_sweep_saves_to_a_file_of_its_own(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.toml").write_text(SWEEP)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "is written by 3 runs: each run's saves replace the others'"
        cells = load_experiment(tmp_path / "e.toml").cells()
    paths = [c.config["callbacks"][0]["filepath"] for c in cells]
    assert paths == [str(tmp_path / f"ckpt/ck-{v}-s{s:02d}-e{{epoch}}.safetensors") for v, s in (("a", 0), ("b", 0), ("b", 1))]
    assert cli_main(["run", "e.toml", "--store", str(tmp_path / "runs"), "--data-dir", str(data_dir)]) == 0
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "ck-a-s00-e1.safetensors", "ck-b-s00-e1.safetensors", "ck-b-s01-e1.safetensors"]


def test_a_single_run_fills_its_experiment_and_row(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    callbacks = 'callbacks=[{type="ModelCheckpoint", filepath="ckpt/{experiment}-{variant}-{seed}.safetensors"}]'
    assert cli_main(["train", "--dataset", "mnist", "--model", "{ dense = [8] }", "--epochs", "1", "--subset", "600",
                     "--seed", "3", "--set", callbacks, "--experiment", "mine", "--variant", "small", "--store",
                     str(tmp_path / "runs"), "--data-dir", str(data_dir), "--progress", "none"]) == 0
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["mine-small-3.safetensors"]
    import mnistlab

    mnistlab.train("mnist", {"dense": [8]}, epochs=1, subset=600, data_dir=data_dir, progress="none",
                   callbacks=[{"type": "ModelCheckpoint", "filepath": "ckpt/{experiment}-{variant}-{seed}.safetensors"}])
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["mine-small-3.safetensors", "train-dense=8-0.safetensors"]


def test_a_single_runs_record_keeps_the_filepath_as_written_and_its_key(data_dir, tmp_path, monkeypatch):
    from mnistlab.config import run_key
    from mnistlab.store import RunStore

    monkeypatch.chdir(tmp_path)
    written = "ckpt/{variant}-{seed}.safetensors"
    import mnistlab

    run = mnistlab.train("mnist", {"dense": [8]}, epochs=1, subset=600, data_dir=data_dir, progress="none",
                         store=tmp_path / "runs", callbacks=[{"type": "ModelCheckpoint", "filepath": written}])
    record = RunStore(tmp_path / "runs").get(run.run_id)
    assert record.config["callbacks"][0]["filepath"].endswith(written) and record.config_hash == run_key(record.config)
