"""The user's own data as a dataset: a Kaggle-style CSV, a folder per class, NumPy arrays or IDX files.

Wherever a dataset name is accepted, these are too::

    dataset = { csv = "train.csv", test = "test.csv" }   # a `label` column, then pixel0 ... pixel783
    dataset = { folder = "digits/" }                     # digits/<class name>/<image files>
    dataset = { npz = "data.npz" }                       # x_train, y_train[, x_test, y_test] (Keras's mnist.npz)
    dataset = { idx = "my-mnist/" }                      # train-images-idx3-ubyte[.gz], train-labels-...[, t10k-...]
    dataset = { idx = "gzip/emnist-digits" }             # one dataset's IDX files (by prefix) of a folder of several
    dataset = "train.csv"                                 # a path alone: the same without options

A relative path in a config or experiment file is relative to that file's folder (the file and its
data move together; :func:`data_beside`); on the command line (``--dataset``) it is relative to
the current folder.

Options: ``test`` (a second file or folder of the same kind), ``label`` (the CSV's label column,
default ``"label"``), ``test_fraction`` (carved from the training data, stratified by class, with
the run's ``data.test_seed``, 0 unless set, when no ``test`` is given; default 0.2).

Class names come from the folder names, or from the labels (strings sorted; numbers 0..max kept as
they are). Images become uint8 (N, H, W) at the model's input size: colour converted to grayscale
and resized with Pillow's bilinear filter (a simple resize: the predict command's preprocessing
could later be applied here). Every file's SHA-256 is recorded, so a run names the exact data it
came from. Bad input raises a one-line DataError naming the file (and row and column for a CSV).
"""

from __future__ import annotations

import csv
import hashlib
import math
import errno
import os
import stat
import re
import warnings
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mnistlab.data import read_cache
from mnistlab.errors import DataError, MnistlabError, clip, did_you_mean, first_line, toml_repr, type_name, user_level
from mnistlab.files import (compressed_said, display_name, missing_hint, missing_said, not_utf8_said, path_as_typed,
                            shell_word, shown_path, utf8_text, write_output, zip_holds)

_T = TypeVar("_T")

# (.jfif: a JPEG as Edge and Chrome save one on Windows; .dib: a bitmap as Paint names one; helper-177)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
KINDS = ("csv", "folder", "npz", "idx")
OPTIONS = ("test", "label", "test_fraction")


class UserDataError(DataError):
    """A bad user-data table; ``key`` is the key of ``dataset`` it is about (for the file's line)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class UserData:
    """The user's data, validated: ``kind`` (csv | folder | npz | idx), ``path``, optional ``test``."""

    kind: str
    path: Path
    test: Path | None = None
    label: str = "label"
    test_fraction: float = 0.2
    fraction_given: bool = field(default=False, compare=False)  # test_fraction written, not the default

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)


def plain_paths(value: Any) -> Any:
    """A dataset as Python code may give it, with its paths as strings, as a file writes them:
    a ``pathlib.Path`` (any ``os.PathLike``) alone or as a table's value (``{"csv": Path(...)}``).
    Anything else comes back as it is."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in value.items()}
    return value


def parse_user_dataset(value: str | os.PathLike[str] | Mapping[str, Any]) -> UserData:
    """Validate a dataset given as a path or a ``{csv|folder|npz|idx = ..., test = ..., ...}`` table
    (paths as strings or ``os.PathLike``).

    Raises UserDataError (one line; ``.key`` names the offending key) for unknown keys, not
    exactly one of csv/folder/npz/idx, wrong types, files that do not exist, and a folder of IDX
    files without its training pair (:func:`idx_files`).
    """
    value = plain_paths(value)
    if isinstance(value, str):
        return _from_path(value)
    if not isinstance(value, Mapping):
        raise UserDataError(f"a dataset is a name or a table such as {{ csv = \"train.csv\" }}, got {type_name(value)}")
    for key in value:
        if key not in (*KINDS, *OPTIONS):
            raise UserDataError(f"unknown key {key!r}{did_you_mean(str(key), (*KINDS, *OPTIONS))}; "
                                f"known: {', '.join((*KINDS, *OPTIONS))}", key=str(key))
    kinds = [k for k in KINDS if k in value]
    if len(kinds) != 1:
        raise UserDataError("give exactly one of csv, folder, npz or idx" + (f" (got {', '.join(kinds)})" if kinds else ""))
    kind = kinds[0]
    for key in (kind, "test", "label"):
        if key in value and not isinstance(value[key], str):
            raise UserDataError(f"{key}: must be a string, got {type_name(value[key])}", key=key)
    for key in (kind, "test"):  # an empty path is the current folder to the OS: never what was meant
        if key in value and not value[key].strip():
            raise UserDataError(f"{key}: an empty path (an unset variable?): give the "
                                + ("folder of class folders" if kind == "folder" else "folder of IDX files" if kind == "idx"
                                   else f".{kind} file"), key=key)
    if "label" in value and kind != "csv":
        where = {"folder": "its class folders' names", "npz": "its y_train (or labels) array",
                 "idx": "its labels files (train-labels-idx1-ubyte)"}[kind]
        raise UserDataError(f"label: names a CSV's label column; {'a' if kind == 'folder' else 'an'} {kind}'s labels are "
                            f"{where}", key="label")
    if "test" in value and kind == "idx":
        raise UserDataError("test: an IDX folder's test set is its own t10k- (or test-) files; without them "
                            "test_fraction holds one out of its training images", key="test")
    fraction = value.get("test_fraction", 0.2)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise UserDataError(f"test_fraction: must be a number between 0 and 1 (exclusive), got {toml_repr(fraction)}",
                            key="test_fraction")
    path = _existing(value[kind], kind, kind)
    test = _existing(value["test"], kind, "test") if "test" in value else None
    if kind == "idx":
        try:
            idx_files(path)
        except DataError as exc:
            raise UserDataError(str(exc), key="idx") from None
    return UserData(kind, path, test, value.get("label", "label"), float(fraction), "test_fraction" in value)


def dataset_label(dataset: str | Mapping[str, Any]) -> str:
    """How messages and cards name a run's dataset: a registered name or a path as given; the user's
    own data given as a table by its files, e.g. ``train.csv (test: test.csv)`` or ``folder digits``.

    >>> dataset_label({"csv": "train.csv", "test": "test.csv"})
    'train.csv (test: test.csv)'
    """
    if not isinstance(dataset, Mapping):
        return display_name(shown_path(dataset))  # a newline in a path: escaped, as a file name (helper-121)
    kind = next((k for k in KINDS if k in dataset), None)
    if kind is None:
        return display_name(str(dict(dataset)))
    main = f"{kind} {shown_path(dataset[kind])}" if kind in ("folder", "idx") else shown_path(dataset[kind])
    return display_name(main + (f" (test: {shown_path(dataset['test'])})" if "test" in dataset else ""))


def _from_path(text: str) -> UserData:
    path = Path(text).expanduser()
    if path.is_dir():
        if (found := _idx_beside_no_class(path)) is not None:
            raise UserDataError(f"{shown_path(text)}: holds IDX files ({found}), not class folders: give it as "
                                f"the table {{ idx = {toml_repr(shown_path(text))} }}")
        return UserData("folder", path)
    if path.suffix.lower() in (".csv", ".npz"):
        return UserData(path.suffix.lower()[1:], _existing(text, path.suffix.lower()[1:], None))
    from mnistlab.data.registry import _REGISTRY

    own = "a .csv file, an .npz file, a folder of class folders or { idx = folder } for a folder of IDX files"
    if path.exists() and _IDX_NAME.match(path.name):
        raise UserDataError(f"{shown_path(text)}: one IDX file; a dataset of them is their folder: the table "
                            f"{{ idx = {toml_repr(shown_path(str(path.parent)))} }}")
    if path.exists():
        if path.suffix.lower() == ".zip" and zip_holds(path, ".csv"):  # (helper-224: Kaggle's digit-recognizer.zip)
            raise UserDataError(f"{shown_path(text)}: a zip of CSV files: unzip it (unzip {shell_word(path)}) and give the "
                                ".csv it holds")
        if path.name.lower().endswith((".csv.gz", ".csv.zip", ".csv.bz2", ".csv.xz")) and (packed := compressed_said(path)):
            raise UserDataError(f"{shown_path(text)}: a CSV {packed}" + ("" if "give " in packed else ", and give the .csv"))
        raise UserDataError(f"{shown_path(text)}: a {path.suffix or 'file without a suffix'} is no dataset mnistlab reads"
                            + (" (a zip of images: unzip it and give the folder)" if path.suffix.lower() == ".zip" else "")
                            + f"; a dataset is a name ({', '.join(_REGISTRY)}), {own}")
    if path.is_symlink():  # helper-166: a loop of links was "no such file or folder"
        raise UserDataError(f"{shown_path(text)}: {_broken_link(path)}")
    hint = missing_hint(text)  # (a Windows path is meant as one too: helper-180, "unknown dataset 'data\\train.csv'")
    if os.sep in text or (os.altsep or os.sep) in text or text.startswith(("~", ".")) or hint:  # meant as a path
        raise UserDataError(f"{path_as_typed(shown_path(text))}: no such file or folder{hint}; a dataset is a "
                            f"name ({', '.join(_REGISTRY)}), {own}")
    raise UserDataError(f"unknown dataset {text!r}{did_you_mean(text, _REGISTRY)}; known: {', '.join(_REGISTRY)}, "
                        f"or {own}")


def is_folder_dataset(dataset: Any) -> bool:
    """Whether a config's ``dataset`` names a folder of class folders, read from the config alone
    (a path that is not a .csv or an .npz, or a ``{ folder = ... }`` table: :func:`data_setting`'s
    kind; no file is touched)."""
    setting = data_setting(dataset)
    return isinstance(setting, Mapping) and setting.get("own data") == "folder"


def carves_test_split(dataset: Any, unreadable: bool = True) -> bool:
    """Whether a config's ``dataset`` is the user's own data whose test split is held out of its
    training images (``test_fraction``, with ``data.test_seed``): no ``test`` file given, and no
    ``x_test`` in its .npz or test pair among its IDX files. Data that cannot be read counts as
    ``unreadable`` says (a run's, by default: it then fails on it, before anything trains)."""
    setting = data_setting(dataset)
    if not isinstance(setting, Mapping) or setting["test file"]:  # a registered name, or a test file given
        return False
    try:
        spec = parse_user_dataset(dataset)
        if spec.kind == "npz":
            return not npz_has_test(spec.path)
        return spec.kind != "idx" or "test" not in idx_files(spec.path)
    except (MnistlabError, OSError):
        return unreadable


SHUFFLE_SEED = 0  # data.shuffle's one order: the same subset and splits for every run and seed


def _shuffled(images: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``images`` and ``labels`` in one order drawn with :data:`SHUFFLE_SEED` (``data.shuffle``)."""
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(images))
    return images[order], None if labels is None else labels[order]


def data_beside(dataset: Any, folder: str | Path) -> Any:
    """``dataset`` as written in a config or experiment file, its relative paths made relative to
    that file's ``folder`` (the file travels with its data; the ``--dataset`` flag stays relative
    to the current folder). A registered name given alone, absolute and ``~`` paths, a bare word
    that names nothing, beside the file or here (a typo such as ``mnst``: its error then tells it
    as written), and values of the wrong type (validation reports those) pass through unchanged;
    in a table (``{ folder = "mnist" }``) a value is a path."""
    from mnistlab.data.registry import _REGISTRY

    def beside(text: Any) -> Any:
        if not isinstance(text, str) or not text or Path(text).expanduser().is_absolute():
            return text
        return str(Path(folder) / text)

    if isinstance(dataset, str):
        if dataset in _REGISTRY:
            return dataset
        bare = not any(sep in dataset for sep in "/\\") and Path(dataset).suffix.lower() not in (".csv", ".npz")
        if bare and not (Path(folder) / dataset).exists() and not Path(dataset).exists():
            return dataset  # no path anywhere: a mistyped name ("mnst"), whose error tells it as written
        return beside(dataset)
    if isinstance(dataset, Mapping):
        return {k: beside(v) if k in (*KINDS, "test") else v for k, v in dataset.items()}
    return dataset


def absolute_data(dataset: Any) -> Any:
    """``dataset`` with each path of the user's data that exists now made absolute and canonical
    (``~`` expanded, symbolic links and ``..`` resolved, as the OS reads them), from the current
    folder: how a run records it, so that a recorded run finds its data from any folder. (Its key
    holds the data's content, not this path: :func:`data_identity`.) A registered name given
    alone, paths that do not exist (their error then shows them as written) and values of the
    wrong type pass through unchanged; in a table (``{ folder = "mnist" }``) a value is a path."""
    from mnistlab.data.registry import _REGISTRY

    def absolute(text: Any) -> Any:
        if not isinstance(text, str) or not text or not Path(text).expanduser().exists():
            return text
        path = Path(text).expanduser()
        if not (path.is_file() or path.is_dir()):  # a link to a device or a pipe: named as given, refused as
            return str(path.absolute())  # such (helper-172: data.csv -> /dev/zero read "a file without a suffix")
        return str(path.resolve())

    def absolute_prefix(text: Any) -> Any:  # an IDX prefix ("gzip/emnist-digits"): its folder, made absolute
        if not isinstance(text, str) or not text or Path(text).expanduser().exists():
            return absolute(text)
        folder = absolute(str(Path(text).expanduser().parent))
        return str(Path(folder) / Path(text).name) if folder != str(Path(text).expanduser().parent) else text

    if isinstance(dataset, str):
        return dataset if dataset in _REGISTRY else absolute(dataset)
    if isinstance(dataset, Mapping):
        return {k: absolute_prefix(v) if k == "idx" else absolute(v) if k in (*KINDS, "test") else v
                for k, v in dataset.items()}
    return dataset


def _file_kind_hint(path: Path) -> str:
    """What to write for a file given as ``folder = ...``: `` (for a .csv file write csv = ...)`` for a
    kind mnistlab reads (any case: helper-177, "write CSV = ..." was then an unknown key), a word on
    a zip (helper-177: "write zip = ..." named no key), else ""."""
    suffix = path.suffix.lower()[1:]
    if suffix in KINDS:
        return f" (for a .{suffix} file write {suffix} = ...)"
    if suffix == "zip":
        return " (a zip of images is not read: unzip it and give the folder)"
    return ""


def _existing(text: str, kind: str, key: str | None) -> Path:
    path = Path(text).expanduser()
    if kind == "idx":  # a folder, or a folder and the prefix of its files of one dataset ("gzip/emnist-digits")
        if path.is_file():
            raise UserDataError(f"idx: {shown_path(text)} is a file: give the folder that holds the IDX files", key=key)
        if not path.is_dir() and not path.parent.is_dir():
            raise UserDataError(f"idx: no such folder: {text}", key=key)
    elif kind == "folder":
        if path.is_file():  # a folder dataset's data, its test data too, is a folder of class folders
            raise UserDataError(f"{key or kind}: {shown_path(text)} is a file, not a folder of class folders"
                                + (" (the test data is one, as the training data is)" if key == "test" else
                                   _file_kind_hint(path)), key=key)
        if not path.is_dir():
            raise UserDataError(f"{key}: " + (f"{shown_path(text)}: {_broken_link(path)}" if path.is_symlink() else
                                              missing_said(text, "folder")), key=key)
    elif path.is_dir():
        raise UserDataError(f"{key or kind}: {shown_path(text)} is a folder, not a .{kind} file", key=key)
    elif path.exists() and not path.is_file():  # a FIFO, a socket, a device: read once or never ends
        raise UserDataError((f"{key}: " if key else "") + f"{shown_path(text)} is not a regular file (a pipe or a device); "
                            f"save it to a .{kind} file first", key=key)
    elif path.is_symlink() and not path.exists():
        raise UserDataError((f"{key}: " if key else "") + f"{shown_path(text)}: {_broken_link(path)}", key=key)
    elif not path.is_file():
        raise UserDataError(f"{key or kind}: {missing_said(text)}" if key else missing_said(text), key=key)
    return path


def _broken_link(path: Path) -> str:
    """What a link that leads to nothing is: one in a loop of links, or one to a file since gone."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link in a loop of links (it leads back to itself): point it at the data"
    return f"a link to {display_name(os.readlink(path))}, which is gone: point it at the data"


def input_size_mismatch(spec: Any, dataset: Any, image_shape: Sequence[int]) -> str | None:
    """The one-line message for a model (a :class:`~mnistlab.specs.ModelSpec`) whose
    ``input_shape`` (H, W, C) cannot take ``dataset``'s images, ``image_shape`` (H, W) uint8 grayscale,
    saying how to fit it; None when it can. Every dataset is one channel (the user's images are
    read as grayscale); a registered dataset keeps its size (the user's own data is resized to the
    model's input as it is read, so only its channels can differ)."""
    height, width, channels = (int(n) for n in spec.input_shape)
    name = dataset_label(dataset) if isinstance(dataset, str) else "the data"
    if channels == 1 and (height, width) == tuple(int(n) for n in image_shape[:2]):
        return None
    fit = ", ".join(str(int(n)) for n in (*image_shape[:2], 1))
    takes = f"the model takes {height}x{width}x{channels} images (input_shape = [{height}, {width}, {channels}])"
    if (height, width) == tuple(int(n) for n in image_shape[:2]):  # the user's data (resized to it), or the size right
        return f"{takes} but every dataset is read as grayscale, one channel: set input_shape = [{fit}]"
    return (f"{takes} but {name}'s images are {image_shape[0]}x{image_shape[1]} with 1 channel (grayscale): set "
            f"input_shape = [{fit}]" + ("" if channels == 1 else "; every dataset is read as grayscale, one channel")
            + " (a registered dataset is not resized; your own images are resized to the model's input)")


def class_count_mismatch(spec: Any, dataset: Any, classes: int) -> str:
    """The one-line message for a model (a :class:`~mnistlab.specs.ModelSpec`) whose outputs are not
    the ``classes`` of ``dataset``, saying how to fit it: ``outputs = N`` in a compact model table,
    the last Dense layer's units in a list of layers, for a preset by that layer's position
    (``"model.layers[-1].units" = N``; ``[-3]`` where an Activation and a softmax follow it)."""
    name = dataset_label(dataset) if isinstance(dataset, str) else next(
        (shown_path(v) for k, v in dict(dataset).items() if k in KINDS), "the data")
    dense = [i - len(spec.layers) for i, layer in enumerate(spec.layers) if layer.type == "Dense"]
    where = (f"; for a preset, set them by the layer's position: \"model.layers[{dense[-1]}].units\" = {classes} in "
             f"a variant, with the preset named in [base] (a table that names it sets model whole), or --set "
             f"'model.layers[{dense[-1]}].units={classes}'" if dense else "")
    return (f"the model has {spec.num_classes} outputs but {name} has {classes} classes: fit the model to {classes} "
            f"classes: in a model table write outputs = {classes} (e.g. model = {{ conv = [32], dense = [128], "
            f"outputs = {classes} }}); in a list of layers set the last Dense layer's units to {classes}{where}")


def _rare_top(spec: Any, train: np.ndarray, test: np.ndarray | None, top: int, *, after_gap: bool = True) -> str:
    """Where the highest label is, when it looks like a typo (on a handful of images only, and
    above a gap unless not ``after_gap``): ``; label 12 is on 1 image only: line 31 of train.csv, a
    typo?`` (an .npz's: ``index 29 of the labels of data.npz (counting from 0)``); else ''."""
    where = [(spec.path, np.flatnonzero(train == top))]
    if test is not None:
        where.append((spec.test, np.flatnonzero(test == top)))
    count = sum(len(i) for _, i in where)
    if (after_gap and top - 1 in set(train.tolist()) | (set() if test is None else set(test.tolist()))) or count > 3:
        return ""
    file, at = next((f, i) for f, i in where if len(i))
    only = f"; label {top} is on {count} image{'s' * (count != 1)} only: "  # (helper-214: "10 labels 1 image only")
    if Path(file).suffix.lower() == ".csv":  # a second pass, on this rare path only: the file's lines of those rows
        lines = _csv_rows(Path(file), _csv_header(Path(file)), None)[1]
        shown = ", ".join(str(lines[i]) for i in at[:3].tolist())
        return f"{only}line{'s' * (len(at) > 1)} {shown} of {shown_path(file)}, a typo?"
    shown = ", ".join(map(str, at[:3].tolist()))
    return f"{only}index {shown} of the labels of {shown_path(file)} (counting from 0), a typo?"


# ------------------------------------------------------------------------------------- loading
def load_user_data(spec: UserData, *, image_shape: tuple[int, int] = (28, 28), seed: int = 0,
                   shuffle: bool = False) -> Any:
    """The :class:`~mnistlab.datasets.Dataset` of ``spec``: images uint8 (N, H, W) resized to
    ``image_shape``, labels int64 0..classes-1, ``checksums`` {file: SHA-256}. ``shuffle``: each
    file's images in one order drawn with :data:`SHUFFLE_SEED` (``data.shuffle``; else a folder's
    come class by class). Without ``test``,
    a stratified ``test_fraction`` of the data (at least one image) is held out with ``seed``.
    Raises DataError for any bad file (see the module docstring). Each file is read once per
    process while it stays as it is (:func:`_read`): a later call splits and resizes that read."""
    from mnistlab.data.registry import DatasetInfo
    from mnistlab.datasets import Dataset, validation_split

    train_x, train_raw = _read(spec, spec.path, shape=image_shape)
    test_x, test_raw = _read(spec, spec.test, shape=image_shape) if spec.test is not None else (None, None)
    if spec.test is None and (spec.kind == "npz" and npz_has_test(spec.path)
                              or spec.kind == "idx" and "test" in idx_files(spec.path)):
        test_x, test_raw = _read(spec, spec.path, "test", shape=image_shape)
    elif spec.kind == "idx" and (unused := _idx_unused_tests(spec.path)):
        _warn(f"{spec.path}: its test files are not those of its training files' dataset ({clip(', '.join(unused), 80)}): "
              f"not used; the test set is test_fraction = {spec.test_fraction:g} of the training images")
    if shuffle:
        train_x, train_raw = _shuffled(train_x, train_raw)
        if test_x is not None:
            test_x, test_raw = _shuffled(test_x, test_raw)
    for x, where in ((train_x, spec.path), (test_x, spec.test or f"{spec.path}'s test split")):
        if x is not None and len(x) == 0:
            raise DataError(f"{where}: holds no images")
    names, train_y, test_y = _class_indices(spec, train_raw, test_raw)
    held_out = spec.test_fraction if test_x is None else 0.0
    if test_x is not None and spec.fraction_given:  # refused it would break configs that ran; said, it is not a surprise
        _warn(f"{spec.path}: test_fraction = {spec.test_fraction:g} not used: the test set is "
              f"{spec.test if spec.test is not None else 'its x_test and y_test'}, held out whole")
    if test_x is None:
        if len(train_y) < 2:
            raise DataError(f"{spec.path}: {len(train_y)} image(s): too few to hold out a test split")
        count = min(max(1, round(len(train_y) * spec.test_fraction)), len(train_y) - 1)
        keep, held = validation_split(train_y, count=count, seed=seed, stratify=True)
        _check_held_out(spec, names, train_y, train_y[keep])
        train_x, test_x, train_y, test_y = train_x[keep], train_x[held], train_y[keep], train_y[held]
    assert test_y is not None
    if spec.kind in ("npz", "csv", "idx") and (given := tuple(train_x.shape[1:3])) != tuple(image_shape[:2]):
        _warn(f"{spec.path}: its images are {given[0]}x{given[1]}: resized to {image_shape[0]}x{image_shape[1]}, the "  # (helper
              f"model's input (Pillow's bilinear filter); a model of input_shape = [{given[0]}, {given[1]}, 1] trains "  # -251:
              "at their own size")  # unsaid)
    train_x, test_x = resize_images(train_x, image_shape), resize_images(test_x, image_shape)
    _check_pixels(spec, train_x, test_x)
    checksums = {str(spec.path): _seen(spec.path, spec.kind)}
    if spec.test is not None:
        checksums[str(spec.test)] = _seen(spec.test, spec.kind)
    if spec.test is not None and checksums[str(spec.test)] == checksums[str(spec.path)]:
        _warn(f"{spec.test}: the test data is the training data (the same files' content): its test accuracy is on "
              "images the model trained on; give other images as test, or leave test out (test_fraction holds out some)")
    elif spec.test is not None and (shared := _shared_images(train_x, test_x)):  # helper-121: a partial overlap
        _warn(f"{spec.test}: {shared:,} of its {len(test_x):,} images are also training images (the same pixels): "
              "their test accuracy is on images the model trained on; take them out of one of the two")
    info = DatasetInfo(name=spec.name, class_names=tuple(names), train_size=len(train_y), test_size=len(test_y),
                       files={}, sha256={}, image_shape=image_shape, description=f"the user's {spec.kind} {spec.path}")
    return Dataset(info=info, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y,
                   source=f"{spec.path} (user data)", verified="sha256 recorded", checksums=checksums,
                   test_held_out=held_out)


def _check_pixels(spec: UserData, train_x: np.ndarray, test_x: np.ndarray) -> None:
    """DataError for training or test images that are all blank (every pixel of every image one
    value), or each one flat shade: a model learns nothing from them, or is scored on nothing; a warning for test images on
    the other background than the training images' (dark ink on light paper beside MNIST's light on
    black, by :func:`~mnistlab.data.borders.trained_background`): helper-150's inverted x_test scored
    0%, unsaid. ``train_x``, ``test_x``: uint8 (N, H, W)."""
    from mnistlab.data.borders import border_range, trained_background

    test = spec.test or f"{spec.path}'s test split"
    for x, where, what in ((train_x, spec.path, "training"), (test_x, test, "test")):
        if not x.size:
            continue
        flat = x.reshape(len(x), -1)
        low, high = flat.min(axis=1), flat.max(axis=1)
        if not (low == high).all():
            continue
        why = 'nothing to learn from' if what == 'training' else 'nothing to score a model on'
        if low.min() == high.max():
            raise DataError(f"{where}: every pixel of its {len(x):,} {what} images is {int(low[0])}: blank images, {why}")
        raise DataError(f"{where}: each of its {len(x):,} {what} images is one flat shade (all its pixels one "
                        f"value): no shapes, {why}")  # (helper-152: trained at chance, unsaid)
    trained, tested = trained_background(border_range(train_x)), trained_background(border_range(test_x))
    if trained and tested and trained != tested:
        ink = {"dark": "light ink on a dark background", "light": "dark ink on a light background"}
        _warn(f"{test}: its images are {ink[tested]}, the training images {ink[trained]} (by their borders): a model "
              "scores at chance or worse on the other kind; invert one of them (255 - x), unless testing on the other "
              "kind is the point")


def _shared_images(train_x: np.ndarray, test_x: np.ndarray) -> int:
    """How many of ``test_x``'s images (uint8 (N, H, W)) are, pixel for pixel, one of ``train_x``'s."""
    seen = {image.tobytes() for image in train_x}
    return sum(image.tobytes() in seen for image in test_x)


def _check_held_out(spec: UserData, names: list[str], labels: np.ndarray, kept: np.ndarray) -> None:
    """What the held-out test split (``test_fraction``) leaves to train on: DataError for images of
    fewer than 2 classes, a warning naming the classes it took every image of."""
    fraction = f"test_fraction = {spec.test_fraction:g}" + ("" if spec.fraction_given else " (the default)")
    left = np.unique(kept)
    lost = sorted(set(np.unique(labels).tolist()) - set(left.tolist()))
    if len(left) < 2:
        raise DataError(f"{spec.path}: {fraction} holds out {len(labels) - len(kept)} of its {len(labels)} images, leaving "
                        f"{len(kept)} of {'no class' if not len(left) else 'one class'} to train on: a classifier needs "
                        "images of at least 2 classes; lower test_fraction, or give a test file")
    if lost:
        _warn(f"{spec.path}: {fraction} holds out every image of class{'es' * (len(lost) != 1)} "
              f"{clip(', '.join(names[i] for i in lost), 60)} ({len(kept)} of the {len(labels)} images in all left to train on): "
              f"the model never learns {'them' if len(lost) > 1 else 'it'}; lower test_fraction, or give a test file")


def _class_indices(spec: UserData, train: np.ndarray | None, test: np.ndarray | None
                   ) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Raw labels (numbers or strings) of both files -> class names and int64 indices."""
    if train is None:
        raise DataError(f"{spec.path}: no labels (no {spec.label!r} column): a file without labels can only be predicted")
    if test is None and spec.test is not None:
        raise DataError(f"{spec.test}: no labels (no {spec.label!r} column): a test file needs them")
    numeric = [a.dtype.kind in "iu" for a in (train, test) if a is not None]
    if len(set(numeric)) > 1:
        train_at, test_at = ((f"{spec.path}'s y_train", "its y_test") if spec.test is None  # one .npz holds both
                             else (str(spec.path), str(spec.test)))
        strings, numbers = (train_at, test_at) if not numeric[0] else (test_at, train_at)
        raise DataError(f"labels are strings in {strings} but numbers in {numbers}: use the same kind in both")
    if not numeric[0]:
        train, test = _composed(spec, train, test)
    both = train if test is None else np.concatenate([train, test])
    _check_classes(spec, train, test, both)
    if numeric[0]:
        if both.size and both.min() < 0:
            raise DataError(f"{spec.path}: negative label {int(both.min())}: labels are 0, 1, 2, ... or class names")
        if both.size and (top := int(both.max())) > label_limit(len(both)):  # before a name is made for each class
            raise huge_label(spec.path if top == train.max() else spec.test or f"{spec.path}'s test split", top, len(both))
        names = [str(i) for i in range(int(both.max()) + 1 if both.size else 0)]
        if missing := sorted(set(range(len(names))) - set(np.unique(both).tolist())):  # labels 3 and 7: 8 classes
            _warn(f"{spec.path}: labels run 0 to {len(names) - 1}, so the model gets {len(names)} classes, but no image is "
                  f"labelled {clip(', '.join(map(str, missing)), 60)}: those classes are never learnt (labels are 0, 1, "
                  f"2, ... of the classes there are)" + _rare_top(spec, train, test, len(names) - 1))
        elif len(both) >= 100 and (rare := _rare_top(spec, train, test, len(names) - 1, after_gap=False)):
            _warn(f"{spec.path}: labels run 0 to {len(names) - 1}{rare}")  # 10 among 0-9: an 11th class on one image
        return names, train.astype(np.int64), None if test is None else test.astype(np.int64)
    names = sorted(set(both.tolist()))
    index = {n: i for i, n in enumerate(names)}
    as_idx = lambda a: np.array([index[v] for v in a.tolist()], dtype=np.int64)  # noqa: E731
    return names, as_idx(train), None if test is None else as_idx(test)


def _composed(spec: UserData, train: np.ndarray, test: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Class names in Unicode's composed form (NFC): a name typed on one system and a folder named on
    a Mac (whose file names are decomposed, NFD: "e" and a combining accent) are the same class.
    helper-184: "class café not in train.csv (its classes: café, ...)", and a folder holding both
    forms trained two classes that look alike. Where names of the data differ only so, a warning."""
    def nfc(a: np.ndarray, where: Any) -> np.ndarray:
        if not a.size:
            return a
        forms: dict[str, set[str]] = {}  # each composed name: the spellings the file has of it
        for name in set(a.tolist()):
            forms.setdefault(unicodedata.normalize("NFC", name), set()).add(name)
        if twice := sorted(n for n, spelt in forms.items() if len(spelt) > 1):  # (one file's: a Mac's train folder and
            _warn(f"{where}: class name{'s' * (len(twice) > 1)} {clip(', '.join(twice), 60)} written two ways "  # a test
                  "(composed and decomposed Unicode, NFC and NFD: they look alike), read as one class each")  # typed
        if all(len(spelt) == 1 and n in spelt for n, spelt in forms.items()):  # elsewhere match quietly: helper-186)
            return a
        return np.array([unicodedata.normalize("NFC", v) for v in a.tolist()], dtype=str)

    return nfc(train, spec.path), None if test is None else nfc(test, spec.test or f"{spec.path}'s test split")


def _check_classes(spec: UserData, train: np.ndarray, test: np.ndarray | None, both: np.ndarray) -> None:
    """DataError for data of one class, and for test classes named otherwise than the training
    data's (a folder ``nought`` beside ``zero``); a warning for test labels no training image has."""
    if len(present := np.unique(both)) < 2:
        raise DataError(f"{spec.path}: {'no class' if not len(present) else f'one class ({clip(str(present[0]), 40)})'}: "
                        "a classifier needs images of at least 2 classes")
    if test is not None and len(trained := np.unique(train)) < 2:  # helper-147: trained on one, scored on two
        raise DataError(f"{spec.path}: its training images are all of one class ({clip(str(trained[0]), 40)}), its "
                        "test images of more: a classifier needs training images of at least 2 classes")
    if test is None:
        return
    untrained = sorted(set(np.unique(test).tolist()) - set(np.unique(train).tolist()))
    if not untrained:
        return
    where = spec.test or f"{spec.path}'s test split"
    listed = clip(", ".join(map(str, untrained)), 60)
    if train.dtype.kind in "iu":
        _warn(f"{where}: no training image is labelled {listed}: the model never learns "
              f"{'that class' if len(untrained) == 1 else 'those classes'}, and its test images are always wrong")
        return
    raise DataError(f"{where}: class{'es' * (len(untrained) != 1)} {listed} not in {spec.path} (its classes: "
                    f"{clip(', '.join(map(str, np.unique(train).tolist())), 60)}): name the test classes as the "
                    "training data's")


# Numeric labels number the classes 0..the largest label. Up to this many classes are taken however few
# images there are (a small sample of ImageNet's 1000 classes); above it, no more classes than images.
FEW_CLASSES = 1000


def label_limit(images: int) -> int:
    """The largest numeric label taken for ``images`` labelled images (:data:`FEW_CLASSES`): a label
    above it makes more classes than images, most never learnt (an ID, not a class number)."""
    return max(FEW_CLASSES, images) - 1


def huge_label(where: object, label: int | float, images: int) -> DataError:
    """The one-line DataError for a numeric label above :func:`label_limit` (``where``: its file and line
    or index), said before a class name is made for each number up to it."""
    shown = f"{label:g}" if isinstance(label, float) else clip(label, 40)
    classes = f"would make {label + 1:,} classes" if isinstance(label, int) and label < 10 ** 30 else "is far too large"
    return DataError(f"{where}: label {shown} {classes} for {images:,} image{'s' * (images != 1)}: numeric labels "
                     f"number the classes 0, 1, 2, ..., up to {label_limit(images):,} here ({FEW_CLASSES:,} classes, or "
                     f"one per image when there are more images); number the classes from 0, or name them by text")


# What the readers returned in this process, with the warnings their read gave, by (kind, label,
# split, the stamps of the files read): a sweep reads the user's data once, not for its check and
# again for each cell and seed. The oldest read goes first; a read of more than READ_KEPT_BYTES is
# not kept (a folder of large photos).
_READS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray | None, list[warnings.WarningMessage]]] = {}
READS_KEPT = 4
READ_KEPT_BYTES = 1 << 30


def _read(spec: UserData, path: Path, split: str = "train", *, shape: tuple[int, int] = (28, 28)
          ) -> tuple[np.ndarray, np.ndarray | None]:
    """``spec``'s reader on ``path`` (:func:`read_csv`, :func:`read_folder` at ``shape``, :func:`read_npz`
    or :func:`read_idx_pair` with ``split``), once per process while the files it reads keep their stamps (:func:`_stamp`: an
    edit, a replacement or a new file reads again), and a CSV's or a folder's once for every later
    process too (:mod:`mnistlab.data.read_cache`, unless the read gave a warning); the images come
    read-only, shared by every later call, as a registered dataset's memory map is. The warnings of
    the read (files not read, an image Pillow warns of) are given again by each call, from where
    they were first given."""
    if spec.kind == "folder":
        listing = folder_listing(path)  # its own warnings (hidden folders, files not read) each call
        stamps: tuple[tuple[str, int, int, int, int], ...] = tuple(_stamp(f) for files in listing.values()
                                                                   for f in files)
    elif spec.kind == "idx":
        stamps = tuple(_stamp(f) for f in idx_files(path)[split])
    else:
        stamps = (_stamp(path),)
    # the path read too: a folder and its one subfolder list the same files as other classes
    key = (os.path.abspath(path), spec.kind, spec.label, split, stamps, tuple(shape) if spec.kind == "folder" else None)
    if key not in _READS:
        said: list[warnings.WarningMessage] = []
        kept = read_cache.entry_key(key) if spec.kind != "npz" else None  # an .npz loads as fast as a copy would
        if kept is not None and (cached := read_cache.load(kept, len(stamps))) is not None:
            x, raw, digests = cached
            _DIGESTS.update(zip(stamps, digests))  # hashed when it was kept: not again
        else:
            try:
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always")
                    x, raw = (read_csv(path, spec.label) if spec.kind == "csv" else decode_folder(listing, shape, stamps)
                              if spec.kind == "folder" else read_npz(path, split) if spec.kind == "npz"
                              else read_idx_pair(path, split))
                    if spec.kind != "csv":  # read_csv checks its own (predict reads CSVs too)
                        _check_not_scaled(x, path, spec.kind)
            finally:  # said also when the read fails: a warning may explain the error
                _say_again(said)
            if kept is not None and not said:  # a read with warnings is read again, to give them again
                _keep(kept, x, raw, stamps, path if spec.kind == "csv" else None)
        x.setflags(write=False)
        if raw is not None:
            raw.setflags(write=False)
        if x.nbytes > READ_KEPT_BYTES:
            return x, raw
        _READS[key] = x, raw, said
        while len(_READS) > READS_KEPT:
            _READS.pop(next(iter(_READS)))
        return x, raw
    x, raw, said = _READS[key]
    _say_again(said)
    return x, raw


def _check_not_scaled(images: np.ndarray, path: Path, kind: str) -> None:
    """DataError when every pixel of ``images`` (uint8) is 0 or 1, and some 1: images scaled to 0-1
    and written as whole numbers (or saved so), which would train at chance (and predict nonsense)
    on images that are black. ``kind`` (csv, folder, npz, idx) picks the remedy the message gives;
    an ``.npz``'s floats in [0, 1] are taken as ``x / 255`` before this sees them."""
    if not images.size or images.max() != 1:
        return
    what = {"folder": "its images' pixels are all 0 or 1 (of 255): they look saved from images scaled to 0-1; "
                      "save them as 0-255 (multiply by 255 first)",
            "npz": "every pixel value is 0 or 1, as integers: the pixels look scaled to 0-1; store them as 0-255 "
                   "(multiply by 255) or as floats in [0, 1]",
            "idx": "every pixel value is 0 or 1: the pixels look scaled to 0-1; write them as 0-255 (multiply by 255)",
            "csv": "every pixel value is 0 or 1: the pixels look scaled to 0-1; write them as whole numbers from 0 "
                   "to 255 (multiply by 255)"}
    raise DataError(f"{path}: {what[kind]}")


def _keep(key: str, x: np.ndarray, raw: np.ndarray | None, stamps: Sequence[tuple[str, int, int, int, int]],
          csv: Path | None) -> None:
    """Keep a CSV's or a folder's read for later processes (:mod:`mnistlab.data.read_cache`), with
    each file's SHA-256: the ``csv``'s hashed now (its run hashes it anyway), a folder's as its
    images were read; not kept when one of them changed while it was read (its SHA-256 was not taken)."""
    if csv is not None and stamps[0] not in _DIGESTS:
        file_sha256(csv)
    digests = [_DIGESTS.get(stamp) for stamp in stamps]
    if all(digests):
        read_cache.save(key, x, raw, [str(d) for d in digests])


def _say_again(said: list[warnings.WarningMessage]) -> None:
    """Give recorded warnings again, as they were first given (their category), at the line that
    asked for the read this time (:func:`~mnistlab.errors.user_level`)."""
    for w in said:
        warnings.warn(w.message, w.category, stacklevel=user_level())


# SHA-256 of files already hashed in this process, by their stamp (:func:`_stamp`): a big CSV is
# hashed once, however many cells' keys and runs' provenance ask for it; an edit hashes it again.
# A class folder's images are hashed as they are read.
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def _stamp(path: str | os.PathLike[str]) -> tuple[str, int, int, int, int]:
    """A file's (absolute path, size, mtime_ns, inode, ctime_ns): what :data:`_DIGESTS` and
    :data:`_READS` know it by. A file edited, or replaced by one of the same size and modification
    time (``cp -p``, ``rsync -t``), has another stamp. The path is made absolute, not resolved
    (resolving each of 60,000 images costs more than reading them). DataError when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, remembered by its stamp (:func:`_stamp`); DataError when unreadable."""
    from mnistlab.datasets import file_digest

    stamp = _stamp(path)
    if stamp not in _DIGESTS:
        _DIGESTS[stamp] = file_digest(Path(path))
    return _DIGESTS[stamp]


def same_folder_as_recorded(path: str | os.PathLike, recorded: str) -> bool:
    """Whether a folder a run recorded the SHA-256 ``recorded`` of is unchanged though its digest
    now differs: its class folders that are links were passed over when the run recorded it (the
    digest before they were followed), and what the run read has not changed since."""
    folder = Path(path)
    return folder.is_dir() and any(p.is_symlink() and p.is_dir() for p in folder.iterdir()) \
        and path_digest(folder, follow_class_links=False) == recorded


def _image_files(path: Path, follow_class_links: bool = True) -> list[tuple[str, str]]:
    """The files :func:`path_digest` hashes in a folder, as (path relative to it with ``/``,
    absolute path): every image at any depth, dot-folders and dot-files left out as
    :func:`read_folder` leaves them out (a Mac's ``._name.png`` beside each image changes no run
    key; a dot-file image trained on before 2026-12-06 is data no longer read), in path order (as
    ``sorted(path.rglob("*"))`` gives them). A class folder that is a link is followed, as
    :func:`read_folder` reads it (an image edited behind it is new data); links to folders deeper
    down are not (no loops)."""
    found = [(f.parts, f.path) for f in walk_images(os.path.abspath(path), follow_top_links=follow_class_links)
             if f.kind == "image"]
    return [("/".join(parts), p) for parts, p in sorted(found, key=lambda f: f[0])]


@dataclass(frozen=True)
class Entry:
    """What :func:`walk_images` finds: its path's parts below the folder walked, its path, and its
    kind: ``image`` (a file, or a link to one, with an image suffix), ``hidden`` (a dot-folder, not
    entered), ``hidden file`` (a file with an image suffix whose name starts with ".": macOS writes
    a ``._name.png`` of its metadata, no image, beside each file it copies to a USB stick), ``broken``
    (a link to nothing, or a loop of links), ``unreadable`` (a folder that cannot be listed),
    ``folder link`` (a link to a folder, not followed), ``special`` (a pipe or a device named as an
    image) or ``other`` (any other file)."""

    parts: tuple[str, ...]
    path: str
    kind: str


def walk_images(folder: str | os.PathLike[str], *, follow_top_links: bool = False) -> Iterator[Entry]:
    """Every entry below ``folder`` at any depth, in no set order (each caller sorts: Keras's order
    for :func:`folder_listing`, path order for :func:`path_digest`, names for ``mnistlab
    predict``). Folders are entered, not yielded; dot-folders are not entered
    (``.ipynb_checkpoints`` would repeat a notebook's images), and dot-files are no images (helper-150:
    a folder copied from a Mac, a ``._img10.png`` beside each image, stopped at each in turn). Links to folders are not followed
    (no loops, as Keras's ``follow_links=False``), except those right in ``folder`` with
    ``follow_top_links`` (a data folder's class folder that is a link). ``os.scandir``, not
    ``Path.rglob``: 60,000 files listed without a ``stat`` each."""
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(folder), ())]
    while stack:
        here, parts = stack.pop()
        try:
            with os.scandir(here) as entries:
                listed = list(entries)
        except OSError:
            if parts:  # (the folder walked itself: the caller's to check)
                yield Entry(parts, here, "unreadable")
            continue
        for e in listed:
            yield from _entry(e, (*parts, e.name), follow_top_links and not parts, stack)


def _entry(e: os.DirEntry[str], parts: tuple[str, ...], follow: bool,
           stack: list[tuple[str, tuple[str, ...]]]) -> Iterator[Entry]:
    """:func:`walk_images`' verdict on one listed entry (a folder to enter goes on ``stack``)."""
    try:
        is_dir = e.is_dir(follow_symlinks=follow)
    except OSError:  # a loop of links
        is_dir = False
    if is_dir and hidden_folder(e.name):
        yield Entry(parts, e.path, "hidden")
    elif is_dir:
        stack.append((e.path, parts))
    elif _suffix(e.name) in IMAGE_SUFFIXES and _is_file(e):
        yield Entry(parts, e.path, "hidden file" if e.name.startswith(".") else "image")
    elif _suffix(e.name) in IMAGE_SUFFIXES and special_file(e.path):  # a FIFO or a device (or a link to one) named
        yield Entry(parts, e.path, "special")  # as an image: reading it would wait forever (helper-172)
    elif e.is_symlink() and not os.path.exists(e.path):
        yield Entry(parts, e.path, "broken")
    elif e.is_symlink() and os.path.isdir(e.path):
        yield Entry(parts, e.path, "folder link")
    else:
        yield Entry(parts, e.path, "other")


def special_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is (or links to) a pipe, a socket or a device: no file a reader can finish."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # (a NUL in the path: no file at all)
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)


def _suffix(name: str) -> str:
    """A file name's suffix, lower case, as :attr:`pathlib.PurePath.suffix` reads it (``..png`` has
    one; ``.png`` has none), without making a Path of each of 60,000 names."""
    i = name.rfind(".")
    return name[i:].lower() if 0 < i < len(name) - 1 else ""


def path_digest(path: Path, *, follow_class_links: bool = True, kind: str = "folder") -> str:
    """SHA-256 of a file, or of a folder (each image file's relative path and SHA-256, in order,
    dot-folders left out as :func:`read_folder` leaves them out; ``kind`` "idx": each of its IDX
    files', :func:`idx_files`). ``follow_class_links=False``: the
    digest runs recorded before class folders that are links were followed (passed over, though
    read), which :func:`same_folder_as_recorded` still accepts for such a run."""
    if kind != "idx" and not path.is_dir():
        return file_sha256(path)
    h = hashlib.sha256()
    files = ([(f.name, str(f)) for pair in idx_files(path).values() for f in pair] if kind == "idx"
             else _image_files(path, follow_class_links))
    for rel, p in files:
        h.update(f"{rel}\0{file_sha256(p)}\n".encode("utf-8", "surrogateescape"))  # (a name not UTF-8: its bytes)
    return h.hexdigest()


def data_identity(dataset: Any) -> dict[str, Any] | None:
    """What a run's key holds of the user's own ``dataset``: its kind, options and each file's or
    folder's SHA-256 (:func:`path_digest`), not its path. So editing the data makes a new run, and
    moving it, or typing its path another way, does not. None for a registered name (the registry's
    checksums name its content) and for data that cannot be read now (the run itself then fails with
    the reason): the config is then keyed as it is."""
    from mnistlab.data.registry import _REGISTRY
    from mnistlab.errors import MnistlabError

    if dataset is None or (isinstance(dataset, str) and dataset in _REGISTRY):
        return None
    try:
        spec = parse_user_dataset(dataset)
        return {"kind": spec.kind, "sha256": _seen(spec.path, spec.kind),
                "test_sha256": None if spec.test is None else _seen(spec.test, spec.kind),
                "label": spec.label, "test_fraction": spec.test_fraction}
    except (MnistlabError, OSError):
        return None


def data_setting(dataset: Any) -> Any:
    """What of a run's ``dataset`` is a setting, read from the config alone (no file is touched):
    a registered name as it is; the user's own data as its kind, whether a test file is given,
    and its options (``label``, ``test_fraction``), without its paths or content. Whether two
    runs trained on the same data is then told by the SHA-256 each recorded
    (:func:`recorded_digests`): a moved folder is the same data, an edited one is not.

    >>> data_setting({"csv": "train.csv", "test": "test.csv"})
    {'own data': 'csv', 'test file': True, 'label': 'label', 'test_fraction': 0.2}
    """
    from mnistlab.data.registry import _REGISTRY

    if isinstance(dataset, str) and dataset not in _REGISTRY:
        suffix = Path(dataset).suffix.lower()
        dataset = {suffix[1:] if suffix in (".csv", ".npz") else "folder": dataset}
    if not isinstance(dataset, Mapping):
        return dataset
    fraction = dataset.get("test_fraction", 0.2)
    return {"own data": next((k for k in KINDS if k in dataset), None), "test file": "test" in dataset,
            "label": dataset.get("label", "label"),
            "test_fraction": float(fraction) if isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
            else fraction}


# Where this process has seen the user's data, by content (path_digest -> absolute path): a
# recorded run whose data moved finds it where the experiment file being read now says it is.
_PLACES: dict[str, str] = {}


def _seen(path: Path, kind: str = "folder") -> str:
    """:func:`path_digest` of ``path`` (the user's data of ``kind``), its place remembered for :func:`seen_at`."""
    digest = path_digest(path, kind=kind)
    _PLACES[digest] = str(Path(path).expanduser().resolve())
    return digest


def seen_at(digest: str) -> str | None:
    """Where this process has read (or keyed a cell on) data of this SHA-256 (:func:`path_digest`):
    its absolute path, or None."""
    return _PLACES.get(digest)


def recorded_digests(config: Mapping[str, Any], env: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """The data a recorded run trained on, by the SHA-256 it recorded (``env["data"]["checksums"]``),
    path-free and by role: (training data's, test file's or None) for the user's own data, the
    payload checksums for a registered dataset. None when it recorded none (a run that failed
    before its data was read, or one recorded before checksums were)."""
    sums = ((env or {}).get("data") or {}).get("checksums") or {}
    if not sums:
        return None
    dataset = config.get("dataset")
    if isinstance(dataset, Mapping):
        train = next((dataset[k] for k in KINDS if isinstance(dataset.get(k), str)), None)
        return sums.get(train), sums.get(dataset.get("test"))
    if isinstance(dataset, str) and dataset in sums:
        return sums[dataset], None
    return tuple(sorted(sums.items()))


def digest_change(then: tuple[Any, ...] | None, dataset: Any) -> tuple[str, str, str] | None:
    """How the user's own ``dataset`` (a path or a table, as a config holds it) differs from the
    digests a run recorded of it (``then``: :func:`recorded_digests`): ``(role, SHA-256 then, SHA-256
    now)`` of the first that changed ("training data", then "test file"); None where nothing
    changed, nothing was recorded, or the data cannot be read now (the run then says why). The one
    comparison `mnistlab run` (:func:`mnistlab.execute.data_changed`) and `train --config` make."""
    ident = data_identity(dataset)
    if then is None or ident is None:
        return None
    now = (ident["sha256"], ident["test_sha256"])
    return next(((role, str(b), str(a)) for role, b, a in zip(("training data", "test file"), then, now)
                 if b is not None and b != a), None)


def relocated(dataset: Any, moved: Mapping[str, str]) -> Any:
    """``dataset`` (a path, or a table of them, as a run records it) with each path in ``moved``
    replaced by its new place; the rest as it is."""
    if isinstance(dataset, str):
        return moved.get(dataset, dataset)
    if isinstance(dataset, Mapping):
        return {k: moved.get(v, v) if k in (*KINDS, "test") and isinstance(v, str) else v for k, v in dataset.items()}
    return dataset


def resize_images(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 (N, H, W) images resized to ``shape`` (H, W) with Pillow's bilinear filter; as is when equal."""
    if images.shape[1:] == tuple(shape):
        return images
    from PIL import Image

    h, w = shape
    out = np.empty((len(images), h, w), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    return out


# ------------------------------------------------------------------------------------------ CSV
CSV_ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark Excel writes first


def read_csv(path: Path, label: str = "label", *, labels: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """A Kaggle-style CSV: a header, a ``label`` column (optional: a competition's test file has
    none), then one column per pixel of a square image, row by row. Returns uint8 (N, S, S) images
    and the labels (int64 when every label is an integer, else strings), or None without a label
    column; ``labels=False``: the label column is left unread (None), as predicting needs none.
    DataError: a pixel count that is not a square, a non-numeric cell or a pixel outside 0-255
    (with its line and column), a row with the wrong number of cells; a pipe or a device (read, it
    would never end: helper-174, `predict RUN fifo.csv`); text not in UTF-8, with the first line
    that is not (helper-181: Windows-1252 class names after a UTF-8 header were a bare decode error)."""
    return _csv_read(path, lambda: _read_csv(path, label, labels=labels))


def _csv_read(path: Path, read: Callable[[], _T]) -> _T:
    """``read()`` of the CSV ``path``, refused first where it is a pipe or a device (read, it would
    never end), its text not UTF-8 said with the first line that is not (:func:`read_csv`'s DataErrors)."""
    if special_file(path):
        raise DataError(f"{shown_path(path)} is not a regular file (a pipe or a device); save it to a .csv file first")
    try:
        return read()
    except UnicodeDecodeError:
        raise DataError(f"{path}: {_not_utf8_line(path)} (Excel: \"CSV UTF-8\")") from None


def label_column(dataset: Any) -> str:
    """The label column of the CSVs a model trained on ``dataset`` reads (``label = "digit"`` in its
    table), which its CSVs to predict or evaluate may hold too: "label" for any other dataset."""
    label = dataset.get("label") if isinstance(dataset, Mapping) else None
    return label if isinstance(label, str) and label else "label"


@dataclass(frozen=True)
class CsvToPredict:
    """The images of a Kaggle-style CSV to predict (:func:`csv_to_predict`).

    ``images``: uint8 (N, H, W) in the model's size; ``labels``: its label column as the file holds
    it (int64 or strings, (N,)), None without one or where it could not be read (``unscored`` then
    says why); ``resized_from``: the file's own (H, W) where its images were resized, else None."""

    images: np.ndarray
    labels: np.ndarray | None = None
    resized_from: tuple[int, int] | None = None
    unscored: str | None = None


def csv_to_predict(path: Path, label: str, shape: Sequence[int] | None) -> CsvToPredict:
    """The images of a Kaggle-style CSV to predict (already in dataset form, a row each) and its
    labels, if it has a ``label`` column (any case: "Label" too), to score the predictions with:
    uint8 (N, *shape), rows of another square size resized to it as a CSV dataset's are for training
    (:func:`resize_images`; ``shape`` None: as they are). DataError as :func:`read_csv` for its images; labels that cannot be read
    (an empty one, a typo among numbers) leave the images to predict, the reason in ``unscored``.
    What `mnistlab predict` and ``Run.predict``/``Run.evaluate`` read (helper-214)."""
    header = _csv_read(path, lambda: _csv_header(path))
    column = label if label in header else next((h for h in header if h.lower() == label.lower()), None)
    labels, unscored = None, None
    if column is None:
        x, _ = read_csv(path, label, labels=False)
    else:
        try:
            x, labels = read_csv(path, column, labels=True)
        except DataError as exc:  # its labels' fault, or its pixels' (said again, as the images' error, below)
            x, _ = read_csv(path, label, labels=False)
            unscored = first_line(exc)
    if shape is None or tuple(x.shape[1:]) == tuple(shape):
        return CsvToPredict(x, labels, None, unscored)
    return CsvToPredict(resize_images(x, (int(shape[0]), int(shape[1]))), labels, (int(x.shape[1]), int(x.shape[2])),
                        unscored)


def class_indices_of(labels: np.ndarray, class_names: Sequence[str], dataset: Any = None) -> np.ndarray:
    """Labels as a file holds them (``labels``: int64 or strings, (N,)) as the class indices int64
    (N,) of a model of classes ``class_names`` trained on ``dataset``: a registered dataset's numbers
    less its registry's ``label_offset`` (EMNIST letters' 1-26), or its class names; the user's own
    data's numbers where its classes are 0, 1, 2, ..., else its class names (Unicode's composed
    form, NFC, as :func:`_composed` reads them). DataError naming the first label that is no class."""
    from mnistlab.data.registry import get_info, is_registered

    labels = np.asarray(labels)
    numbered = list(class_names) == [str(i) for i in range(len(class_names))]
    if labels.dtype.kind in "iu" and (numbered or is_registered(dataset)):
        offset = get_info(dataset).label_offset if is_registered(dataset) else 0
        index = labels.astype(np.int64) - offset
        if bad := [int(v) for v, i in zip(labels.tolist(), index.tolist()) if not 0 <= i < len(class_names)][:1]:
            raise DataError(f"label {bad[0]} is no class of the model: its labels run {offset} to "
                            f"{offset + len(class_names) - 1}")
        return index
    where = {unicodedata.normalize("NFC", str(n)): i for i, n in enumerate(class_names)}
    found = [where.get(unicodedata.normalize("NFC", str(v))) for v in labels.tolist()]
    if (missing := next((str(v) for v, i in zip(labels.tolist(), found) if i is None), None)) is not None:
        raise DataError(f"label {clip(missing, 40)!r} is no class of the model (its classes: "
                        f"{clip(', '.join(map(str, class_names)), 80)})")
    return np.array(found, dtype=np.int64)


def unlabelled_csv_images(path: Path, label: str = "label") -> np.ndarray | None:
    """The images of the CSV ``path`` where its header has no ``label`` column (a competition's
    test.csv: images to predict, or to look at), uint8 (N, S, S); None where it has one. DataError as
    :func:`read_csv`."""
    header = _csv_read(path, lambda: _csv_header(path))
    if any(h.lower() == label.lower() for h in header):
        return None
    extra = math.isqrt(len(header)) ** 2 != len(header)
    odd = _odd_column(header) if extra else None
    if extra and not (header[0] == "" or (odd is not None and re.search(r"id|index|unnamed", odd, re.IGNORECASE))):
        return None  # (a column besides the pixels: a label of another name, which read_csv names: review)
    return read_csv(path, label, labels=False)[0]  # (an id column: read_csv says to delete it, helper-224)


def _not_utf8_line(path: Path) -> str:
    """What :func:`~mnistlab.files.not_utf8_said` says of the first line of ``path`` that is not UTF-8."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                line.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                return not_utf8_said(line, first_line=n) or f"line {n} is not UTF-8 text: save it as UTF-8"
    return "not UTF-8 text: save it as UTF-8"


def _read_csv(path: Path, label: str, *, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_csv`'s reading."""
    header = _csv_header(path)
    label_at = header.index(label) if label in header else None
    other = next((h for h in header if h.lower() == label.lower()), None) if label_at is None else None
    if other is not None and not labels:  # its labels unread: a "Label" column is as good as a "label" one
        label_at, other = header.index(other), None
    if other is not None:
        raise DataError(f'{path}: no "{label}" column, but a "{other}" one: name it, give the table {{ csv = '
                        f'{toml_repr(shown_path(path))}, label = {toml_repr(other)} }}')
    pixel_cols = [i for i in range(len(header)) if i != label_at]
    n = len(pixel_cols)
    side = math.isqrt(n)
    if (labels and label_at is None and n > 1 and math.isqrt(n - 1) ** 2 == n - 1
            and (odd := _odd_column(header)) is not None and odd.strip()):  # (no name: a trailing comma, said below)
        raise DataError(f'{path}: no "{label}" column, but "{odd}" looks like one (the {n - 1} others are pixels): '
                        f'name it, give the table {{ csv = {toml_repr(shown_path(path))}, label = {toml_repr(odd)} }}')
    if header[0] == "" and n > 1 and math.isqrt(n - 1) ** 2 == n - 1:  # ",label,pixel0,...": pandas' to_csv()
        raise DataError(f"{path}: its first column has no name: the index pandas writes unless told not to; write the "
                        "CSV with df.to_csv(path, index=False), or delete that column")
    if n and side * side != n and (row := _first_row(path)) and (why := _header_off(row[1], len(header))):  # helper-166
        raise DataError(f"{path}: its header names {len(header)} columns, but line {row[0]} has {row[1]} cells{why}")
    if n == 0 or side * side != n:
        near = max(2, round(math.sqrt(n)))  # the nearest square, 2x2 at least (0 columns: no image at all)
        raise DataError(f"{path}: {n} pixel column{'s' * (n != 1)} {'is' if n == 1 else 'are'} not a square image "
                        f"({near}x{near} needs {near * near}){_one_too_many(header, pixel_cols)}")
    try:
        order = _pixel_order([header[i] for i in pixel_cols], side, path)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    if (fast := _csv_whole_numbers(path, len(header), label_at)) is not None:
        return (fast[0] if order is None else fast[0][:, order]).reshape(-1, side, side), fast[1] if labels else None
    if order is not None:  # (the pixels in the image's row-major order, each by its name: helper-214)
        pixel_cols = [pixel_cols[i] for i in order]
    found, lines = _csv_rows(path, header, label_at if labels else None)  # every row's length checked, the labels read
    pixels = _csv_numbers(path, header, pixel_cols)  # row r is the file's line lines[r]: blank lines skipped
    bad = np.argwhere(~((pixels >= 0) & (pixels <= 255)))
    if len(bad):
        r, c = bad[0]
        raise DataError(f"{path} line {lines[r]}, column {header[pixel_cols[c]]}: pixel value {pixels[r, c]:g} outside 0-255")
    fractions = np.argwhere(pixels != np.rint(pixels))
    if len(fractions):  # rounding them would keep almost nothing of images scaled to 0-1
        r, c = fractions[0]
        scaled = " (the pixels look scaled to 0-1: multiply them by 255)" if pixels.max() <= 1 else ""
        raise DataError(f"{path} line {lines[r]}, column {header[pixel_cols[c]]}: pixel value {pixels[r, c]:g} is not a "
                        f"whole number from 0 to 255{scaled}")
    images = pixels.astype(np.uint8).reshape(-1, side, side)
    _check_not_scaled(images, path, "csv")
    return images, found


def _pixel_order(names: list[str], side: int, path: Path | str = "") -> list[int] | None:
    """Where the pixel columns ``names`` are numbered one by one (``pixel0`` ... ``pixel783`` as
    Kaggle's; ``V2`` ... ``V785`` as R writes them: any first number, each once, one number that
    changes from name to name) or by row and column (``1x1`` ... ``28x28``), the order of the columns
    that puts the pixels in the image's row-major order; None where the file's order is already
    that, or the names say no order for certain (no number, other forms, a number twice or skipped
    where the columns are in order): the columns are then taken in the file's order, as before;
    DataError where numbers are skipped or repeated out of order (neither says the order). A table whose columns were
    sorted by name (pixel0, pixel1, pixel10, ...: ``df[sorted(df.columns)]``) was read in that order,
    the images scrambled without a word (helper-214). Two numbers are the row and the column where
    the names say which (``x3_y5``, ``row5_col3``, ``r5c3``, ``5x3``); where they do not and the first
    changes fastest, the file's order is taken with a DataWarning naming ``path`` (it may be transposed)."""
    forms = [re.sub(r"\d+", "#", n.strip().lower()) for n in names]
    if len(set(forms)) != 1 or "#" not in forms[0]:
        return None
    numbers = [tuple(int(d) for d in re.findall(r"\d+", n)) for n in names]
    varying = [k for k in range(len(numbers[0])) if len({n[k] for n in numbers}) > 1]
    keys: list[Any]
    if len(varying) == 1:
        keys = [n[varying[0]] for n in numbers]
        wanted: list[Any] = list(range(min(keys), min(keys) + len(names)))
    elif len(varying) == 2 and (axes := (varying[0], varying[1]) if re.fullmatch(r"\D*#\s*[x×]\s*#\D*", forms[0])
                                else _named_axes(names[0], varying)) is not None:  # row x column ("1x1"), x3_y5, r5c3
        keys = [(n[axes[0]], n[axes[1]]) for n in numbers]
        start = min(min(k) for k in keys)
        wanted = [(r, c) for r in range(start, start + side) for c in range(start, start + side)]
    else:
        keyed = [tuple(n[k] for k in varying) for n in numbers]
        if varying and keyed != sorted(keyed) and names == sorted(names):  # sorted by name, as text: scrambled
            raise DataError(f"its pixel columns ({names[0]}, {names[1]}, ...) are sorted by name, as text, and "
                            "their names do not say the image's order for certain: write them in the image's "
                            "row-major order")  # (review: pixel_0_0, pixel_0_1, pixel_0_10, ... read scrambled)
        if len(varying) == 2 and keyed != sorted(keyed) and keyed != sorted(keyed, key=lambda k: k[::-1]):
            raise DataError(f"its pixel columns ({names[0]}, {names[1]}, ...) are out of order, and their two numbers "
                            "do not say which is the row: write the columns row by row, or name them by row and "
                            "column (r0_c0, or 0x0)")  # (helper-230: shuffled, read scrambled without a word)
        if len(varying) == 2 and keyed != sorted(keyed):
            _warn(f"{path}: its pixel columns ({names[0]}, {names[1]}, ...) change their first number fastest: they are "
                  "taken in the file's order, as the image's rows one after another (the first number as the column); "
                  "where it is the row, the images are read transposed: write the columns row by row, or name them "
                  "row and column (r0_c0 or 0x0)")  # (note 54: read in the file's order without a word)
        return None
    if sorted(keys) != wanted and keys != sorted(keys):  # numbers skipped or repeated, out of order: no order
        raise DataError(f"its pixel columns are numbered ({names[0]}, {names[1]}, ...) out of order, with a number "
                        "skipped or given twice, so neither their numbers nor their order say where each pixel is: "
                        "number them once each")  # (helper-218: a sorted file with one such name read scrambled)
    if sorted(keys) != wanted:  # in order, a number skipped or repeated: the file's order, as before
        return None
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return None if order == list(range(len(keys))) else order


_ROW_NAMES, _COLUMN_NAMES = frozenset({"r", "row", "y"}), frozenset({"c", "col", "column", "x"})


def _named_axes(name: str, varying: list[int]) -> tuple[int, int] | None:
    """Which of ``name``'s two varying numbers (their places ``varying`` among its numbers) is the row
    and which the column, where the letters just before each say so (``x3_y5``, ``row5_col3``,
    ``r5c3``); None where they do not."""
    words = [w.lower() for w in re.findall(r"([A-Za-z]*)[_\- ]*\d+", name)]
    said = [("row" if w in _ROW_NAMES else "column" if w in _COLUMN_NAMES else "")
            for w in (words[k] for k in varying)]
    if sorted(said) != ["column", "row"]:
        return None
    return (varying[0], varying[1]) if said[0] == "row" else (varying[1], varying[0])


def _csv_whole_numbers(path: Path, cells: int, label_at: int | None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The common CSV read in one pass of numpy's C reader: every cell a whole number from 0 to
    255, ``cells`` in every row (numpy raises when a row's count changes), at least one row, a
    label no higher than :func:`label_limit`. Returns the uint8 (N, pixels) pixels and the int64
    labels (or None without a label column), or None for any other file: the checks that follow
    read it again and name the first line at fault (a class name, a label written 7.0, a pixel of
    300, pixels scaled to 0-1). It takes what those checks take, no more: numpy reads a strict
    subset of what Python's ``int`` reads (digits, a sign, spaces around; quoted, as ``csv`` unquotes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": a file with no rows, said by the checks
            a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8, ndmin=2, encoding=CSV_ENCODING,
                           comments=None, quotechar='"')  # comments=None: a line starting with # is a row, as csv reads
            # it; quotechar: a cell written "12" (pandas' QUOTE_ALL) is the number, as csv reads it
    except (ValueError, OverflowError, IndexError):
        return None
    if a.shape[0] == 0 or a.shape[1] != cells:
        return None
    pixels = a if label_at is None else np.delete(a, label_at, axis=1)
    if pixels.size and 0 < pixels.max() <= 1:  # every pixel 0 or 1: said by the checks
        return None
    if label_at is None:
        return pixels, None
    labels = a[:, label_at].astype(np.int64)
    return (pixels, labels) if labels.max() <= label_limit(len(labels)) else None


def _one_too_many(header: list[str], pixel_cols: list[int]) -> str:
    """What a CSV whose pixel columns are one more than a square may hold besides pixels: a comma
    at the end of each line (a last column without a name), or a column named unlike the pixels
    (an ``ImageId``); "" otherwise."""
    n = len(pixel_cols)
    if n < 2 or math.isqrt(n - 1) ** 2 != n - 1:
        return ""
    if header[pixel_cols[-1]].strip() == "":
        return ": the last column has no name: a comma at the end of each line? delete it"
    odd = _odd_column([header[i] for i in pixel_cols])
    return f': "{odd}" looks like no pixel (an id?): delete that column' if odd is not None else ""


def _odd_column(header: list[str]) -> str | None:
    """The one column named unlike the others (``digit`` among ``pixel0`` ... ``pixel783``, or among
    ``1x1`` ... ``28x28``: names alike but for their digits), or None when there is no single one."""
    shape = [re.sub(r"\d+", "#", h.strip().lower()) for h in header]
    common = max(set(shape), key=shape.count)
    odd = [h for h, form in zip(header, shape) if form != common]
    return odd[0] if len(odd) == 1 else None


def _header_off(cells: int, names: int) -> str:
    """``": a column name missing from the header?"`` (or one too many in it) where a row of ``cells``
    is one off a header of ``names``; else ''."""
    if abs(cells - names) != 1:
        return ""
    return f": a column name {'missing from' if cells > names else 'too many in'} the header?"


def _first_row(path: Path) -> tuple[int, int] | None:
    """The CSV's first row after its header that is not blank: (its line, how many cells it holds);
    None where there is none, or it cannot be read (the checks that follow say why)."""
    try:
        with open(path, newline="", encoding=CSV_ENCODING) as f:
            rows = csv.reader(f)
            next(rows, None)
            for row in rows:
                if row:
                    return rows.line_num, len(row)
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return None


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding=CSV_ENCODING) as f:
            header = next(_quoted_rows(path, csv.reader(f)), None)
    except UnicodeDecodeError:  # an .npz, an image, a zip named as a CSV; or text in UTF-16
        with open(path, "rb") as f:
            start = f.read(1 << 16)
        if start[:2] in (b"\xff\xfe", b"\xfe\xff"):  # helper-121: UTF-16 text was told of .npz
            raise DataError(f"{path}: UTF-16 text: save it as UTF-8 (Excel: \"CSV UTF-8\"; or iconv -f UTF-16 -t "
                            "UTF-8)") from None
        if said := not_utf8_said(start.rsplit(b"\n", 1)[0] if b"\n" in start else start):  # (helper-177: cp1252)
            raise DataError(f"{path}: {said} (Excel: \"CSV UTF-8\")") from None
        if packed := compressed_said(path):
            raise DataError(f"{path}: not a text CSV but {packed}") from None
        raise DataError(f"{path}: not a text CSV (its bytes are not UTF-8 text): a CSV holds a header and rows of "
                        "numbers; an .npz is given as { npz = ... }") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not header:
        raise DataError(f"{path}: empty file: expected a header (label, pixel0, pixel1, ...) and rows")
    if len(header) == 1 and (sep := next((c for c in ";\t|" if c in header[0]), None)):
        raise DataError(f"{path}: its columns are separated by {sep!r}, not commas: save it as comma-separated values")
    if all(_parses(h) for h in header) and not _numbered_columns(header):  # the first image, not a header
        raise DataError(f"{path}: line 1 holds numbers, not a header: add a first line naming the columns "
                        "(label, pixel0, pixel1, ...; without label for unlabelled images)")
    return [h.strip() for h in header]


def _numbered_columns(header: list[str]) -> bool:
    """Whether a header of numbers is pandas' own for unnamed columns, 0, 1, 2, ... (or 1, 2, 3, ...):
    no image's first row, whose pixels stop at 255 (helper-218: a test file written so was refused)."""
    cells = [h.strip() for h in header]
    return len(cells) > 256 and sorted(cells, key=lambda c: (len(c), c)) in (
        [str(i) for i in range(len(cells))], [str(i + 1) for i in range(len(cells))])  # (sorted by name too: review)


def _parses(cell: str, as_type: Callable[[str], Any] = float) -> bool:
    """Whether ``as_type(cell)`` reads the cell (float: a number; :func:`_whole_label`: a whole number)."""
    try:
        as_type(cell)
    except ValueError:
        return False
    return True


def _csv_numbers(path: Path, header: list[str], cols: list[int]) -> np.ndarray:
    """The pixel columns as float32 (N, len(cols)): numpy's fast reader, and on failure a scan
    that finds the first bad cell to name it."""
    try:
        # comments=None: a line starting with # is a row here, as it is to csv (else the labels, read by csv, and the
        # images would not pair up)
        return np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, dtype=np.float32, ndmin=2, encoding=CSV_ENCODING,
                          comments=None, quotechar='"')
    except (ValueError, IndexError):
        pass
    with open(path, newline="", encoding=CSV_ENCODING) as f:
        rows = csv.reader(f)
        next(rows)
        for row in _quoted_rows(path, rows):
            line = rows.line_num  # the file's line (a record's last), blank lines counted
            if not row:  # a blank line, skipped as numpy's reader skips it
                continue
            if len(row) != len(header):
                raise DataError(f"{path} line {line}: {len(row)} cell{'s' * (len(row) != 1)}, the header has {len(header)}")
            for c in cols:
                try:
                    float(row[c])
                except ValueError:
                    raise DataError(f"{path} line {line}, column {clip(header[c])}: {clip(row[c])!r} is not a number") from None
    raise DataError(f"{path}: cannot read the pixel columns")  # pragma: no cover - the scan names the cell


def _csv_rows(path: Path, header: list[str], label_at: int | None) -> tuple[np.ndarray | None, list[int]]:
    """One pass over the rows: DataError for a row whose cell count is not the header's (numpy's
    reader would silently drop an extra cell) and for a file with no rows; the labels (see
    :func:`_csv_labels`), or None without a label column, and each row's line in the file (blank
    lines are skipped, as numpy does, but counted)."""
    values: list[str] = []
    lines: list[int] = []
    with open(path, newline="", encoding=CSV_ENCODING) as f:
        rows = csv.reader(f)
        next(rows)
        before = rows.line_num
        for row in _quoted_rows(path, rows):
            line = rows.line_num  # the file's line (a record's last): a quoted cell may span lines
            if line - before > 1 and row:  # no pixel or label cell holds a line break: a stray quote (helper-172)
                raise DataError(f"{path} line {before + 1}: a quote (\") opens a cell that runs on to line {line}: remove "
                                "the stray quote")
            before = line
            if not row:
                continue
            if len(row) != len(header):
                more = "more" if len(row) > len(header) else "fewer"
                why = "" if values else _header_off(len(row), len(header))  # the first row: the header, perhaps (helper-169)
                raise DataError(f"{path} line {line}: {len(row)} cell{'s' * (len(row) != 1)}, {more} than the header's "
                                f"{len(header)}{why}")
            values.append("" if label_at is None else row[label_at].strip())
            lines.append(line)
    if not values:
        raise DataError(f"{path}: no rows: the file has a header but no images")
    return (None if label_at is None else _csv_labels(path, values, lines)), lines


def _quoted_rows(path: Path, rows: Any) -> Iterator[list[str]]:
    """The rows of a :func:`csv.reader`, its csv.Error a one-line DataError: a stray quote (") makes
    the rest of the file one cell, past the reader's field limit (helper-172: a traceback)."""
    start = rows.line_num
    try:
        for row in rows:
            start = rows.line_num
            yield row
    except csv.Error as exc:
        if "field limit" in str(exc):  # (csv's own words said nothing to a user: helper-214)
            raise DataError(f"{path} line {start + 1}: a quote (\") opens a cell that never closes: remove the stray "
                            "quote") from None
        raise DataError(f"{path} line {start + 1}: cannot read the CSV there ({exc}): a quote (\") that opens a cell and "
                        "never closes?") from None


def _whole_label(cell: str) -> int:
    """A label cell's whole number: ``7``, and ``7.0`` or ``7e0`` (a column pandas once held as
    floats writes them so); ValueError for anything else (``7.5``, ``nan``, a class name)."""
    try:
        return int(cell)
    except ValueError:
        number = float(cell)
        if not number.is_integer():
            raise
        return int(number)


def _csv_labels(path: Path, values: list[str], lines: list[int]) -> np.ndarray:
    """A CSV's labels (``lines``: the file line of each): int64 when every one is a whole number
    (``7``, or ``7.0`` as pandas writes a column that held a float), else strings (class names). DataError
    for an empty label, and for a few odd labels among whole numbers (at least 90% of them): a typo
    there would otherwise make every label a class name, and each number a class of its own."""
    try:
        numbers = [_whole_label(v) for v in values]
    except ValueError:
        if any(v == "" for v in values):
            raise DataError(f"{path} line {lines[values.index('')]}: empty label") from None
        odd = [i for i, v in enumerate(values) if not _parses(v, _whole_label)]
        if len(odd) <= len(values) // 10:
            raise DataError(f"{path} line {lines[odd[0]]}: label {clip(values[odd[0]], 40)!r} is not a whole number, "
                            f"as {len(values) - len(odd):,} of the {len(values):,} labels are"
                            + (f" ({len(odd)} are not)" if len(odd) > 1 else "")
                            + ": fix it, or name every class by text") from None
        return np.array(values, dtype=str)
    low, high = min(range(len(numbers)), key=numbers.__getitem__), max(range(len(numbers)), key=numbers.__getitem__)
    if numbers[low] < 0:
        raise DataError(f"{path} line {lines[low]}: negative label {clip(numbers[low], 40)}: labels are 0, 1, 2, ... or "
                        "class names")
    if numbers[high] > label_limit(len(numbers)):  # checked here, in Python's ints: it may not fit numpy's
        raise huge_label(f"{path} line {lines[high]}", numbers[high], len(numbers))
    return np.array(numbers, dtype=np.int64)


# --------------------------------------------------------------------------------------- folder
def read_folder(path: Path, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``path/<class>/<image>``: every image, grayscale, uint8 (N, H, W), and its class folder's
    name. Each image is resized to ``shape`` (H, W) as it is read, or without it to the first
    image's size, scaled down to fit :data:`FOLDER_SIDE_MOST` (see :func:`decode_folder`).
    Dot-folders (``.ipynb_checkpoints``, ``.git``) are not classes: they are skipped with one
    :class:`~mnistlab.errors.DataWarning` naming them. DataError: no class folders, a class folder
    with no images, an unreadable image (named)."""
    return decode_folder(folder_listing(path), shape)


def folder_listing(path: Path) -> dict[str, list[Path]]:
    """The images :func:`read_folder` reads: {class folder name: its image files}, classes sorted.
    A class's images are those at any depth below its folder, as Keras's
    ``image_dataset_from_directory`` walks it (``os.walk``, folders in path order, each folder's
    files sorted; links to folders below a class folder not followed, Keras's
    ``follow_links=False``). Unlike Keras, dot-folders (``.ipynb_checkpoints``, ``.git``) are not
    read at any depth: a notebook's checkpoint folder would repeat its images. Warns
    (:class:`~mnistlab.errors.DataWarning`) of dot-folders skipped and of entries that are not
    images; DataError for no class folders or a class folder with no images."""
    entries = sorted(path.iterdir())
    folders = [p for p in entries if p.is_dir()]
    hidden = [p.name for p in folders if hidden_folder(p.name)]
    if hidden:
        _warn(f"{path}: skipped {len(hidden)} hidden folder(s), not classes: {', '.join(hidden)}")
    classes = [p for p in folders if not hidden_folder(p.name)]
    if around := [p.name for p in classes if p.is_symlink() and path.resolve().is_relative_to(p.resolve())]:  # helper-121
        _warn(f"{path}: skipped {len(around)} link(s) to the dataset's own folder or one above it, not classes "
              f"(each would hold every image): {', '.join(around)}")
        classes = [p for p in classes if p.name not in around]
    if not classes:
        raise DataError(f"{path}: no class folders (expected {path}/<class name>/<images>)")
    if loose := [p.name for p in entries if _suffix(p.name) in IMAGE_SUFFIXES and p.is_file()]:  # Keras passes them over too
        _warn(f"{path}: {len(loose)} image{'s' * (len(loose) != 1)} beside the class folders, in no class, not read: "
              f"{clip(', '.join(loose), 60)}")
    listing: dict[str, list[Path]] = {}
    skipped: list[str] = []
    broken: list[str] = []
    inner: list[str] = []  # dot-folders inside class folders
    dotted: list[str] = []  # dot-files of an image's suffix
    _refuse_splits_as_classes(path, classes)
    for folder in classes:
        files = _class_images(folder, skipped, broken, inner, dotted)
        if not files:
            hid = [h for h in [*inner, *dotted] if h.startswith(f"{folder.name}/")]
            idx = f"; it holds IDX files: give it as the table {{ idx = {toml_repr(shown_path(str(folder)))} }}" \
                if _idx_beside_no_class(folder) else ""  # torchvision's MNIST/ (its raw/ folder): not classes
            raise DataError(f"{folder}: class folder with no images ({', '.join(IMAGE_SUFFIXES)})"
                            + (f"; hidden folders and files are not read: {clip(', '.join(hid), 60)}" if hid else "")
                            + idx)
        listing[folder.name] = files
    _warn_split_as_class(path, classes)
    if inner:
        _warn(f"{path}: skipped {len(inner)} hidden folder(s) inside class folders, not read: "
              f"{clip(', '.join(inner), 80)}")
    if dotted:
        _warn(f"{path}: skipped {len(dotted)} hidden file(s) inside class folders, their names starting with \".\" "
              f"(a Mac copying files to a USB stick writes a ._ file, no image, beside each): "
              f"{clip(', '.join(sorted(dotted)), 80)}")
    if skipped:
        _warn(f"{path}: {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of its class folders not read (not "
              f"{', '.join(IMAGE_SUFFIXES)} images): {clip(', '.join(sorted(skipped)), 80)}")
    if broken:
        _warn(f"{path}: {len(broken)} link{'s' * (len(broken) != 1)} in its class folders to nothing (the file they "
              f"name is gone, or they name each other), not read: {clip(', '.join(sorted(broken)), 80)}")
    return listing


SPLIT_NAMES = ("test", "train", "val", "valid", "validation")  # a split's folder, not a class, when it holds classes


def _refuse_splits_as_classes(path: Path, classes: Sequence[Path]) -> None:
    """DataError where every "class" folder of ``path`` is named as a split (``train``, ``test``)
    and holds folders of its own: the splits of a dataset, one level too high (helper-121: read as
    the classes "test" and "train", a model learnt to tell the splits apart)."""
    if len(classes) < 2 or not all(c.name.lower() in SPLIT_NAMES for c in classes):
        return
    if not all(any(d.is_dir() and not hidden_folder(d.name) for d in c.iterdir()) for c in classes):
        return
    train = next((c for c in classes if c.name.lower() == "train"), classes[0])
    test = next((c for c in classes if c is not train and c.name.lower() == "test"), None)
    hint = (f'{{ folder = {toml_repr(shown_path(str(train)))}'
            + (f", test = {toml_repr(shown_path(str(test)))} }}" if test else " }"))
    rest = sorted(c.name for c in classes if c is not train and c is not test)  # val/: helper-122 saw it dropped unsaid
    raise DataError(f"{path}: its folders ({', '.join(sorted(c.name for c in classes))}) are splits holding class "
                    f"folders, not classes: give the table {hint}" + (
                        f" ({', '.join(rest)} not read: data.validation holds a validation split out of the training "
                        "images; or give it as test)" if rest else ""))


def _warn_split_as_class(path: Path, classes: Sequence[Path]) -> None:
    """A :class:`~mnistlab.errors.DataWarning` for a class folder named like a split (``test``,
    ``val``, ...) whose own folders are named as the other classes: a test split left inside the
    data, which is read as one more class (its images at any depth are that class's)."""
    names = {c.name for c in classes}
    for c in classes:
        if c.name.lower() in SPLIT_NAMES:
            inside = sorted(d.name for d in c.iterdir() if d.is_dir() and d.name in names - {c.name})
            if inside:
                _warn(f"{path}: its folder {c.name!r} holds folders named as its classes "
                      f"({clip(', '.join(inside), 40)}), yet is read as one more class: a {c.name} split? move it "
                      f"out of {path.name}/ and give it as test = \"{c}\"")


def _class_images(folder: Path, skipped: list[str], broken: list[str], hidden: list[str],
                  dotted: list[str]) -> list[Path]:
    """A class folder's images at any depth, in Keras's order (each folder's path, then each file's
    name). Appends, as ``class/sub/name``: to ``skipped`` the entries that are not images (a link
    to a folder among them: not followed; a folder that cannot be listed), to ``broken`` the links
    to nothing, to ``hidden`` the dot-folders passed over, to ``dotted`` the dot-files of an image's
    suffix (macOS's ``._name.png``)."""
    found: list[tuple[str, str, Path]] = []
    for f in walk_images(folder):
        shown = "/".join((folder.name, *f.parts))
        if f.kind == "image":
            found.append((os.path.dirname(f.path), f.parts[-1], Path(f.path)))
        elif f.kind == "hidden":
            hidden.append(shown)
        elif f.kind == "hidden file":
            dotted.append(shown)
        elif f.kind == "broken":
            broken.append(shown)
        elif not system_file(f.parts[-1]):
            skipped.append(shown)
    return [file for _, _, file in sorted(found, key=lambda f: (f[0], f[1]))]


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether a listed entry is a file or a link to one; False for a link to nothing or a loop of
    links (``DirEntry.is_file`` raises for those, as ``Path.is_file`` does not)."""
    try:
        return entry.is_file()
    except OSError:
        return False


# The longest side of a folder's common size when none is asked for (read_folder(path)): the first
# image's size, scaled down to it. A first image of 4000x4000 px would else have each image held at
# 16 MB; 256 keeps the sizes such data comes in (28, 32, 64, 224) as they are.
FOLDER_SIDE_MOST = 256


def decode_folder(listing: Mapping[str, list[Path]], shape: tuple[int, int] | None = None,
                  stamps: Sequence[tuple[str, int, int, int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The images of a :func:`folder_listing`, uint8 (N, H, W), and each one's class folder name;
    DataError naming an image that cannot be read. Each image is resized to ``shape`` (H, W) as it
    is decoded (the model's input: memory stays N * H * W bytes, whatever the files' sizes); without
    it, to the first image's size scaled down to fit :data:`FOLDER_SIDE_MOST`. ``stamps``: each
    file's :func:`_stamp`, in the listing's order, where the caller has just taken them."""
    images, labels, animated = [], [], []
    stamped = iter(stamps) if stamps is not None else None
    for name, files in listing.items():
        for file in files:
            img, frames = _read_image(_hashed_bytes(file, None if stamped is None else next(stamped)), shape, file)
            if frames > 1:
                animated.append(file)
            if shape is None:
                shape = _fitting(img.shape[0], img.shape[1], FOLDER_SIDE_MOST)
                img = resize_images(img[None], shape)[0]
            images.append(img)
            labels.append(name)
    if animated:  # helper-166: said by predict, not here
        shown = ", ".join(display_name(f) for f in animated[:3]) + (", ..." if len(animated) > 3 else "")
        _warn(f"{len(animated)} image{'s' * (len(animated) > 1)} of the class folders hold{'s' * (len(animated) == 1)} "
              f"several frames (an animation, or a scan's pages); the first frame of each is read, as predict reads it: "
              f"{shown}")
    return np.stack(images), np.array(labels, dtype=str)


def _fitting(h: int, w: int, most: int) -> tuple[int, int]:
    """(h, w) scaled down, its aspect kept, so that neither side is above ``most``; as is when they are not."""
    scale = most / max(h, w)
    return (h, w) if scale >= 1 else (max(1, round(h * scale)), max(1, round(w * scale)))


def hidden_folder(name: str) -> bool:
    """A folder no images of a dataset are in: a dot-folder (``.ipynb_checkpoints``, ``.git``), or
    the ``__MACOSX`` a zip made on a Mac holds its ``._`` files in (helper-152: "class folder with
    no images")."""
    return name.startswith(".") or name == "__MACOSX"


def system_file(name: str) -> bool:
    """A file the system leaves in folders (``.DS_Store``, ``Thumbs.db``, ``desktop.ini``): passed over quietly."""
    return name.startswith(".") or name.lower() in ("thumbs.db", "desktop.ini")


def _warn(message: str) -> None:
    """A :class:`~mnistlab.errors.DataWarning`: data that loads, with something left out (arrays given
    in memory named as such, not as the cache file they were saved in: :func:`~mnistlab.data.arrays.as_given`)."""
    from mnistlab.data.arrays import as_given
    from mnistlab.errors import DataWarning

    warnings.warn(as_given(message), DataWarning, stacklevel=user_level())


def _hashed_bytes(file: Path, stamp: tuple[str, int, int, int, int] | None = None) -> bytes:
    """A file's bytes, its SHA-256 remembered as :func:`file_sha256` would (so that the folder's
    digest reads it no second time) under ``stamp`` (default: taken now); DataError when unreadable."""
    stamp = stamp or _stamp(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from None
    if len(data) == stamp[1]:  # not changed between the stat and the read
        _DIGESTS[stamp] = hashlib.sha256(data).hexdigest()
    return data


def _read_image(data: bytes, shape: tuple[int, int] | None, file: Path) -> tuple[np.ndarray, int]:
    """One class folder's image as uint8 (H, W) grayscale, resized to ``shape`` when given, and how
    many frames its file holds (the first is read). Opened as
    `mnistlab predict` opens images (:func:`mnistlab.preprocessing.open_image`): DataError in one line
    for a damaged file, a decompression bomb, 32-bit pixels (16-bit grayscale scaled to 8 bits);
    transparency flattened on the background that contrasts with the ink
    (:func:`~mnistlab.preprocessing.to_gray`), CMYK converted by Pillow. Unlike predict's, the EXIF
    orientation is ignored (Keras's loaders ignore it too)."""
    from PIL import Image

    from mnistlab.preprocessing import FRAMES, open_image, to_gray

    # the EXIF orientation left alone: what this reader always read, as it read it
    with open_image(data, str(file), orient=False) as img:
        if has_transparency(img):  # else its transparent background reads as black
            gray = Image.fromarray(np.rint(to_gray(img)).astype(np.uint8), "L")
        else:  # as before transparency was read: an opaque RGBA image's pixels unchanged
            gray = img.convert("L")
        if shape is not None and gray.size != (shape[1], shape[0]):
            gray = gray.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
        return np.asarray(gray, dtype=np.uint8), int(img.info.get(FRAMES, 1))


def has_transparency(img: Any) -> bool:
    """Whether a PIL image has a pixel that is not fully opaque (an alpha channel or a palette's
    transparent colour in use)."""
    if "A" not in img.mode and "transparency" not in img.info:
        return False
    alpha = img.getchannel("A") if "A" in img.mode else img.convert("RGBA").getchannel("A")
    return bool(alpha.getextrema()[0] < 255)


# ------------------------------------------------------------------------------------------ npz
@contextmanager
def open_npz(path: Path) -> Iterator[Any]:
    """An ``.npz`` (a zip of ``.npy`` arrays) opened without pickles: ``npz.files`` and ``npz[key]``.
    Any failure to read it, opening or reading an array inside the ``with`` block, is one DataError
    naming the file and what it is instead: missing, a folder, a lone ``.npy`` array, not a zip, or
    a truncated or damaged zip."""
    try:
        opened = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an .npz file") from None
    except PermissionError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _not_npz(path, exc) from None
    if not isinstance(opened, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: is a single .npy array, not an .npz (a zip of named arrays)")
    try:
        with opened as npz:
            yield npz
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _not_npz(path, exc) from None


DEFLATE_MOST = 1032  # deflate's largest ratio of bytes out to bytes in
MAX_NPY_VALUES = 2 << 30  # the most values one array of a user's .npz may hold (floats in [0, 1] as well as uint8)


def npz_array(npz: Any, key: str, path: Path) -> np.ndarray:
    """``npz[key]`` of an :func:`open_npz`, once its ``.npy`` header's shape and dtype are checked
    against the bytes the zip holds for it: a damaged or truncated file whose header claims
    (10**12, 28, 28) is one DataError, not numpy allocating 713 TiB."""
    _check_npy_size(npz.zip, key + ".npy" if key + ".npy" in npz.zip.namelist() else key, path)
    return np.asarray(npz[key])


def _check_npy_size(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    """DataError when the ``.npy`` member ``name`` claims more bytes than the zip holds for it: its
    uncompressed size, at most what deflate makes of its compressed size (a damaged zip entry may
    claim more)."""
    info = archive.getinfo(name)
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):  # (3, 0): utf-8 field names, read by numpy's own checks alone
            return
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        header = f.tell()
    most = {zipfile.ZIP_STORED: info.compress_size, zipfile.ZIP_DEFLATED: info.compress_size * DEFLATE_MOST + 1024}
    have = min(info.file_size, most.get(info.compress_type, info.file_size)) - header
    need = math.prod(shape) * dtype.itemsize
    if (count := math.prod(shape)) > MAX_NPY_VALUES and not dtype.hasobject and need <= have:  # (helper-172: 3 MB of
        raise DataError(f"{path}: {name} holds an array of shape {clip(shape, 60)}, {count:,} values of {dtype}: "  # zeros
                        f"more than the {MAX_NPY_VALUES:,} mnistlab reads of one array (the MNIST family's largest, "
                        "EMNIST byclass, holds 547 million)")  # claimed 3.1 GB, and numpy asked for it)
    if dtype.hasobject or need <= have:
        return
    raise DataError(f"{path}: not a readable .npz: a truncated or damaged zip archive ({name} claims an array of shape "
                    f"{clip(shape, 60)} and dtype {dtype}, {need:,} bytes, but holds at most {max(have, 0):,})")


def _not_npz(path: Path, exc: BaseException) -> DataError:
    from mnistlab.data.idx import describe_bytes

    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        head = b""
    if isinstance(exc, ValueError) and str(exc).startswith("Object arrays cannot be loaded"):  # numpy's words
        return DataError(f"{path}: holds an array of Python objects (dtype object), which mnistlab does not unpickle: "
                         f"save its images as uint8 and its labels as int or str (np.asarray(y, dtype=int))")
    if not head and path.is_file() and path.stat().st_size == 0:  # helper-166: "not a zip archive", as if of another kind
        return DataError(f"{path}: an empty file (0 bytes), not an .npz")
    if head.startswith(b"PK"):
        return DataError(f"{path}: not a readable .npz: a truncated or damaged zip archive ({first_line(exc)})")
    what = describe_bytes(head)
    return DataError(f"{path}: not a readable .npz: " + (f"it is {what}" if what else "not a zip archive of .npy arrays"))


def npz_has_test(path: Path) -> bool:
    """Whether an ``.npz`` holds a test split too (``x_test`` and ``y_test``); DataError as :func:`open_npz`,
    and for one of the two without the other."""
    with open_npz(path) as npz:
        found = [k for k in ("x_test", "y_test") if k in npz.files]
    if len(found) == 1:  # half a test split: holding out another one instead would hide the mistake
        other = "y_test" if found == ["x_test"] else "x_test"
        raise DataError(f"{path}: has {found[0]} but no {other}: give both, or neither (a test split is then held "
                        "out from the training arrays)")
    return bool(found)


def read_npz(path: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """An ``.npz`` with ``x_<split>`` and ``y_<split>`` (Keras's mnist.npz: ``x_train``, ``y_train``,
    ``x_test``, ``y_test``) or ``images`` and ``labels``. Images (N, H, W), (N, H, W, 1), colour
    (N, H, W, 3: made grayscale as Pillow's ``convert("L")`` makes a folder's, ITU-R 601-2 luma) or
    flat (N, H * W) of square images: integers 0-255, or floats in [0, 1] (x / 255). Labels (N,)
    integers or class names, or one-hot (N, classes), as Keras's ``to_categorical`` writes them.
    DataError: missing keys (the keys it has are listed), pixels outside 0-255, mismatched lengths."""
    with open_npz(path) as npz:
        keys = list(npz.files)
        pairs = ((f"x_{split}", f"y_{split}"), ("images", "labels"))
        pair = next(((x, y) for x, y in pairs if x in keys and y in keys), None)
        if pair is None:
            raise DataError(f"{path}: has keys {', '.join(keys) or 'none'}; expected x_{split} and y_{split} "
                            f"(Keras's mnist.npz) or images and labels")
        x, y = npz_array(npz, pair[0], path), npz_array(npz, pair[1], path)
    return _npz_images(path, pair[0], x), _npz_labels(path, pair[1], y, len(x))


MISSCALED_BELOW = 32.0  # float pixels with fractions whose brightest is over 1 and under this: neither x / 255 nor 0-255


def _with_fractions(x: np.ndarray, chunk: int = 4096) -> int | None:
    """The first image of float ``x`` (N, ...) holding a finite pixel that is not a whole number,
    where its brightest pixel is over 1 and under :data:`MISSCALED_BELOW` (``x / 128``: neither
    floats in [0, 1] nor 0-255, which then round); None if none. Read in chunks of ``chunk`` images:
    no copy of the whole array (helper-242: float 0-255 images with fractions, resized or blurred,
    were refused)."""
    with np.errstate(invalid="ignore"):
        brightest = float(np.nanmax(x)) if x.size else 0.0
    if not 1 < brightest < MISSCALED_BELOW:
        return None
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        bad = np.isfinite(part) & (part != np.rint(part))
        if (rows := np.flatnonzero(bad.reshape(len(part), -1).any(1))).size:
            return start + int(rows[0])
    return None


def _npz_images(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind not in "iuf":
        raise DataError(f"{path}: {key} has dtype {x.dtype}; expected numbers")
    integers = x.dtype.kind in "iu"  # 0-255 however they come out of the grayscale conversion below
    odd = None if integers else _with_fractions(x)  # (before that conversion makes fractions of whole numbers)
    if x.ndim == 2 and x.shape[1] and math.isqrt(x.shape[1]) ** 2 == x.shape[1]:  # flat rows, as a CSV's
        side = math.isqrt(x.shape[1])
        x = x.reshape(len(x), side, side)
    if x.ndim == 4 and x.shape[-1] in (1, 3):
        if x.shape[-1] == 3:  # (helper-251: made grayscale unsaid)
            _warn(f"{path}: {key} holds colour images (N, H, W, 3): made grayscale (ITU-R 601-2 luma, as Pillow's "
                  "convert(\"L\")): mnistlab's models take one channel")
        x = x[..., 0] if x.shape[-1] == 1 else x.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if x.ndim != 3:
        raise DataError(f"{path}: {key} has shape {x.shape}; expected images (N, H, W), (N, H, W, 1), (N, H, W, 3) "
                        "or flat square ones (N, H * W)")
    if x.size and not np.isfinite(x).all():  # (helper-198: "outside 0-255 (min nan, max nan)")
        image = int(np.argwhere(~np.isfinite(x))[0][0])
        n, kind = int(np.count_nonzero(~np.isfinite(x[image]))), "NaN" if np.isnan(x[image]).any() else "infinite"
        raise DataError(f"{path}: {key}[{image}] has {n} {kind} pixel{'s' * (n != 1)}: pixels are numbers from 0 to 255")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise DataError(f"{path}: {key} has pixels outside 0-255 (min {x.min():g}, max {x.max():g})")
    if not integers and x.size and x.max() <= 1.0:
        x = x * 255.0  # floats in [0, 1] are x / 255 (colour integers of 0 and 1 are not: refused as scaled)
    elif odd is not None:
        raise DataError(f"{path}: {key} holds floats from {x.min():g} to {x.max():g} with fractions ({key}[{odd}]): "
                        "pixels are floats in [0, 1] (x / 255) or numbers from 0 to 255; were they divided by "
                        "something other than 255?")  # (helper-237: x / 128 trained on near-black images without a word)
    return np.rint(x).astype(np.uint8) if x.dtype != np.uint8 else x


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _npz_labels(path: Path, key: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim == 2 and y.shape[0] == n and y.shape[1] > 1 and y.dtype.kind in "iuf":  # one-hot (to_categorical)
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"{path}: {key} has shape {y.shape} but is not one-hot (a single 1 per row): soft or "
                            "multi-label targets are not classes")
        return y.argmax(axis=1).astype(np.int64)
    if y.shape == (n, 1):  # a column of labels, as keras.datasets.cifar10 gives them (Keras's fit takes it)
        y = y[:, 0]
    if y.shape != (n,):
        raise DataError(f"{path}: {key} has shape {y.shape}; expected ({n},), one label per image")
    if y.dtype.kind == "S":  # bytes (h5py's strings, np.bytes_): UTF-8, as HDF5 and most writers store them
        try:
            return np.array([b.decode("utf-8") for b in y.tolist()], dtype=str)
        except UnicodeDecodeError as exc:  # (helper-184: astype(str) read them as ASCII, with no file named)
            at = next(i for i, b in enumerate(y.tolist()) if not _utf8(b))
            raise DataError(f"{path}: {key}[{at}] is bytes that are not UTF-8 text ({exc.reason} at byte {exc.start}): "
                            "class names as bytes must be UTF-8") from None
    if y.dtype.kind == "U":
        return y.astype(str)
    if y.dtype.kind not in "iuf":
        raise DataError(f"{path}: {key} has dtype {y.dtype}; expected integer labels or class names")
    if y.dtype.kind == "f" and len(odd := np.flatnonzero(~np.isfinite(y) | (y != np.rint(y)))):
        raise DataError(f"{path}: {key}[{odd[0]}] is {y[odd[0]]:g}, not a whole number: labels are 0, 1, 2, ... or "
                        "class names")
    if y.size and y.min() < 0:
        raise DataError(f"{path}: {key}[{y.argmin()}] is a negative label ({y.min():g}): labels are 0, 1, 2, ... or "
                        "class names")
    if y.size and y.max() > label_limit(n):  # checked before the cast: a float label may not fit int64
        raise huge_label(f"{path}: {key}[{y.argmax()}]", y.max().item(), n)
    return y.astype(np.int64)


# ------------------------------------------------------------------------------------------ IDX
_IDX_NAME = re.compile(r"^(?P<prefix>.*?)(?P<split>train|t10k|test)[-_.](?P<part>images|labels)[-_.]idx(?P<dims>[13])"
                       r"[-_.]ubyte(\.gz)?$", re.IGNORECASE)


def idx_files(path: Path) -> dict[str, tuple[Path, Path]]:
    """The IDX files of ``path`` as MNIST and its family publish them: {"train": (images, labels)}
    and, where there are some, {"test": ...}; images ``[prefix]train-images-idx3-ubyte`` (or
    ``.idx3-ubyte``), labels ``...-labels-idx1-ubyte``, each gzipped (``.gz``) or not, the test
    pair named ``t10k-`` or ``test-`` (EMNIST's ``emnist-letters-train-...`` has a prefix); a file
    and its ``.gz`` both there are read unzipped (:func:`_one_of`). ``path``: a folder holding one
    dataset's files, or a folder and a prefix (``gzip/emnist-digits``: that dataset's files of a
    folder holding several, as EMNIST's zip unpacks). DataError when the training pair is not there
    whole, or the files of several datasets (prefixes) are and none is named."""
    folder, named = (path, None) if path.is_dir() else (path.parent, path.name.rstrip("-_.").lower())
    found = _idx_names(folder)
    prefixes = sorted({prefix for prefix, split, _ in found if split == "train"})
    if named is not None:
        prefixes = [p for p in prefixes if p.rstrip("-_.").lower() == named]
        if not prefixes:
            others = sorted({p for p, _, _ in found})
            raise DataError(f"{path}: no training IDX files named {path.name}-train-... in {folder}"
                            + (f" (its datasets: {', '.join(p or '(none)' for p in others)})" if others else ""))
    if len(prefixes) > 1:
        shown = ", ".join(p or "(none)" for p in prefixes)
        name = next((p for p in prefixes if p), "").rstrip("-_.")
        raise DataError(f"{folder}: holds the IDX files of {len(prefixes)} datasets ({shown} before train-images-...): "
                        f"name one, as idx = {toml_repr(str(folder / name))}")
    prefix = prefixes[0] if prefixes else ""
    out: dict[str, tuple[Path, Path]] = {}
    for split in ("train", "test"):
        images, labels = (_one_of(found.get((prefix, split, part), []), folder) for part in ("images", "labels"))
        if images and labels:
            out[split] = (folder / images[0], folder / labels[0])
        elif images or labels:
            have, missing = (images[0], "labels-idx1") if images else (labels[0], "images-idx3")
            raise DataError(f"{folder}: {have} without its {missing.split('-')[0]} file "
                            f"({prefix}{'train' if split == 'train' else 't10k'}-{missing}-ubyte.gz)")
    if "train" not in out:
        raise DataError(f"{folder}: no training IDX files (train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz, "
                        "as MNIST's are named)")
    return out


def _idx_names(folder: Path) -> dict[tuple[str, str, str], list[str]]:
    """The IDX file names of ``folder`` by (prefix, "train" or "test", "images" or "labels"); a file
    in a folder of its own name (``train-images-idx3-ubyte/train-images-idx3-ubyte``, as Kaggle's
    copy of MNIST unpacks) by its path below ``folder``."""
    try:
        entries = sorted(folder.iterdir())
        names = [p.name if p.is_file() else f"{p.name}/{p.name}" for p in entries
                 if p.is_file() or (p.is_dir() and (p / p.name).is_file())]
    except OSError as exc:
        raise DataError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    found: dict[tuple[str, str, str], list[str]] = {}
    for name in names:
        if (m := _IDX_NAME.match(name.rsplit("/", 1)[-1])) and (m["part"].lower() == "images") == (m["dims"] == "3"):
            split = "train" if m["split"].lower() == "train" else "test"
            found.setdefault((m["prefix"], split, m["part"].lower()), []).append(name)
    return found


def _idx_unused_tests(path: Path) -> list[str]:
    """Test files of other datasets (prefixes) beside ``path``'s IDX files, which has none of its
    own: what a warning names (its test set is then held out of its training images)."""
    folder = path if path.is_dir() else path.parent
    return sorted(n for (_, split, _), names in _idx_names(folder).items() if split == "test" for n in names)


def _one_of(names: list[str], folder: Path) -> list[str]:
    """The one IDX file of a role among ``names`` ([] for none): a file and its ``.gz`` beside it
    (torchvision's ``MNIST/raw`` keeps both) are one, read unzipped; DataError for two others
    (``t10k-`` and ``test-`` files both)."""
    kept = [n for n in names if not (n.lower().endswith(".gz") and n[:-3] in names)]
    if len(kept) > 1:
        raise DataError(f"{folder}: {' and '.join(kept)} hold the same part of its data: keep one of them")
    return kept


def _idx_beside_no_class(folder: Path) -> str | None:
    """The IDX file names of a folder that holds some and no class folders (a folder of IDX files
    given where a folder of class folders goes), clipped; None otherwise."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    idx = sorted(p.name for p in entries if _IDX_NAME.match(p.name))  # (a folder of one IDX file's name: Kaggle's)
    if not idx or any(p.is_dir() and not hidden_folder(p.name) and not _IDX_NAME.match(p.name) for p in entries):
        return None
    return clip(", ".join(idx), 80)


def read_idx_pair(folder: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """A folder's IDX images and labels of ``split`` (:func:`idx_files`): uint8 (N, H, W) and int64
    (N,), as stored (EMNIST's files hold their images transposed: they train so). DataError for
    files that are not IDX (:func:`mnistlab.data.idx.read_idx`), images that are not unsigned
    bytes (N, H, W), labels that are not (N,) integers, and counts that differ."""
    from mnistlab.data.idx import read_idx

    images_file, labels_file = idx_files(folder)[split]
    x, y = read_idx(images_file), read_idx(labels_file)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{images_file}: holds {x.dtype} {x.shape}; expected images as unsigned bytes (N, H, W)")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{labels_file}: holds {y.dtype} {y.shape}; expected integer labels (N,)")
    if len(x) != len(y):
        raise DataError(f"{folder}: {images_file.name} holds {len(x):,} images but {labels_file.name} {len(y):,} labels")
    if len(y) and y.max() > label_limit(len(y)):
        raise huge_label(labels_file, int(y.max()), len(y))
    return x, y.astype(np.int64)


# ----------------------------------------------------------------------------------- submission
def write_submission(path: Path, predictions: np.ndarray, class_names: tuple[str, ...] | None = None, *,
                     dataset: Any = None) -> None:
    """A competition submission: ``ImageId,Label`` with ImageId from 1 (the digit-recognizer's
    format), one row per prediction (int class indices, (N,)); ``class_names`` writes names
    instead of indices (for data whose labels were strings). A registered ``dataset``'s labels are
    as its files hold them, whatever ``class_names``: the class index plus its registry's
    ``label_offset`` (Fashion-MNIST's 9, not "Ankle boot", helper-160; EMNIST letters' 1-26).
    DataError for predictions not shaped (N,), OutputError when the file cannot be written.
    For the predict command on an unlabelled CSV (:func:`read_csv` gives its images, labels None). Its
    labels are written as they are, a name starting as a formula (``=x``) too: a scorer compares them
    as text (the listings' CSVs lead one by ``'``: :func:`~mnistlab.files.csv_text`)."""
    from mnistlab.data.registry import get_info, is_registered

    predictions = np.asarray(predictions)
    if predictions.ndim != 1:
        raise DataError(f"{path}: predictions must be one class index per image (N,), got shape {predictions.shape}")
    offset = get_info(dataset).label_offset if is_registered(dataset) else 0
    names = None if is_registered(dataset) else class_names
    rows = [[i, utf8_text(str(names[p])) if names is not None else p + offset]  # (a class folder's name not UTF-8: \xNN)
            for i, p in enumerate(predictions.tolist(), start=1)]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows([["ImageId", "Label"], *rows])  # (as pandas and Kaggle's
            # sample_submission.csv end lines; helper-214: csv's default \r\n made a diff of every line)

    write_output(path, write)  # an OSError: OutputError, "cannot write PATH: why", as every output says it
