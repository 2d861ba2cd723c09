"""`mnistlab runs` for a tracking user (helper-252): each run's settings and metrics in CSV and JSON,
--sort by any setting or metric --where names, --where on the quick column, and a condition on a
setting that matched nothing pointed at what the runs resolved it to."""

from __future__ import annotations

import csv
import io
import json

from mnistlab.cli import main as cli_main


def _runs(capsys, *args: str) -> tuple[int, str, str]:
    code = cli_main(["runs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_and_json_carry_each_runs_settings_and_metrics(recorded, capsys):
    root, ids = recorded
    code, out, _ = _runs(capsys, "--store", str(root), "--format", "csv")
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(out))}
    cnn = rows[ids["cnn0"]]
    assert code == 0 and cnn["optimizer"] == "adam" and float(cnn["lr"]) == 0.001 and cnn["batch_size"] == "32"
    assert 0 < float(cnn["test_loss"]) < 5 and float(cnn["train_seconds"]) > 0 and 0 < float(cnn["val_accuracy"]) <= 1
    assert rows[ids["failed"]]["test_loss"] == ""  # no result, no test figures
    _, out, _ = _runs(capsys, "--store", str(root), "--format", "json")
    assert {"lr", "test_loss", "train_accuracy", "tta_test_accuracy", "tta_val_gain"} <= set(json.loads(out)[0])
    assert cnn["tta_test_accuracy"] == cnn["tta_val_gain"] == ""  # (helper-258: columns of --where, here None)
    _, out, _ = _runs(capsys, "--store", str(root))
    assert "test_loss" not in out and "optimizer" not in out  # the table stays one screen wide


def test_runs_sort_by_a_metric_or_setting_as_where_names_it(recorded, capsys):
    root, ids = recorded
    code, out, _ = _runs(capsys, "--store", str(root), "--sort", "-test_loss", "--format", "csv")
    losses = [(r["run_id"], r["test_loss"]) for r in csv.DictReader(io.StringIO(out))]
    numbers = [float(v) for _, v in losses if v]
    assert code == 0 and numbers == sorted(numbers, reverse=True) and losses[-1][0] == ids["failed"]  # none: last
    code, out, _ = _runs(capsys, "--store", str(root), "--sort", "model.layers[0].filters", "--format", "csv")
    assert code == 0 and [r["run_id"] for r in csv.DictReader(io.StringIO(out))][:2] == [ids["cnn0"], ids["cnn1"]]
    code, _, err = _runs(capsys, "--store", str(root), "--sort", "test_los")
    assert code == 2 and "no run listed has 'test_los'; sort by started" in err and 'did you mean "test_loss"' in err


def test_where_takes_the_quick_column_in_its_words_and_points_at_what_a_setting_resolved_to(recorded, capsys):
    root, ids = recorded
    code, out, _ = _runs(capsys, "--store", str(root), "--where", "quick=no", "--format", "csv")
    assert code == 0 and {r["run_id"] for r in csv.DictReader(io.StringIO(out))} >= {ids["cnn0"], ids["dense"]}
    code, out, err = _runs(capsys, "--store", str(root), "--where", "quick=yes")
    assert code == 0 and "no runs" in out + err and ids["cnn0"] not in out
    code, out, err = _runs(capsys, "--store", str(root), "--where", "device=cpu")  # the config says auto
    assert "no runs" in out + err and "--where 'device=cpu': no runs set device so; 3 ran so" in err
    assert "--where 'env.device=cpu'" in err


def test_where_on_a_setting_says_when_more_runs_ran_so_than_set_it_so(data_dir, tmp_path, capsys):
    """helper-254: `--where threads=1` listed the one run that set it, silent of the others that ran on one thread."""
    store = str(tmp_path / "runs")
    flags = ["train", "--dataset", "mnist", "--model", "{ dense = [8] }", "--epochs", "1", "--subset", "600",
             "--store", store, "--data-dir", str(data_dir), "--progress", "none"]
    assert cli_main([*flags, "--threads", "1"]) == 0 and cli_main([*flags, "--lr", "0.01", "--threads", "2"]) == 0
    assert cli_main([*flags, "--lr", "0.02"]) == 0  # threads chosen by mnistlab: a dense model this small, one
    capsys.readouterr()
    code, out, err = _runs(capsys, "--store", store, "--where", "threads=1", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 2  # the header and the one run that set it
    assert "--where 'threads=1': 1 run set threads so; 2 ran so" in err and "--where 'env.threads=1'" in err


def test_where_reads_a_precision_by_any_name_a_config_takes():
    from mnistlab.selection import parse_condition

    assert parse_condition("precision=mixed_bfloat16").value == "bf16"
    assert parse_condition("train.precision=bf16-mixed").value == "bf16"
    assert parse_condition("precision=float32").value == "float32"


def test_a_runs_tags_and_note_are_in_its_card(data_dir, tmp_path, capsys):
    """helper-252: a run's tags and note (`mnistlab note`) were in no card."""
    import mnistlab
    from mnistlab.store import RunStore

    run = mnistlab.train("mnist", {"dense": [8]}, epochs=1, subset=600, data_dir=data_dir, progress="none",
                         store=tmp_path / "runs")
    assert cli_main(["card", run.run_id, "--store", str(tmp_path / "runs")]) == 0
    assert "Noted on" not in capsys.readouterr().out  # none yet: nothing said
    RunStore(tmp_path / "runs").note(run.run_id, "lr too high", tags=["bad"])
    assert cli_main(["card", run.run_id, "--store", str(tmp_path / "runs")]) == 0
    assert f"Noted on `{run.run_id}`: tags bad; note: lr too high." in capsys.readouterr().out
