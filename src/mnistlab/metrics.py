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

__all__ = ["accuracy", "class_recall", "committee_probs", "confusion_matrix", "misclassified", "per_class_accuracy"]


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
