"""Metrics on plain arrays, and evaluation of a real model on uint8 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.evaluate import (
    accuracy, committee_probs, confusion_matrix, evaluate_model, misclassified, per_class_accuracy, predict_probs,
)

PROBS = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.6, 0.3, 0.1], [0.05, 0.9, 0.05]])
LABELS = np.array([0, 1, 2, 1, 0])


def test_accuracy_and_confusion():
    assert accuracy(PROBS, LABELS) == pytest.approx(0.6)
    cm = confusion_matrix(LABELS, PROBS.argmax(1), 3)
    assert cm.tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert cm.sum() == 5
    np.testing.assert_allclose(per_class_accuracy(LABELS, PROBS.argmax(1), 4)[:3], [0.5, 0.5, 1.0])
    assert np.isnan(per_class_accuracy(LABELS, PROBS.argmax(1), 4)[3])
    with pytest.raises(ValueError):
        accuracy(PROBS, LABELS[:3])


def test_misclassified_most_confident_first():
    assert misclassified(PROBS, LABELS).tolist() == [4, 3]
    assert misclassified(PROBS, LABELS, limit=1).tolist() == [4]


def test_committee_averages():
    a = np.array([[0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.2, 0.8], [0.4, 0.6]])
    np.testing.assert_allclose(committee_probs([a, b]), [[0.4, 0.6], [0.3, 0.7]])
    with pytest.raises(ValueError):
        committee_probs([])
    with pytest.raises(ValueError, match="disagree"):
        committee_probs([a, b[:1]])


def test_evaluate_model_matches_a_direct_computation():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.randint(0, 256, (25, 4, 4), dtype=torch.uint8)
    y = torch.randint(0, 3, (25,))
    loss, acc, probs = evaluate_model(model, x, y, batch_size=7, return_probs=True)
    logits = model(x.float().unsqueeze(1) / 255)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    np.testing.assert_allclose(probs, torch.softmax(logits, 1).detach().numpy(), rtol=1e-5, atol=1e-6)
    p = predict_probs(model, x.numpy())
    np.testing.assert_allclose(p, probs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected images"):
        predict_probs(model, np.zeros((2, 2, 4, 4)))
