"""`mnistlab models` and `mnistlab summary` (mnistlab.cli.model_cmds): every preset listed with its
count, Keras's summary table for presets, spec files and inline JSON, one-line errors for bad input."""

from __future__ import annotations

import json
import os

import pytest

from mnistlab.cli import main
from mnistlab.presets import get_preset, list_presets, resolve_model


def test_cli_models_lists_every_preset_with_its_count(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for preset in list_presets():
        assert preset.name in out and f"{preset.expected_params:,}" in out


@pytest.mark.parametrize("name", ["seed000-cnn", "seed000-ex3b", "seed002-deep-conv", "seed003-dense"])
def test_cli_summary_prints_the_keras_table(capsys, name):
    assert main(["summary", name]) == 0
    captured = capsys.readouterr()
    assert f"Total params: {get_preset(name).expected_params:,}" in captured.out
    assert "Layer (type)" in captured.out and "multiply-adds per image" in captured.out
    if name == "seed003-dense":
        assert "warning: layers[3] (Dense): output activation 'sigmoid'" in captured.err
    else:
        assert captured.err == ""


def test_cli_summary_of_spec_files_json_and_save(capsys, tmp_path):
    path = tmp_path / "model.toml"
    path.write_text('[[layers]]\ntype = "Conv2D"\nfilters = 16\nkernel_size = 3\nactivation = "relu"\n'
                    '[[layers]]\ntype = "GlobalAveragePooling2D"\n[[layers]]\ntype = "Dense"\nunits = 10\n')
    assert main(["summary", str(path)]) == 0
    assert "Total params: 330" in capsys.readouterr().out  # 160 + 170
    saved = tmp_path / "cnn.json"
    assert main(["summary", "seed000-cnn", "--format", "json", "--save", str(saved)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 243_786 and data["rows"][0]["output_shape"] == [None, 26, 26, 64]
    assert resolve_model(saved).layers == get_preset("seed000-cnn").spec.layers
    assert main(["summary", "seed000-cnn", "--json"]) == 0  # the older spelling still works
    assert json.loads(capsys.readouterr().out)["total"] == 243_786


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    ('[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits =', "invalid TOML"),
    (b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe\x00garbage", "not a text file"),
    ('[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits = 9223372036854775807\n', "too large"),
    ('[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits = 1e308\n', "must be an integer"),
    ('[[layers]]\ntype = "Flaten"\n', 'did you mean "Flatten"'),
    ('[[layers]]\ntype = "Conv2D"\nfilters = 8\nkernel_size = 3\n[[layers]]\ntype = "Dense"\nunits = 10\n',
     "layers[1] (Dense)"),
])
def test_cli_summary_bad_files_give_one_line(capsys, tmp_path, content, fragment):
    path = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert main(["summary", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_cli_summary_of_a_recorded_run_shows_the_model_it_trained(recorded, capsys, tmp_path):
    """helper-154: `summary RUN_ID` was "unknown model", where predict, export and card take one."""
    root, ids = recorded
    assert main(["summary", ids["cnn0"], "--store", str(root)]) == 0
    assert f"Total params: {get_preset('seed000-cnn').expected_params:,}" in capsys.readouterr().out
    assert main(["summary", ids["dense"][:6], "--store", str(root)]) == 0  # a unique prefix
    assert f"Total params: {get_preset('seed000-dense').expected_params:,}" in capsys.readouterr().out
    for unknown in (["abcdef1234", "--store", str(root)], [ids["cnn0"], "--store", str(tmp_path / "none")]):
        assert main(["summary", *unknown]) == 2  # no such run, no store there: the unknown model's one line
        err = capsys.readouterr().err
        assert err.startswith("error: unknown model") and err.count("\n") == 1


def test_cli_summary_unknown_preset_suggests(capsys):
    assert main(["summary", "seed002-deepconv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and 'did you mean "seed002-deep-conv"' in err and err.count("\n") == 1


@pytest.mark.parametrize("arg, fragment", [
    ("a" * 5000, "unknown model"),
    ("a" * 5000 + ".toml", "cannot read"),
    ("x\x00y.toml", "not a valid file path"),
    ("seed000-cnn.toml", 'the preset is called "seed000-cnn"'),
    ("--layers", "No such option"),
    ('{"conv": [32], "dense": [128]', "the model is written as JSON but does not read as JSON: Expecting"),
    ("[" * 50_000, "neither JSON nor a TOML inline table"),
    ("{ conv = [32], dense = ", "neither JSON nor a TOML inline table"),
    ('{"conv": [32], "dense": [-128]}', "dense[0]"),
])
def test_cli_summary_hostile_arguments(capsys, arg, fragment):
    assert main(["summary", arg]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1, err


def test_cli_summary_refuses_special_files(capsys, tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # reading it would block forever
    assert main(["summary", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_cli_summary_of_an_inline_json_spec(capsys):
    assert main(["summary", '{"conv": [32], "pool": [true], "dense": [128]}']) == 0
    assert "Total params: 693,962" in capsys.readouterr().out  # = seed000-ex4a


def test_a_model_written_inline_as_toml_as_a_run_config_writes_it(capsys, data_dir, tmp_path):
    """New-user finding (helper-99): --model '{ conv = [8], dense = [16], outputs = 3 }' was an
    "unknown model", though --dataset takes a TOML inline table."""
    assert main(["summary", '{ conv = [32], pool = [true], dense = [128] }']) == 0
    assert "Total params: 693,962" in capsys.readouterr().out  # = seed000-ex4a, as its JSON above
    assert main(["train", "--model", "{ conv = [8], dense = [16] }", "--dataset", "mnist", "--subset", "60",
                 "--epochs", "1", "--progress", "none", "--data-dir", str(data_dir), "--no-record"]) == 0
    assert "params: 21,898" in capsys.readouterr().out  # Conv 8 3x3 (80), MaxPool, Dense 16 on 13x13x8, Dense 10
    for bad, said in (("{ conv = [8], dense = ", "looks written inline but is neither JSON nor a TOML inline table"),
                      ('{"conv": [8]', "is written as JSON but does not read as JSON")):  # helper-126: no TOML example
        assert main(["train", "--model", bad, "--epochs", "1", "--no-record"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: the model {said}") and err.count("\n") == 1, err


def test_cli_summary_of_an_experiment_files_variant_before_it_trains(capsys, tmp_path):
    exp = tmp_path / "class.toml"
    exp.write_text('name = "class"\n[base]\ndataset = "mnist"\nmodel = "seed000-cnn"\n[[variants]]\nname = "cnn"\n'
                   '[[variants]]\nname = "f16"\n"model.layers[0].filters" = 16\n')
    totals, changed = {}, {}
    for variant in ("cnn", "f16"):
        assert main(["summary", str(exp), "--variant", variant, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        totals[variant], changed[variant] = summary["total"], summary.get("changed_from_preset")
    # helper-143: f16's summary was titled "seed000-cnn", the preset it no longer is
    assert changed == {"cnn": None, "f16": "layers[0].filters=16"}
    assert main(["summary", str(exp), "--variant", "f16"]) == 0
    assert capsys.readouterr().out.startswith('Model: "seed000-cnn", changed: layers[0].filters=16\n')
    assert main(["summary", str(exp), "--variant", "cnn"]) == 0
    assert capsys.readouterr().out.startswith('Model: "seed000-cnn"\n')
    # by hand, as Keras counts: 3x3 convs of 64 (or 16) then 64 filters, Dense 128 on 5x5x64, Dense 10
    assert totals == {"cnn": 640 + 36_928 + 204_928 + 1_290, "f16": 160 + 9_280 + 204_928 + 1_290}
    for argv, fragment in ((["summary", str(exp)], 'its variants have different models: give --variant (one of "cnn", "f16")'),
                           (["summary", str(exp), "--variant", "f61"], 'no variant is named "f61"'),
                           (["summary", "seed000-cnn", "--variant", "cnn"], "seed000-cnn is none"),
                           # helper-140: a mistyped file's name is said as without --variant
                           (["summary", str(tmp_path / "clas.toml"), "--variant", "cnn"], "clas.toml: no such file")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1, err
    exp.write_text(exp.read_text().replace('"model.layers[0].filters" = 16', '"train.lr" = 0.01'))
    assert main(["summary", str(exp)]) == 0 and "Total params: 243,786" in capsys.readouterr().out  # one model


def test_cli_summary_of_an_experiment_gives_the_memory_at_its_own_batch_and_optimizer(capsys, tmp_path):
    """New-user finding: `summary exp.toml` gave the training memory with adam at batch 32 for a
    file training with sgd at batch 4096 (about 100 times less than the run's own check)."""
    from mnistlab.summary import training_memory
    from mnistlab.presets import resolve_model

    exp = tmp_path / "big.toml"
    exp.write_text('name = "big"\n[base]\ndataset = "mnist"\nmodel = "seed000-cnn"\n'
                   'train = { batch_size = 4096, optimizer = "sgd" }\n[[variants]]\nname = "big"\n'
                   '[[variants]]\nname = "small"\n"train.batch_size" = 64\n"train.optimizer" = "adam"\n')
    want = {name: training_memory(resolve_model("seed000-cnn"), opt, batch).to_dict()
            for name, opt, batch in (("big", "sgd", 4096), ("small", "adam", 64))}
    for variant in ("big", "small"):
        assert main(["summary", str(exp), "--variant", variant, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["training_memory"] == want[variant]
    assert main(["summary", str(exp)]) == 0  # both variants: the most either needs
    assert "Training memory: about 1.46 GB with sgd at batch 4096" in capsys.readouterr().out
