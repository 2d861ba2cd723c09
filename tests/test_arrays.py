"""Data given in memory to mnistlab.train, as Keras's fit(x, y) takes it (helper-191: refused; an
.npz had to be saved first): saved once in the cache as an .npz, named by its contents, and trained
on as the user's .npz is. Real arrays from the MNIST files, real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnistlab.datasets import load_dataset
from mnistlab.errors import DataError, DataWarning, SpecError
from mnistlab.run import train


@pytest.fixture
def mnist_part(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, ...]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ds = load_dataset("mnist", data_dir)
    return ds.train_images[:500], ds.train_labels[:500], ds.test_images[:100], ds.test_labels[:100]


def test_fit_style_arrays_train_as_an_npz_in_the_cache(mnist_part: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    x, y, x_test, y_test = mnist_part
    run = train((x, y), "seed000-dense", 1, progress="none")
    path = Path(run.config["dataset"]["npz"])
    assert path.parent == tmp_path / "cache" / "mnistlab" / "arrays" and path.suffix == ".npz"
    assert run.metrics["test_size"] == 100 and run.config["data"]["test_seed"] == 0  # 20% held out, as an .npz's
    assert train((torch.from_numpy(x), torch.from_numpy(y)), "seed000-dense", 1, progress="none").config["dataset"] == \
        run.config["dataset"]  # the same arrays (as tensors): the same file, so the same run key
    pairs = train(((x, y), (x_test, y_test)), "seed000-dense", 1, progress="none")  # keras.datasets' load_data()
    got_x, got_y = pairs.test_data()
    assert np.array_equal(got_x, x_test) and np.array_equal(got_y, y_test)
    table = train({"x_train": x, "y_train": y, "x_test": x_test, "y_test": y_test}, "seed000-dense", 1, progress="none")
    assert table.config["dataset"] == pairs.config["dataset"]


class _Digits(torch.utils.data.Dataset):
    """A map-style dataset as torchvision's MNIST is without a transform: (PIL image, int) items."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.x[i]), int(self.y[i])


def test_a_pytorch_dataset_trains_on_its_images(mnist_part: tuple[np.ndarray, ...]) -> None:
    x, y, _, _ = mnist_part
    pil = train(_Digits(x, y), "seed000-dense", 1, progress="none")
    assert pil.config["dataset"] == train((x, y), "seed000-dense", 1, progress="none").config["dataset"]
    tensors = torch.utils.data.TensorDataset(torch.from_numpy(x).float().div(255).unsqueeze(1), torch.from_numpy(y))
    as_tensors = train(tensors, "seed000-dense", 1, progress="none")  # ToTensor()'s (N, 1, 28, 28) floats in [0, 1]
    assert np.array_equal(as_tensors.test_data()[0], pil.test_data()[0])  # the same images once read


@pytest.mark.parametrize(("data", "said"), [
    ({"images": np.zeros((4, 28, 28))}, r"arrays in a table take the keys x_train, y_train, x_test, y_test .*got 'images'"),
    (([[1, 2], [3]], np.zeros(2)), r"x is not an array \(rows of different lengths\?\)"),
    (((np.zeros((4, 28, 28)),), (np.zeros((2, 28, 28)), np.zeros(2))), r"a pair of pairs is \(\(x_train, y_train\), "),
    ((np.array([object(), object()]), np.zeros(2)), r"x must be an array of numbers .*dtype object"),
    ((np.zeros((4, 28, 28)), np.zeros(4), np.zeros(4)), r"arrays in memory are mnistlab.train\(\)'s: \(x, y\)"),
])
def test_arrays_of_another_form_are_one_line(mnist_part: tuple[np.ndarray, ...], data: object, said: str) -> None:
    with pytest.raises(SpecError, match=said):
        train(data, "seed000-dense", 1, progress="none")


class _OneHot(torch.utils.data.Dataset):
    """(tensor image (1, H, W), one-hot tensor label) items: ToTensor() and a one-hot target_transform."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.from_numpy(x).float().div(255).unsqueeze(1), torch.eye(10)[torch.from_numpy(y)]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def test_lists_channels_first_arrays_and_one_hot_items_are_read(mnist_part: tuple[np.ndarray, ...]) -> None:
    """helper-194: (x, y) as Python lists was read as a pair of pairs; (x, y) channels first was refused
    naming a file of the cache; a Dataset's one-hot labels raised a bare ValueError."""
    x, y, _, _ = mnist_part
    x, y = x[:150], y[:150]
    as_lists = train((x.tolist(), y.tolist()), "seed000-dense", 1, progress="none")
    first = train((torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)), "seed000-dense", 1, progress="none")
    one_hot = train(_OneHot(x, y), "seed000-dense", 1, progress="none")
    expected = as_lists.test_data()
    for run in (first, one_hot):
        got = run.test_data()
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_test_fraction_is_given_beside_the_arrays(mnist_part: tuple[np.ndarray, ...]) -> None:
    """Note 50: arrays in memory held out 20% with no way to say another share."""
    x, y, _, _ = mnist_part
    run = train((x, y), "seed000-dense", 1, progress="none", test_fraction=0.1)
    assert run.metrics["test_size"] == 50 and run.config["dataset"]["test_fraction"] == 0.1
    table = train({"x_train": x, "y_train": y, "test_fraction": 0.1}, "seed000-dense", 1, progress="none")
    assert table.config["dataset"] == run.config["dataset"]
    with pytest.raises(SpecError, match=r"test_fraction: must be a number between 0 and 1 \(exclusive\), got 1.5"):
        train((x, y), "seed000-dense", 1, progress="none", test_fraction=1.5)


def test_a_mistake_in_arrays_names_them_not_their_cache_file(mnist_part: tuple[np.ndarray, ...]) -> None:
    """Note 50: "~/.cache/mnistlab/arrays/<digest>.npz: one class (0)", a file the user never gave."""
    x, y, x_test, y_test = mnist_part
    with pytest.raises(DataError, match=r"^the data given in memory: one class \(0\)") as caught:
        train((x, np.zeros_like(y)), "seed000-dense", 1, progress="none")
    assert "cache" not in str(caught.value)
    with pytest.raises(SpecError, match=r"the model has 10 outputs but the data given in memory has 3 classes"):
        train((x[:30], y[:30] % 3), "seed000-dense", 1, progress="none")
    with pytest.warns(DataWarning, match=r"^the data given in memory: test_fraction = 0.3 not used"):
        train(((x, y), (x_test, y_test)), "seed000-dense", 1, progress="none", test_fraction=0.3)


def test_arrays_are_named_so_from_a_folder_above_the_cache_too(mnist_part: tuple[np.ndarray, ...], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-197: from the folder holding the cache (home, where Jupyter starts) messages show its path
    relative, ".cache/mnistlab/arrays/<digest>.npz", which the rewrite missed; and validation_data's warning."""
    x, y, _, _ = mnist_part
    monkeypatch.chdir(tmp_path)  # the fixture's cache: tmp_path / "cache"
    with pytest.raises(SpecError, match=r"the model has 10 outputs but the data given in memory has 3 classes"):
        train((x[:30], y[:30] % 3), "seed000-dense", 1, progress="none")
    with pytest.warns(DataWarning, match=r"^validation_data: its images look unlike the data given in memory's"):
        train((x, y), "seed000-dense", 1, progress="none", validation_data=(255 - x[:50], y[:50]))


def test_nan_pixels_name_their_image(mnist_part: tuple[np.ndarray, ...]) -> None:
    """helper-198: NaN pixels said "x_train has pixels outside 0-255 (min nan, max nan)"."""
    x, y, _, _ = mnist_part
    x = x[:60].astype(np.float32) / 255
    x[7, 3, 3] = np.nan
    with pytest.raises(DataError, match=r"^the data given in memory: x_train\[7\] has 1 NaN pixel: pixels are numbers"):
        train((x, y[:60]), "seed000-dense", 1, progress="none")
    x[7, 3, 3], x[9, 0, :2] = 0.5, np.inf
    with pytest.raises(DataError, match=r"x_train\[9\] has 2 infinite pixels: pixels"):
        train((x, y[:60]), "seed000-dense", 1, progress="none")


def test_floats_scaled_by_other_than_255_are_refused_and_whole_ones_train_as_0_255(mnist_part: tuple[np.ndarray, ...],
                                                                                   tmp_path: Path) -> None:
    """helper-237: x / 128 (floats up to 2) trained on near-black images without a word, and
    predict took images thresholded to 0/1 that training refuses."""
    x, y, _, _ = mnist_part
    x, y = x[:60], y[:60]
    with pytest.raises(DataError, match=r"^the data given in memory: x_train holds floats from 0 to 1\.99\d* with "
                                        r"fractions \(x_train\[0\]\): .* divided by something other than 255\?"):
        train((x / 128.0, y), "seed000-dense", 1, progress="none", store=False)
    colour = np.repeat(x[..., None].astype(np.float32), 3, axis=-1)  # whole numbers: its grey has fractions, not it
    as_floats = train((x.astype(np.float32), y), "seed000-dense", 1, progress="none", store=False)
    as_colour = train((colour, y), "seed000-dense", 1, progress="none", store=False)
    as_bytes = train((x, y), "seed000-dense", 1, progress="none", store=False)
    assert as_floats.test_accuracy == as_bytes.test_accuracy == as_colour.test_accuracy
    blurred = train((x.astype(np.float32) * 0.999 + 0.1, y), "seed000-dense", 1, progress="none", store=False)  # 0-255 with
    assert blurred.test_accuracy == as_bytes.test_accuracy  # fractions (resized, blurred): rounded (helper-242: refused)
    thresholded = (x[:3] > 127).astype(np.uint8)
    with pytest.raises(SpecError, match="every pixel value is 0 or 1: the images look scaled to 0-1"):
        as_bytes.predict(thresholded)
    assert as_bytes.predict(thresholded * 255).shape == (3, 10)


def test_a_dataset_that_load_dataset_returned_trains_as_what_it_was_given(data_dir: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-211: train(load_dataset("mnist"), ...) was refused: "dataset: must be a valid string";
    helper-212: by its name alone, a folder of the user's named "mnist" trained MNIST, one loaded from a
    data_dir was looked for elsewhere, and the user's own lost their class names as arrays."""
    import dataclasses

    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    ds = load_dataset("mnist", data_dir)
    run = train(ds, "seed000-dense", 1, subset=600, progress="none")  # (no data_dir: the folder it was found in)
    assert run.config["dataset"] == "mnist"  # a registered one: by name, its own test set
    folder = tmp_path / "mnist"  # the user's own, in a folder named as a registered dataset
    for label in ("cat", "dog"):
        (folder / label).mkdir(parents=True)
        for i in range(12):
            image = np.zeros((28, 28), np.uint8)
            if label == "cat":
                image[4 + i:8 + i, 4:24] = 255  # a bar across, one row lower each image
            else:
                image[4:24, 4 + i:8 + i] = 255  # a bar down
            Image.fromarray(image).save(folder / label / f"{i}.png")
    own = load_dataset(str(folder))
    dense = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2, "activation": "softmax"}]}
    run = train(own, dense, 1, progress="none")
    assert run.config["dataset"] != "mnist" and run.class_names == ["cat", "dog"]
    assert run.metrics["test_size"] == len(own.test_labels)
    cut = dataclasses.replace(own, train_images=own.train_images[:10], train_labels=own.train_labels[:10])
    assert "npz" in train(cut, dense, 1, progress="none").config["dataset"]  # other images now: its arrays


def test_colour_images_of_another_size_are_said_as_they_are_made_grayscale_and_resized(data_dir):
    """helper-251: (N, 32, 32, 3) arrays trained as grayscale 28x28 without a word."""
    import warnings as w

    import mnistlab
    from mnistlab.errors import DataWarning

    x = np.random.default_rng(0).integers(0, 255, (300, 32, 32, 3), dtype=np.uint8)
    y = np.arange(300) % 10
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        mnistlab.train((x, y), "seed000-dense", epochs=1, progress="none", data_dir=data_dir)
    said = [str(c.message) for c in caught if issubclass(c.category, DataWarning)]
    assert any("holds colour images (N, H, W, 3): made grayscale" in s for s in said), said
    assert any("its images are 32x32: resized to 28x28" in s and "input_shape = [32, 32, 1]" in s for s in said), said
    with w.catch_warnings(record=True) as caught:  # images of the model's size and one channel: nothing said
        w.simplefilter("always")
        mnistlab.train((x[..., 0][:, :28, :28], y), "seed000-dense", epochs=1, progress="none", data_dir=data_dir)
    assert not [c for c in caught if issubclass(c.category, DataWarning)]
