"""Metrics on plain arrays, and evaluation of a real model on uint8 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.evaluate import evaluate_model, predict_probs
from mnistlab.metrics import accuracy, committee_probs, confusion_matrix, misclassified, per_class_accuracy

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


@pytest.mark.filterwarnings("ignore::mnistlab.errors.InvertedImageWarning")  # random pixels: some borders are bright
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
    with pytest.raises(ValueError, match="got 2 channels .* convert to grayscale"):
        predict_probs(model, np.zeros((2, 2, 4, 4)))


# ------------------------------------------------------------------- images users give (issue 14)
def test_every_grayscale_layout_reads_as_the_same_images(data_dir):
    from mnistlab.datasets import load_dataset
    from mnistlab.evaluate import as_array, check_images

    x = np.array(load_dataset("mnist", data_dir).test_images[:3])
    for given in (x, x[:, None], x[..., None], torch.from_numpy(x), torch.from_numpy(x)[:, None]):
        np.testing.assert_array_equal(check_images(as_array(given), (28, 28)), x)
    for single in (x[0], x[0][..., None], x[:1]):
        np.testing.assert_array_equal(check_images(as_array(single), (28, 28), single=True), x[:1])
    floats = torch.from_numpy(x).float().div(255).requires_grad_()  # a tensor fresh from a model
    np.testing.assert_allclose(check_images(as_array(floats), (28, 28)), x / 255, atol=1e-7)
    assert as_array(floats.bfloat16()).dtype == np.float32
    np.testing.assert_array_equal(check_images(x[0][..., None], single=True), x[:1])  # no model size to go by


@pytest.mark.parametrize("shape, needles", [
    ((28, 28, 3), ["got 3 channels", "convert to grayscale", "axis=-1"]),   # the colour image
    ((28, 28, 4), ["got 4 channels", "convert to grayscale"]),
    ((28, 28, 2), ["got 2 channels", "convert to grayscale"]),
    ((5, 28, 28, 3), ["got 3 channels", "convert to grayscale"]),
    ((5, 3, 28, 28), ["got 3 channels", "convert to grayscale", "axis=1"]),
    ((32, 32, 3), ["takes 28x28 images, got 32x32 with 3 channels", "grayscale"]),
    ((2, 10, 10), ["takes 28x28 images, got 10x10", "(N, 28, 28, 1)"]),
    ((2, 1, 32, 32), ["takes 28x28 images, got 32x32"]),
    ((2, 32, 32, 1), ["takes 28x28 images, got 32x32"]),
    ((784,), ["expected images shaped (N, 28, 28)", "got shape (784,)"]),
    ((2, 5, 28, 28), ["expected images shaped", "got shape (2, 5, 28, 28)"]),
    ((1, 1, 1, 28, 28), ["expected images shaped"]),
])
def test_images_of_another_kind_get_one_line_saying_what_to_do(shape, needles):
    from mnistlab.evaluate import check_images

    with pytest.raises(ValueError) as info:
        check_images(np.zeros(shape, np.uint8), (28, 28), single=True)
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in needles), message


def test_no_dataset_image_has_a_bright_border_and_inverted_ones_do(data_dir):
    """The claim behind the inverted-image warning, checked on every real image (train and test)."""
    from mnistlab.datasets import load_dataset
    from mnistlab.data.borders import border_brightness
    from mnistlab.evaluate import INVERTED_BORDER, inverted_images

    for name, limit in INVERTED_BORDER.items():
        ds = load_dataset(name, data_dir)
        images = np.concatenate([np.asarray(ds.train_images), np.asarray(ds.test_images)])
        brightest = border_brightness(images).max()
        assert brightest * 1.4 < limit, (name, brightest)  # a wide margin over the brightest real border
        assert not inverted_images(images, name).any() and not inverted_images(images / 255.0, name).any()
        flagged = inverted_images(255 - images, name)  # every image drawn dark on light
        assert flagged.mean() > 0.999, (name, flagged.mean())
    assert border_brightness(np.full((2, 28, 28), 1.0)).tolist() == [255.0, 255.0]


def test_predict_probs_warns_once_about_inverted_images(data_dir):
    import warnings

    from mnistlab.datasets import load_dataset
    from mnistlab.errors import InvertedImageWarning
    from mnistlab.models import build_model

    model = build_model(__import__("mnistlab.presets", fromlist=["resolve_model"]).resolve_model("seed000-dense"), seed=0)
    x = np.asarray(load_dataset("mnist", data_dir).test_images[:4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real images: no warning
        predict_probs(model, x, dataset="mnist")
    mixed = np.concatenate([x, 255 - x[:2]])
    with pytest.warns(InvertedImageWarning, match=r"2 of 6 images look inverted \(index 4, 5\).*255 - x") as record:
        predict_probs(model, mixed, dataset="mnist")
    assert len(record) == 1


@pytest.mark.parametrize("history, flagged", [
    ([{"loss": 1.04e5, "accuracy": 0.077, "lr": 50.0}], True),                  # sgd lr 50, dense, epoch 1
    ([{"loss": 4.1e13, "accuracy": 0.107, "lr": 100.0}], True),                 # adam lr 100, CNN
    ([{"loss": 0.5, "accuracy": 0.85, "lr": 0.01}, {"loss": 60.0, "accuracy": 0.1, "lr": 0.01}], True),  # later
    ([{"loss": 0.5, "accuracy": 0.85, "lr": 0.01}, {"loss": 40.0, "accuracy": 0.1, "lr": 0.01}], False),  # < 100 x 0.5
    ([{"loss": 0.1, "accuracy": 0.97, "lr": 0.01}, {"loss": 20.0, "accuracy": 0.1, "lr": 0.01}], False),  # < 10 ln 10
    ([{"loss": 2.31, "accuracy": 0.11, "lr": 0.01}], False),                    # a slow start: guessing
    ([{"loss": 29.9, "accuracy": 0.18, "lr": 0.01}], False),                    # seed003 width 2000, quick: recovers
    ([{"loss": 200.0, "accuracy": 0.11, "lr": 0.01}], False),                   # under 100 ln 10
    ([{"loss": 500.0, "accuracy": 0.16, "lr": 0.01}], False),                   # above 1.5x chance
    ([{"loss": 1e4, "accuracy": 0.6, "lr": 0.01}], False),                      # far better than chance
    ([{"loss": 3.5e6, "accuracy": 0.208, "lr": 100.0}, {"loss": 135.6, "accuracy": 0.113, "lr": 100.0}], True),
    # adam lr 100 on the dense model: blew up, came down, still at chance (was "finished" at 14%)
    ([{"loss": 3.5e6, "accuracy": 0.208, "lr": 1.0}, {"loss": 0.6, "accuracy": 0.8, "lr": 1.0}], False),  # recovered
    ([{"loss": float("nan"), "accuracy": 0.1, "lr": 0.01}], False),             # NaN: the trainer's own check
    ([], False),
])
def test_blow_up_rule(history, flagged):
    from mnistlab.evaluate import blow_up

    why = blow_up(history, 10)
    assert (why is not None) == flagged
    if flagged:
        lr = history[-1]["lr"]
        assert f"the learning rate ({lr:g}) is probably too high; try lr = {lr / 10:g}" in why
        assert f"accuracy is at chance at epoch {len(history)}" in why


def test_blow_up_uses_the_chance_level_of_the_class_count():
    from mnistlab.evaluate import blow_up

    history = [{"loss": 100.0, "accuracy": 0.5}]  # two classes: chance 50%, ln 2 = 0.69
    assert blow_up(history, 2) is not None and "probably too high" in blow_up(history, 2)
    assert blow_up(history, 10) is None
