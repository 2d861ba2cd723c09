"""lr_finder.py: the learning-rate range test (Smith 2017; fastai's and Lightning's lr_find), on the
real MNIST files, through the library and `mnistlab lr-find`."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.datasets import load_dataset
from mnistlab.errors import DataWarning, PlotError, SpecError
from mnistlab.lr_finder import BETA, LRFinderResult, check_range, lr_find, said, suggested_lr


def test_the_rate_grows_geometrically_and_the_loss_is_smoothed_as_lightning_does(data_dir: Path) -> None:
    found = lr_find("mnist", "seed000-dense", start_lr=1e-5, end_lr=1e-1, num_steps=30, data_dir=data_dir, subset=1200)
    assert len(found.lrs) == 30 and not found.stopped
    assert found.lrs[0] == pytest.approx(1e-5) and found.lrs[-1] == pytest.approx(1e-1)
    ratios = np.diff(np.log(found.lrs))
    assert np.allclose(ratios, math.log(1e4) / 29)  # one factor a step
    average, smoothed = 0.0, []  # the bias-corrected moving average, beta = 0.98
    for i, loss in enumerate(found.losses, start=1):
        average = BETA * average + (1 - BETA) * loss
        smoothed.append(average / (1 - BETA**i))
    assert np.allclose(found.smoothed, smoothed)
    assert found.suggestion in found.lrs[10:-1] and found.lowest in found.lrs
    assert found.smoothed[-1] < found.smoothed[0]  # at 0.01-0.1 adam learns: the rate was set


def test_rates_too_small_to_learn_leave_the_loss_where_it_was_and_a_rate_too_large_stops_the_test(data_dir: Path) -> None:
    still = lr_find("mnist", "seed000-dense", start_lr=1e-9, end_lr=1e-8, num_steps=20, data_dir=data_dir, subset=600)
    moving = lr_find("mnist", "seed000-dense", start_lr=1e-3, end_lr=1e-2, num_steps=20, data_dir=data_dir, subset=600)
    assert abs(np.mean(still.losses[-5:]) - np.mean(still.losses[:5])) < 0.1  # the ramp's rates, not adam's 0.001,
    assert moving.smoothed[-1] < still.smoothed[-1] - 0.3  # were used: the same batches fall at 0.001-0.01
    with pytest.warns(DataWarning, match="38 batches"):  # (200 steps over 38 batches: said)
        wild = lr_find("mnist", "seed000-dense", start_lr=1e-3, end_lr=1e4, num_steps=200, data_dir=data_dir,
                       subset=1200, optimizer="sgd")
    assert len(wild.lrs) < 200 and wild.stopped.startswith("the smoothed loss passed 4 x its lowest"), wild.stopped


def test_the_suggestion_is_the_steepest_fall() -> None:
    lrs = np.logspace(-6, 0, 61)
    smoothed = 2.0 - np.tanh(np.log10(lrs) + 3)  # falls fastest at 1e-3
    assert suggested_lr(lrs.tolist(), smoothed.tolist()) == pytest.approx(1e-3)
    assert suggested_lr(lrs[:12].tolist(), smoothed[:12].tolist()) is None  # too few once the ends are left out
    bumpy = smoothed.copy()  # blown up past its lowest (at 1e-1.5), then falling steeply again (a few noisy batches)
    bumpy[46:] = np.concatenate([[3.0, 4.5, 6.0, 4.0, 2.5], np.linspace(2.4, 2.2, len(bumpy) - 51)])
    assert lrs[int(np.argmin(np.gradient(bumpy[10:-1], np.log(lrs[10:-1])))) + 10] > 1e-2  # Lightning's would point there
    assert suggested_lr(lrs.tolist(), bumpy.tolist()) == pytest.approx(1e-3)  # (helper-200)
    rising = 1.0 + np.linspace(0.0, 1.0, 61) ** 2  # lowest at the first step, which the suggestion leaves out
    assert suggested_lr(lrs.tolist(), rising.tolist()) is None  # (helper-202: a rate past the lowest loss)
    found = LRFinderResult(lrs.tolist(), rising.tolist(), rising.tolist(), None)
    assert said(found).startswith("no suggestion: the loss never fell below its first 10 steps'")
    steep = LRFinderResult(lrs.tolist(), smoothed.tolist(), smoothed.tolist(), 1e-3)  # a notebook's last line
    assert repr(steep) == "LRFinderResult(suggestion=0.001, lowest=1, 61 steps)"  # (helper-211: 6,224 characters)


@pytest.mark.parametrize(("start", "end", "steps", "said"), [
    (0.0, 1.0, 100, "start_lr must be a rate above 0, got 0.0"),
    (float("nan"), 1.0, 100, "start_lr must be a rate above 0, got nan"),
    (1e-3, float("inf"), 100, "end_lr must be a rate above 0, got inf"),
    (1.0, 0.1, 100, "end_lr (0.1) must be above start_lr (1)"),
    (1e-8, 1.0, 12, "num_steps must be a whole number from 13 to 100000, got 12"),
    (1e-8, 1.0, 2.5, "num_steps must be a whole number from 13 to 100000, got 2.5"),
    (1e-8, "1", 100, "end_lr must be a rate above 0, got '1'"),
])
def test_a_range_that_cannot_be_tested_is_one_line(start: float, end: float, steps: int, said: str) -> None:
    with pytest.raises(SpecError, match=f"^lr_find\\(\\): {re.escape(said)}"):
        check_range(start, end, steps)  # type: ignore[arg-type]


def test_an_empty_test_draws_nothing() -> None:
    with pytest.raises(PlotError, match="ran no step"):
        LRFinderResult().plot()


def test_the_command_says_the_suggestion_draws_the_curve_and_records_nothing(data_dir: Path, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    args = ["lr-find", "--dataset", "mnist", "--model", "seed000-dense", "--subset", "600", "--steps", "20",
            "--data-dir", str(data_dir)]
    assert main([*args, "-o", str(tmp_path / "lr.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("suggested lr ") and "; 20 steps\n" in out and f"wrote {tmp_path / 'lr.png'}" in out
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = tmp_path / "run.toml"  # a config's schedule and callbacks are the ramp's to replace: said, left out
    config.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 600\n[train]\nschedule = { type = '
                      '"cosine" }\n[[callbacks]]\ntype = "ReduceLROnPlateau"\nmonitor = "loss"\n')
    assert main(["lr-find", "--config", str(config), "--steps", "15", "--format", "json", "--data-dir", str(data_dir)]) == 0
    captured = capsys.readouterr()
    found = json.loads(captured.out)
    assert found["steps"] == 15 and len(found["lrs"]) == len(found["losses"]) == 15 and found["lrs"][0] == 1e-8
    assert "the config's train.schedule, callbacks, use_ema and swa are left out" in captured.err
    assert not (tmp_path / "mnistlab-runs").exists() and not list(tmp_path.glob("**/runs.sqlite"))


@pytest.mark.parametrize(("argv", "said"), [
    (["--start-lr", "1", "--end-lr", "0.1"], "error: lr-find: --end-lr (0.1) must be above --start-lr (1)"),
    (["--steps", "5"], "error: lr-find: --steps must be a whole number from 13 to 100000, got 5"),
    (["-o", "curve.txt"], "error: cannot write 'curve.txt': the file name must end in .png, .pdf, .svg"),
    (["--dataset", "mnsit"], "error: command line: dataset: unknown dataset 'mnsit'"),
    (["--set", "train.lr=-1"], "error: command line: train.lr: must be greater than 0"),
])
def test_the_command_s_mistakes_are_one_line_before_anything_trains(argv: list[str], said: str,
                                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["lr-find", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1, err


def test_what_the_review_found(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """helper-197: a diverging test said the trainer's base rate and its advice; settings beside config= were
    dropped unsaid; arrays were refused; EMA's overwrite replaced the weights the ramp moved; -o hid why
    no step ran."""
    wild = lr_find("mnist", "seed000-dense", start_lr=1e30, end_lr=1e35, num_steps=20, data_dir=data_dir, subset=600,
                   optimizer="sgd")
    assert wild.stopped.startswith("the loss was no longer finite at lr 1") and "0.01" not in wild.stopped, wild.stopped
    from mnistlab.config import parse_run_config

    with pytest.raises(SpecError, match=r"^lr_find\(config=...\) takes its settings from the config"):
        lr_find(config=parse_run_config({"dataset": "mnist", "model": "seed000-dense"}), batch_size=7)
    ds = load_dataset("mnist", data_dir)
    arrays = lr_find((ds.train_images[:600], ds.train_labels[:600]), "seed000-dense", num_steps=15, data_dir=data_dir)
    assert len(arrays.lrs) == 15
    plain = lr_find("mnist", "seed000-dense", num_steps=15, data_dir=data_dir, subset=600)
    averaged = lr_find("mnist", "seed000-dense", num_steps=15, data_dir=data_dir, subset=600, use_ema=True,
                       ema_overwrite_frequency=1)
    assert averaged.losses == plain.losses  # the weights the ramp moves, not an average of them
    config = tmp_path / "run.toml"  # a config file's path, as --config takes it (helper-198: an AttributeError)
    config.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nsubset = 600\n')
    assert lr_find(config=config, num_steps=15, data_dir=data_dir).losses == plain.losses
    rising = lr_find("mnist", "seed000-dense", start_lr=1e-3, end_lr=0.1, num_steps=30, data_dir=data_dir, subset=1200,
                     optimizer="sgd")  # the loss still falls where the range ends: said
    assert not rising.stopped and "the loss still fell at the end of the range: give a larger end_lr" in said(rising)
    model = tmp_path / "m.toml"  # a penalty that makes the first loss infinite: no step, and -o says why
    model.write_text('layers = ["Flatten", { type = "Dense", units = 10, kernel_regularizer = { l2 = 1e300 } }]\n')
    assert main(["lr-find", "--model", str(model), "--subset", "600", "--steps", "15", "--data-dir", str(data_dir),
                 "-o", str(tmp_path / "lr.png")]) == 0
    captured = capsys.readouterr()
    assert "no suggestion: only 0 steps ran" in captured.out and "no longer finite" in captured.out, captured.out
    assert "no figure written" in captured.err and not (tmp_path / "lr.png").exists()


def test_ctrl_c_stops_the_command(data_dir: Path, tmp_path: Path) -> None:
    """helper-197: Ctrl-C was taken for an early stop (exit 0, a suggestion of what had run)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "MNISTLAB_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "lr-find", "--model", "seed000-dense", "--steps", "100000",
                             "--start-lr", "1e-9", "--end-lr", "1e-8", "-o", str(tmp_path / "lr.png")],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "suggested" not in out, (proc.returncode, out, err)
    assert "the range test was stopped by Ctrl-C after " in err and " of its 100000 steps: " in err, err  # what ran
    assert (tmp_path / "lr.png").is_file()  # is said and drawn (helper-198: lost)


def test_too_few_images_for_the_steps_are_warned_of(data_dir: Path) -> None:
    with pytest.warns(DataWarning, match=r"300 training images make 10 batches of 32, each seen about 3 times in 30 steps"):
        lr_find("mnist", "seed000-dense", num_steps=30, data_dir=data_dir, subset=300)  # (helper-200: 36 images)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        lr_find("mnist", "seed000-dense", num_steps=30, data_dir=data_dir, subset=1200)  # 38 batches: enough


@pytest.mark.parametrize(("given", "said"), [({"epochs": 2}, "epochs has no part in a range test: the test runs num_steps="),
                                             ({"lr": 0.01}, "lr has no part in a range test: the test ramps it"),
                                             ({"callbacks": [{"type": "EarlyStopping"}]}, "callbacks has no part")])
def test_settings_the_range_test_has_no_use_for_are_refused(given: dict, said: str) -> None:
    """helper-211: lr_find(..., epochs=2) was accepted, and did nothing."""
    from mnistlab.errors import SpecError

    with pytest.raises(SpecError, match=said):
        lr_find("mnist", "seed000-dense", **given)
