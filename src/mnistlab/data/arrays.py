"""The user's data given in memory, as Keras's ``fit(x, y)`` takes it, made an ``.npz`` a run can record.

:func:`mnistlab.train` takes a dataset as a name, a path or a table; in a notebook the data is often
arrays already. This module writes such arrays once to an ``.npz`` in the cache, named by a SHA-256
of their contents (``~/.cache/mnistlab/arrays/<digest>.npz``), so that the run trains on it as on
any ``.npz`` of the user's (:mod:`mnistlab.data.userdata`): its checksum recorded, the same arrays
given again the same file and the same run key. What is taken:

- ``(x, y)``: images and labels, as ``fit(x, y)``; the test split is held out of them
  (``test_fraction``, with ``data.test_seed``), as for an ``.npz`` without ``x_test``;
- ``((x_train, y_train), (x_test, y_test))``: what ``keras.datasets.mnist.load_data()`` returns;
- ``{"x_train": ..., "y_train": ..., "x_test": ..., "y_test": ...}`` (the test pair optional);
- a PyTorch map-style ``Dataset`` of ``(image, label)`` items (a ``TensorDataset``, torchvision's
  MNIST with or without ``ToTensor()``): its images stacked.

Channels-first images ((N, 1 or 3, H, W), PyTorch's) are moved to channels-last first. The share held
out as the test split is the ``.npz``'s ``test_fraction`` (0.2): ``train((x, y), test_fraction=0.1)``, or a
``"test_fraction"`` beside the arrays of a table. A mistake found in the arrays is said of "the data
given in memory" (:func:`as_given`), not of the cache file the user never named.

Images and labels are then read as an ``.npz``'s are (:func:`~mnistlab.data.userdata.read_npz`: uint8
0-255 or floats in [0, 1], flat rows, channels-last; labels as integers, names or one-hot rows).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import MnistlabError, SpecError, type_name

ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The options of an ``.npz`` (:data:`mnistlab.data.userdata.OPTIONS`) that arrays in memory take.
ARRAY_OPTIONS = ("test_fraction",)
#: What a message says instead of the cache file the arrays were saved as.
GIVEN = "the data given in memory"


def in_memory(value: Any) -> bool:
    """Whether ``value`` is data given in memory (:func:`saved_arrays` takes it), not a name, path or table."""
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return False
    if isinstance(value, Mapping):
        return any(_is_array(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return len(value) == 2 and all(_is_array(v) or isinstance(v, (tuple, list)) for v in value)
    return _is_array(value) or _is_dataset(value)


def saved_arrays(value: Any, **options: Any) -> dict[str, Any]:
    """Data given in memory (:func:`in_memory`) as the table of the ``.npz`` it is saved as in the
    cache: ``{"npz": path}``, with the :data:`ARRAY_OPTIONS` given (as keywords, or in a table beside
    the arrays), checked where the ``.npz`` is read. SpecError, in one line, for arrays of another form
    (ragged, objects, a pair of other lengths, unknown keys)."""
    if isinstance(value, Mapping):
        options = {**options, **{k: v for k, v in value.items() if k in ARRAY_OPTIONS}}
        value = {k: v for k, v in value.items() if k not in ARRAY_OPTIONS}
    arrays = _arrays(value)
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = arrays[key]
        digest.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    from mnistlab.datasets import cache_dir
    from mnistlab.files import write_atomic

    path = cache_dir() / "arrays" / f"{digest.hexdigest()[:20]}.npz"
    if not path.is_file():  # the same arrays given again: the file there (and the run's key the same)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: _savez(tmp, arrays))
    return {"npz": str(path), **options}


def as_given(text: str) -> str:
    """``text`` with the cache files arrays in memory were saved as (``~/.cache/mnistlab/arrays/<digest>.npz``,
    :func:`saved_arrays`) named :data:`GIVEN`: the user never saw that file (note 50)."""
    from mnistlab.datasets import cache_dir
    from mnistlab.files import shown_path

    folder = str(cache_dir() / "arrays")  # whole, or as a message shows it from a folder above it (helper-197: ~)
    forms = "|".join(re.escape(form + os.sep) for form in dict.fromkeys((folder, shown_path(folder))))
    return re.sub(f"(?:{forms})" + r"[0-9a-f]{20}\.npz", GIVEN, text)


@contextlib.contextmanager
def said_as_given() -> Iterator[None]:
    """Within it, a :class:`~mnistlab.errors.MnistlabError` (and those in its ``more``) says the arrays
    given in memory as :func:`as_given` does: "the data given in memory: one class (0)"."""
    try:
        yield
    except MnistlabError as exc:
        for error in (exc, *exc.more):
            error.args = tuple(as_given(a) if isinstance(a, str) else a for a in error.args)
        raise


def saved_if_given(dataset: Any, overrides: Mapping[str, Any], *, source: str) -> tuple[Any, dict[str, Any]]:
    """``dataset`` and ``overrides`` of ``source`` (:func:`mnistlab.train`, :func:`mnistlab.lr_find`);
    data in memory (Keras's ``fit(x, y)``) saved once as an ``.npz`` the run records (:func:`saved_arrays`,
    helper-191), its options (``test_fraction``) taken out of ``overrides`` into its table; a
    :class:`~mnistlab.datasets.Dataset` as its training and test arrays (one :func:`given_dataset`
    names otherwise is named so first). SpecError, led by ``source``, for arrays of another form."""
    from mnistlab.datasets import Dataset

    if isinstance(dataset, Dataset):
        dataset = ((dataset.train_images, dataset.train_labels), (dataset.test_images, dataset.test_labels))
    if not in_memory(dataset):
        return dataset, dict(overrides)
    options = {k: v for k, v in overrides.items() if k in ARRAY_OPTIONS}
    try:
        table = saved_arrays(dataset, **options)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}", path=("dataset",), source=source) from None
    return table, {k: v for k, v in overrides.items() if k not in options}


def given_dataset(dataset: Any, data_dir: str | os.PathLike | None) -> tuple[Any, str | os.PathLike | None]:
    """``dataset`` and ``data_dir`` of :func:`mnistlab.train` (or :func:`mnistlab.lr_find`) where
    ``dataset`` is a :class:`~mnistlab.datasets.Dataset` that :func:`~mnistlab.load_dataset` returned
    as it loaded it (its ``loaded_as``; helper-211: refused, "must be a valid string"): what it was
    given, a registered name or the user's own data, with the folder its files were found in, so the
    run records the data as one given by name does (its class names, its files' SHA-256, and beside
    the runs of that name). Anything else as it is: a Dataset made otherwise, or holding other images
    now (cut with ``dataclasses.replace``), trains as its arrays (:func:`saved_if_given`)."""
    from mnistlab.datasets import Dataset

    if not isinstance(dataset, Dataset) or dataset.loaded_as is None:
        return dataset, data_dir
    name, folder, train, test = dataset.loaded_as
    if (train, test) != (len(dataset.train_labels), len(dataset.test_labels)) or _edited(dataset):
        return dataset, data_dir
    return name, data_dir if data_dir is not None else folder


def _edited(dataset: Any) -> bool:
    """Whether ``dataset`` (a :class:`~mnistlab.datasets.Dataset` :func:`~mnistlab.load_dataset` returned)
    holds other images or labels than a new load of what it was loaded as: its arrays can be written
    to (copy-on-write, as Keras's), and a label-noise or preprocessing experiment edits them in place
    (review: it trained on the files as they are, recorded as the plain dataset). One load from the
    decoded cache and one comparison of the arrays, some 15 ms for MNIST (bench/bench_dataset_api.py)."""
    from mnistlab.datasets import load_dataset

    name, folder = dataset.loaded_as[:2]
    try:
        again = load_dataset(name, folder, download=False)
    except MnistlabError:
        return True  # (its files gone since: its arrays are all there is)
    return not all(np.array_equal(getattr(dataset, k), getattr(again, k))
                   for k in ("train_images", "train_labels", "test_images", "test_labels"))


def _savez(tmp: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(tmp, "wb") as f:  # (a file object: numpy would add ".npz" to a temporary name without it)
        np.savez(f, **arrays)  # type: ignore[arg-type]  # (numpy's stubs take the keywords for allow_pickle)


def _arrays(value: Any) -> dict[str, np.ndarray]:
    """``value``'s arrays under an ``.npz``'s keys (:data:`ARRAY_KEYS`)."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ARRAY_KEYS]
        if unknown:
            raise SpecError(f"dataset: arrays in a table take the keys {', '.join(ARRAY_KEYS)} (Keras's mnist.npz) "
                            f"and {', '.join(ARRAY_OPTIONS)}; got {', '.join(map(repr, unknown[:3]))}")
        return {k: _array(v, k) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        first, second = value
        if _pair_of_pairs(first, second):  # ((x_train, y_train), (x_test, y_test))
            if len(first) != 2 or len(second) != 2:
                raise SpecError("dataset: a pair of pairs is ((x_train, y_train), (x_test, y_test)), as "
                                f"keras.datasets.mnist.load_data() returns it; got pairs of {len(first)} and {len(second)}")
            arrays = {k: _array(v, k) for k, v in zip(ARRAY_KEYS, (*first, *second))}
        else:
            arrays = {"x_train": _array(first, "x"), "y_train": _array(second, "y")}
    elif _is_array(value):
        raise SpecError("dataset: images alone: give their labels too, (x, y) as Keras's fit takes them")
    else:
        arrays = _from_dataset(value)
    return {k: _channels_last(a) if k.startswith("x") else a for k, a in arrays.items()}


def _pair_of_pairs(first: Any, second: Any) -> bool:
    """Whether ``(first, second)`` is ``((x_train, y_train), (x_test, y_test))`` rather than ``(x, y)``
    given as lists (helper-194: 300 images and labels in lists were read as two pairs): two tuples or
    lists of (about) two arrays each."""
    def pair(v: Any) -> bool:
        return isinstance(v, (tuple, list)) and 1 <= len(v) <= 3 and all(
            _is_array(a) or isinstance(a, (tuple, list)) and len(a) > 3 for a in v)
    return pair(first) and pair(second)


def _channels_last(x: np.ndarray) -> np.ndarray:
    """Images channels first, (N, 1 or 3, H, W) as PyTorch keeps them, moved to (N, H, W, C), the
    layout an ``.npz`` is read in (helper-194: refused in (x, y), a colour Dataset's dropped)."""
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        return np.moveaxis(x, 1, -1)
    return x


def _array(value: Any, name: str) -> np.ndarray:
    """``value`` (numpy, a torch tensor, nested lists) as a numpy array of numbers or strings."""
    if hasattr(value, "detach"):  # a torch tensor, on any device (bfloat16, which numpy has not: as float32)
        value = value.detach().cpu()
        value = (value.float() if str(value.dtype) == "torch.bfloat16" else value).numpy()
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):  # ragged lists
        raise SpecError(f"dataset: {name} is not an array (rows of different lengths?)") from None
    if a.dtype.kind not in "iufUS" or (a.ndim == 0 and name != "a label"):
        raise SpecError(f"dataset: {name} must be an array of numbers (labels: or of class names), "
                        f"got {type_name(value)} of dtype {a.dtype}")
    return a


def _from_dataset(dataset: Any) -> dict[str, np.ndarray]:
    """A PyTorch map-style dataset's ``(image, label)`` items as ``x_train`` and ``y_train``: a
    ``TensorDataset``'s two tensors as they are, another's items one by one (PIL images, tensors)."""
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        x, y = _array(tensors[0], "its images"), _array(tensors[1], "its labels")
    else:
        items = [dataset[i] for i in range(len(dataset))]
        if not items or not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            raise SpecError(f"dataset: a {type_name(dataset)} whose items are not (image, label) pairs")
        images = [_array(img, "an image") for img, _ in items]  # (PIL images, tensors, arrays)
        if len({i.shape for i in images}) > 1:
            raise SpecError(f"dataset: a {type_name(dataset)} whose images differ in size: resize them first")
        labels = [_array(label, "a label") for _, label in items]  # (a number, a name or a one-hot row: helper-194)
        if len({a.shape for a in labels}) > 1:
            raise SpecError(f"dataset: a {type_name(dataset)} whose labels differ in shape")
        x, y = np.stack(images), np.stack(labels)
    return {"x_train": x, "y_train": y}  # (channels first, ToTensor's (1, H, W): made last by _arrays)


def _is_array(value: Any) -> bool:
    """numpy's, or any array-like numpy reads (``__array__``: a torch tensor, pandas, JAX: helper-194)."""
    return isinstance(value, np.ndarray) or hasattr(value, "__array__")


def _is_dataset(value: Any) -> bool:
    """A PyTorch map-style dataset (or anything shaped as one: ``__getitem__`` and ``__len__``)."""
    return not isinstance(value, Mapping) and hasattr(value, "__getitem__") and hasattr(value, "__len__")
