"""Test-time augmentation (evaluate.tta): the views, plain evaluation as its identity case, its effect
on a trained model, and its record in the run and the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.config import parse_run_config
from mnistlab.errors import SpecError
from mnistlab.evaluate import evaluate_model, evaluate_tta, tta_views, view_of
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.run import prepare_data, run_config
from mnistlab.store import RunStore


def test_views_flip_only_when_asked_and_count_as_documented() -> None:
    assert tta_views() == [(0, 0, 0.0)]
    assert tta_views(1, 10, flip=True)[-1] == (0, 0, 0.0, True) and len(tta_views(1, 10, True)) == 8
    assert len(tta_views(2)) == 5 and len(tta_views(0, 10)) == 3 and len(tta_views(1, 10)) == 7
    assert (2, 0, 0.0) in tta_views(2) and (0, -2, 0.0) in tta_views(2) and (0, 0, -10.0) in tta_views(1, 10)


def test_a_view_moves_whole_pixels_and_turns_about_the_centre() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)  # its border's median (torch's: the lower middle), 7, comes in
    right = view_of(x, (1, 0, 0.0))
    assert torch.equal(right[..., 1:], x[..., :3]) and (right[..., 0] == 7).all()  # the background comes in
    up = view_of(x, (0, -1, 0.0))
    assert torch.equal(up[..., :3, :], x[..., 1:, :]) and (up[..., 3, :] == 7).all()
    digit = torch.zeros(2, 1, 6, 6)
    digit[:, :, 2:4, 2:4] = 1.0
    digit[1] = 1 - digit[1]  # helper-128: dark ink on white paper; a black fill was no background of it
    moved = view_of(digit, (2, 0, 0.0))
    assert not moved[0, :, :, :2].any() and (moved[1, :, :, :2] == 1).all()
    turned = view_of(digit, (0, 0, 30.0))
    assert torch.allclose(turned[1, :, 0, :], torch.ones(6)) and torch.allclose(turned[0, :, 0, :], torch.zeros(6))
    torch.testing.assert_close(view_of(x, (0, 0, 90.0)), torch.rot90(x, -1, (2, 3)))  # a quarter turn, clockwise
    assert torch.equal(view_of(x, (0, 0, 0.0)), x)
    assert torch.equal(view_of(x, (0, 0, 0.0, True)), x.flip(-1)) and torch.equal(view_of(x, (0, 0, 0.0, False)), x)


def test_a_flipped_view_is_a_setting_that_keeps_older_runs_keys(tmp_path: Path, data_dir: Path) -> None:
    """helper-216: a Fashion-MNIST user could flip in training but not at test time, where fastai's
    tta flips by default; `tta = { flip = true }` adds the mirrored image. Off, it is no key of the
    config (a run recorded before it keeps its key and is not trained again)."""
    from mnistlab.config import run_key

    on = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 300},
                           "train": {"epochs": 1}, "evaluate": {"tta": {"shift": 1, "flip": True}}})
    off = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 300},
                            "train": {"epochs": 1}, "evaluate": {"tta": {"shift": 1}}})
    assert on.resolved()["evaluate"]["tta"] == {"shift": 1, "rotation": 0.0, "flip": True}
    before = {**off.resolved(), "evaluate": {"tta": {"shift": 1, "rotation": 0.0}}}  # as recorded before flip was
    assert run_key(off.resolved()) == run_key(before) != run_key(on.resolved())  # offered: the same key
    with pytest.raises(SpecError, match="flip"):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "evaluate": {"tta": {"flip": "yes"}}})
    from mnistlab.errors import SpecWarning

    from mnistlab.config import setting_doubts_warning

    digits = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "evaluate": {"tta": {"flip": True}}})
    with pytest.warns(SpecWarning, match="evaluate.tta.flip on mnist: a mirrored digit or letter is another mark"):
        setting_doubts_warning(digits)  # (as a run starts: run_config says it, not every reading of its record)
    result = run_config(on, data_dir=data_dir, progress="none")
    assert result.metrics["tta_views"] == 6
    data = prepare_data(on, data_dir)
    _, acc, _ = evaluate_tta(result.model, data.test_x, data.test_y, tta_views(1, 0.0, True))
    assert result.metrics["tta_test_accuracy"] == pytest.approx(acc, abs=1e-9)


@pytest.fixture(scope="module")
def trained(data_dir: Path):
    cfg = parse_run_config({"dataset": "mnist", "model": "seed000-cnn", "data": {"subset": 1200},
                            "train": {"epochs": 1, "precision": "float32"}})
    result = run_config(cfg, data_dir=data_dir, progress="none")
    return result, prepare_data(cfg, data_dir)


def test_tta_of_the_image_alone_is_plain_evaluation_exactly(trained) -> None:
    result, data = trained
    plain = evaluate_model(result.model, data.test_x, data.test_y, return_probs=True)
    alone = evaluate_tta(result.model, data.test_x, data.test_y, tta_views(0, 0))
    assert alone[:2] == plain[:2] and np.array_equal(alone[2], plain[2])


def test_tta_changes_a_trained_model_s_predictions(trained) -> None:
    result, data = trained
    _, _, plain = evaluate_model(result.model, data.test_x, data.test_y, return_probs=True)
    loss, acc, probs = evaluate_tta(result.model, data.test_x, data.test_y, tta_views(1, 10))
    assert probs.shape == plain.shape and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (probs.argmax(1) != plain.argmax(1)).any()
    assert acc == float((probs.argmax(1) == data.test_y.numpy()).mean())
    assert loss == pytest.approx(float(-np.log(probs[np.arange(len(probs)), data.test_y.numpy()]).mean()), rel=1e-5)


def test_a_run_records_its_tta_beside_the_plain_score(data_dir: Path) -> None:
    base = {"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 300}, "train": {"epochs": 1}}
    none = run_config(parse_run_config({**base, "evaluate": {"tta": {"shift": 0}}}), data_dir=data_dir, progress="none")
    assert none.metrics["tta_views"] == 1
    assert none.metrics["tta_test_accuracy"] == none.metrics["test_accuracy"]
    assert none.metrics["tta_test_loss"] == none.metrics["test_loss"]
    plain = run_config(parse_run_config(base), data_dir=data_dir, progress="none")
    assert not any(k.startswith("tta_") for k in plain.metrics)
    assert plain.metrics["test_loss"] == none.metrics["test_loss"]  # TTA leaves the plain score alone
    assert "tta_val_accuracy" not in none.metrics  # no validation images of its own: nothing to choose TTA on


@pytest.mark.parametrize("validation", [0.2, "test"])
def test_a_run_scores_its_tta_on_its_validation_images_where_it_has_its_own(validation: float | str,
                                                                             data_dir: Path) -> None:
    """Whether TTA pays is read on validation: the run records the validation accuracy with the
    views and its gain over the same final weights without them; a run validated on the test set
    records neither (choosing TTA there would be choosing on the test set)."""
    cfg = parse_run_config({"dataset": "mnist", "model": "seed000-cnn", "data": {"subset": 1200, "validation": validation},
                            "train": {"epochs": 1, "precision": "float32"}, "evaluate": {"tta": {"shift": 4, "rotation": 30}}})
    result = run_config(cfg, data_dir=data_dir, progress="none")
    if validation == "test":
        assert "tta_test_accuracy" in result.metrics and "tta_val_accuracy" not in result.metrics
        return
    data = prepare_data(cfg, data_dir)
    assert data.val_x is not None and data.val_y is not None
    _, plain, _ = evaluate_model(result.model, data.val_x, data.val_y, return_probs=True)
    _, with_tta, _ = evaluate_tta(result.model, data.val_x, data.val_y, tta_views(4, 30))
    one_image = 1 / len(data.val_y)
    assert result.metrics["tta_val_accuracy"] == pytest.approx(with_tta, abs=1.5 * one_image)
    assert result.metrics["tta_val_gain"] == pytest.approx(with_tta - plain, abs=2.5 * one_image)
    assert result.metrics["tta_val_gain"] < 0  # views this far off cost a 1-epoch model accuracy


def test_tta_is_recorded_in_the_store(tmp_path: Path, data_dir: Path, capsys) -> None:
    path = tmp_path / "tta.toml"
    path.write_text('name = "tta"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                    "[base.data]\nsubset = 300\n[base.train]\nepochs = 1\n"
                    "[base.evaluate]\ntta = { shift = 2, rotation = 8.0 }\n"
                    '[[variants]]\nname = "v"\n')
    run_experiment(load_experiment(path), tmp_path / "store", data_dir=data_dir)
    (run,) = RunStore(tmp_path / "store").runs(experiment="tta", status="finished")
    assert run.config["evaluate"]["tta"] == {"shift": 2, "rotation": 8.0, "flip": False}
    assert run.metrics["tta_views"] == 7 and 0 <= run.metrics["tta_test_accuracy"] <= 1
    from mnistlab.comparison import compare, display_cells

    (row,) = compare(RunStore(tmp_path / "store"), "tta")
    assert row["tta_test_acc"] == run.metrics["tta_test_accuracy"]  # compare shows it beside the plain score
    heads, (cells,) = display_cells([row])
    assert cells[heads.index("test acc (TTA)")] == f"{100 * run.metrics['tta_test_accuracy']:.2f}% (n=1)"  # n: helper-235
    spread = display_cells([{**row, "tta_test_acc": 0.95, "tta_test_acc_std": 0.0021, "tta_n": 3}])
    assert spread[1][0][spread[0].index("test acc (TTA)")] == "95.00% +- 0.21 (n=3)"
    assert "test acc (TTA)" not in display_cells([{**row, "tta_test_acc": None}])[0]  # no TTA, no column
    assert "TTA gain (val)" not in heads  # no validation split: nothing to choose TTA on
    import csv
    import io

    from mnistlab.cli import main

    capsys.readouterr()
    assert main(["runs", "--store", str(tmp_path / "store"), "--format", "csv"]) == 0  # (helper-258: not in runs' csv)
    (listed,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert float(listed["tta_test_accuracy"]) == run.metrics["tta_test_accuracy"] and listed["tta_val_gain"] == ""
    heads, (cells,) = display_cells([{**row, "tta_val_gain": 0.0012}])
    assert cells[heads.index("TTA gain (val)")] == "+0.12 pts" and heads.index("TTA gain (val)") < heads.index("test acc (TTA)")
    from mnistlab.card import model_card
    from mnistlab.run import Run

    card = model_card(Run.from_store(RunStore(tmp_path / "store"), run.run_id), data_dir=data_dir)
    assert "with test-time augmentation (7 views of each image averaged): test accuracy " in card
    assert "give the plain predictions" in card  # predict and export: no TTA, and the card says so
    assert '| test-time augmentation | {"shift": 2, "rotation": 8.0, "flip": false} |' in card.replace("\\", "")


def test_train_prints_the_tta_score(tmp_path: Path, data_dir: Path, capsys) -> None:
    from mnistlab.cli import main

    (tmp_path / "run.toml").write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 300\n'
                                        "[train]\nepochs = 1\n[evaluate]\ntta = { shift = 1 }\n")
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--data-dir", str(data_dir), "--no-record",
                 "--progress", "none"]) == 0
    out = capsys.readouterr().out
    assert "tta_test_accuracy: " in out and "(5 views of each test image averaged)" in out
    assert "tta_val_accuracy" not in out  # validated on nothing: no line to choose TTA by
    (tmp_path / "run.toml").write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 300\n'
                                        "validation = 0.2\n[train]\nepochs = 1\n[evaluate]\ntta = { shift = 1 }\n")
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--data-dir", str(data_dir), "--no-record",
                 "--progress", "none"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tta_val_accuracy: "))
    assert line.endswith(" points over the same weights without TTA on the validation images)"), line


def test_a_dry_run_and_a_run_each_say_once_that_flipping_digits_votes_against_them(tmp_path: Path, data_dir: Path,
                                                                                  capsys) -> None:
    """helper-224: `run --dry-run` said nothing of flip on MNIST, which the run then said as it started."""
    from mnistlab.cli import main

    (tmp_path / "e.toml").write_text('name = "flipped"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
                                      "[base.data]\nsubset = 300\n[base.train]\nepochs = 1\n"
                                      "[base.evaluate]\ntta = { flip = true }\n"
                                      '[[variants]]\nname = "plain"\n"evaluate.tta" = false\n[[variants]]\nname = "flip"\n')
    said = "evaluate.tta.flip on mnist: a mirrored digit or letter is another mark"
    flags = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(tmp_path / "e.toml"), "--dry-run", *flags]) == 0
    err = capsys.readouterr().err
    assert err.count(said) == 1 and f'e.toml: variant "flip": {said}' in err and not (tmp_path / "s").exists()
    assert main(["run", str(tmp_path / "e.toml"), *flags]) == 0
    assert capsys.readouterr().err.count(said) == 1  # as the file is read, not again as its cell starts


@pytest.mark.parametrize("tta, fragment", [
    ({"shift": -1}, "evaluate.tta.shift"), ({"rotation": 90}, "evaluate.tta.rotation"),
    ({"flip": "yes"}, "evaluate.tta.flip"), ({"mirror": True}, "evaluate.tta"),
])
def test_bad_tta_settings_are_one_line_errors(tta: dict, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment.replace(".", r"\.")) as info:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "evaluate": {"tta": tta}})
    assert "\n" not in str(info.value)


def test_tta_and_ema_are_set_like_any_setting() -> None:
    from mnistlab.config import build_run_config
    from mnistlab.experiments import parse_experiment

    cfg = build_run_config(settings=["evaluate.tta.shift=1", "train.use_ema=true"])
    assert cfg.evaluate.tta is not None and cfg.evaluate.tta.shift == 1 and cfg.train.use_ema
    exp = parse_experiment({"name": "x", "base": {"dataset": "mnist", "model": "seed000-dense"},
                            "variants": [{"name": "tta", "evaluate.tta": {"rotation": 5.0}}, {"name": "plain"}]},
                           source="x")
    assert [c.config["evaluate"]["tta"] for c in exp.cells()] == [{"shift": 0, "rotation": 5.0, "flip": False}, None]


def test_the_report_shows_the_tta_gain_on_validation_before_the_tta_test_score() -> None:
    """As the CLI table: what TTA is chosen on (validation) comes before what it scored on test."""
    from mnistlab.report import render_table

    html = render_table([{"variant": "v", "test_acc": 0.9, "tta_test_acc": 0.91, "tta_val_gain": 0.0012}])
    assert html.index("TTA gain (val)") < html.index("test acc (TTA)") and ">+0.12 pts<" in html
    assert "TTA gain (val)" not in render_table([{"variant": "v", "test_acc": 0.9, "tta_val_gain": None}])


def test_a_run_recorded_before_flip_reads_as_flip_off_in_every_comparison() -> None:
    """Review: a run recorded before tta.flip lacks the key where a new one holds false; compare's
    labels and run's "settings changed" would name evaluate.tta.flip as a change."""
    from mnistlab.comparison import _differing_keys, setting_value

    old = {"evaluate.tta.shift": 1, "train.lr": 0.01}
    assert setting_value(old, "evaluate.tta.flip") is False and setting_value(old, "train.use_ema") is False
    assert setting_value(old, "train.nothing") is None
    assert _differing_keys({"a": old, "b": {**old, "evaluate.tta.flip": False}}) == []
    assert _differing_keys({"a": old, "b": {**old, "evaluate.tta.flip": True}}) == ["evaluate.tta.flip"]
