"""`mnistlab errors` and mnistlab.error_analysis (helper-236, an error analyst: no text form of the
confusion matrix, no precision or F1, no calibration, no view of where two models disagree), on
real runs (the ``mnist_models`` store), each number checked against numpy computed here."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.error_analysis import analyse, disagreements
from mnistlab.errors import DataError
from mnistlab.metrics import calibration
from mnistlab.plots import most_confused_pairs
from mnistlab.run import Committee, load_trained
from mnistlab.store import RunStore


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_runs_report_is_scikit_learns_classification_report_of_its_stored_predictions(mnist_models: Path,
                                                                                      data_dir: Path) -> None:
    run = load_trained(RunStore(mnist_models), "use", variant="dense")
    report = analyse(run, data_dir=data_dir)
    probs, labels = np.asarray(run.result.test_probs), run.test_data(data_dir)[1]
    pred = probs.argmax(1)
    assert len(labels) == 2000 and report.accuracy == pytest.approx(run.test_accuracy)
    for c in range(10):  # scikit-learn's definitions, by hand
        tp, predicted, actual = np.sum((pred == c) & (labels == c)), np.sum(pred == c), np.sum(labels == c)
        assert report.precision[c] == pytest.approx(tp / predicted)
        assert report.recall[c] == pytest.approx(tp / actual)
        p, r = tp / predicted, tp / actual
        assert report.f1[c] == pytest.approx(2 * p * r / (p + r)) and report.support[c] == actual
    rows = report.rows()
    assert [r["class"] for r in rows] == [*map(str, range(10)), "accuracy", "macro avg", "weighted avg"]
    assert rows[-2]["recall"] == pytest.approx(report.recall.mean())
    assert rows[-1]["recall"] == pytest.approx(report.accuracy)  # weighted recall is the accuracy
    mistakes = report.mistakes()
    assert len(mistakes) == round((1 - run.test_accuracy) * 2000)
    conf = [m["confidence"] for m in mistakes]
    assert conf == sorted(conf, reverse=True) and all(m["true"] != m["predicted"] for m in mistakes)
    first = mistakes[0]
    assert probs[first["index"]].argmax() == int(first["predicted"]) and labels[first["index"]] == int(first["true"])
    assert first["p_true"] == pytest.approx(probs[first["index"], labels[first["index"]]])
    assert first["second"] == str(np.argsort(-probs[first["index"]])[1])
    # Guo et al.'s ECE with 15 bins, by a loop over the bins
    top, right = probs.astype(np.float64).max(1), pred == labels
    ece = sum(abs(right[m].mean() - top[m].mean()) * m.sum() for k in range(15)
              if (m := (top > k / 15) & (top <= (k + 1) / 15)).any()) / len(top)
    assert report.calibration()["ece"] == pytest.approx(ece)


def test_a_committees_report_is_of_its_averaged_outputs(mnist_models: Path, data_dir: Path) -> None:
    committee = load_trained(RunStore(mnist_models), "use", variant="committee")
    assert isinstance(committee, Committee)
    report = analyse(committee, data_dir=data_dir)
    averaged = np.mean([np.asarray(m.result.test_probs, np.float64) for m in committee.members], 0)
    assert np.array_equal(report.predicted, averaged.argmax(1))
    assert report.accuracy == pytest.approx(committee.test_accuracy) and report.who.startswith("committee")


def test_two_models_disagreements_are_counted_and_listed(mnist_models: Path, data_dir: Path) -> None:
    store = RunStore(mnist_models)
    a = analyse(load_trained(store, "use", variant="dense", pick="best"), data_dir=data_dir)
    b = analyse(load_trained(store, "use", variant="committee"), data_dir=data_dir)
    counts, rows = disagreements(a, b)
    differ = a.predicted != b.predicted
    assert counts["disagree"] == differ.sum() == len(rows) and counts["images"] == 2000
    assert counts["only_a_right"] == np.sum(differ & (a.predicted == a.labels))
    assert counts["only_a_right"] + counts["only_b_right"] + counts["both_wrong"] == counts["disagree"]
    assert all(r["a"] != r["b"] for r in rows)
    assert [r["a_confidence"] for r in rows] == sorted((r["a_confidence"] for r in rows), reverse=True)
    other = analyse(load_trained(store, "use", variant="dense"), data_dir=data_dir)
    shuffled = replace(other, labels=other.labels[::-1].copy())
    with pytest.raises(DataError, match="were scored on different test sets"):
        disagreements(a, shuffled)
    part = replace(other, labels=other.labels[:500], probs=other.probs[:500])
    assert disagreements(a, part)[0]["images"] == 500  # a subset run's first images: those both were scored on


def test_errors_cli_prints_the_report_the_matrix_the_mistakes_and_disagreements(mnist_models: Path, data_dir: Path,
                                                                                capsys: pytest.CaptureFixture[str]) -> None:
    store = ("--store", mnist_models, "--data-dir", data_dir)
    report = analyse(load_trained(RunStore(mnist_models), "use", variant="dense"), data_dir=data_dir)
    code, out, err = _cli(capsys, "errors", "use", "--variant", "dense", *store)
    assert code == 0, err
    wrong = int((report.predicted != report.labels).sum())
    assert f"on 2,000 test images of mnist: accuracy {100 * report.accuracy:.2f}% ({wrong:,} misclassified)" in out
    assert "precision" in out and "macro avg" in out and "expected calibration error" in out
    # the best of the variant's 2 runs by test accuracy: said so (helper-258: plot and card said it, errors not)
    assert err.startswith("note: run ") and "the best of 2 runs of variant dense by test accuracy, an optimistic" in err
    code, out, err = _cli(capsys, "errors", report.who.split()[1], *store)  # a run named by its id: nothing to say
    assert code == 0 and err == ""
    code, out, _ = _cli(capsys, "errors", "use", "--variant", "dense", "--format", "csv", *store)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0]) == ["class", "precision", "recall", "f1", "support"]
    assert float(rows[3]["precision"]) == pytest.approx(report.precision[3])
    code, out, _ = _cli(capsys, "errors", "use", "--variant", "dense", "--confusion", "--format", "json", *store)
    matrix = json.loads(out)
    assert code == 0 and [[r[str(c)] for c in range(10)] for r in matrix] == report.confusion.tolist()
    code, out, err = _cli(capsys, "errors", "use", "--variant", "dense", "--mistakes", "--top", "3", *store)
    assert code == 0 and len(out.strip().splitlines()) == 5  # title, header, 3 rows
    assert f"... and {wrong - 3:,} more (--top 0 lists them all)" in err
    code, out, _ = _cli(capsys, "errors", "use", "--variant", "dense", "--mistakes", "--format", "csv", *store)
    assert code == 0 and len(out.strip().splitlines()) == wrong + 1  # every one in a CSV
    code, out, _ = _cli(capsys, "errors", "use", "--variant", "dense", "--against", "use", "--against-variant",
                        "committee", *store)
    assert code == 0 and "they disagree on" in out and "only A right on" in out


@pytest.mark.parametrize(("args", "said"), [
    (("--confusion", "--mistakes"), "give one of --confusion, --mistakes and --against"),
    (("--against-variant", "dense"), "--against-variant names the variant of --against MODEL"),
    (("--top", "-1"), "--top"),
    (("--top", "many"), "--top"),
    (("--against", "ffffffffff"), "ffffffffff"),
    (("--format", "xml"), "--format"),
    (("--top", "3"), "--top limits the rows of --mistakes and --against"),  # (helper-239: ignored without a word)
    (("--against", "use"), "choose one with --against-variant"),  # (helper-239: "--variant", the other model's flag)
])
def test_errors_cli_refuses_wrong_flags_in_one_line(mnist_models: Path, capsys: pytest.CaptureFixture[str],
                                                    args: tuple[str, ...], said: str) -> None:
    code, out, err = _cli(capsys, "errors", "use", "--variant", "dense", "--store", mnist_models, *args)
    assert code != 0 and out == "" and "Traceback" not in err and said in err, err


@pytest.mark.parametrize("model", ["nosuch", "0123456789", "use", "../../etc/passwd", ""])
def test_errors_of_an_unknown_or_unchosen_model_is_one_line(mnist_models: Path, capsys: pytest.CaptureFixture[str],
                                                            model: str) -> None:
    code, out, err = _cli(capsys, "errors", model, "--store", mnist_models)  # "use" has two variants: choose
    assert code != 0 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err


def test_most_confused_pairs_keep_the_pairs_tied_with_the_last() -> None:
    cm = np.array([[9, 3, 2], [2, 9, 2], [1, 0, 9]])
    assert most_confused_pairs(cm, 2) == [(0, 1, 3), (0, 2, 2)]
    assert most_confused_pairs(cm, 2, ties=True) == [(0, 1, 3), (0, 2, 2), (1, 0, 2), (1, 2, 2)]


def test_calibration_of_a_perfectly_calibrated_bin_is_zero_and_refuses_no_images() -> None:
    probs = np.array([[0.75, 0.25]] * 4)
    assert calibration(probs, np.array([0, 0, 0, 1]))["ece"] == pytest.approx(0.0)  # 3 of 4 right at 0.75
    with pytest.raises(ValueError):
        calibration(np.zeros((0, 2)), np.zeros(0))


def test_the_macro_average_is_over_the_classes_present_as_scikit_learns_default_labels(mnist_models: Path,
                                                                                     data_dir: Path) -> None:
    """helper-239: with classes absent from the labels and the predictions, the macro mean counted them
    as 0 where classification_report(y_true, y_pred) (its labels: those present) leaves them out."""
    report = analyse(load_trained(RunStore(mnist_models), "use", variant="dense"), data_dir=data_dir)
    keep = report.labels < 3  # a test set of 0s, 1s and 2s, and predictions of those classes only
    probs = report.probs[keep].copy()
    probs[:, 3:] = 0.0
    part = replace(report, probs=probs, labels=report.labels[keep])  # (its scores derived from these anew)
    from mnistlab.metrics import confusion_matrix, precision_recall_f1

    cm = confusion_matrix(part.labels, probs.argmax(1), 10)
    p, r, f = precision_recall_f1(cm)
    assert np.array_equal(part.confusion, cm)
    macro = part.averages()["macro"]
    assert macro["recall"] == pytest.approx(np.nan_to_num(r[:3]).mean())  # over 0, 1 and 2, not over 10
    assert macro["precision"] == pytest.approx(np.nan_to_num(p[:3]).mean())


def test_a_mistakes_confidence_never_reads_100_percent() -> None:
    """helper-239: a mistake at 0.9999895 read "100.00%" in `errors --mistakes`, as the figure's did."""
    from mnistlab.cli.predict_cmds import _conf

    assert (_conf(0.9999895), _conf(0.99994), _conf(1.0), _conf(0.00001), _conf(0.0), _conf(0.5)) == (
        ">99.99%", "99.99%", ">99.99%", "<0.01%", "0.00%", "50.00%")  # (1.0: float32 rounding, helper-242)


def test_f1_of_a_class_never_predicted_is_0_as_scikit_learn_1_3_computes_it() -> None:
    """helper-242: F1 = 2tp / (2tp + fp + fn): a class with images but never predicted has F1 0
    (its precision alone is undefined), where the harmonic mean of p and r gave NaN."""
    from mnistlab.metrics import precision_recall_f1

    p, r, f = precision_recall_f1(np.array([[3, 1, 0], [2, 0, 0], [0, 0, 0]]))  # class 1 never predicted; 2 absent
    assert np.isnan(p[2]) and np.isnan(r[2]) and np.isnan(f[2])  # neither predicted nor present: undefined
    assert r[1] == 0.0 and p[1] == 0.0 and f[1] == 0.0  # predicted once, wrongly: precision 0
    p, r, f = precision_recall_f1(np.array([[3, 0], [2, 0]]))
    assert np.isnan(p[1]) and r[1] == 0.0 and f[1] == 0.0
    assert f[0] == pytest.approx(2 * 3 / (2 * 3 + 2 + 0))
