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
  MNIST with or without ``ToTensor()``): its images stacked, channels-first ones made (N, H, W).

Images and labels are then read as an ``.npz``'s are (:func:`~mnistlab.data.userdata.read_npz`: uint8
0-255 or floats in [0, 1], flat rows, channels-last; labels as integers, names or one-hot rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import SpecError, type_name

ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def in_memory(value: Any) -> bool:
    """Whether ``value`` is data given in memory (:func:`saved_arrays` takes it), not a name, path or table."""
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return False
    if isinstance(value, Mapping):
        return any(_is_array(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return len(value) == 2 and all(_is_array(v) or isinstance(v, (tuple, list)) for v in value)
    return _is_dataset(value)


def saved_arrays(value: Any) -> dict[str, str]:
    """Data given in memory (:func:`in_memory`) as the table of the ``.npz`` it is saved as in the
    cache: ``{"npz": path}``. SpecError, in one line, for arrays of another form (ragged, objects,
    a pair of other lengths, unknown keys)."""
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
    return {"npz": str(path)}


def _savez(tmp: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(tmp, "wb") as f:  # (a file object: numpy would add ".npz" to a temporary name without it)
        np.savez(f, **arrays)  # type: ignore[arg-type]  # (numpy's stubs take the keywords for allow_pickle)


def _arrays(value: Any) -> dict[str, np.ndarray]:
    """``value``'s arrays under an ``.npz``'s keys (:data:`ARRAY_KEYS`)."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ARRAY_KEYS]
        if unknown:
            raise SpecError(f"dataset: arrays in a table take the keys {', '.join(ARRAY_KEYS)} (Keras's mnist.npz); "
                            f"got {', '.join(map(repr, unknown[:3]))}")
        return {k: _array(v, k) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        first, second = value
        if isinstance(first, (tuple, list)) and isinstance(second, (tuple, list)):  # ((x_train, y_train), (x_test, y_test))
            if len(first) != 2 or len(second) != 2:
                raise SpecError("dataset: a pair of pairs is ((x_train, y_train), (x_test, y_test)), as "
                                f"keras.datasets.mnist.load_data() returns it; got pairs of {len(first)} and {len(second)}")
            return {k: _array(v, k) for k, v in zip(ARRAY_KEYS, (*first, *second))}
        return {"x_train": _array(first, "x"), "y_train": _array(second, "y")}
    return _from_dataset(value)


def _array(value: Any, name: str) -> np.ndarray:
    """``value`` (numpy, a torch tensor, nested lists) as a numpy array of numbers or strings."""
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):  # ragged lists
        raise SpecError(f"dataset: {name} is not an array (rows of different lengths?)") from None
    if a.dtype.kind not in "iufUS" or a.ndim == 0:
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
        images = [_array(np.asarray(img) if not hasattr(img, "detach") else img, "an image") for img, _ in items]
        if len({i.shape for i in images}) > 1:
            raise SpecError(f"dataset: a {type_name(dataset)} whose images differ in size: resize them first")
        x = np.stack(images)
        y = _array([int(label) if hasattr(label, "item") else label for _, label in items], "its labels")
    if x.ndim == 4 and x.shape[1] == 1 and x.shape[-1] != 1:  # channels first (ToTensor's (1, H, W)): (N, H, W)
        x = x[:, 0]
    return {"x_train": x, "y_train": y}


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "detach") and hasattr(value, "shape")


def _is_dataset(value: Any) -> bool:
    """A PyTorch map-style dataset (or anything shaped as one: ``__getitem__`` and ``__len__``)."""
    return not isinstance(value, Mapping) and hasattr(value, "__getitem__") and hasattr(value, "__len__")
