"""Metrics of predictions, pure numpy (probabilities and labels in, numbers out), so figures,
reports and comparisons compute them on stored predictions without loading torch::

    probs = store.load_predictions(run_id)             # (N, classes) float
    accuracy(probs, labels); confusion_matrix(labels, probs.argmax(1), 10)
    committee_probs([p1, p2, p3])                      # seed 002's averaged softmax outputs
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mnistlab.errors import DataError

__all__ = ["accuracy", "calibration", "class_recall", "committee_probs", "confusion_matrix", "misclassified",
           "per_class_accuracy", "precision_recall_f1"]


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose argmax equals the label."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    if len(probs) != len(labels):
        raise ValueError(f"{len(probs)} predictions for {len(labels)} labels")
    return float((probs.argmax(1) == labels).mean()) if len(labels) else 0.0


def confusion_matrix(labels: Sequence[int] | np.ndarray, predictions: Sequence[int] | np.ndarray,
                     num_classes: int) -> np.ndarray:
    """(classes, classes) int64 counts: row = true class, column = predicted class.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise DataError(f"{len(predictions)} predictions for {len(labels)} labels")
    for name, arr in (("label", labels), ("prediction", predictions)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise DataError(f"{name} out of range 0..{num_classes - 1}")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def class_recall(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for a class with no images)."""
    cm = np.asarray(cm, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / cm.sum(1)


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision (of the images predicted as the class, how many are), recall (of the
    class's images, how many were found: the per-class accuracy) and F1 (their harmonic mean,
    2 tp / (2 tp + fp + fn), as scikit-learn 1.3+ computes it: 0 for a class never predicted that
    has images) from a confusion matrix (rows true, columns predicted), each float64 (classes,):
    scikit-learn's ``precision_recall_fscore_support`` definitions, NaN where undefined (nothing
    predicted as the class; none of its images; for F1, neither) where scikit-learn says 0 with a warning.

    >>> p, r, f = precision_recall_f1(np.array([[3, 1], [0, 2]]))
    >>> [round(float(x), 3) for x in (*p, *r, *f)]
    [1.0, 0.667, 0.75, 1.0, 0.857, 0.8]
    """
    cm = np.asarray(cm, dtype=np.float64)
    hits, predicted, actual = np.diag(cm), cm.sum(0), cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / predicted
        f1 = 2 * hits / (predicted + actual)  # 2 tp / (2 tp + fp + fn): fp = predicted - tp, fn = actual - tp
    return precision, class_recall(cm), f1


def calibration(probs: np.ndarray, labels: np.ndarray, *, bins: int = 15) -> dict[str, float]:
    """How well the top-class probabilities match how often they are right: ``ece``, the expected
    calibration error (the images split into ``bins`` equal-width bins of top-class probability
    over [0, 1]; each bin's |accuracy - mean confidence| weighted by its share of images: Guo et al.
    2017, "On Calibration of Modern Neural Networks", eq. 3, with their 15 bins), ``confidence``
    (the mean top-class probability) and ``accuracy``, all fractions. ValueError for no images or
    fewer than one bin.

    >>> round(calibration(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), bins=10)["ece"], 6)  # (.1 + .6) / 2
    0.35
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if not len(probs) or bins < 1:
        raise ValueError("calibration needs at least one image and one bin")
    conf, right = probs.max(1), (probs.argmax(1) == labels).astype(np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)  # (k/bins, (k+1)/bins]; 1.0 in the last bin
    which = np.where(conf * bins == which, np.maximum(which - 1, 0), which)  # a right edge belongs to its bin
    gap = sum(abs(right[which == k].mean() - conf[which == k].mean()) * (which == k).sum() for k in np.unique(which))
    return {"ece": float(gap / len(conf)), "confidence": float(conf.mean()), "accuracy": float(right.mean())}


def per_class_accuracy(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Recall of each class (NaN for a class absent from ``labels``)."""
    return class_recall(confusion_matrix(labels, predictions, num_classes))


def misclassified(probs: np.ndarray, labels: np.ndarray, *, limit: int | None = None) -> np.ndarray:
    """Indices of wrong predictions, most confident mistakes first."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    order = np.argsort(-probs[wrong, pred[wrong]], kind="stable")
    return wrong[order][:limit]


def committee_probs(members: Sequence[np.ndarray]) -> np.ndarray:
    """Average the members' softmax outputs (seed 002's committee)."""
    if not members:
        raise ValueError("a committee needs at least one member")
    shapes = {np.shape(m) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"committee members disagree on shape: {sorted(shapes)}")
    return np.mean(np.stack([np.asarray(m, dtype=np.float64) for m in members]), 0).astype(np.float32)
