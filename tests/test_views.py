"""views.py: figures of recorded runs, and `mnistlab plot`, from a real run store holding tiny real runs."""

from __future__ import annotations

import warnings
import json
import re
from pathlib import Path
from typing import Any

import matplotlib.colors as mcolors
import numpy as np
import pytest
from PIL import Image

from mnistlab import views
from mnistlab.cli import main
from mnistlab.datasets import load_dataset
from mnistlab.errors import PlotError, ReportWarning, StoreError
from mnistlab.metrics import confusion_matrix
from mnistlab.store import RunStore

HOSTILE = "<script>alert(1)</script>"
EXPERIMENT = "tiny"  # the experiment of the `recorded` store (conftest.py)


def test_resolve_runs_by_experiment_variant_and_id(recorded):
    root, ids = recorded
    store = RunStore(root)
    runs = views.resolve_runs(store, EXPERIMENT)
    assert {r.run_id for r in runs} == {ids["cnn0"], ids["cnn1"], ids["dense"]}  # finished only
    assert [r.seed for r in views.resolve_runs(store, EXPERIMENT, "cnn")] == [0, 1]
    assert [r.run_id for r in views.resolve_runs(store, ids["cnn1"][:8])] == [ids["cnn1"]]
    with pytest.raises(StoreError, match='did you mean "cnn"'):
        views.resolve_runs(store, EXPERIMENT, "cnnn")
    with pytest.raises(StoreError, match=r"no experiment file, experiment or run named 'nothing-here'.*"
                                         r"experiments: tiny \(4 runs\)"):
        views.resolve_runs(store, "nothing-here")


def test_history_of_a_variant_overlays_its_seeds(recorded):
    root, _ = recorded
    fig = views.figure_for("history", RunStore(root), EXPERIMENT, variant="cnn")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["seed 0 train", "seed 0 val"] and "seed 1 train" in labels
    assert sum(lab.startswith("seed") and "test" in lab for lab in labels) == 2


def test_several_variants_draw_and_compare_together_and_one_model_takes_one(recorded, tmp_path, capsys):
    root, _ = recorded
    store = RunStore(root)
    fig = views.figure_for("history", store, EXPERIMENT, variant=["cnn", HOSTILE])
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert {"cnn (n=2) train", f"{HOSTILE} train"} <= labels, labels  # a variant's seeds as one curve (helper-244)
    fig = views.figure_for("history", store, EXPERIMENT, variant=["cnn", HOSTILE], each_seed=True)
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert {"cnn seed 0 train", "cnn seed 1 train", f"{HOSTILE} seed 0 train"} <= labels, labels
    fig = views.figure_for("compare", store, EXPERIMENT, variant=["cnn"])  # was: every variant, --variant ignored
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cnn"]
    with pytest.raises(PlotError, match="confusion draws one model: give one --variant, not 2"):
        views.figure_for("confusion", store, EXPERIMENT, variant=["cnn", HOSTILE])
    with pytest.raises(StoreError, match='no row "cnnn" to compare \\(did you mean "cnn"\\?\\)'):
        views.figure_for("params", store, EXPERIMENT, variant=["cnn", "cnnn"])

    args = ["--store", str(root)]
    assert main(["compare", EXPERIMENT, "--variant", "cnn", "--format", "json", *args]) == 0
    assert [r["variant"] for r in json.loads(capsys.readouterr().out)] == ["cnn"]
    assert main(["compare", EXPERIMENT, "--variant", "cnn", "--variant", HOSTILE, "--format", "json", *args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["cnn", HOSTILE]
    assert main(["plot", "history", EXPERIMENT, "--variant", "cnn", "--variant", HOSTILE, "-o",
                 str(tmp_path / "h.png"), *args]) == 0
    capsys.readouterr()
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(image)
    for argv, fragment in (
            (["compare", EXPERIMENT, "--variant", "cnnn"], 'has no row "cnnn" to compare (did you mean "cnn"?)'),
            (["compare", "a", "b", "--variant", "cnn"], "--variant goes with one experiment, not with several"),
            (["predict", EXPERIMENT, "--variant", "cnn", "--variant", HOSTILE, str(image)], "given 2 variants"),
            (["export", EXPERIMENT, "--variant", "cnn", "--variant", HOSTILE, "-o", str(tmp_path / "m.onnx")],
             "given 2 variants")):
        assert main([*argv, *args]) == 2
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "m.onnx").exists()
    assert main(["predict", EXPERIMENT, "--variant", "cnn", "--variant", "cnn", str(image), *args]) == 0  # one name


def test_error_figures_match_stored_predictions(recorded, data_dir):
    root, ids = recorded
    store = RunStore(root)
    probs = store.load_predictions(ids["cnn0"])
    ds = load_dataset("fashion-mnist", data_dir)
    true, pred = ds.test_labels[: len(probs)], probs.argmax(1)
    fig = views.figure_for("confusion", store, ids["cnn0"], data_dir=data_dir)
    assert np.array_equal(fig.axes[0].images[0].get_array(), confusion_matrix(true, pred, 10))
    fig = views.figure_for("misclassified", store, ids["cnn0"], data_dir=data_dir, max_images=6)
    wrong = np.flatnonzero(true != pred)
    assert len(fig.axes) == min(6, len(wrong)) > 0
    most_confident = wrong[np.argmax(probs[wrong, pred[wrong]])]  # the grid opens with the surest mistake
    first = {t.get_gid(): t for t in fig.axes[0].texts}
    assert first["true"].get_text() == ds.info.class_names[int(true[most_confident])]
    assert first["pred"].get_text() == ds.info.class_names[int(pred[most_confident])]
    assert mcolors.to_hex(first["pred"].get_color()) == "#ff0000"
    fig = views.figure_for("per-class", store, ids["cnn0"], data_dir=data_dir)
    assert len(fig.axes[0].patches) == 10
    # helper-114: the PNG alone names what it is of (it said so only on the terminal)
    said = f"run {ids['cnn0']}, cnn, tiny, fashion-mnist"
    assert said in fig.axes[0].get_title()
    fig = views.figure_for("misclassified", store, ids["cnn0"], data_dir=data_dir, max_images=6)
    assert said in fig._suptitle.get_text() and "(red, right)" in fig._suptitle.get_text()
    fig = views.figure_for("samples", store, ids["cnn0"], data_dir=data_dir)
    assert fig._suptitle.get_text() == "fashion-mnist, train set" and len(fig.axes) == 25


def test_misclassified_images_are_named_by_their_test_index_when_rows_are_left_out(data_dir):
    """Review: the "#89" under each image counted from the rows left after non-finite outputs were
    dropped, not the test set's own indices."""
    ds = load_dataset("fashion-mnist", data_dir)
    true = np.asarray(ds.test_labels[:6])
    probs = np.eye(10)[(true + 1) % 10] * 0.9 + 0.01  # every image wrong
    probs[0] = np.nan  # image 0 has no prediction: left out
    with pytest.warns(ReportWarning, match="1 of 6 test images have no prediction"):
        fig = views._prediction_figure("misclassified", "run r", ds, np.asarray(ds.test_images[:6]), true, probs, 25)
    assert sorted(int(ax.get_xlabel().split()[0][1:]) for ax in fig.axes) == [1, 2, 3, 4, 5]


def test_network_figures_use_stored_weights(recorded, data_dir):
    root, ids = recorded
    store = RunStore(root)
    fig = views.figure_for("feature-maps", store, ids["cnn1"], data_dir=data_dir, images=[0, 23, 28], filter_index=2)
    assert len(fig.axes) == 12 and fig.axes[0].images[0].get_cmap().name == "inferno"
    fig = views.figure_for("filters", store, ids["cnn1"])
    weights = store.load_model(ids["cnn1"]).state_dict()
    first = next(v for k, v in weights.items() if k.endswith("weight") and v.dim() == 4)
    assert np.allclose(fig.axes[0].images[0].get_array(), first[0, 0].numpy())
    with pytest.raises(PlotError, match="no convolution"):
        views.figure_for("filters", store, ids["dense"])
    with pytest.raises(PlotError, match="out of range"):
        views.figure_for("feature-maps", store, ids["cnn1"], data_dir=data_dir, images=[10_000])


def test_feature_map_rows_name_the_test_index_and_class_asked_for(recorded, data_dir, tmp_path, capsys):
    root, ids = recorded
    names = load_dataset("fashion-mnist", data_dir).info.class_names
    labels = load_dataset("fashion-mnist", data_dir).test_labels
    fig = views.figure_for("feature-maps", RunStore(root), ids["cnn0"], data_dir=data_dir, images=[0, 2, 23], layers=2)
    rows = [fig.axes[i].get_ylabel() for i in (0, 2, 4)]
    pred = RunStore(root).load_predictions(ids["cnn0"]).argmax(1)  # helper-154: a wrong prediction is said
    assert rows == [f"test #{i}: {names[int(labels[i])]}" + (f",\npredicted {names[int(pred[i])]}" if pred[i] != labels[i]
                                                             else "") for i in (0, 2, 23)]
    assert rows[1].startswith("test #2: Trouser")  # (fashion-mnist's test image 2 is a pair of trousers)
    assert any(",\npredicted " in r for r in rows) or all(pred[i] == labels[i] for i in (0, 2, 23))
    # helper-154: by default 0, 23 and 28, MNIST's 7, 5 and 0; on Fashion-MNIST three ankle boots: the first of
    assert views.feature_images(labels) == (0, 1, 2)  # three classes instead (boot, pullover, trouser)
    assert views.feature_images(load_dataset("mnist", data_dir).test_labels) == (0, 23, 28)
    fig = views.figure_for("feature-maps", RunStore(root), ids["cnn0"], data_dir=data_dir, layers=1)
    assert [fig.axes[i].get_ylabel().split(":")[0] for i in range(3)] == ["test #0", "test #1", "test #2"]
    # Through the CLI: the SVG keeps each label's text (as a comment beside its glyphs).
    out = tmp_path / "maps.svg"
    assert main(["plot", "feature-maps", ids["cnn0"], "--images", "0,2,23", "--store", str(root),
                 "--data-dir", str(data_dir), "-o", str(out)]) == 0, capsys.readouterr().err
    svg = out.read_text()
    assert all(line in svg for label in rows for line in label.split("\n")) and "image 1" not in svg


def test_a_lecturers_figures_every_filter_of_one_digit_slides_and_editable_text(recorded, data_dir, tmp_path, capsys):
    """helper-226: the 64 maps of the first layer for one chosen digit took 64 commands; the figure of
    one image and one layer cut its title; figures were unreadable on a projector; SVG text was
    outlines; a figure written over an earlier one said nothing; the accuracy axis was a fraction
    beside a legend in percent; the digits 0-9 of a confusion matrix were turned 45 degrees."""
    from matplotlib.ticker import PercentFormatter

    from mnistlab import plots

    root, ids = recorded
    model = RunStore(root).load_model(ids["cnn0"])
    ds = load_dataset("fashion-mnist", data_dir)
    fig = plots.plot_feature_maps(model, ds.test_images[[5]], None, 1, labels=["test #5"])
    filters = plots.feature_maps(model, ds.test_images[[5]], 1)[0][1].shape[1]
    assert len(fig.axes) == filters + 1 and fig.axes[0].get_title() == "test #5"
    assert [ax.get_title() for ax in fig.axes[1:]] == [f"filter {f}" for f in range(filters)]
    one = plots.plot_feature_maps(model, ds.test_images[[5]], 0, 1)
    assert one.get_size_inches()[0] >= 5.5  # room for its title
    out, flags = tmp_path / "all.svg", ["--store", str(root), "--data-dir", str(data_dir)]
    for again in (False, True):
        assert main(["plot", "feature-maps", ids["cnn0"], "--filter", "all", "--images", "1234", "-o", str(out),
                     "--font-scale", "1.5", *flags]) == 0
        said = capsys.readouterr().out
        assert said.startswith(f"wrote {out} (replacing the file there)" if again else f"wrote {out}:"), said
    svg = out.read_text()
    assert svg.count("<text") > filters and ">filter 0<" in svg  # text, not outlines: editable on a slide
    assert main(["plot", "feature-maps", ids["cnn0"], "--filter", "all", "--images", "1,2", "-o", str(out), *flags]) == 2
    assert "--filter all draws every filter for one image" in capsys.readouterr().err
    for bad, said in ((["--filter", "some"], "neither a filter index"), (["--filter", "-1"], "a filter index is 0 or more"),
                      (["--font-scale", "nan"], "not a finite number"), (["--font-scale", "0"], "--font-scale")):
        assert main(["plot", "feature-maps", ids["cnn0"], *bad, "-o", str(out), *flags]) == 2, bad
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and said in err, (bad, err)  # one line, no traceback
    base = views.figure_for("history", RunStore(root), ids["cnn0"])
    bigger = plots.scale_fonts(views.figure_for("history", RunStore(root), ids["cnn0"]), 1.5)
    assert bigger.axes[0].title.get_fontsize() == pytest.approx(1.5 * base.axes[0].title.get_fontsize())
    assert bigger.get_size_inches()[0] == pytest.approx(base.get_size_inches()[0] * 1.5 ** 0.5)
    assert isinstance(base.axes[0].yaxis.get_major_formatter(), PercentFormatter)
    digits = plots.plot_confusion_matrix(np.eye(10) * 5, [str(d) for d in range(10)])
    assert [t.get_rotation() for t in digits.axes[0].get_xticklabels()] == [0] * 10
    names = plots.plot_confusion_matrix(np.eye(10) * 5, ds.info.class_names)  # clothes' names: turned, to fit
    assert [t.get_rotation() for t in names.axes[0].get_xticklabels()] == [45] * 10


def _stopped_in_epoch_2(model: str, data_dir: Path, tmp_path: Path) -> tuple[RunStore, Any]:
    """A run of ``model`` stopped by Ctrl-C as its second of 3 epochs begins, recorded in a store
    under ``tmp_path``: the store and the Run as it ended."""
    import os
    import signal

    from mnistlab import TrainingInterrupted
    from mnistlab.callbacks import Callback
    from mnistlab.run import train

    class CtrlCInEpoch2(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as stopped:
        train("mnist", model, epochs=3, data_dir=data_dir, progress="none", subset=240, callbacks=[CtrlCInEpoch2()],
              store=tmp_path / "runs")
    return RunStore(tmp_path / "runs", create=False), stopped.value.run


def test_figures_of_an_interrupted_runs_model_say_so_as_its_test_figures_do(data_dir, tmp_path, capsys):
    """helper-226: feature maps and filters of a run stopped in its first epoch looked like a result."""
    store, stopped = _stopped_in_epoch_2("seed000-cnn", data_dir, tmp_path)
    run_id = stopped.run_id
    for kind in ("feature-maps", "filters"):
        with pytest.warns(ReportWarning, match=f"run {run_id} was interrupted after 1 of 3 epochs: its weights are "
                                               "those at the stop"):
            fig = views.figure_for(kind, store, run_id, data_dir=data_dir)
        assert "(run interrupted after 1 of 3 epochs: the weights at the stop)" in fig.get_suptitle(), kind
    from mnistlab import plots

    with pytest.warns(ReportWarning, match="the run interrupted: its weights are those at the stop"):  # in Python
        plots.plot_feature_maps(stopped, load_dataset("mnist", data_dir).test_images[:1], 0, 1)  # too (helper-229)
    assert main(["report", run_id, "--store", str(store.root), "--data-dir", str(data_dir),
                 "-o", str(tmp_path / "r.html")]) == 0  # a run id stands for its experiment: said
    assert f"note: {run_id} is a run of experiment train: the report is of the experiment" in capsys.readouterr().err


def test_data_figures_from_a_run(recorded, data_dir):
    root, ids = recorded
    fig = views.figure_for("samples", RunStore(root), ids["cnn0"], data_dir=data_dir, rows=2, cols=3)
    assert len(fig.axes) == 6
    fig = views.figure_for("image", RunStore(root), ids["cnn0"], data_dir=data_dir, index=5, split="test")
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("test image 5: ")


@pytest.mark.parametrize("kind, opts", [("history", []), ("confusion", ["--variant", "cnn"]),
                                        ("feature-maps", ["--variant", "cnn", "--filter", "1"]),
                                        ("filters", ["--variant", "cnn"]), ("samples", [])])
def test_plot_cli_writes_figures(recorded, data_dir, tmp_path, capsys, kind, opts):
    root, _ = recorded
    out = tmp_path / f"{kind}.svg"
    code = main(["plot", kind, EXPERIMENT, "--store", str(root), "--data-dir", str(data_dir), *opts, "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_plot_cli_user_errors_are_one_line(recorded, data_dir, tmp_path, capsys):
    root, ids = recorded
    out = str(tmp_path / "x.png")
    cases = [(["plot", "history", "nope"], "no experiment file, experiment or run named 'nope'"),
             (["plot", "history", EXPERIMENT, "--variant", "cnm"], 'did you mean "cnn"'),
             (["plot", "filters", ids["dense"]], f"the model of variant {HOSTILE} (run {ids['dense']}) has no convolution"),
             (["plot", "feature-maps", ids["dense"]],  # helper-146: whose model, where it said "the model"
              f"the model of variant {HOSTILE} (run {ids['dense']}) has no convolution or pooling layers"),
             (["plot", "feature-maps", ids["cnn0"], "--images", "1,,2"], "got '1,,2'"),  # helper-146: read as 1,2
             (["plot", "feature-maps", ids["cnn0"], "--images", "1,"], "got '1,'"),
             (["plot", "feature-maps", ids["cnn0"], "--images", "3,1,3"], "--images: image 3 is given twice"),
             (["plot", "feature-maps", ids["cnn0"], "--filter", "999"], "filter 999 out of range"),
             (["plot", "image", ids["cnn0"], "--index", "-1"], "out of range"),
             # helper-129: an option of another kind of figure was taken and did nothing
             (["plot", "samples", ids["cnn0"], "--index", "5"], "--index applies to plot image, not to plot samples"),
             (["plot", "history", ids["cnn0"], "--images", "3"], "--images applies to plot feature-maps, not to plot"),
             (["plot", "image", ids["cnn0"], "--max-images", "3"], "--max-images applies to plot misclassified, not")]
    for argv, message in cases:
        assert main([*argv, "--store", str(root), "--data-dir", str(data_dir), "-o", out]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not Path(out).exists()


def test_resolve_runs_hints(recorded):
    root, _ = recorded
    store = RunStore(root)
    with pytest.raises(StoreError, match='did you mean "tiny"'):
        views.resolve_runs(store, "tiyn")
    with pytest.raises(StoreError, match="abcdef"):
        views.resolve_runs(store, "abcdef")
    other = RunStore(root.parent / "other-store")
    failed = other.start_run(experiment="half", variant="a", seed=0, member=0, config={}, config_hash="x")
    other.finish_run(failed, status="diverged", history=[], metrics={}, env={})
    with pytest.raises(StoreError, match="no finished runs \\(its runs are: diverged\\)"):
        views.resolve_runs(other, "half")


def test_comparison_figures_from_compare_rows(recorded):
    root, _ = recorded
    store = RunStore(root)
    fig = views.figure_for("compare", store, EXPERIMENT)
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == sorted(["cnn", HOSTILE])  # the failed variant has no point
    assert sorted(round(float(y), 6) for y in ax.get_lines()[0].get_ydata()) == sorted(
        round(float(np.mean([r.metrics["test_accuracy"] for r in store.runs(EXPERIMENT) if r.variant == v])), 6)
        for v in ("cnn", HOSTILE))
    fig = views.figure_for("params", store, EXPERIMENT)
    assert sorted(c.lines[0].get_xdata()[0] for c in fig.axes[0].containers) == [101_770, 243_786]
    fig = views.figure_for("time", store, EXPERIMENT)
    assert len(fig.axes[0].containers) == 2  # the failed variant named under the axis (helper-129)
    assert fig.axes[0].get_xlabel() == "training time (s)\nnot drawn: broken (no result: 1 failed)"


def test_unknown_kind_did_you_mean():
    with pytest.raises(PlotError, match='did you mean "confusion"'):
        views.check_kind("confussion")
    for kind in views.FIGURE_KINDS:
        views.check_kind(kind)


def test_plot_cli_bad_kind_and_extension(tmp_path, capsys):
    assert main(["plot", "confussion", "abc", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'did you mean "confusion"' in err
    assert main(["plot", "confusion", "abc", "-o", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".png" in err and ".svg" in err
    assert main(["plot", "feature-maps", "abc", "--images", "1,x", "-o", str(tmp_path / "x.png")]) == 2
    assert "--images" in capsys.readouterr().err
    many = ",".join(map(str, range(300)))  # a row per image: refused before any model loads
    assert main(["plot", "feature-maps", "abc", "--images", many, "-o", str(tmp_path / "x.png")]) == 2
    assert "--images: at most 16 images, got 300" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_damaged_artifacts_give_one_line_errors(recorded, data_dir, tmp_path, capsys):
    root, ids = recorded
    store = RunStore(tmp_path / "damaged")
    src = RunStore(root).get(ids["cnn0"])
    run_id = store.start_run(experiment="dmg", variant="cnn", seed=0, member=0, config=src.config, config_hash="h")
    store.finish_run(run_id, status="finished", history=src.history, metrics=src.metrics, env={},
                     predictions=np.zeros((20_000, 10), np.float32))  # more rows than the test set
    out = str(tmp_path / "x.png")
    argv = ["--store", str(store.root), "--data-dir", str(data_dir), "-o", out]
    assert main(["plot", "confusion", run_id, *argv]) == 2
    assert "predictions.npy: not the run's predictions (expected floats of shape (100, classes), got float32 (20000, 10))" \
        in capsys.readouterr().err
    folder = store.artifact_dir(run_id)
    (folder / "predictions.npy").write_bytes(b"\x93NUMPY garbage")
    (folder / "weights.safetensors").write_bytes(b"\x00\x01truncated")
    for kind in ("misclassified", "feature-maps", "filters"):
        assert main(["plot", kind, run_id, *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not Path(out).exists()
    # the report still renders, saying what is missing instead of failing
    capsys.readouterr()
    assert main(["report", "dmg", "--store", str(store.root), "--data-dir", str(data_dir),
                 "-o", str(tmp_path / "r.html")]) == 0
    assert "cannot read the predictions" in (tmp_path / "r.html").read_text()
    err = capsys.readouterr().err  # and not only inside the page: a warning line on the terminal
    assert err.startswith(f"warning: no confusion matrix or misclassified images for run {run_id}: ") \
        and "cannot read the predictions" in err and err.count("\n") == 1


def test_test_images_without_a_prediction_are_left_out_not_read_as_class_0(recorded, data_dir, tmp_path, capsys):
    """NaN output rows (a test whose logits overflowed; an untested run) are no prediction of class 0."""
    root, ids = recorded
    src = RunStore(root).get(ids["cnn0"])
    probs = RunStore(root).load_predictions(ids["cnn0"]).copy()
    store = RunStore(tmp_path / "nan")
    nan_rows = np.flatnonzero(np.arange(len(probs)) % 7 == 0)
    probs[nan_rows] = np.nan
    metrics = {**src.metrics, "test_loss": None}  # what a test with non-finite outputs records
    run_id = store.start_run(experiment="nan", variant="cnn", seed=0, member=0, config=src.config, config_hash="h")
    store.finish_run(run_id, status="finished", history=src.history, metrics=metrics, env={}, predictions=probs)
    ds = load_dataset("fashion-mnist", data_dir)
    keep = np.isfinite(probs).all(1)
    true = ds.test_labels[: len(probs)]
    with pytest.warns(UserWarning, match=f"run {run_id}: {len(nan_rows)} of {len(probs)} test images have no "
                                         "prediction"):
        fig = views.figure_for("confusion", store, run_id, data_dir=data_dir)
    cm = fig.axes[0].images[0].get_array()
    assert cm.sum() == keep.sum() and np.array_equal(cm, confusion_matrix(true[keep], probs[keep].argmax(1), 10))
    argv = ["--store", str(store.root), "--data-dir", str(data_dir)]
    assert main(["plot", "misclassified", run_id, *argv, "-o", str(tmp_path / "m.png")]) == 0
    assert capsys.readouterr().err.startswith(f"warning: run {run_id}: {len(nan_rows)} of")
    # an untested run (every row NaN): one error line, no figure of "everything is class 0"
    untested = store.start_run(experiment="nan", variant="gone", seed=0, member=0, config=src.config,
                               config_hash="g")
    store.finish_run(untested, status="diverged", history=src.history, metrics={"test_accuracy": None}, env={},
                     predictions=np.full_like(probs, np.nan))
    assert main(["plot", "confusion", untested, *argv, "-o", str(tmp_path / "c.png")]) != 0
    err = capsys.readouterr().err
    assert err == f"error: run {untested} has no test predictions (it was not tested: its weights were not " \
                  "finite); `mnistlab show` says how it ended\n"
    assert not (tmp_path / "c.png").exists()
    assert main(["report", "nan", *argv, "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert f"{len(nan_rows)} of {len(probs)} test images have no prediction" in page


def test_plot_of_chosen_runs(recorded, data_dir, tmp_path, capsys):
    """`plot compare|params|time|history ID ID ...`: the runs `compare ID ID ...` shows."""
    root, ids = recorded
    argv = ["--store", str(root), "--data-dir", str(data_dir)]
    fig = views.figure_for("compare", RunStore(root), [ids["cnn0"], ids["cnn1"], ids["dense"]])
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == sorted(["cnn", HOSTILE])
    assert [t.get_text() for t in ax.texts] == ["n=2", "n=1"]
    fig = views.figure_for("history", RunStore(root), [ids["cnn0"], ids["dense"]])
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert any(lab.startswith("cnn") for lab in labels) and any(lab.startswith(HOSTILE) for lab in labels)
    store = RunStore(tmp_path / "s")  # two settings of one variant, each with its seeds: curves say which
    src = RunStore(root).get(ids["cnn0"])
    chosen = []
    for lr, seed in ((0.1, 0), (0.1, 1), (0.01, 0)):
        cfg = {**src.config, "train": {**src.config["train"], "lr": lr, "seed": seed}}
        rid = store.start_run(experiment="train", variant="cnn", seed=seed, member=0, config=cfg, config_hash=str(lr))
        store.finish_run(rid, status="finished", history=src.history, metrics=src.metrics, env={})
        chosen.append(rid)
    fig = views.figure_for("history", store, chosen)
    labels = {line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")}
    assert {re.sub(r" (train|val|test .*)$", "", lab) for lab in labels} == {"cnn (lr=0.1) seed 0", "cnn (lr=0.1) seed 1",
                                                                             "cnn (lr=0.01)"}, labels
    assert main(["plot", "compare", ids["cnn0"], ids["dense"], *argv, "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").is_file()
    for kind, extra, says in (("confusion", [], "confusion draws one model or dataset: give one run id or "
                                                "experiment, not 2"),
                              ("compare", ["--variant", "cnn"], "--variant picks a variant of one experiment")):
        assert main(["plot", kind, ids["cnn0"], ids["dense"], *extra, *argv, "-o", str(tmp_path / "x.png")]) != 0
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.png").exists()


def test_a_history_plot_past_ten_runs_says_which_it_draws(tmp_path: Path, data_dir: Path) -> None:
    """A committee of 12: its members' curves, the first ten by seed, and a warning naming what is
    left out (it used to draw one member, silently); several variants: one run of each."""
    from test_experiments import TINY, write

    from mnistlab.errors import ReportWarning
    from mnistlab.execute import run_experiment

    p = write(tmp_path, TINY + '[[variants]]\nname = "c"\ncommittee = 12\n[[variants]]\nname = "d"\n"train.lr" = 0.01\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)

    def seeds_drawn(fig) -> list[str]:
        labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
        return sorted({label.split(" train")[0] for label in labels if label.endswith(" train")})

    with pytest.warns(ReportWarning, match=r"draws the first 10 runs of c by seed: 2 of 12 runs left out"):
        fig = views.figure_for("history", store, "exp", variant="c")
    assert len(seeds_drawn(fig)) == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)  # several variants: each one curve over its seeds, none left out
        fig = views.figure_for("history", store, "exp")
    assert seeds_drawn(fig) == ["c (n=12)", "d"]
    with pytest.warns(ReportWarning, match=r"one run \(the first seed\) of each variant: 11 of 13 runs left out"):
        fig = views.figure_for("history", store, "exp", each_seed=True)
    assert len(seeds_drawn(fig)) == 2


def test_figures_of_an_interrupted_runs_test_predictions_say_so(data_dir, tmp_path, capsys):
    """helper-98: the confusion matrix of a run stopped in its second epoch looked like a result."""
    from mnistlab.run import train

    store, stopped = _stopped_in_epoch_2("seed000-dense", data_dir, tmp_path)
    run_id = stopped.run_id
    said = f"run {run_id} was interrupted after 1 of 3 epochs: its test predictions are those of the weights at the stop"
    for kind in ("confusion", "per-class", "misclassified"):
        with pytest.warns(Warning, match=re.escape(said)):
            fig = views.figure_for(kind, store, run_id, data_dir=data_dir)
        title = fig.get_suptitle() if kind == "misclassified" else fig.axes[0].get_title()
        assert "\n(run interrupted after 1 of 3 epochs: the weights at the stop)\n" in title, title
        assert title.endswith(f"\n(run {run_id}, seed000-dense, train, mnist)"), title  # what the figure is of
    out = tmp_path / "cm.png"
    assert main(["plot", "confusion", run_id, "--store", str(store.root), "--data-dir", str(data_dir), "-o", str(out)]) == 0
    assert capsys.readouterr().err.startswith(f"warning: {said}") and out.stat().st_size > 0
    # a finished run's figures carry no such words
    finished = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=240,
                     store=tmp_path / "runs")
    title = views.figure_for("confusion", store, finished.run_id, data_dir=data_dir).axes[0].get_title()
    assert re.fullmatch(rf"Confusion matrix\n\(40 test images, accuracy \d+\.\d\d%\)\n\(run {finished.run_id}, "
                        r"seed000-dense, train, mnist, the size of a --quick smoke run\)", title), title


def test_a_committee_s_figure_says_it_is_the_best_of_its_scored_committees(tmp_path: Path, data_dir: Path, capsys) -> None:
    """New-user finding (helper-109): `plot confusion --variant comm` of a committee variant with
    repeats said "the committee comm of 2 runs", not that it drew the best of its committees, as
    the report says."""
    from test_experiments import TINY, write

    text = "repeats = 2\n" + TINY.replace("epochs = 1", "epochs = 2")  # (1 epoch is a smoke run's size)
    p = write(tmp_path, text + '[[variants]]\nname = "comm"\ncommittee = 2\n[[variants]]\nname = "one"\n"train.lr" = 0.01\n')
    store = str(tmp_path / "s")
    out = tmp_path / "c.png"
    plot = ["--store", store, "--data-dir", str(data_dir), "-o", str(out)]
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir)]) == 0
    whole = p.read_text()
    write(tmp_path, text + '[[variants]]\nname = "one"\n"train.lr" = 0.01\n')
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--quick"]) == 0  # comm's left out
    p.write_text(whole)
    capsys.readouterr()  # helper-146: before its first --quick run, "no run of 'comm' (did you mean "comm"?)"
    never = f"error: variant 'comm' of {p} has no --quick smoke run yet: `mnistlab run {p} --quick --store {store}` records one\n"
    assert main(["plot", "confusion", str(p), "--quick", "--variant", "comm", *plot]) == 2
    assert capsys.readouterr().err == never
    assert main(["compare", str(p), "--quick", "--variant", "comm", "--store", store]) == 2
    assert capsys.readouterr().err == never
    # helper-146: the --quick smoke committee was counted among the full-size ones
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--quick"]) == 0
    assert len(RunStore(store).committees("exp")) == 3
    capsys.readouterr()
    assert main(["plot", "confusion", "exp", "--variant", "comm", *plot]) == 0
    said = capsys.readouterr()
    assert re.search(r"the committee comm of 2 runs \(seeds \d+, \d+; their averaged outputs\), the best of 2 committees "
                     r"of 2 of variant comm by test accuracy, an optimistic figure as the test set chose it: their mean "
                     r"is \d+\.\d\d% \+- \d+\.\d\d \(n=2\)\n", said.out + said.err), said  # which (helper-129, -147)
    full = views.variant_committees(RunStore(store), "exp", "comm")  # the table's 2, not the smoke one beside them
    assert len(full) == 2 and all(RunStore(store).get(c.member_ids[0]).config["train"]["epochs"] == 2 for c in full)
    assert views.committee_pick_note(full[0], full).startswith("the best of 2 committees of 2 of variant comm")
    assert len(views.variant_committees(RunStore(store), str(p), "comm", quick=True)) == 1
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--force"]) == 0  # helper-148: a rerun's
    assert len(views.variant_committees(RunStore(store), "exp", "comm")) == 2  # committees replace, not add to, them
    capsys.readouterr()
    assert main(["plot", "confusion", str(p), "--quick", "--variant", "comm", *plot]) == 0
    said = capsys.readouterr()
    assert re.search(r"the committee comm of 2 runs \(seeds 0, 1; their averaged outputs\)\n", said.out + said.err), said
    for quick in ([], ["--quick"]):  # the runs of the other size are not "runs of its other settings"
        assert main(["plot", "per-class", str(p), "--variant", "one", *quick, *plot]) == 0
        said = capsys.readouterr()
        assert "of variant one" in said.out + said.err and "other settings" not in said.out + said.err, said


def test_a_comparison_figure_of_two_datasets_says_its_accuracies_do_not_compare(tmp_path: Path, data_dir: Path,
                                                                                 capsys) -> None:
    """helper-114: `plot compare` (and params, time) put an MNIST and a Fashion-MNIST variant on one
    axis without a word, where `compare` says their accuracies do not compare."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "digits"\n[[variants]]\nname = "clothes"\n'
              'dataset = "fashion-mnist"\n')
    store = tmp_path / "s"
    assert main(["run", str(p), "--store", str(store), "--data-dir", str(data_dir)]) == 0
    ids = [r.run_id for r in RunStore(store).runs()]
    capsys.readouterr()
    for kind, target in (("compare", [str(p)]), ("time", [str(p)]), ("compare", ids)):
        assert main(["plot", kind, *target, "--store", str(store), "-o", str(tmp_path / f"{kind}.png")]) == 0
        err = capsys.readouterr().err
        assert "warning: these runs were scored on 2 different test sets (mnist (20 test images), fashion-mnist " \
               "(20 test images)): their test accuracies do not compare, so the figure does not rank them" in err
    fig = views.figure_for("params", RunStore(store), str(p))
    titles = [fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""] + [a.get_title() for a in fig.axes]
    assert any("scored on different test sets" in t for t in titles), titles


def test_a_name_the_figures_font_lacks_is_one_warning_line(tmp_path: Path, data_dir: Path, capsys) -> None:
    """helper-114: a CJK variant name printed matplotlib's "UserWarning: Glyph 26085 ... missing
    from font(s)" with a source path, once a character."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "日本語"\n[[variants]]\nname = "plain"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert main(["plot", "compare", str(p), "--store", str(tmp_path / "s"), "-o", str(tmp_path / "c.png")]) == 0
    err = capsys.readouterr().err
    assert err == "warning: the figures' font lacks characters of some names (CJK, emoji): they are drawn as boxes\n"


def test_figures_of_a_diverged_variant_are_drawn_as_the_report_draws_them(tmp_path: Path, data_dir: Path,
                                                                           capsys) -> None:
    """helper-116: `plot confusion exp --variant boom` said "no finished run of variant 'boom'" of a
    variant whose runs diverged, which the report draws (their figures are its diagnosis)."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "ok"\n[[variants]]\nname = "boom"\nrepeats = 2\n'
              '"train.lr" = 100.0\n')
    store = tmp_path / "s"
    assert main(["run", str(p), "--store", str(store), "--data-dir", str(data_dir)]) == 1  # (runs diverged)
    capsys.readouterr()
    for kind in ("history", "confusion", "misclassified", "per-class"):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", kind, str(p), "--variant", "boom", "--store", str(store), "--data-dir", str(data_dir),
                     "-o", str(out)]) == 0, capsys.readouterr().err
        said = capsys.readouterr()
        assert out.stat().st_size > 0 and "error" not in said.err
        if kind == "confusion":
            assert "the best of 2 runs of variant boom by test accuracy" in said.out, said.out
    assert main(["predict", str(p), "--variant", "boom", str(out), "--store", str(store)]) == 2  # no model to use
    said = capsys.readouterr().err  # which runs it has, and where to read how they ended (helper-129)
    assert "variant 'boom' of experiment 'exp' has no finished run at its current settings" in said
    assert ": 2 diverged; `mnistlab show " in said


def test_a_small_figures_long_title_is_wrapped_inside_it() -> None:
    """helper-121: a 3-class confusion matrix (280 px wide) cut its title at both ends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mnistlab.plots import plot_confusion_matrix

    fig = plot_confusion_matrix(np.eye(3, dtype=int) * 5, ["circle", "square", "triangle"])
    views.subtitle(fig, "run c8581bac48, conv8, shapes, folder data/shapes/train (test: data/shapes/test)")
    FigureCanvasAgg(fig).draw()
    title, whole = fig.axes[0].title.get_window_extent(), fig.bbox
    assert whole.x0 <= title.x0 and title.x1 <= whole.x1, (title, whole)
    assert "data/shapes/train" in fig.axes[0].get_title()  # wrapped between words, not inside a path


def test_a_long_path_in_a_small_figures_title_does_not_collapse_the_plot() -> None:
    """helper-122: a path (one word) wrapped to a word a line squeezed a 3-class matrix to nothing."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mnistlab.plots import plot_confusion_matrix

    fig = plot_confusion_matrix(np.eye(3, dtype=int) * 5, ["circle", "square", "triangle"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constrained_layout's "collapsed to zero" warning
        views.subtitle(fig, "run c8581bac48, conv8, shapes, folder /home/someone/projects/" + "a" * 60 + "/shapes/train")
        FigureCanvasAgg(fig).draw()
    assert fig.axes[0].get_window_extent().height > 100  # the matrix is still drawn


def test_figures_of_a_variant_draw_the_runs_compare_shows(tmp_path: Path, data_dir: Path, capsys) -> None:
    """helper-129: `train` runs of one model on mnist (finished), then on fashion-mnist (interrupted):
    `compare train` showed the variant as it was last run, "no result: 1 interrupted", and `plot
    confusion train` drew the older mnist run that compare left out, another dataset's."""
    from mnistlab.run import TrainingInterrupted, train
    from test_trainer import InterruptAt

    store = tmp_path / "s"
    first = train("mnist", "seed000-dense", epochs=1, subset=60, data_dir=data_dir, progress="none", store=store)
    with pytest.raises(TrainingInterrupted):
        train("fashion-mnist", "seed000-dense", epochs=2, subset=60, data_dir=data_dir, progress="none", store=store,
              callbacks=[InterruptAt(1, 0)])
    assert main(["compare", "train", "--store", str(store), "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["n"] == 0 and first.run_id not in row["run_ids"]
    for kind in ("confusion", "history"):
        assert main(["plot", kind, "train", "--store", str(store), "--data-dir", str(data_dir),
                     "-o", str(tmp_path / f"{kind}.png")]) == 2
        said = capsys.readouterr().err
        assert said.startswith("error: experiment 'train' has no ") and "run at its current settings (as `mnistlab " \
            "compare` shows them): 1 interrupted; `mnistlab show " in said and first.run_id not in said, said
    assert main(["plot", "confusion", first.run_id, "--store", str(store), "--data-dir", str(data_dir),
                 "-o", str(tmp_path / "one.png")]) == 0  # the older run, by its id
    stopped = RunStore(store).runs()[-1]  # its curves say it stopped, and draw no test line (no result)
    fig = views.figure_for("history", RunStore(store), stopped.run_id)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["seed 0 (interrupted after 1 of 2 epochs) train"], labels
    assert fig._suptitle.get_text() == "train, seed000-dense, fashion-mnist"  # what the curves are of (helper-129)


def test_curves_of_runs_on_two_datasets_say_their_test_accuracies_do_not_compare(tmp_path: Path, data_dir: Path) -> None:
    """helper-129: `plot history train` drew a mnist run's "test 92.79%" beside a fashion-mnist run's
    76.88% without a word, where the figures of chosen runs said so."""
    from mnistlab.errors import ReportWarning
    from mnistlab.run import train

    store = tmp_path / "s"
    train("mnist", "seed000-dense", epochs=1, subset=60, data_dir=data_dir, progress="none", store=store)
    train("fashion-mnist", "seed000-cnn", epochs=1, subset=60, data_dir=data_dir, progress="none", store=store)
    with pytest.warns(ReportWarning, match="scored on 2 different test sets"):
        fig = views.figure_for("history", RunStore(store), "train")
    assert "scored on different test sets: the accuracies do not compare" in fig._suptitle.get_text()


def test_figures_of_predictions_say_how_many_images_and_errors_they_show(recorded, data_dir) -> None:
    """helper-129: a confusion matrix gave neither n nor accuracy (of a subset's 333 test images), and
    the misclassified grid's 25 images said neither of how many errors nor in what order."""
    root, ids = recorded
    store = RunStore(root)
    run = store.get(ids["cnn0"])
    n, acc = run.metrics["test_size"], run.metrics["test_accuracy"]
    title = views.figure_for("confusion", store, run.run_id, data_dir=data_dir).axes[0].get_title()
    assert f"{n:,} test images, accuracy {acc:.2%}" in " ".join(title.split()), title
    errors = round((1 - acc) * n)
    fig = views.figure_for("misclassified", store, run.run_id, data_dir=data_dir, max_images=3)
    said = " ".join(fig._suptitle.get_text().split())
    assert f"the 3 most confident of its {errors} errors in {n:,} test images" in said, said


def test_figures_of_several_runs_say_they_are_smoke_runs_scored_on_part_of_the_test_set(tmp_path: Path,
                                                                                        data_dir: Path) -> None:
    """helper-140: `plot history|compare NAME` after a --quick run were titled "seed000,
    fashion-mnist" alone, while a figure of one model said "the size of a --quick smoke run" and
    `compare` that the test accuracy is on 50 of 10,000 test images."""
    from mnistlab.execute import run_experiment
    from mnistlab.store import RunStore
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\ntrain.lr = 0.01\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)  # TINY: 1 epoch on 120 images, the size of a --quick run
    said = ("(--quick smoke runs: their figures are no result)\n"
            "(test accuracy on part of the test set: 20 of mnist's 10,000 test images)")
    for kind in ("history", "compare", "params", "time"):
        fig = views.figure_for(kind, store, "exp")
        title = fig.get_suptitle() if kind == "history" else fig.axes[0].get_title()
        assert " ".join(title.split()).endswith(" ".join(said.split())), (kind, title)  # (wrapped to the figure)
    full = write(tmp_path, TINY.replace("subset = 120", "subset = 600").replace("epochs = 1", "epochs = 2")
                 + '[[variants]]\nname = "a"\n', "full.toml")
    run_experiment(full, store, data_dir=data_dir)  # not smoke-sized, but scored on 100 test images
    title = " ".join(views.figure_for("history", store, "full").get_suptitle().split())
    assert title.endswith(" (test accuracy on part of the test set: 100 of mnist's 10,000 test images)") \
        and "smoke" not in title, title


def test_plot_samples_of_a_dataset_s_name_points_to_show_data(tmp_path: Path, capsys) -> None:
    """helper-140: `plot samples mnist` said only that no experiment is named 'mnist'."""
    from mnistlab.store import RunStore

    store = str(RunStore(tmp_path / "s").root)  # an empty store
    assert main(["plot", "samples", "mnist", "--store", store, "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no experiment file, experiment or run named 'mnist'") and err.count("\n") == 1
    assert "mnist is a dataset: `mnistlab show-data mnist` draws its images" in err
    assert main(["plot", "confusion", "mnist", "--store", store, "-o", str(tmp_path / "c.png")]) == 2
    assert "show-data" not in capsys.readouterr().err  # a figure of a model: no dataset's figure to point to


def test_history_draws_variants_in_the_comparison_s_order(tmp_path: Path, data_dir: Path) -> None:
    """helper-142: `plot history NAME` drew a variant recorded last (from its twin's run: the same
    config and seed) last, where `compare` keeps the file's order; its --variant curves too."""
    from mnistlab.execute import run_experiment
    from mnistlab.store import RunStore
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "x"\ntrain.lr = 0.01\n[[variants]]\nname = "twin"\ntrain.lr = 0.01\n'
                               '[[variants]]\nname = "y"\ntrain.lr = 0.02\n')
    store = RunStore(tmp_path / "s")
    assert [o.cell.variant for o in run_experiment(p, store, data_dir=data_dir).outcomes] == ["x", "y", "twin"]
    for target in ("exp", str(p)):
        for variants in (None, ["y", "twin", "x"]):
            fig = views.figure_for("history", store, target, variant=variants)
            drawn = [line.get_label().split()[0] for line in fig.axes[0].get_lines()]
            assert list(dict.fromkeys(drawn)) == ["x", "twin", "y"], (target, variants, drawn)


def test_a_data_file_given_as_an_experiment_points_to_show_data(tmp_path: Path, capsys, monkeypatch) -> None:
    """helper-214: `plot samples train.csv` was read as an experiment file ("invalid TOML", or "too large
    for an experiment file; the store has an experiment named 'train'": `mnistlab train`'s own)."""
    from mnistlab.store import RunStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n1,0,255,0,255\n")
    store = str(RunStore(tmp_path / "s").root)
    for argv in (["plot", "samples", "train.csv", "-o", "s.png"], ["predict", "train.csv", "train.csv"]):
        assert main([*argv, "--store", store]) == 2
        err = capsys.readouterr().err
        assert err == ("error: train.csv: a data file, not an experiment, its file or a run: `mnistlab show-data "
                       "train.csv` draws its images; a run trained on it is named by its run id\n"), err


def test_a_figure_file_says_what_drew_it_embeds_truetype_and_is_drawn_again_alike(recorded, tmp_path, capsys):
    """helper-244: a PDF embedded Type 3 fonts (refused by many venues), differed in its /CreationDate
    alone when drawn again, and no figure file said which command drew it; .eps and .tiff were refused."""
    root, _ = recorded
    args = ["plot", "history", EXPERIMENT, "--store", str(root), "--variant", "cnn"]
    for name in ("a.pdf", "c.png", "d.svg", "e.eps", "f.tiff"):
        assert main([*args, "-o", str(tmp_path / name)]) == 0, capsys.readouterr().err
    pdf = (tmp_path / "a.pdf").read_bytes()
    assert main([*args, "-o", str(tmp_path / "a.pdf")]) == 0  # drawn again
    assert pdf == (tmp_path / "a.pdf").read_bytes() and b"/CreationDate" not in pdf
    assert b"/Type3" not in pdf and b"/CIDFontType2" in pdf  # TrueType (Type 42), as pdf.fonttype = 42 embeds it
    assert b"drawn by: mnistlab plot history" in pdf
    described = Image.open(tmp_path / "c.png").text["Description"]
    assert described.startswith("drawn by: mnistlab plot history ") and described.endswith("c.png")
    assert "drawn by: mnistlab plot history" in (tmp_path / "d.svg").read_text()
    eps = (tmp_path / "e.eps").read_bytes()
    assert eps.startswith(b"%!PS-Adobe") and b"Type 3" not in eps and b"%%CreationDate" not in eps
    svg = (tmp_path / "d.svg").read_bytes()
    for name, was in (("d.svg", svg), ("e.eps", eps)):  # drawn again: the same file (helper-247: SVG ids, EPS date)
        assert main([*args, "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes() == was, name
    assert Image.open(tmp_path / "f.tiff").format == "TIFF"
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "g.bmp")]) == 2
    assert "the file name must end in .png, .pdf, .svg, .eps, .jpg, .jpeg, .tif, .tiff" in capsys.readouterr().err


def test_a_grid_entry_named_for_one_model_says_which_variants_it_stands_for(tmp_path: Path, data_dir: Path) -> None:
    """helper-244: `plot confusion paper --variant cnn` of a grid over datasets said "has no scored run of
    variant 'cnn'" though it had six; its history draws every variant the entry expands into."""
    from mnistlab.execute import run_experiment
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[grid]\ndataset = ["mnist", "fashion-mnist"]\n[[variants]]\nname = "cnn"\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    with pytest.raises(StoreError, match=r"^variant 'cnn' of 'exp' is a grid of 2 \('cnn,dataset=fashion-mnist', "
                                         r"'cnn,dataset=mnist'\): a figure of one model draws one of them, --variant "
                                         r"cnn,dataset=fashion-mnist$"):
        views.figure_for("confusion", store, "exp", variant="cnn", data_dir=data_dir)
    with pytest.warns(ReportWarning, match="different test sets"):
        fig = views.figure_for("history", store, "exp", variant="cnn")
    assert {line.get_label() for line in fig.axes[0].get_lines()} >= {"cnn,dataset=mnist train",
                                                                      "cnn,dataset=fashion-mnist train"}


def test_an_eps_draws_see_through_bands_and_grid_lines_as_they_look_over_white(tmp_path: Path) -> None:
    """helper-247: PostScript has no transparency, and matplotlib filled each sd band (alpha 0.15) opaque
    in its full colour, hiding the bands behind it; the grid (alpha 0.3) came out dark. Each is drawn
    in its colour over white instead, with a warning, and the figure is left as it was."""
    from mnistlab.plots import SeedCurves, plot_history, save

    a = [{"epoch": 1, "accuracy": 0.5, "loss": 1.0}, {"epoch": 2, "accuracy": 0.7, "loss": 0.5}]
    b = [{"epoch": 1, "accuracy": 0.7, "loss": 0.8}, {"epoch": 2, "accuracy": 0.9, "loss": 0.3}]
    fig = plot_history([SeedCurves("cnn", [a, b], [0.9, 0.8])])
    band = fig.axes[0].collections[0]
    before = (band.get_alpha(), np.array(band.get_facecolor()))
    with pytest.warns(ReportWarning, match="EPS has no transparency: the sd bands are drawn in light opaque colours"):
        save(fig, tmp_path / "h.eps")
    eps = (tmp_path / "h.eps").read_text("latin-1")
    c0 = tuple(mcolors.to_rgb("C0"))
    light = " ".join(f"{0.85 + 0.15 * v:.3g}" for v in c0)
    assert f"{light} setrgbcolor\nfill" in eps, light  # C0's band, as it looks at alpha 0.15 over white
    assert band.get_alpha() == before[0] and np.array_equal(band.get_facecolor(), before[1])  # put back


def test_plot_size_sets_the_figures_inches_and_wraps_its_titles_to_them(recorded, tmp_path, capsys):
    """helper-244, -247: no size could be given on the command line; set_size_inches cut the titles."""
    from mnistlab.plots import resize

    root, _ = recorded
    out = tmp_path / "c.png"
    assert main(["plot", "compare", EXPERIMENT, "--store", str(root), "--size", "3.5x2.6", "--dpi", "100",
                 "-o", str(out)]) == 0
    assert Image.open(out).size == (350, 260)
    for bad, said in (("3", "'3' is no size: give width x height in inches, e.g. 7x3"),
                      ("0.5x3", "'0.5x3': width and height are inches from 1 to 50")):
        assert main(["plot", "compare", EXPERIMENT, "--store", str(root), "--size", bad, "-o", str(out)]) == 2
        assert capsys.readouterr().err.strip().endswith(said)
    fig = views.figure_for("compare", RunStore(root), EXPERIMENT)
    longest = max(len(line) for line in fig.axes[0].get_title().split("\n"))
    resize(fig, 3.5, 2.6)
    lines = fig.axes[0].get_title().split("\n")
    assert max(map(len, lines)) < longest and max(map(len, lines)) <= 3.5 * 72 / (0.6 * fig.axes[0].title.get_fontsize())
