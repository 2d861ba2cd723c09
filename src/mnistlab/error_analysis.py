"""Error analysis of a trained model on its test set, from its stored predictions (nothing is
retrained or run again): per-class precision, recall and F1 as scikit-learn's
``classification_report`` gives them, the confusion matrix, calibration, the misclassified test
images most confident first, and where two models disagree::

    report = analyse(load_trained(RunStore(), "seed000", variant="cnn"))
    report.rows()                # per class: precision, recall, f1, support; then the averages
    report.mistakes(top=20)      # test image index, true and predicted class, confidence
    disagreements(report, analyse(load_trained(RunStore(), "seed000", variant="dense")))

A committee's predictions are its members' softmax outputs averaged (seed 002's committee). The
test labels come from the dataset, read as the run read it (:meth:`~mnistlab.run.Run.test_data`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mnistlab.errors import DataError
from mnistlab.metrics import calibration, committee_probs, confusion_matrix, precision_recall_f1
from mnistlab.run import Committee, Run, check_trained

__all__ = ["ErrorAnalysis", "analyse", "disagreements"]


@dataclass(frozen=True)
class ErrorAnalysis:
    """A model's test predictions and what they say of its errors.

    ``probs``: float32 (N, classes), the stored softmax outputs (a committee's averaged);
    ``labels``: int64 (N,), the true classes; ``class_names``: one name per class; ``who``: the
    model in words (run id, or the committee's members). The rest is derived from those, once:
    ``confusion``, ``precision``, ``recall``, ``f1``, ``support``."""

    who: str
    dataset: str
    class_names: tuple[str, ...]
    probs: np.ndarray
    labels: np.ndarray

    @cached_property
    def confusion(self) -> np.ndarray:
        """int64 (classes, classes): rows the true class, columns the predicted one."""
        return confusion_matrix(self.labels, self.predicted, self.probs.shape[1])

    @cached_property
    def _scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return precision_recall_f1(self.confusion)

    @property
    def precision(self) -> np.ndarray:
        """float64 (classes,): :func:`~mnistlab.metrics.precision_recall_f1`'s, NaN where no image was predicted as it."""
        return self._scores[0]

    @property
    def recall(self) -> np.ndarray:
        """float64 (classes,): the per-class accuracy, NaN for a class with no test image."""
        return self._scores[1]

    @property
    def f1(self) -> np.ndarray:
        """float64 (classes,): 2 tp / (2 tp + fp + fn), NaN for a class neither present nor predicted."""
        return self._scores[2]

    @property
    def support(self) -> np.ndarray:
        """int64 (classes,): the test images of each class."""
        return self.confusion.sum(1)

    @property
    def accuracy(self) -> float:
        """The fraction of test images whose top class is the label (as ``test_accuracy``)."""
        return float(np.trace(self.confusion) / max(len(self.labels), 1))

    @cached_property
    def predicted(self) -> np.ndarray:
        """int64 (N,): each test image's top class (the first of tied ones, as ``argmax``)."""
        return self.probs.argmax(1)

    def averages(self) -> dict[str, dict[str, float]]:
        """``macro`` (the unweighted mean over the classes that are in the labels or the predictions)
        and ``weighted`` (weighted by support) precision, recall and F1, an undefined value counting
        as 0: scikit-learn's ``classification_report(y_true, y_pred, zero_division=0)`` with its
        default labels (helper-239: a class absent from both counted 0 in the macro mean)."""
        out: dict[str, dict[str, float]] = {}
        weights = self.support / max(int(self.support.sum()), 1)
        present = (self.confusion.sum(0) + self.confusion.sum(1)) > 0
        for name, arr in (("precision", self.precision), ("recall", self.recall), ("f1", self.f1)):
            values = np.nan_to_num(arr, nan=0.0)
            out.setdefault("macro", {})[name] = float(values[present].mean()) if present.any() else 0.0
            out.setdefault("weighted", {})[name] = float((values * weights).sum())
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per class (``class``, ``precision``, ``recall``, ``f1``, ``support``; NaN as None),
        then ``accuracy``, ``macro avg`` and ``weighted avg`` rows, in scikit-learn's
        ``classification_report`` order and names."""
        def number(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        rows = [{"class": name, "precision": number(p), "recall": number(r), "f1": number(f), "support": int(s)}
                for name, p, r, f, s in zip(self.class_names, self.precision, self.recall, self.f1, self.support)]
        n = int(self.support.sum())
        rows.append({"class": "accuracy", "precision": None, "recall": None, "f1": self.accuracy, "support": n})
        for kind, avg in self.averages().items():
            rows.append({"class": f"{kind} avg", **avg, "support": n})
        return rows

    def calibration(self, bins: int = 15) -> dict[str, float]:
        """:func:`~mnistlab.metrics.calibration` of the top-class confidences: ``ece`` (expected
        calibration error, a fraction), ``confidence`` (mean top-class probability) and ``accuracy``."""
        return calibration(self.probs, self.labels, bins=bins)

    def mistakes(self, top: int | None = None) -> list[dict[str, Any]]:
        """The misclassified test images, most confident mistake first (ties by index): ``index`` (0-based,
        into the test set as :meth:`~mnistlab.run.Run.test_data` orders it), ``true`` and ``predicted``
        class names, ``confidence`` (the predicted class's probability), ``p_true`` (the true class's)
        and ``second`` (the next likeliest class). ``top``: at most that many (None: all)."""
        pred = self.predicted
        wrong = np.flatnonzero(pred != self.labels)
        conf = self.probs[wrong, pred[wrong]]
        order = wrong[np.lexsort((wrong, -conf))][:top]
        ranked = np.argsort(-self.probs[order], axis=1, kind="stable")
        names = self.class_names
        return [{"index": int(i), "true": names[self.labels[i]], "predicted": names[pred[i]],
                 "confidence": float(self.probs[i, pred[i]]), "p_true": float(self.probs[i, self.labels[i]]),
                 "second": names[ranked[k, 1]] if self.probs.shape[1] > 1 else None}
                for k, i in enumerate(order)]


def _who(model: Run | Committee) -> str:
    if isinstance(model, Committee):
        name = f"committee {model.record.variant}" if model.record is not None and model.record.variant else "committee"
        return f"{name} of {len(model.members)} ({', '.join(m.run_id or '?' for m in model.members)})"
    rec = model.record
    return f"run {model.run_id}" + (f" ({rec.experiment}, variant {rec.variant}, seed {rec.seed})" if rec is not None else "")


def analyse(model: Run | Committee, *, data_dir: str | os.PathLike | None = None) -> ErrorAnalysis:
    """The :class:`ErrorAnalysis` of a trained ``model`` (:func:`~mnistlab.run.load_trained`'s) on
    the test images it was scored on, from its stored test predictions. Raises DataError where the
    test labels cannot be read (the dataset gone or changed) or the predictions are missing or not
    finite, StoreError / SpecError as :func:`~mnistlab.run.check_trained` does for an unfinished run."""
    check_trained(model, "analyse")
    members = model.members if isinstance(model, Committee) else [model]
    probs = committee_probs([np.asarray(m.result.test_probs) for m in members])
    labels = np.asarray(model.test_data(data_dir)[1], dtype=np.int64)
    if not len(probs) or not np.isfinite(probs).all():
        raise DataError(f"{_who(model)}: its stored test predictions are {'missing' if not len(probs) else 'not finite'}"
                        ": nothing to analyse")
    if len(probs) != len(labels):
        raise DataError(f"{_who(model)}: {len(probs):,} stored test predictions for {len(labels):,} test images: the "
                        "dataset changed since the run scored it")
    names = tuple(str(n) for n in model.class_names) or tuple(str(c) for c in range(probs.shape[1]))
    return ErrorAnalysis(_who(model), str(model.dataset), names, probs, labels)


def disagreements(a: ErrorAnalysis, b: ErrorAnalysis) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Where two models' top classes differ on the same test images: counts (``images``,
    ``disagree``, ``a_right`` and ``b_right`` (each one's hits on those images), ``only_a_right``,
    ``only_b_right``, ``both_wrong``; of those they agree on, ``agree_wrong``) and one row per image
    they disagree on (``index``, ``true``, ``a``, ``a_confidence``, ``b``, ``b_confidence``,
    ``right``: ``a``, ``b`` or None), ``a`` more confident first. Where one
    was scored on the first images of the other's test set (``data.subset`` scores a part), the
    images both were scored on (``images`` counts them). Raises DataError for two test sets
    (another dataset, or another order)."""
    n = min(len(a.labels), len(b.labels))
    if a.dataset != b.dataset or a.class_names != b.class_names or not np.array_equal(a.labels[:n], b.labels[:n]):
        raise DataError(f"{a.who} and {b.who} were scored on different test sets ({a.dataset}, {len(a.labels):,} images; "
                        f"{b.dataset}, {len(b.labels):,}): their predictions do not compare image by image")
    pa, pb, true = a.predicted[:n], b.predicted[:n], a.labels[:n]
    differ = np.flatnonzero(pa != pb)
    counts = {"images": len(true), "disagree": len(differ), "a_right": int((pa == true).sum()),
              "b_right": int((pb == true).sum()), "only_a_right": int(((pa == true) & (pb != true)).sum()),
              "only_b_right": int(((pb == true) & (pa != true)).sum()),
              "both_wrong": int(((pa != true) & (pb != true) & (pa != pb)).sum()),
              "agree_wrong": int(((pa != true) & (pa == pb)).sum())}
    conf = a.probs[differ, pa[differ]]
    names = a.class_names
    rows = [{"index": int(i), "true": names[true[i]], "a": names[pa[i]], "a_confidence": float(a.probs[i, pa[i]]),
             "b": names[pb[i]], "b_confidence": float(b.probs[i, pb[i]]),
             "right": "a" if pa[i] == true[i] else "b" if pb[i] == true[i] else None}
            for i in differ[np.lexsort((differ, -conf))]]
    return counts, rows

