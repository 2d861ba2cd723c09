"""plots.py: figure content (axes, titles, labels, colours, panel counts) from real data."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest
import torch
from matplotlib.artist import Artist

from mnistlab import plots
from mnistlab.datasets import load_dataset
from mnistlab.errors import DataError, PlotError
from mnistlab.metrics import class_recall, confusion_matrix
from mnistlab.models import build_model
from mnistlab.presets import resolve_model


@pytest.fixture(scope="module")
def fashion(data_dir):
    return load_dataset("fashion-mnist", data_dir)


@pytest.fixture(scope="module")
def cnn():
    return build_model(resolve_model("seed000-cnn"), seed=0).eval()


def _history(n, acc0=0.7):
    return [dict(epoch=i + 1, loss=1.0 / (i + 1), accuracy=acc0 + 0.05 * i, val_loss=1.2 / (i + 1),
                 val_accuracy=acc0 - 0.02 + 0.04 * i) for i in range(n)]


ROWS = [
    dict(variant="dense", params=101_770, test_acc_mean=0.875, test_acc_std=0.004, n=3, train_seconds=14.0),
    dict(variant="cnn", params=243_786, test_acc_mean=0.903, test_acc_std=0.002, n=3, train_seconds=68.6),
    dict(variant="ex1", params=55_098, test_acc_mean=0.891, test_acc_std=0.0, n=1, train_seconds=30.0),
]


# ----------------------------------------------------------------------------- pure maths

def test_confusion_matrix_counts_rows_true_columns_pred():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 0], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [2, 0, 1]]
    assert cm.dtype == np.int64


@pytest.mark.parametrize("true, pred", [([0, 1], [0]), ([0, 3], [0, 1]), ([-1, 0], [0, 0])])
def test_confusion_matrix_rejects_bad_input(true, pred):
    with pytest.raises(DataError):
        confusion_matrix(true, pred, 3)


def test_most_confused_pairs_sorted_off_diagonal_only():
    cm = np.array([[50, 3, 7], [0, 40, 3], [9, 0, 99]])
    assert plots.most_confused_pairs(cm, 3) == [(2, 0, 9), (0, 2, 7), (0, 1, 3)]
    assert plots.most_confused_pairs(cm, 10) == [(2, 0, 9), (0, 2, 7), (0, 1, 3), (1, 2, 3)]
    assert plots.most_confused_pairs(np.diag([5, 5]), 3) == []
    assert plots.most_confused_pairs(cm, 0) == []


def test_per_class_accuracy_nan_for_absent_class():
    acc = class_recall(np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]]))
    assert acc[0] == pytest.approx(0.75) and np.isnan(acc[1]) and acc[2] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- data figures

def test_sample_grid_is_5x5_titled_with_class_names(fashion):
    fig = plots.plot_sample_grid(fashion.train_images, fashion.train_labels, fashion.info.class_names)
    assert len(fig.axes) == 25
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [fashion.info.class_names[int(label)] for label in fashion.train_labels[:25]]
    assert np.array_equal(fig.axes[3].images[0].get_array(), fashion.train_images[3])
    assert fig.get_suptitle() == ""
    titled = plots.plot_sample_grid(fashion.train_images, fashion.train_labels, None, 2, 2, title="fashion-mnist, train set")
    assert titled.get_suptitle() == "fashion-mnist, train set"  # show-data's grid (helper-140: untitled)


def test_sample_grid_other_shape_and_few_images(fashion):
    fig = plots.plot_sample_grid(fashion.test_images[:4], fashion.test_labels[:4], None, rows=2, cols=3)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == str(int(fashion.test_labels[0]))  # no names: the label number


def test_every_figure_of_dataset_images_draws_them_alike(fashion):
    """What predict --show says the model saw is drawn as the samples, errors and augmentation
    previews are: an image given inverted then looks unlike the data (a user read it as right)."""
    from mnistlab.augment import preview_figure
    from mnistlab.config import AugmentConfig

    images, labels = fashion.test_images[:2], fashion.test_labels[:2]
    figures = {"samples": plots.plot_sample_grid(images, labels, None, rows=1, cols=2).axes[0],
               "errors": plots.plot_misclassified(images, labels, [1, 2], None).axes[0],
               "augment": preview_figure(images, AugmentConfig(rotation_range=10), copies=1).axes[1],
               "seen": plots.plot_predictions(list(images), images, np.eye(10)[[1, 2]], None, ["a", "b"]).axes[1]}
    assert {k: ax.images[0].get_cmap().name for k, ax in figures.items()} == dict.fromkeys(figures, "binary")
    assert figures["seen"].get_title().startswith("what the model saw (28x28)")
    # a user who gave dark ink on paper saw it drawn alike and read the inversion as not done (helper-105)
    assert "its light pixels drawn dark, as plot samples draws the data" in figures["seen"].get_title()


def test_scans_of_dark_ink_on_paper_are_drawn_as_they_look_not_inverted(fashion):
    """New-user finding: a sample grid of one's own scans (dark ink, light paper) showed them as
    white ink on black: the MNIST-family colormap reads a value as ink. Light-bordered data is
    drawn by brightness, in the sample grid, the errors and the augmentation preview alike."""
    from mnistlab.augment import preview_figure
    from mnistlab.config import AugmentConfig

    scans, labels = 255 - fashion.test_images[:2], fashion.test_labels[:2]
    figures = {"samples": plots.plot_sample_grid(scans, labels, None, rows=1, cols=2).axes[0],
               "errors": plots.plot_misclassified(scans, labels, [1, 2], None).axes[0],
               "augment": preview_figure(scans, AugmentConfig(rotation_range=10), copies=1).axes[1],
               "seen": plots.plot_predictions(list(scans), scans, np.eye(10)[[1, 2]], None, ["a", "b"],
                                              light_background=True).axes[1]}  # a model trained on such scans
    assert {k: ax.images[0].get_cmap().name for k, ax in figures.items()} == dict.fromkeys(figures, "gray")  # helper-121
    inverted = plots.plot_predictions(list(scans), 255 - scans, np.eye(10)[[1, 2]], None, ["a", "b"],
                                      light_background=True).axes[1]  # helper-122: by the training data, not the images
    assert inverted.images[0].get_cmap().name == "gray"
    paper = figures["samples"].images[0]  # the paper (255) is drawn white, as in the file
    assert paper.cmap(paper.norm(255))[:3] == pytest.approx((1.0, 1.0, 1.0))
    assert plots.data_cmap(np.zeros((1, 28, 28))) == plots.data_cmap(np.full((1, 28, 28), 255)) == "binary"  # no ink


@pytest.mark.parametrize("images", [np.zeros((0, 28, 28)), np.zeros((28, 28)), np.zeros((2, 3, 28, 28))])
def test_sample_grid_rejects_bad_images(images):
    with pytest.raises(PlotError):
        plots.plot_sample_grid(images, [0, 0], ["a"])


def test_plot_image_has_colour_bar_and_raw_values(fashion):
    fig = plots.plot_image(fashion.train_images[0], title="first")
    assert len(fig.axes) == 2  # the image and its colour bar
    image_ax = fig.axes[0]
    assert image_ax.get_title() == "first"
    assert np.array_equal(image_ax.images[0].get_array(), fashion.train_images[0])
    lo, hi = fig.axes[1].get_ylim()
    assert lo == pytest.approx(0) and hi == pytest.approx(fashion.train_images[0].max())


def test_plot_image_rejects_batch():
    with pytest.raises(PlotError):
        plots.plot_image(np.zeros((3, 28, 28)))


# ----------------------------------------------------------------------------- history and comparison

def test_history_two_panels_train_solid_val_dashed_test_line():
    fig = plots.plot_history([("cnn", _history(5), 0.91), ("dense", _history(3, 0.6), None)])
    acc, loss = fig.axes
    assert (acc.get_title(), loss.get_title()) == ("Accuracy", "Loss")
    assert acc.get_xlabel() == "epoch" and loss.get_ylabel() == "loss"
    styles = {line.get_label(): line.get_linestyle() for line in acc.get_lines()}
    assert styles["cnn train"] == "-" and styles["cnn val"] == "--"
    assert styles["dense train"] == "-" and styles["dense val"] == "--"
    test_lines = [line for line in acc.get_lines() if line.get_label().startswith("cnn test")]
    assert len(test_lines) == 1 and list(test_lines[0].get_ydata()) == [0.91, 0.91]
    assert not any(line.get_label().startswith("dense test") for line in acc.get_lines())
    assert list(acc.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]
    assert len(loss.get_lines()) == 4  # no test line on the loss panel
    # one colour per run, shared by its train and val curves
    colour = {line.get_label(): line.get_color() for line in acc.get_lines()}
    assert colour["cnn train"] == colour["cnn val"] != colour["dense train"]
    # new-user finding (helper-99): in the legend train and val looked the same (the marker hid the dashes)
    marks = {line.get_label(): (line.get_marker(), line.get_markerfacecolor()) for line in acc.get_lines()}
    assert marks["cnn train"][0] != marks["cnn val"][0] and marks["cnn val"][1] == "white"
    legend = loss.get_legend()  # beside the panels, not over a curve (helper-129)
    assert legend.handlelength >= 3 and acc.get_legend() is None and not fig.legends


def test_history_draws_a_learning_rate_that_changed_and_names_validation_on_the_test_set(data_dir: Path) -> None:
    """helper-154: a cosine schedule's rates (in `show`) were in no figure, and curves of the test
    set used as validation were labelled "val", where every table calls their figures optimistic."""
    steady = [dict(h, lr=0.001) for h in _history(4)]
    assert len(plots.plot_history([("a", steady, None)]).axes) == 2  # a constant rate: no panel for it
    falling = [dict(h, lr=lr) for h, lr in zip(_history(4), (1e-2, 1e-2, 5e-3, 1e-5))]
    fig = plots.plot_history([("a", steady, None), ("b", falling, None, "val (test set)")])
    acc, _, lr = fig.axes
    assert (lr.get_title(), lr.get_yscale()) == ("Learning rate", "log")
    assert [list(line.get_ydata()) for line in lr.get_lines()] == [[0.001] * 4, [1e-2, 1e-2, 5e-3, 1e-5]]
    assert [line.get_label() for line in acc.get_lines()] == ["a train", "a val", "b train", "b val (test set)"]
    from types import SimpleNamespace

    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config
    from mnistlab.views import history_runs

    cfg = parse_run_config({"dataset": "mnist", "model": {"dense": [8]}, "data": {"subset": 120, "validation": "test"},
                            "train": {"epochs": 2}})
    result = run_config(cfg, data_dir=data_dir, progress="none")
    record = SimpleNamespace(variant="v", seed=0, run_id="r", status="finished", history=result.history,
                             metrics=result.metrics, config=cfg.resolved())  # as the store gives it back
    assert history_runs([record])[0][3] == "val (test set)"
    assert history_runs([SimpleNamespace(**{**vars(record), "config": {}, "metrics": {}})])[0][3] == "val"


def test_history_without_validation_has_train_only():
    history = [dict(epoch=1, loss=0.5, accuracy=0.8), dict(epoch=2, loss=0.4, accuracy=0.85, val_accuracy=None)]
    fig = plots.plot_history([("a", history, None)])
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a train"]


@pytest.mark.parametrize("runs", [[], [("a", [], 0.9)], [("a", [{"epoch": 1}], None)]])
def test_history_rejects_empty(runs):
    with pytest.raises(PlotError):
        plots.plot_history(runs)


def test_comparison_points_with_error_bars_per_variant_and_none_for_one_run():
    fig = plots.plot_comparison(ROWS)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dense", "cnn", "ex1"]
    (points,) = ax.get_lines()[:1]
    assert list(points.get_ydata()) == pytest.approx([0.875, 0.903, 0.891]) and not ax.patches  # no bars
    (errorbar,) = ax.containers
    segments = errorbar.lines[2][0].get_segments()
    assert [s[0][0] for s in segments] == [0, 1]  # dense's and cnn's: ex1 (n=1) has none
    assert [s[1][1] - s[0][1] for s in segments] == pytest.approx([0.008, 0.004])
    assert not _scatters(ax) and ax.get_legend() is None  # no committee: no diamond, no legend
    assert ax.get_ylabel() == "test accuracy"
    assert [t.get_text() for t in ax.texts] == ["n=3", "n=3", "n=1"]
    assert ax.get_ylim()[0] <= 0.875 - 0.004 and ax.get_ylim()[1] >= 0.903 + 0.002
    long = [{**ROWS[0], "variant": "seed000-cnn (layers[2].filters=16,lr=0.01,opt=sgd)"}, ROWS[1]]
    ticks = [t.get_text() for t in plots.plot_comparison(long).axes[0].get_xticklabels()]
    # broken at the space and after commas, each comma kept as the table prints it (no ", " added)
    assert ticks[0].splitlines() == ["seed000-cnn", "(layers[2].filters=16,", "lr=0.01,opt=sgd)"] and ticks[1] == "cnn"
    assert all(len(line) <= 28 for line in ticks[0].splitlines()), ticks  # a long name on lines, not one long slant
    (ax,) = plots.plot_comparison([ROWS[2]]).axes  # only runs of one: no error bar at all
    assert not ax.containers and list(ax.get_lines()[0].get_ydata()) == [0.891]


def _scatters(ax):
    from matplotlib.collections import PathCollection

    return [c for c in ax.collections if isinstance(c, PathCollection)]  # the error bars are a LineCollection


def test_a_committees_accuracy_is_a_diamond_above_its_variant():
    rows = [dict(ROWS[0]), dict(ROWS[1], committee_acc=0.93)]  # above every bar: the axis makes room for it
    (ax,) = plots.plot_comparison(rows).axes
    (diamonds,) = _scatters(ax)
    assert diamonds.get_offsets().tolist() == [[1.0, 0.93]] and ax.get_ylim()[1] >= 0.93
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["committee", "mean of the runs"]
    # helper-146: a committee variant's 3 repeats drew their mean without their sd, and "n=6" counted members
    rows = [dict(ROWS[0]), dict(ROWS[1], committee_acc=0.93, committee_acc_std=0.01, committees=3)]
    (ax,) = plots.plot_comparison(rows).axes
    (diamonds,) = _scatters(ax)
    ((x, y),) = diamonds.get_offsets().tolist()
    assert 1.0 < x < 1.5 and y == 0.93 and ax.get_ylim()[1] >= 0.94  # beside its runs' bar, with its own
    red = [c for c in ax.collections if c is not diamonds and mcolors.same_color(c.get_color()[0], "C3")]
    assert len(red) == 1 and np.allclose(red[0].get_segments()[0][:, 1], [0.92, 0.94])
    assert f"n={ROWS[1]['n']}\n3 committees" in [t.get_text() for t in ax.texts]
    assert "committee (mean ± sd of its repeats)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_accuracy_vs_params_and_time_one_point_per_variant():
    fig = plots.plot_accuracy_vs_params(ROWS)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters"
    points = [c for c in ax.containers]
    assert len(points) == 3
    assert [t.get_text() for t in ax.texts] == ["dense", "cnn", "ex1"]
    xs = [c.lines[0].get_xdata()[0] for c in points]
    assert xs == [101_770, 243_786, 55_098]
    fig = plots.plot_accuracy_vs_time(ROWS)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "training time (s)"
    assert [c.lines[0].get_xdata()[0] for c in ax.containers] == [14.0, 68.6, 30.0]


def test_a_committee_is_a_diamond_at_all_its_members_parameters_and_seconds():
    """Note 37: a committee variant's point was its members' mean alone, at one member's size."""
    rows = [dict(ROWS[0]), dict(ROWS[1], n=6, committees=2, committee_acc=0.93)]  # 2 committees of 3
    for plot, x in ((plots.plot_accuracy_vs_params, 243_786), (plots.plot_accuracy_vs_time, 68.6)):
        (ax,) = plot(rows).axes
        diamonds = [line for line in ax.lines if line.get_marker() == "D"]
        assert [(d.get_xdata()[0], d.get_ydata()[0]) for d in diamonds] == [(pytest.approx(3 * x), 0.93)]
        assert "cnn: committee of 3" in [t.get_text() for t in ax.texts]  # (helper-146: its name too)
    # helper-147: a committee variant's repeats drew their mean without their sd, where plot compare draws it
    rows = [dict(ROWS[0]), dict(ROWS[1], n=6, committees=2, committee_acc=0.93, committee_acc_std=0.01)]
    for plot in (plots.plot_accuracy_vs_params, plots.plot_accuracy_vs_time):
        (ax,) = plot(rows).axes
        bars = [c for c in ax.collections if len(c.get_segments()) == 1 and np.allclose(c.get_segments()[0][:, 1], [0.92, 0.94])]
        assert len(bars) == 1 and ax.get_ylim()[1] >= 0.94
    (ax,) = plots.plot_accuracy_vs_params([dict(ROWS[1], n=2, committees=2, committee_acc=0.9)]).axes  # of 1 member
    assert not [line for line in ax.lines if line.get_marker() == "D"]
    # note 38: a failed member left 2 committees of 5 with 9 runs, drawn as "committee of 4" (9 / 2, rounded)
    (ax,) = plots.plot_accuracy_vs_params([dict(ROWS[1], n=9, committees=2, committee_members=[5, 4],
                                                committee_acc=0.93)]).axes
    (diamond,) = [line for line in ax.lines if line.get_marker() == "D"]
    assert diamond.get_xdata()[0] == pytest.approx(4.5 * 243_786) and "cnn: committees of 4-5" in [t.get_text() for t in ax.texts]


def test_variants_of_one_size_are_spread_apart_and_names_on_the_right_stay_inside():
    """New-user finding: three variants of 173,930 parameters drew their bars and names on top of
    each other, and the rightmost point's name was cut off at the axes' edge. helper-146: spread
    in data units on the log axis, three of 55,098 read as 53k, 55k and 57k; stay at their value,
    shifted a few points apart on the page, their names stacked above them, in their colours."""
    rows = [*ROWS, dict(variant="cnn-f32", params=243_786, test_acc_mean=0.9, test_acc_std=0.01, n=2),
            dict(variant="cnn-dropout", params=243_786, test_acc_mean=0.901, test_acc_std=0.01, n=2)]
    fig = plots.plot_accuracy_vs_params(rows)
    (ax,) = fig.axes
    assert [c.lines[0].get_xdata()[0] for c in ax.containers] == [101_770, 243_786, 55_098, 243_786, 243_786]
    fig.canvas.draw()
    page = [c.lines[0].get_transform().transform((c.lines[0].get_xdata()[0], 0.9))[0] for c in ax.containers]
    dpi = fig.dpi / 72  # pixels a point
    assert page[3] == pytest.approx(ax.transData.transform((243_786, 0.9))[0])  # the middle one at its value
    step = plots.DODGE_POINTS * dpi
    assert page[1] == pytest.approx(page[3] - step) and page[4] == pytest.approx(page[3] + step)
    names = {t.get_text(): t for t in ax.texts}
    assert names["ex1"].get_horizontalalignment() == "left" and names["dense"].get_horizontalalignment() == "left"
    stacked = [names[n] for n in ("cnn", "cnn-f32", "cnn-dropout")]
    assert [t.get_horizontalalignment() for t in stacked] == ["center"] * 3
    heights = [t.get_window_extent().y0 for t in stacked]
    assert heights[0] < heights[1] < heights[2] and all(t.get_window_extent().y1 <= ax.bbox.y1 for t in stacked)
    assert [mcolors.to_hex(t.get_color()) for t in stacked] == [mcolors.to_hex(f"C{i}") for i in (1, 3, 4)]
    assert ax.get_xlabel().startswith("parameters (variants of one value drawn a few points apart)")
    # helper-148: 60 of one size (a grid of learning rates) spread 60 x 7 points, their names over the title
    many = [dict(variant=f"lr={i}", params=55_098, test_acc_mean=0.9 + i / 1000, test_acc_std=0.01, n=3) for i in range(60)]
    fig = plots.plot_accuracy_vs_params(many)
    fig.canvas.draw()
    (ax,) = fig.axes
    page = [c.lines[0].get_transform().transform((55_098, 0.9))[0] for c in ax.containers]
    assert max(page) - min(page) == pytest.approx(plots.DODGE_SPAN * fig.dpi / 72)
    assert [t.get_text() for t in ax.texts] == ["60 variants"] and ax.texts[0].get_window_extent().y1 <= ax.bbox.y1
    (key,) = fig.legends  # helper-154: counted, not named, and ten colours for 12: a key names each, the 11th
    assert [t.get_text() for t in key.get_texts()] == [f"lr={i}" for i in range(60)]  # another marker than the 1st
    markers = [c.lines[0].get_marker() for c in ax.containers]
    assert len(set(zip(markers, [mcolors.to_hex(c.lines[0].get_color()) for c in ax.containers]))) == 60
    assert plots.plot_accuracy_vs_params(many[:3]).legends == []  # named by their points: no key
    # helper-146: two names near each other (cnn-tanh, cnn-x2 at 1.0 and 1.05 s) printed over each other
    rows = [dict(ROWS[0], train_seconds=0.1), dict(variant="cnn-tanh", test_acc_mean=0.925, test_acc_std=0.01, n=3,
                                                   train_seconds=1.02),
            dict(variant="cnn-x2", test_acc_mean=0.925, test_acc_std=0.008, n=3, train_seconds=1.05),
            dict(ROWS[1], train_seconds=2.0)]
    fig = plots.plot_accuracy_vs_time(rows)
    fig.canvas.draw()
    boxes = {t.get_text(): t.get_window_extent() for t in fig.axes[0].texts}
    assert not boxes["cnn-tanh"].overlaps(boxes["cnn-x2"])
    # helper-147: two at one place by the left edge: the second name went out of the axes; stacked above instead
    rows = [dict(variant="cnn", test_acc_mean=0.44, n=1, train_seconds=0.028),
            dict(variant="cnn-tanh", test_acc_mean=0.44, n=1, train_seconds=0.026), dict(ROWS[1], train_seconds=0.9)]
    fig = plots.plot_accuracy_vs_time(rows)
    fig.canvas.draw()
    (ax,) = fig.axes
    boxes = {t.get_text(): t.get_window_extent() for t in ax.texts}
    assert not boxes["cnn"].overlaps(boxes["cnn-tanh"]) and boxes["cnn-tanh"].x0 >= ax.bbox.x0


def test_comparison_rejects_rows_without_results():
    with pytest.raises(PlotError, match="test accuracy"):
        plots.plot_comparison([dict(variant="a", test_acc_mean=None)])
    with pytest.raises(PlotError):
        plots.plot_accuracy_vs_time([dict(variant="a", test_acc_mean=0.9)])


# ----------------------------------------------------------------------------- errors

def test_misclassified_true_blue_pred_red(fashion):
    true = fashion.test_labels[:40]
    pred = (true + 1) % 10
    fig = plots.plot_misclassified(fashion.test_images[:40], true, pred, fashion.info.class_names, max_images=12)
    assert len(fig.axes) == 12
    names = fashion.info.class_names
    for i, ax in enumerate(fig.axes):
        texts = {t.get_gid(): t for t in ax.texts}
        assert texts["true"].get_text() == names[int(true[i])]
        assert texts["pred"].get_text() == names[int(pred[i])]
        assert mcolors.to_hex(texts["true"].get_color()) == "#0000ff"
        assert mcolors.to_hex(texts["pred"].get_color()) == "#ff0000"
    assert np.array_equal(fig.axes[5].images[0].get_array(), fashion.test_images[5])


def test_misclassified_says_which_test_image_and_how_sure_and_one_image_is_readable(fashion):
    """helper-154: the figure sorted by confidence but showed neither it nor the test index, and
    one image made a 190-pixel figure whose title covered its labels."""
    probs = np.full((3, 10), 0.02)
    probs[[0, 1, 2], [3, 4, 5]] = [0.94, 0.6, 0.82]
    fig = plots.plot_misclassified(fashion.test_images[[89, 43, 50]], [0, 0, 0], probs.argmax(1), None,
                                   confidence=probs.max(1), index=[89, 43, 50])
    assert [ax.get_xlabel() for ax in fig.axes] == ["#89  94%", "#43  60%", "#50  82%"]
    with pytest.raises(PlotError, match="one of each per image, but got 23 images, 100 true, 100 pred"):  # helper-157:
        plots.plot_misclassified(fashion.test_images[:23], fashion.test_labels[:100], fashion.test_labels[:100], None)
    with pytest.raises(PlotError, match="3 images, 3 true, 3 pred, 2 confidence"):  # captioned by the first 23
        plots.plot_misclassified(fashion.test_images[:3], [0, 0, 0], [1, 1, 1], None, confidence=[0.9, 0.8])
    one = plots.plot_misclassified(fashion.test_images[:1], [0], [1], fashion.info.class_names, max_images=1)
    assert one.get_figwidth() >= 5 and one.axes[0].get_xlabel() == ""  # (nothing given: nothing said)


def test_misclassified_empty_says_so():
    fig = plots.plot_misclassified(np.zeros((0, 28, 28)), [], [], None)
    assert fig.axes[0].get_title() == "No misclassified images"


def test_confusion_matrix_heatmap_has_counts_and_names(fashion):
    true = fashion.test_labels[:300]
    pred = np.where(np.arange(300) % 5 == 0, (true + 3) % 10, true)
    cm = confusion_matrix(true, pred, 10)
    fig = plots.plot_confusion_matrix(cm, fashion.info.class_names)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # heatmap + colour bar
    assert np.array_equal(ax.images[0].get_array(), cm)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert len(cells) == 100 and all(cells[(t, p)] == cm[t, p] for t in range(10) for p in range(10))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(fashion.info.class_names)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")


def test_per_class_accuracy_bars(fashion):
    cm = np.array([[8, 2], [1, 9]])
    fig = plots.plot_per_class_accuracy(cm, ["zero", "one"])
    ax = fig.axes[0]
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.8, 0.9])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["zero", "one"]
    assert ax.get_title() == "Per-class accuracy"


# ----------------------------------------------------------------------------- inside the network

def test_feature_maps_seed001_grid(fashion, cnn):
    images = fashion.test_images[[0, 23, 28]]
    fig = plots.plot_feature_maps(cnn, images, filter_index=1, layers=4)
    assert len(fig.axes) == 12  # 3 images x (conv, pool, conv, pool)
    assert all(ax.images[0].get_cmap().name == "inferno" for ax in fig.axes)
    shapes = [ax.images[0].get_array().shape for ax in fig.axes[:4]]
    assert shapes == [(26, 26), (13, 13), (11, 11), (5, 5)]
    # the shown map is the model's own activation for that image and filter
    x = torch.from_numpy(images[1:2].astype(np.float32) / 255)[:, None]
    with torch.no_grad():
        first = list(cnn.children())[0](x)
    assert np.allclose(fig.axes[4].images[0].get_array(), first[0, 1].numpy(), atol=1e-5)
    assert fig.axes[0].get_ylabel() == "image 0" and fig.axes[8].get_ylabel() == "image 2"


def test_feature_maps_work_for_any_named_torch_model(fashion):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
                                torch.nn.Conv2d(4, 2, 3), torch.nn.MaxPool2d(2), torch.nn.Flatten())
    maps = plots.feature_maps(model, fashion.test_images[:2])
    assert [(name, m.shape) for name, m in maps] == [("0", (2, 4, 26, 26)), ("2", (2, 4, 13, 13)),
                                                     ("3", (2, 2, 11, 11)), ("4", (2, 2, 5, 5))]
    fig = plots.plot_feature_maps(model, fashion.test_images[:2], filter_index=1, layers=None)
    assert len(fig.axes) == 8
    with pytest.raises(PlotError, match="filter 3 out of range"):
        plots.plot_feature_maps(model, fashion.test_images[:2], filter_index=3, layers=None)


def test_feature_maps_and_filters_need_conv_layers(fashion):
    dense = build_model(resolve_model("seed000-dense"), seed=0)
    with pytest.raises(PlotError, match="no convolution"):
        plots.plot_feature_maps(dense, fashion.test_images[:1])
    with pytest.raises(PlotError, match="no convolution"):
        plots.plot_filters(dense)


def test_feature_map_rows_carry_the_given_labels(fashion, cnn):
    labels = ["test #23: a", "test #2: b"]
    fig = plots.plot_feature_maps(cnn, fashion.test_images[[23, 2]], filter_index=0, layers=2, labels=labels)
    assert [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel()] == labels
    assert fig.axes[1].get_ylabel() == ""  # only the first column is labelled
    with pytest.raises(PlotError, match="1 row labels for 2 images"):
        plots.plot_feature_maps(cnn, fashion.test_images[[23, 2]], layers=2, labels=["only one"])


def test_filters_one_panel_per_first_layer_kernel(cnn):
    fig = plots.plot_filters(cnn)
    assert len(fig.axes) == 65 and fig.axes[-1].get_ylabel() == "weight"  # 64 kernels and their shared scale (helper-129)
    first = next(m for m in cnn.modules() if isinstance(m, torch.nn.Conv2d))
    assert np.allclose(fig.axes[7].images[0].get_array(), first.weight[7, 0].detach().numpy())
    assert "64 x 3x3" in fig._suptitle.get_text()


def test_figures_save_as_svg_and_png(tmp_path):
    fig = plots.plot_history([("a", _history(2), 0.9)])
    fig.savefig(tmp_path / "h.svg")
    fig.savefig(tmp_path / "h.png")
    assert "<svg" in (tmp_path / "h.svg").read_text()[:500] and "Accuracy" in (tmp_path / "h.svg").read_text()
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feature_maps_wrong_image_size_is_a_plot_error(cnn):
    with pytest.raises(PlotError, match="cannot take images shaped"):
        plots.feature_maps(cnn, np.zeros((1, 8, 8), np.uint8))
    assert not cnn.training


def test_history_many_runs_share_one_legend_and_tick_each_epoch():
    runs = [(f"v{i}", _history(3, 0.5 + 0.05 * i), 0.8) for i in range(5)]
    fig = plots.plot_history(runs)
    assert len(fig.axes) == 2 and not fig.legends
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is not None  # one, beside the last panel
    assert list(fig.axes[0].get_xticks()) == [1, 2, 3]
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels[:3] == ["v0 train", "v0 val", "v0 test 80.00%"] and len(labels) == 15


def test_the_history_legend_never_covers_the_figures_title():
    """helper-244: the legend, at the figure's top right, covered the end of a long title's last line."""
    runs = [(f"variant-with-a-long-name,dataset=fashion-mnist-{i}", _history(2, 0.5 + 0.05 * i), 0.8) for i in range(6)]
    fig = plots.plot_history(runs)
    fig.suptitle("paper, mnist, fashion-mnist\n(test accuracy on part of the test set: 333 of mnist's 10,000 test images; "
                 "333 of fashion-mnist's 10,000 test images)", fontsize=10)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = fig.axes[1].get_legend().get_window_extent(renderer)
    title = fig._suptitle.get_window_extent(renderer)
    assert not legend.overlaps(title), (legend, title)
    assert legend.x1 <= fig.bbox.x1 + 1  # inside the figure


def test_seed_curves_draw_each_epochs_mean_in_a_band_of_one_sd():
    """helper-244: a paper's learning curves are a variant's mean +- sd over its seeds, one colour each."""
    a = [{"epoch": 1, "accuracy": 0.5, "val_accuracy": 0.6, "loss": 1.0}, {"epoch": 2, "accuracy": 0.7, "loss": 0.5}]
    b = [{"epoch": 1, "accuracy": 0.7, "val_accuracy": 0.8, "loss": 0.8}, {"epoch": 2, "accuracy": 0.9, "loss": 0.3}]
    c = [{"epoch": 1, "accuracy": 0.6, "val_accuracy": 0.7, "loss": 0.9}]  # stopped early: epoch 2 has two runs
    fig = plots.plot_history([plots.SeedCurves("cnn", [a, b, c], [0.9, 0.8, None]), ("dense", a, 0.7)])
    acc = fig.axes[0]
    lines = {line.get_label(): line for line in acc.get_lines()}
    assert list(lines["cnn (n=3) train"].get_ydata()) == pytest.approx([0.6, 0.8])
    assert list(lines["cnn (n=3) val"].get_ydata()) == pytest.approx([0.7])
    assert lines["cnn (n=3) test 85.00%"].get_ydata()[0] == pytest.approx(0.85)  # the mean of the runs that have one
    assert "dense train" in lines and acc.get_title() == "Accuracy: mean ± sd over seeds"
    bands = [np.asarray(p.get_paths()[0].vertices) for p in acc.collections]
    assert len(bands) == 2  # train and val of cnn; the one-run curve has none
    train_band = bands[0][:, 1]
    assert train_band.min() == pytest.approx(0.6 - 0.1) and train_band.max() == pytest.approx(0.8 + np.std([0.7, 0.9],
                                                                                                          ddof=1))
    with pytest.raises(PlotError, match="cnn: no runs to draw"):
        plots.plot_history([plots.SeedCurves("cnn", [])])


def test_a_confusion_matrix_normalised_as_scikit_learn_shows_shares_and_counts(fashion):
    """helper-244: a paper's confusion matrix is normalised by row, with the counts."""
    true = fashion.test_labels[:300]
    pred = np.where(np.arange(300) % 5 == 0, (true + 3) % 10, true)
    cm = confusion_matrix(true, pred, 10)
    for normalize, total in (("true", cm.sum(1, keepdims=True)), ("pred", cm.sum(0, keepdims=True)), ("all", cm.sum())):
        fig = plots.plot_confusion_matrix(cm, fashion.info.class_names, normalize=normalize)
        ax = fig.axes[0]
        share = np.divide(cm, total, out=np.zeros(cm.shape), where=total > 0)
        assert np.allclose(ax.images[0].get_array(), share)
        cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
        for (t, p), text in cells.items():
            if cm[t, p]:
                said, count = text.split("\n")
                assert int(count) == cm[t, p] and said == plots._share_said(share[t, p])
            else:
                assert text == "0"
        assert "counts below" in ax.get_title()
    assert (plots._share_said(0.9996), plots._share_said(0.0004), plots._share_said(0.25)) == (">99.9%", "<0.1%", "25.0%")
    with pytest.raises(PlotError, match=r'normalize must be one of true, pred, all .*did you mean "true"'):
        plots.plot_confusion_matrix(cm, normalize="ture")
    with pytest.raises(PlotError, match="normalize='true' draws each row's shares"):
        plots.plot_confusion_matrix(cm / cm.sum(1, keepdims=True))


def test_feature_maps_pick_layers_by_name(fashion, cnn):
    names = [name for name, _ in plots.feature_maps(cnn, fashion.test_images[:1])]
    assert len(names) == 4  # seed000-cnn: conv, pool, conv, pool
    fig = plots.plot_feature_maps(cnn, fashion.test_images[:2], 0, layers=[names[0], names[2]])
    assert len(fig.axes) == 4
    assert [ax.images[0].get_array().shape for ax in fig.axes[:2]] == [(26, 26), (11, 11)]
    with pytest.raises(PlotError, match="did you mean"):
        plots.feature_maps(cnn, fashion.test_images[:1], layers=[names[0] + "x"])


def test_a_stale_font_cache_says_nothing_while_a_figure_is_saved(tmp_path, data_dir):
    """New-user finding (19): with a font cache that lacks matplotlib's STIX fonts (left by another
    install), every figure with mathtext (a log axis's ticks) printed "findfont: Font family
    ['STIXGeneral'] not found" lines, 21 a report. The figure is drawn with the fallback font anyway."""
    import json
    import os
    import subprocess
    import sys

    from test_experiments import TINY, write

    from mnistlab.execute import run_experiment

    run_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n'), tmp_path / "store", data_dir=data_dir)
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, check=True)  # builds the cache
    [cache] = (tmp_path / "mpl").glob("fontlist-*.json")
    fonts = json.loads(cache.read_text())
    fonts["ttflist"] = [f for f in fonts["ttflist"] if "STIX" not in f["name"]]  # the stale cache
    cache.write_text(json.dumps(fonts))
    bare = ("import matplotlib.pyplot as plt; fig, ax = plt.subplots(); ax.set_xscale('log'); ax.plot([1e3, 1e5], "
            f"[1, 2]); fig.savefig({str(tmp_path / 'bare.png')!r})")
    said = subprocess.run([sys.executable, "-c", bare], env=env, capture_output=True, text=True)
    assert "findfont: Font family ['STIX" in said.stderr  # the cache is stale: matplotlib alone says so
    out = tmp_path / "params.png"
    ours = subprocess.run([sys.executable, "-m", "mnistlab", "plot", "params", "exp", "--store", str(tmp_path / "store"),
                           "-o", str(out)], env=env, capture_output=True, text=True)
    assert ours.returncode == 0 and "findfont" not in ours.stderr and out.read_bytes()[:4] == b"\x89PNG", ours.stderr


# --------------------------------------------------------------------------- drawing many figures at once


_MARKED = """
import os, sys
from pathlib import Path
from matplotlib.artist import Artist
from mnistlab import plots

log, count, jobs, die = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "die"
here = os.getpid()

class PidMark(Artist):  # notes the process that draws it; "die": kills any other process that draws it
    def draw(self, renderer):
        if die and os.getpid() != here:
            os._exit(3)
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\\n")

figures = []
for i in range(count):  # each figure different, so that order mistakes show
    fig = plots.plot_comparison([{"variant": f"v{j}", "test_acc_mean": 0.5 + 0.05 * ((i + j) % 7), "n": 1}
                                 for j in range(i + 1)])
    fig.add_artist(PidMark())
    figures.append(fig)
pngs = plots.render_pngs(figures, jobs=jobs)
Path(str(log) + ".png").write_bytes(b"".join(len(p).to_bytes(8, "little") + p for p in pngs))
print(here)
"""


def _render_marked(log: Path, count: int, jobs: int, die: bool = False) -> tuple[list[bytes], int, set[int]]:
    """render_pngs of ``count`` marked figures in a fresh process (one Python thread, as the CLI):
    (the PNGs, that process's pid, the pids that drew the figures)."""
    done = subprocess.run([sys.executable, "-c", _MARKED, str(log), str(count), str(jobs), "die" if die else "live"],
                          capture_output=True, text=True, timeout=300, check=True)
    blob, pngs = Path(str(log) + ".png").read_bytes(), []
    while blob:
        size = int.from_bytes(blob[:8], "little")
        pngs.append(blob[8: 8 + size])
        blob = blob[8 + size:]
    return pngs, int(done.stdout.split()[-1]), {int(line) for line in log.read_text().split()}


@pytest.mark.skipif(sys.platform != "linux", reason="figures are drawn in forked processes on Linux only")
def test_figures_drawn_at_once_are_the_bytes_drawn_one_by_one_in_order_by_other_processes(tmp_path):
    one_by_one, serial_pid, serial_drawers = _render_marked(tmp_path / "serial", 5, jobs=1)
    at_once, forked_pid, forked_drawers = _render_marked(tmp_path / "forked", 5, jobs=2)
    assert [png[:8] for png in at_once] == [b"\x89PNG\r\n\x1a\n"] * 5
    assert at_once == one_by_one  # same bytes, same order (each figure differs)
    assert len(set(at_once)) == 5
    assert serial_drawers == {serial_pid}
    assert forked_pid not in forked_drawers and len(forked_drawers) >= 1


def test_figures_are_drawn_here_while_another_python_thread_runs(tmp_path):
    # a thread may hold a lock (logging's, a stream's) that a forked child would inherit held
    class Mark(Artist):
        def draw(self, renderer) -> None:
            with open(tmp_path / "log", "a") as f:
                f.write(f"{os.getpid()}\n")

    figures = [plots.plot_comparison([{"variant": "a", "test_acc_mean": 0.5 + i / 10, "n": 1}]) for i in range(3)]
    for fig in figures:
        fig.add_artist(Mark())
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        pngs = plots.render_pngs(figures, jobs=2)
    finally:
        release.set()
        other.join()
    assert len(pngs) == 3 and {int(n) for n in (tmp_path / "log").read_text().split()} == {os.getpid()}


@pytest.mark.skipif(sys.platform != "linux", reason="figures are drawn in forked processes on Linux only")
def test_a_renderer_that_dies_leaves_the_figures_to_this_process(tmp_path):
    pngs, pid, drawers = _render_marked(tmp_path / "log", 4, jobs=2, die=True)
    assert pngs == _render_marked(tmp_path / "again", 4, jobs=1)[0]
    assert drawers == {pid}


def test_the_n_labels_stay_inside_the_axes_below_the_title():
    """New-user finding (helper-109): over a wide range of accuracies the highest variant's "n=3"
    stood on the title (the axis kept 0.02 above it, whatever its scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rows = [{"variant": v, "acc": a, "test_acc": a, "test_acc_std": sd, "n": 3}
            for v, a, sd in (("a", 0.72, 0.0557), ("b", 0.80, 0.02), ("c", 0.21, 0.02))]
    fig = plots.plot_comparison(rows)
    (ax,) = fig.axes
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    top = ax.get_window_extent(renderer).y1
    assert [t.get_text() for t in ax.texts] == ["n=3"] * 3
    assert all(t.get_window_extent(renderer).y1 <= top for t in ax.texts)


def test_a_residual_model_s_layer_paths_do_not_overlap_as_column_titles(fashion):
    """New-user finding (helper-109): a residual block's layers are named by their path
    (residual_block.add.branch.conv2d_1), and in one line each title ran into the next one's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    model = build_model(resolve_model("resnet20"), seed=0).eval()
    fig = plots.plot_feature_maps(model, fashion.test_images[:2], layers=4)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    titles = [ax.title for ax in fig.axes[:4]]
    assert all(max(len(line) for line in t.get_text().splitlines()) <= 26 for t in titles)
    # helper-138: the summary's names ("conv2d_1"), not module paths ("residual_block.add.branch.conv2d_1")
    assert all("." not in t.get_text().split(" (")[0] for t in titles), [t.get_text() for t in titles]
    boxes = [t.get_window_extent(renderer) for t in titles]
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]


def test_plot_history_takes_runs_and_kerass_history_dict_and_refuses_the_rest_in_one_line(data_dir: Path) -> None:
    """helper-117: plot_history([run]), a Keras history.history dict and (label, history) pairs raised
    TypeError/AttributeError from inside; plot_confusion_matrix(run) an IndexError."""
    from mnistlab import train

    run = train("mnist", "seed000-dense", epochs=2, data_dir=data_dir, progress="none", subset=120, validation=0.2)
    accs = [e["accuracy"] for e in run.history]
    test = f"{run.test_accuracy:.2%}"
    for given, labels in (([run], ["seed000-dense train", "seed000-dense val", f"seed000-dense test {test}"]),
                          ([("k", run.history.history, run.test_accuracy)], ["k train", "k val", f"k test {test}"]),
                          ([("p", list(run.history))], ["p train", "p val"]),
                          (run, ["seed000-dense train", "seed000-dense val", f"seed000-dense test {test}"]),  # alone
                          (run.history, ["run train", "run val"]), (run.history.history, ["run train", "run val"]),
                          ([run.history.history, run.history.history], ["run 1 train", "run 1 val", "run 2 train",
                                                                         "run 2 val"]),  # review: a traceback
                          ((r for r in [run]), ["seed000-dense train", "seed000-dense val", f"seed000-dense test {test}"]),
                          ([run, run], ["seed000-dense (#1) train", "seed000-dense (#1) val",  # (helper-237: both read
                                        f"seed000-dense (#1) test {test}", "seed000-dense (#2) train",  # "run train",
                                        "seed000-dense (#2) val", f"seed000-dense (#2) test {test}"])):  # one unlisted)
        # (helper-157: one run, or its history, given alone: "'Run' object is not iterable", "got dict")
        fig = plots.plot_history(given)
        assert fig.axes[0].get_legend_handles_labels()[1] == labels
        assert list(fig.axes[0].lines[0].get_ydata()) == accs
    for bad in (["cnn"], [("x", "not a history", None)]):
        with pytest.raises(PlotError, match="plot_history takes|a history is a list of per-epoch dicts"):
            plots.plot_history(bad)
    for bad in (run, np.zeros((3, 4)), np.zeros(5)):
        with pytest.raises(PlotError, match="plot_confusion_matrix takes a square matrix of counts"):
            plots.plot_confusion_matrix(bad)
    for bad in ([[0.9, 0.1], [0.25, 0.75]], [[5, -2], [1, 3]], [[1, np.nan], [0, 2]], [[1, np.inf], [0, 2]]):
        with pytest.raises(PlotError, match="takes counts .whole numbers from 0., not fractions"):  # (helper-237: drawn
            plots.plot_confusion_matrix(np.array(bad))  # as 0s, or a bare ValueError for NaN)


def test_a_blown_up_loss_puts_the_loss_panel_on_a_log_scale():
    """helper-129: a diverged run's loss (1.56e8) drew every other run's loss curve flat at 0."""
    calm = [{"epoch": e, "loss": 0.5 / e, "accuracy": 0.8} for e in (1, 2, 3)]
    wild = [{"epoch": e, "loss": 10.0 ** (3 * e), "accuracy": 0.1} for e in (1, 2, 3)]
    assert plots.plot_history([("calm", calm)]).axes[1].get_yscale() == "linear"
    ax = plots.plot_history([("calm", calm), ("wild", wild)]).axes[1]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (log scale)"


def test_rows_not_drawn_are_named_under_the_axis():
    """helper-129: `plot compare` left out a variant whose runs failed without a word, `plot params`
    a committee across variants (no parameter count of its own), and moved points of one size apart
    unsaid; `plot params --variant mix` blamed unfinished runs."""
    failed = {"variant": "huge", "n": 0, "test_acc": None, "note": "no result: 1 failed; `mnistlab show ab` says why"}
    across = dict(ROWS[1], variant="mix", params=None, note="committee of a + b")
    ax = plots.plot_comparison([*ROWS, failed]).axes[0]
    assert ax.get_xlabel() == "variant\nnot drawn: huge (no result: 1 failed)"
    ax = plots.plot_accuracy_vs_params([*ROWS, dict(ROWS[0], variant="twin"), across]).axes[0]
    assert ax.get_xlabel().startswith("parameters (variants of one value drawn a few points apart)\nnot drawn: mix (no "
                                      "parameters: a committee across variants has none of its own)"), ax.get_xlabel()
    with pytest.raises(PlotError, match=r"^mix: no params of its own \(a committee across variants has none\)"):
        plots.plot_accuracy_vs_params([across])
    with pytest.raises(PlotError, match=r"^nothing to draw: no variant has a result: huge \(no result: 1 failed\)$"):
        plots.plot_comparison([failed])  # helper-130: "no comparison rows with a test accuracy and variant"


def test_a_history_of_losses_alone_has_its_legend_and_a_long_healthy_fall_stays_linear():
    """helper-131: the one legend took the accuracy panel's curves alone, empty for Keras's
    `history.history` of losses; a healthy run falling from 2.3 to 1e-4 went on a log scale."""
    fig = plots.plot_history([("a", {"loss": [0.9, 0.5]}, None), ("b", {"loss": [0.8, 0.4]}, None)])
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["a train", "b train"]
    falling = [{"epoch": e, "loss": 2.3 * 0.3 ** e, "accuracy": 0.9} for e in range(1, 10)]
    assert plots.plot_history([("long", falling)]).axes[1].get_yscale() == "linear"


def test_a_given_image_is_drawn_as_the_model_read_it_not_as_its_pixel_codes():
    """helper-181: chalk on a transparent sheet (light strokes, every other pixel transparent black)
    was drawn on white, so the first column looked blank though the model read it on black; a
    palette image was drawn by its palette indices and a CMYK JPEG's four channels as RGBA."""
    from PIL import Image, ImageDraw

    chalk = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(chalk).line((30, 5, 30, 55), fill=(255, 255, 255, 255), width=6)
    ink = Image.new("RGB", (60, 60), "white")
    ImageDraw.Draw(ink).line((30, 5, 30, 55), fill="black", width=6)
    sheet = ink.copy()
    sheet.putalpha(ink.convert("L").point(lambda v: 255 - v))  # dark ink, the paper made transparent
    palette, cmyk = ink.convert("P"), ink.convert("CMYK")
    seen = np.zeros((4, 28, 28), np.uint8)
    fig = plots.plot_predictions([chalk, sheet, palette, cmyk], seen, np.eye(10)[[1, 1, 1, 1]], None, list("abcd"))
    drawn = [fig.axes[3 * k].images[0].get_array() for k in range(4)]
    assert [a.shape for a in drawn] == [(60, 60, 3)] * 4
    corner, stroke = (0, 0), (30, 30)
    assert tuple(drawn[0][corner]) == (0, 0, 0) and tuple(drawn[0][stroke]) == (255, 255, 255)  # chalk on black
    for a in drawn[1:]:  # dark ink on white, as in the file
        assert tuple(a[corner]) == (255, 255, 255) and tuple(a[stroke]) == (0, 0, 0)
    big = Image.new("RGB", (4000, 1000), "white")
    assert plots.plot_predictions([big], seen[:1], np.eye(10)[[1]], None, ["e"]).axes[0].images[0].get_array().shape[1] <= 512


def test_a_figure_with_names_in_a_right_to_left_script_says_they_are_drawn_left_to_right(tmp_path):
    """helper-184: a class "ארבע" was drawn "עברא" (and Arabic's letters unjoined) with no word,
    where CJK names missing from the font get a warning."""
    import io
    import warnings

    from mnistlab.errors import ReportWarning

    cm = np.array([[3, 1], [0, 4]])
    for names, said in ((["ארבע", "ثلاثة"], True), (["four", "drei 日本"], False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plots.save(plots.plot_confusion_matrix(cm, names), io.BytesIO(), format="png")
        rtl = [w for w in caught if issubclass(w.category, ReportWarning) and "right-to-left" in str(w.message)]
        assert len(rtl) == said, [str(w.message) for w in caught]


def test_plot_history_of_a_stores_records_tells_them_apart(recorded):
    """helper-186: a RunRecord (which now has test_accuracy, as a Run) was labelled by its model's name
    alone: two seeds of one variant drew two curves named alike."""
    from mnistlab.store import RunStore

    root, ids = recorded
    records = [RunStore(root).get(ids[k]) for k in ("cnn0", "cnn1")]
    fig = plots.plot_history(records)
    labels = [line.get_label() for ax in fig.axes for line in ax.lines if line.get_label().endswith(" train")]
    assert sorted(set(labels)) == ["cnn seed 0 train", "cnn seed 1 train"], labels


def test_a_comparison_of_many_variants_draws_the_best_and_says_so() -> None:
    """helper-196: 120 variants drew an image 11,000 pixels wide, none of its names readable."""
    from mnistlab.errors import ReportWarning
    from mnistlab.plots import MAX_POINTS, plot_comparison

    rows = [dict(variant=f"v{i}", n=2, test_acc=0.5 + i / 1000, test_acc_std=0.01) for i in range(MAX_POINTS + 5)]
    rows.append(dict(variant="broke", n=0, test_acc=None, note="no result: 2 failed"))
    with pytest.warns(ReportWarning, match=f"draws the {MAX_POINTS} best of {MAX_POINTS + 5} variants"):
        fig = plot_comparison(rows)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == [f"v{i}" for i in range(5, MAX_POINTS + 5)]  # the best, in their order
    assert f"the {MAX_POINTS} best of {MAX_POINTS + 5} variants" in ax.get_title()
    assert "not drawn: broke (no result: 2 failed)" in ax.get_xlabel() and "v0" not in ax.get_xlabel()


def test_misclassified_leaves_out_images_given_with_their_right_class_and_says_so() -> None:
    """helper-211: a grid titled "Misclassified" of tiles reading 7/7, 2/2: every prediction was given."""
    from mnistlab.errors import ReportWarning
    from mnistlab.plots import plot_misclassified

    images = np.zeros((4, 28, 28), dtype=np.uint8)
    with pytest.warns(ReportWarning, match="2 of the 4 images given are classified right, left out"):
        fig = plot_misclassified(images, [1, 2, 3, 4], [1, 5, 3, 6], [str(d) for d in range(10)], index=[10, 11, 12, 13])
    shown = sorted(t.get_text() for ax in fig.axes for t in ax.texts)
    assert shown == ["2", "4", "5", "6"] and [ax.get_xlabel() for ax in fig.axes] == ["#11", "#13"]
    one_hot = np.eye(10)[[2, 4]]  # (helper-213: one-hot labels, as evaluate takes them, were a TypeError)
    fig = plot_misclassified(images[:2], one_hot, [5, 6], [str(d) for d in range(10)])
    assert sorted(t.get_text() for ax in fig.axes for t in ax.texts) == ["2", "4", "5", "6"]


def test_feature_maps_of_more_layers_than_the_model_has_says_so(data_dir: Path) -> None:
    """helper-237: plot_feature_maps(run, x, layers=9) on a model of 4 conv/pool layers drew 4, unsaid."""
    from mnistlab import train
    from mnistlab.errors import ReportWarning

    run = train("mnist", "seed000-cnn", epochs=1, data_dir=data_dir, progress="none", subset=120, store=False)
    x = load_dataset("mnist", data_dir).test_images[:2]
    with pytest.warns(ReportWarning, match=r"layers=9, and the model has 4 convolution or pooling layers: all of them"):
        fig = plots.plot_feature_maps(run, x, layers=9)
    assert len(fig.axes) >= 4
    import warnings

    with warnings.catch_warnings():  # `plot --layers` (at most that many, 4 by default) asks it unsaid
        warnings.simplefilter("error", ReportWarning)
        plots.plot_feature_maps(run, x, layers=9, warn=False)
