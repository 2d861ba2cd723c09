"""One run, end to end: data -> model -> trainer -> test -> a :class:`RunResult`; the notebook API.

Two levels, use the one you need:

- :func:`train` for notebooks: ``run = mnistlab.train(dataset="fashion-mnist", model="seed000-cnn",
  epochs=5, lr=1e-3)`` returns a :class:`Run` (``.history``, ``.test_accuracy``, ``.predict(images)``).
- :func:`run_config` for a validated :class:`~mnistlab.config.RunConfig`: loads the data, builds the
  model, trains (:class:`~mnistlab.trainer.Trainer`), evaluates on the test set and returns a
  :class:`RunResult` (what the run store keeps), with the run's provenance in ``env``.

:class:`Recorder` is the one way a run gets into a :class:`~mnistlab.store.RunStore`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
import re
import socket
import subprocess
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import numpy as np
import torch

from mnistlab import accel
from mnistlab._version import __version__
from mnistlab.callbacks import (KERAS3_LOGGED, Callback, EarlyStopping, ReduceLROnPlateau, check_progress_mode, logged_hint,
                                make_callback, shown_mode)
from mnistlab.config import (OPTIMIZER_SETTINGS, RAW_RESTORED, EarlyStoppingConfig, RunConfig, SwapEMAWeightsConfig,
                             is_a, run_named,
                             TrainConfig, is_model_checkpoint,
                             apply_overrides, checkpoint_config, checkpoint_key, data_shuffled, ema_replaced,
                             parse_run_config, run_key, setting_default, split_seed, test_seed,
                             setting_doubts_warning, warn_if_min_lr_never_acts)
from mnistlab.data.arrays import as_given, given_dataset, said_as_given, saved_if_given
from mnistlab.data.userdata import class_count_mismatch, dataset_label, input_size_mismatch, plain_paths
from mnistlab.data.registry import is_registered
from mnistlab.datasets import file_digest, load_dataset, run_dataset, validation_count, validation_split
from mnistlab.errors import (CheckpointError, DataError, DataWarning, MnistlabError, NoSuchMetric, ReportWarning, ResourceError,
                             SpecError, SpecWarning, StoreError, KERAS_ELSEWHERE, KERAS_ELSEWHERE_IN_PYTHON,
                             LIGHTNING_ELSEWHERE, clip, did_you_mean,
                             in_python_words, show, together, type_name, user_level, warnings_kept)
from mnistlab.data.borders import border_range
from mnistlab.evaluate import PROB_FLOOR, as_array, check_images, evaluate_model, log_probs_loss, predict_probs
from mnistlab.files import command_env, stop_signals_held, write_atomic
from mnistlab.initial_weights import given_weights, load_weights, match_weights, read_source, start_spec, weight_mistakes
from mnistlab.models import adapt_normalization, build_model, weights_finite
from mnistlab.summary import MemoryEstimate, format_summary, gigabytes, recorded_memory, run_memory, summarize
from mnistlab.specs import ModelSpec
from mnistlab.store import CommitteeRecord, RunRecord, RunStore, epochs_trained
from mnistlab.trainer import CHECKPOINT_FILE, FitOutcome, Trainer, read_checkpoint, unfinished_checkpoint

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mnistlab.export import Verification

__all__ = ["Committee", "Recorder", "Run", "RunResult", "Split", "environment", "load_trained", "model_input",
           "prepare_data", "run_config", "train"]


@dataclass
class RunResult:
    """Everything one run produced. ``status``: finished | diverged | interrupted | failed."""

    config: dict[str, Any]
    status: str
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    env: dict[str, Any]
    test_probs: np.ndarray
    model: torch.nn.Module
    message: str = ""
    error: BaseException | None = field(default=None, repr=False, compare=False)  # the user's callback's (FitOutcome)



# ------------------------------------------------------------------------------------ the run
@dataclass
class Split:
    """A run's data as uint8/int64 tensors (on the training device)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor | None
    val_y: torch.Tensor | None
    test_x: torch.Tensor
    test_y: torch.Tensor
    validation_is_test: bool
    num_classes: int
    provenance: dict[str, Any] = field(default_factory=dict)  # the exact data: name, source, checks, checksums
    metric: str = "accuracy"  # what the dataset is judged by: accuracy | balanced_accuracy
    test_set_size: int | None = None  # the whole test set's images where data.subset kept fewer of them


def given_validation(validation_data: Any, shape: Sequence[int], num_classes: int,
                     device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` from a notebook as the uint8/int64 tensors a run holds; bad arrays raise SpecError.

    Images are numpy or torch, (N, H, W), (N, 1, H, W) or (N, H, W, 1), integers 0-255 or floats
    in [0, 1] (as ``x / 255``); labels class indices (N,) or (N, 1), or one-hot rows (N, classes).
    """
    try:
        images, labels = validation_data
        x, y = as_array(images), as_array(labels)  # copies: the arrays may be read-only memmaps
    except (TypeError, ValueError) as exc:
        raise SpecError(f"validation_data: expected (images, labels), got {type(validation_data).__name__} ({exc})") from None
    try:
        x = check_images(x, shape)
    except ValueError as exc:
        raise SpecError(f"validation_data: {exc}") from None
    if len(x) == 0:
        raise SpecError("validation_data: 0 images; give at least one, or leave validation_data out")
    if y.ndim == 2 and y.shape[1] == 1:  # Keras's sparse labels as a column (N, 1)
        y = y[:, 0]
    elif y.ndim == 2 and y.shape == (len(x), num_classes) and np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all():
        y = y.argmax(1)  # one-hot rows (to_categorical's), as evaluate takes them
    if y.shape != (len(x),):
        raise SpecError(f"validation_data: {len(x)} images need {len(x)} labels (N,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= num_classes:
        raise SpecError(f"validation_data: labels must be integers 0-{num_classes - 1}")
    if x.dtype != np.uint8:
        x = np.rint(x * 255).astype(np.uint8)  # the run holds uint8; x / 255 comes back exactly
    return torch.from_numpy(x).to(device), torch.from_numpy(y.astype(np.int64)).to(device)


def check_run_data(config: Mapping[str, Any], data_dir: str | os.PathLike | None = None,
                   classes: dict[str, tuple[int, int, list[str]] | MnistlabError] | None = None, *,
                   files_here: bool = False) -> None:
    """Check a resolved run ``config`` against the data it trains on, so that a sweep finds a
    mistake before anything trains, not when that cell's turn comes: the
    model's outputs against the data's classes, and ``data.validation`` against the training
    images (``data.subset`` of them, where given). Raises the first of :func:`run_data_mistakes`,
    the others in its ``more``: DataError for a bad file (a CSV without its label column or cut
    short, a folder without class folders, an .npz without its arrays), SpecError when the model's
    outputs do not match the classes, its input size is not the dataset's, or the validation split
    leaves no training image."""
    mistakes = run_data_mistakes(config, data_dir, classes, files_here=files_here)
    if len(mistakes) > 1:  # (fresh SpecErrors: a data file's error, kept in ``classes`` for other reads, comes alone)
        mistakes[0].more = tuple(mistakes[1:])
    if mistakes:
        raise mistakes[0]


def run_data_mistakes(config: Mapping[str, Any], data_dir: str | os.PathLike | None = None,
                      classes: dict[str, tuple[int, int, list[str]] | MnistlabError] | None = None, *,
                      files_here: bool = False, download: bool = True) -> list[MnistlabError]:
    """Every mistake :func:`check_run_data` finds in a resolved run ``config``, in a list (empty:
    none): the DataError of data that cannot be read alone, else a SpecError for each setting at
    fault, its ``path`` the key that sets it (``("model",)``, ``("model", "input_shape")``,
    ``("data", "validation")``, with ``files_here`` a ModelCheckpoint's folder that cannot be
    written here, :func:`checkpoint_mistakes`; :func:`setting_mistakes`, its device only with
    ``files_here``). The user's own data is read as its run will read it
    (:func:`~mnistlab.datasets.run_dataset`); a registered dataset is known by its registry entry,
    no file read (a remote backend, Ray, may hold its files where this process does not), unless
    ``files_here`` (the runs train on this machine): its files are then found, or downloaded, once
    (:func:`~mnistlab.datasets.load_dataset`), so that a dataset missing offline is one error, not
    one failed run per cell each trying the download (``download=False``: not downloaded).
    ``classes`` keeps (class count, training
    images) of each dataset read (its path, input size and split seed), or the error its read
    raised, so that a sweep reads each once."""
    classes = {} if classes is None else classes
    dataset = config.get("dataset")
    shape = (config.get("model") or {}).get("input_shape") or (28, 28)
    read = json.dumps([dataset, str(data_dir) if files_here else None] if is_registered(dataset)
                      else [dataset, list(shape[:2]), split_seed(config), test_seed(config), data_shuffled(config),
                            {k: v for k, v in (config.get("data") or {}).items() if k in ("subset", "validation", "split")}],
                      sort_keys=True, default=str)  # (a subset's classes, a split's training images: their own)
    if read not in classes:
        try:
            classes[read] = _classes_and_size(config, data_dir, files_here, download)
        except MnistlabError as exc:  # a corrupt image in 60,000: found once, not again for each variant
            classes[read] = exc
    found = classes[read]
    if isinstance(found, MnistlabError):
        return [found]
    spec = ModelSpec.from_dict(config["model"])
    out: list[MnistlabError] = [*checkpoint_mistakes(config)] if files_here else []  # (where the runs write them)
    if spec.num_classes != found[0]:
        out.append(SpecError(class_count_mismatch(spec, dataset, found[0]), path=("model",)))
    if why := input_size_mismatch(spec, dataset, _image_shape(dataset, shape)):
        out.append(SpecError(why, path=("model", "input_shape")))
    out += setting_mistakes(config, device=files_here)
    if why := class_weight_mistake((config.get("train") or {}).get("class_weight"), found[0], found[2]):
        out.append(SpecError(why, path=("train", "class_weight")))  # (helper-248: an unknown class failed each run)
    try:
        _check_validation(config.get("data") or {}, found[1])
    except SpecError as exc:
        out.append(exc)
    return out


def setting_mistakes(config: Mapping[str, Any], *, device: bool = True) -> list[MnistlabError]:
    """A SpecError for each setting of a resolved run ``config`` no run of it can train with, each
    ``path`` the key at fault, found before anything trains (helper-161: a sweep's 9th cell failed
    on it after 8 trained, or warned mid-sweep): a ``data.subset`` past a registered dataset's
    training images (a typo: 100000 for 10000; the registry's count, no file read) and, with
    ``device``, a ``train.device`` this machine has not (:func:`~mnistlab.accel.pick_device`:
    "cuda" without CUDA, "cuda:3" of 2 GPUs; not where the runs train elsewhere: Ray's workers), and
    ``weights`` that cannot start the model (:func:`~mnistlab.initial_weights.weight_mistakes`; where
    the runs train elsewhere, only a file found here)."""
    from mnistlab.accel import pick_device
    from mnistlab.data.registry import get_info

    out: list[MnistlabError] = []
    dataset, subset = config.get("dataset"), int((config.get("data") or {}).get("subset") or 0)
    if is_registered(dataset) and subset > (size := get_info(dataset).train_size):
        out.append(SpecError(f"data.subset = {subset:,} is more than {dataset}'s {size:,} training images (a typo?): "
                             "leave data.subset out to train on all of them", path=("data", "subset")))
    try:
        if device:
            pick_device(str((config.get("train") or {}).get("device") or "auto"))
    except SpecError as exc:
        out.append(SpecError(str(exc), path=("train", "device")))
    weights = config.get("weights")
    if device or (isinstance(weights, Mapping) and Path(str(weights.get("file"))).exists()):  # (Ray's workers: theirs)
        out += weight_mistakes(config)
    for i, cb in enumerate(config.get("callbacks") or ()):
        if isinstance(cb, Mapping) and cb.get("type") == "Python":
            out.append(SpecError(python_callback_refusal(i, str(cb.get("class_name"))), path=("callbacks", i)))
    return out


def python_callback_refusal(i: int, class_name: str) -> str:
    """Why a config with a recorded callback object of the user's own (``{"type": "Python"}``) cannot train."""
    return (f"callbacks[{i}]: the run trained with a callback object of class {clip(class_name, 60)}, which a config "
            "cannot rebuild: pass that object to mnistlab.train(callbacks=[...]) with this config's other settings, or "
            "leave this entry out")


def checkpoint_mistakes(config: Mapping[str, Any]) -> list[MnistlabError]:
    """A SpecError for each ModelCheckpoint of a resolved run ``config`` whose folder cannot be made
    or written here (:func:`~mnistlab.callbacks.checkpoint_folder_mistake`), its ``path`` the
    callback's ``filepath`` key."""
    from mnistlab.callbacks import checkpoint_folder_mistake

    out: list[MnistlabError] = []
    for i, cb in enumerate(config.get("callbacks") or ()):
        if is_model_checkpoint(cb) and (why := checkpoint_folder_mistake(str(cb.get("filepath")),
                                                                                      "ModelCheckpoint: filepath")):
            out.append(SpecError(why, path=("callbacks", i, "filepath")))
    return out


def _image_shape(dataset: Any, model_input: Sequence[int]) -> tuple[int, int]:
    """(H, W) of the images a run of ``dataset`` trains on: a registered dataset's own, the model's
    input for the user's data (resized to it as it is read)."""
    from mnistlab.data.registry import get_info

    return get_info(dataset).image_shape if is_registered(dataset) else (int(model_input[0]), int(model_input[1]))


def _classes_and_size(config: Mapping[str, Any], data_dir: str | os.PathLike | None,
                      files_here: bool, download: bool = True) -> tuple[int, int, list[str]]:
    """(class count, training images, class names) of the data a resolved run ``config`` trains on; see
    :func:`run_data_mistakes` for what is read (``download=False``: a registered dataset whose files
    are not here is known by its registry entry, not downloaded). Raises DataError for data that
    cannot be read."""
    from mnistlab.data.registry import get_info
    from mnistlab.datasets import find_files, load_dataset

    dataset = config.get("dataset")
    if is_registered(dataset):
        # found or downloaded now: missing offline, it is one error before anything trains
        if files_here and (download or find_files(get_info(dataset), data_dir) is not None):
            load_dataset(dataset, data_dir)
        info = get_info(dataset)
        return info.num_classes, info.train_size, [str(n) for n in info.class_names]
    ds = run_dataset(dict(config), data_dir)
    if mistake := one_class_training(np.asarray(ds.train_labels), config.get("data") or {}, data_shuffled(config)):
        raise mistake
    return ds.info.num_classes, len(ds.train_labels), [str(n) for n in ds.info.class_names]


def one_class_training(labels: np.ndarray, data: Mapping[str, Any], shuffled: bool) -> SpecError | None:
    """Why the training images a run keeps of the user's ``labels`` (int (N,), in the order its run
    reads them) cannot train a classifier: all of one class, from rows sorted by class, where
    ``data.subset`` keeps the first rows (helper-147: trained on class 0 alone, "test acc 100%") or
    ``data.split = "last"`` holds out the last ones as validation (Keras's ``validation_split`` does
    it too, and trains on what is left). A SpecError, its ``path`` the setting at fault; None when
    they hold 2 classes or more, or the data has one class in all."""
    subset = int(data.get("subset") or 0)
    if len(np.unique(labels)) < 2:
        return None
    if subset and subset < len(labels):
        labels = labels[:subset]
        if len(np.unique(labels)) < 2:
            cure = "" if shuffled else "; data.shuffle = true takes them in a shuffled order, from every class"
            return SpecError(f"data.subset = {subset:,} keeps the first {subset:,} training images, all of one class: a "
                             f"classifier needs training images of at least 2 classes{cure}", path=("data", "subset"))
    validation = data.get("validation")
    if data.get("split") != "last" or not validation or validation == "test" or isinstance(validation, bool):
        return None
    try:
        held = validation_count(len(labels), fraction=validation if isinstance(validation, float) else None,
                                count=validation if isinstance(validation, int) else None, last=True)
    except DataError:  # (no image on one side: _check_validation says so)
        return None
    if len(np.unique(labels[: len(labels) - held])) > 1:
        return None
    return SpecError(f'data.validation = {validation!r} with data.split = "last" holds out the last {held:,} of the '
                     f"{len(labels):,} training images, which leaves the rest all of one class: a classifier needs "
                     'training images of at least 2 classes; data.split = "random" holds out a seeded random draw',
                     path=("data", "split"))


def _check_validation(data: Mapping[str, Any], train_size: int) -> None:
    """SpecError when ``data.validation`` (a count or fraction) leaves no image on one side of the
    split of the training images a run has: ``train_size``, or ``data.subset`` of them."""
    validation, subset = data.get("validation"), data.get("subset") or 0
    if not validation or validation == "test" or isinstance(validation, bool):
        return
    n = min(subset, train_size) if subset else train_size
    try:
        validation_count(n, fraction=validation if isinstance(validation, float) else None,
                         count=validation if isinstance(validation, int) else None, last=data.get("split") == "last")
    except DataError as exc:
        within = f"data.subset = {subset:,} of its" if subset and subset < train_size else "its"
        raise SpecError(f"data.validation = {validation!r}: {exc} ({within} {train_size:,} training images)",
                        path=("data", "validation")) from None


def _smoke_sized(cfg: RunConfig) -> bool:
    """Whether ``cfg`` is the size of a ``--quick`` smoke run (:func:`~mnistlab.experiments.is_quick`)."""
    from mnistlab.experiments import is_quick

    return is_quick(cfg.resolved())


def prepare_data(cfg: RunConfig, data_dir: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> Split:
    """Load the dataset, apply ``data.subset`` and the validation split; tensors on ``device``.

    The user's own data (a path or table in ``dataset``) is resized to the model's input and, when
    it has no test file, split with the run's ``data.test_seed``; its files' SHA-256 go in ``provenance``.
    """
    height, width = cfg.model_spec().input_shape[:2]
    ds = load_dataset(cfg.dataset, data_dir, image_shape=(height, width), seed=cfg.test_seed, shuffle=cfg.shuffles_data)
    train_x, train_y = np.asarray(ds.train_images), np.asarray(ds.train_labels)
    test_x, test_y = np.asarray(ds.test_images), np.asarray(ds.test_labels)
    if cfg.data.subset > len(train_x) and not _smoke_sized(cfg):  # (--quick's 300 of 160 images: all, unsaid)
        warnings.warn(f"data.subset = {cfg.data.subset:,} is more than the {len(train_x):,} training images: "
                      "training on all of them", DataWarning, stacklevel=user_level())
    whole_test = len(test_y)
    if not is_registered(cfg.dataset) and (mistake := one_class_training(train_y, cfg.resolved()["data"], cfg.shuffles_data)):
        raise DataError(str(mistake))  # (the user's rows may come sorted by class)
    if cfg.data.subset:
        keep = max(cfg.data.subset // 6, 1)
        if not is_registered(cfg.dataset):  # the user's rows may come sorted by class
            _subset_classes(cfg, ds.info.class_names, (train_y, cfg.data.subset, "training"), (test_y, keep, "test"))
        train_x, train_y = train_x[: cfg.data.subset], train_y[: cfg.data.subset]
        test_x, test_y = test_x[:keep], test_y[:keep]
    validation = cfg.data.validation
    val_x = val_y = None
    if validation == "test":
        val_x, val_y = test_x, test_y
    elif validation:
        kind = {"fraction": validation} if isinstance(validation, float) else {"count": validation}
        train_idx, val_idx = validation_split(train_y, seed=cfg.split_seed, stratify=cfg.data.stratify,
                                              last=cfg.data.split == "last", **kind)
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
        if cfg.data.split == "last" and (lost := sorted(set(val_y.tolist()) - set(train_y.tolist()))):  # helper-152
            names = ds.info.class_names
            warnings.warn(f'data.validation = {validation!r} with data.split = "last" holds out every training image of '
                          f"class{'es' * (len(lost) != 1)} {clip(', '.join(str(names[i]) for i in lost), 60)} (rows "
                          "sorted by class?): the model never learns them (Keras's validation_split holds them out "
                          'too, unsaid); data.split = "random" holds out a seeded random draw', DataWarning,
                          stacklevel=user_level())

    def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.array(a)).to(device=device, dtype=dtype)  # a copy: the arrays may be read-only memmaps

    return Split(t(train_x, torch.uint8), t(train_y, torch.int64),
                 None if val_x is None else t(val_x, torch.uint8), None if val_y is None else t(val_y, torch.int64),
                 t(test_x, torch.uint8), t(test_y, torch.int64), validation == "test", ds.info.num_classes,
                 provenance={"name": ds.info.name, "source": ds.source, "verified": ds.verified,
                             "checksums": dict(ds.checksums), "class_names": list(ds.info.class_names),
                             "test_held_out": ds.test_held_out,
                             **({} if is_registered(cfg.dataset) else {"border": border_range(train_x)})},  # (predict's
                 # polarity check of the user's data: a registered dataset's limits are known, INVERTED_BORDER)
                 metric=ds.info.metric, test_set_size=whole_test if len(test_y) < whole_test else None)


def _subset_classes(cfg: RunConfig, names: Sequence[str], *parts: tuple[np.ndarray, int, str]) -> None:
    """Warn (:class:`DataWarning`) where ``data.subset``'s first images of a part, (labels, how
    many are kept, its name), leave out classes that part has though there are as many images as
    classes: the user's rows sorted by class."""
    for labels, n, what in parts:
        classes = set(np.unique(labels).tolist())
        if n >= len(labels) or n < len(classes):
            continue
        lost = sorted(classes - set(np.unique(labels[:n]).tolist()))
        if lost:
            cure = ("" if cfg.shuffles_data else
                    "; data.shuffle = true takes them in a shuffled order, from every class")
            warnings.warn(f"data.subset = {cfg.data.subset:,} keeps the first {n:,} {what} images, which leave out "
                          f"{len(lost)} of its {len(classes)} classes ("
                          f"{clip(', '.join(str(names[i]) for i in lost), 60)}){cure}", DataWarning, stacklevel=user_level())


def _run_env(device: torch.device, trainer: Trainer, data: Split, averaged: Mapping[str, Any]) -> dict[str, Any]:
    """A single run's environment as recorded: where it ran (:func:`environment`), its plan's
    choices as the fit used them, its data's provenance and its weight averaging."""
    plan = trainer.plan
    env = {**environment(device), **plan.describe(), "flush_denormals": trainer.flushes_denormals,
           "data": data.provenance, **averaged}
    if trainer.hooks.wants_batch_hooks and not plan.sync_each_step:  # what the run did, not what the plan could
        env["host_sync"] = "each step (a callback read each batch's loss: the progress bar, or a batch hook)"
    # A CPU run repeats exactly, unless the load made it change its thread count midway (or a resume did).
    env["thread_changes"] = trainer.thread_changes()
    env["deterministic"] = device.type == "cpu" and not env["thread_changes"]
    return env


def dataset_metrics(data: Split, probs: np.ndarray) -> dict[str, Any]:
    """The metric the dataset is judged by, when it is not plain accuracy: ``test_balanced_accuracy``
    (the mean of per-class recalls over the classes present, sklearn's ``balanced_accuracy_score``)
    for Kuzushiji-49. Empty for other datasets or an untested run."""
    probs = np.asarray(probs)
    if data.metric != "balanced_accuracy" or len(probs) != len(data.test_y) or not np.isfinite(probs).all():
        return {"metric": data.metric} if data.metric != "accuracy" else {}
    from mnistlab.metrics import class_recall, confusion_matrix

    cm = confusion_matrix(data.test_y.cpu().numpy(), probs.argmax(1), data.num_classes)
    recall = class_recall(cm)
    return {"metric": data.metric, "test_balanced_accuracy": float(np.nanmean(recall))}


def _checked_before_data(resolved: Mapping[str, Any], resume_from: str | os.PathLike | None) -> tuple[str, str]:
    """What :func:`run_config` checks before it loads the data: the ModelCheckpoint folders, on the
    machine that writes them (a Ray worker's too: :func:`checkpoint_mistakes`), and the checkpoint
    in ``resume_from``, another config's said now. Returns the run's checkpoint key and the config
    it hashes (:func:`~mnistlab.config.checkpoint_key`, :func:`~mnistlab.config.checkpoint_config`:
    the second names a change). Raises SpecError or CheckpointError."""
    if mistakes := checkpoint_mistakes(resolved):
        raise together(mistakes)
    ckpt_key = checkpoint_key(resolved), checkpoint_config(resolved)
    if resume_from is not None and (Path(resume_from) / CHECKPOINT_FILE).exists():
        read_checkpoint(Path(resume_from) / CHECKPOINT_FILE, *ckpt_key)
    return ckpt_key


def run_config(
    cfg: RunConfig,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None, resume: bool = False, checkpoint_every: float = 0.0,
    extra_callbacks: Sequence[Callback] = (), extra_at: Sequence[int] = (), interrupt: Callable[[], bool] | None = None,
    validation_data: tuple[Any, Any] | None = None, on_data_ready: Callable[[Split], None] | None = None, run_id: str = "",
    names: tuple[str, str | None] = ("train", None),
) -> RunResult:
    """Train one run described by ``cfg`` and evaluate it on the test set.

    ``checkpoint_dir``: a checkpoint there every ``checkpoint_every`` seconds, inside epochs too
    (0: at each epoch's end; :meth:`Trainer.fit`); ``resume`` continues from it. ``on_data_ready(split)``
    runs once the data is loaded and checked, given its :class:`Split` (`mnistlab train` prints its
    summary and sizes then). ``validation_data=(images, labels)`` validates on those arrays (Keras's
    ``fit(validation_data=)``) instead of what ``data.validation`` says; which one was used is
    recorded in ``metrics["validation"]``. ``interrupt``: the Trainer's. ``run_id``: the recorded run,
    kept in its checkpoints: a resume records the run it continued (``metrics["resumed_from_run"]``).
    ``names``: the run's experiment and row (None: its model's name), which a ModelCheckpoint's
    ``{experiment}`` and ``{variant}`` name (:func:`with_run_names`; its result's config keeps them as written).

    Never raises for what happens during training (divergence, Ctrl-C, a failing callback): the
    status and message say what happened and the history so far is kept. Bad configs, missing data
    and unreadable checkpoints raise :class:`MnistlabError` before training starts. The warnings said
    while it ran are kept in ``metrics["warnings"]`` (:func:`~mnistlab.errors.warnings_kept`). ``cfg``
    must be a :class:`RunConfig` (:func:`parse_run_config` makes one of a dict; SpecError otherwise)."""
    if not isinstance(cfg, RunConfig):  # (helper-228: a dict was an AttributeError)
        raise SpecError(f"run_config: cfg must be a RunConfig, got {type(cfg).__name__}: make one with "
                        "mnistlab.parse_run_config(...), or call mnistlab.train(...)")
    return with_warnings_kept(lambda: _run_config(
        cfg, data_dir=data_dir, progress=progress, checkpoint_dir=checkpoint_dir, resume=resume,
        checkpoint_every=checkpoint_every, extra_callbacks=extra_callbacks, extra_at=extra_at, interrupt=interrupt,
        validation_data=validation_data, on_data_ready=on_data_ready, run_id=run_id, names=names))


def with_warnings_kept(train: Callable[[], RunResult]) -> RunResult:
    """``train()`` (a :func:`run_config`, or a resume refused and then a fresh start: a sweep cell's,
    a search trial's), its result's ``metrics["warnings"]`` holding every warning said meanwhile
    (:func:`~mnistlab.errors.warnings_kept`), those said around its runs too (helper-180: "the
    checkpoint is deleted and the cell trains from its first epoch" was said outside the run)."""
    with warnings_kept() as said:
        result = train()
    if said:
        result.metrics["warnings"] = said
    return result


def _run_config(
    cfg: RunConfig, *, data_dir: str | os.PathLike | None, progress: str, checkpoint_dir: str | os.PathLike | None,
    resume: bool, checkpoint_every: float, extra_callbacks: Sequence[Callback], extra_at: Sequence[int],
    interrupt: Callable[[], bool] | None, validation_data: tuple[Any, Any] | None,
    on_data_ready: Callable[[Split], None] | None, run_id: str, names: tuple[str, str | None],
) -> RunResult:
    """:func:`run_config`'s training and test, without keeping its warnings."""
    check_progress_mode(progress)  # a config error: say so before any data is loaded
    setting_doubts_warning(cfg)
    resolved, spec, t = cfg.resolved(), cfg.model_spec(), cfg.train
    ckpt_key = _checked_before_data(resolved, checkpoint_dir if resume else None)
    device = accel.pick_device(t.device)
    data = prepare_data(cfg, data_dir, device)
    summary = summarize(spec)  # Keras's count as written: a Normalization to adapt holds 2C+1 weights
    # ... which adapt() learns from the training images (or takes from the weights started from); the
    # record keeps them, to predict without the data
    source = read_source(cfg.weights) if cfg.weights is not None else None
    fit = match_weights(spec, source, cfg.weights.skip_mismatch) if source and cfg.weights else None
    spec = adapt_normalization(start_spec(spec, fit) if fit else spec, data.train_x)
    resolved["model"] = spec.to_dict()
    _fit_data_to_model(cfg, spec, data, validation_data, device)
    weights = class_weights(t.class_weight, data)  # (a key that is no class: said before anything trains)
    if on_data_ready is not None:
        on_data_ready(data)
    flops, memory = summary.flops, run_memory(cfg, spec, len(data.train_y))
    model = build_on(device, spec, t.seed, memory)
    started = load_weights(model, source, fit) if source and fit else None  # Keras's load_weights before fit
    # The EMA's optimizer step hook would turn the lean fused Adam step aside anyway (accel.fused_adam).
    plan = accel.plan(model, precision=t.precision, threads=t.threads or None, macs_per_image=flops,
                      batch_size=t.batch_size, lean_optimizer=not t.use_ema)
    with plan.use_threads():
        trainer = Trainer(
            model, optimizer=t.optimizer, **optimizer_settings(cfg),
            batch_size=t.batch_size, label_smoothing=t.label_smoothing, class_weight=weights,
            schedule=t.schedule, augment=cfg.augment, callbacks=run_callbacks(cfg, extra_callbacks, extra_at, names),
            seed=t.seed, progress=progress, plan=plan, interrupt=interrupt,
        )
        outcome = _fit(trainer, data, t.epochs, ckpt_key, memory, folder=checkpoint_dir, resume=resume, every=checkpoint_every,
                       run_id=run_id)
        averaged = _finish_averaging(cfg, trainer, data, outcome)
        test_loss, test_acc, probs = _test(trainer, data, memory, outcome)
        after = _after_test(cfg, trainer, data, averaged, outcome) if test_acc is not None else {}
        env = _run_env(device, trainer, data, averaged)
    metrics = {**_metrics(outcome, test_loss, test_acc, summary.total, flops, data, restored_epoch(trainer.callbacks)),
               **dataset_metrics(data, probs), **after}
    metrics["validation"] = ("given" if validation_data is not None else "test" if data.validation_is_test
                             else "none" if data.val_y is None else cfg.data.split)
    if started is not None:
        metrics["initial_weights"] = started
    if weights is not None:  # each class's weight as trained ("balanced": computed from the training labels)
        metrics["class_weights"] = [round(float(w), 9) for w in weights]
    model.eval()
    model = model.to("cpu", memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    return RunResult(resolved, outcome.status, list(outcome.history), metrics, env, probs, model,
                     outcome.message or _stopped_early(trainer.callbacks, t.epochs, outcome, metrics), outcome.error)


def _stopped_early(callbacks: Sequence[Callback], epochs: int, outcome: FitOutcome, metrics: dict[str, Any]) -> str:
    """A finished run's message where a callback (EarlyStopping, StopAtLoss) ended its fit before
    ``epochs``: ``"stopped early by EarlyStopping after epoch 2 of 6; the weights of epoch 1
    restored"``, its epoch (from 1) put in ``metrics["stopped_epoch"]`` (helper-143: a table of
    "epochs 2" said nothing of why, as Keras's log says "Epoch 2: early stopping"). Else ""."""
    stopper = next((cb for cb in callbacks if getattr(cb, "stopped_epoch", -1) >= 0), None)
    if outcome.status != "finished" or stopper is None or len(outcome.history) >= epochs:
        return ""
    metrics["stopped_epoch"] = stopped = int(stopper.stopped_epoch) + 1  # type: ignore[attr-defined]
    restored = metrics.get("restored_epoch")
    return (f"stopped early by {type(stopper).__name__} after epoch {stopped} of {epochs}"
            + (f"; the weights of epoch {restored} restored" if isinstance(restored, int) else ""))


def run_callbacks(cfg: RunConfig, extra: Sequence[Callback] = (), extra_at: Sequence[int] = (),
                  names: tuple[str, str | None] = ("train", None)) -> list[Callback]:
    """The callbacks a run's trainer gets: the weight average first, Keras's optimizer EMA
    (``train.use_ema``: Keras finalises it before any callback's ``on_train_end``) or SWA
    (``train.swa``), then ``cfg.callbacks`` and the ``extra`` objects in the order the user listed
    them: each extra one at its place in that list (``extra_at``; without it, after the config's).
    helper-130: `train(callbacks=[EarlyStopping(...), {"type": "SwapEMAWeights"}])` ran the table first."""
    from mnistlab.averaging import ExponentialMovingAverage, StochasticWeightAveraging

    t = cfg.train
    first: list[Callback] = [ExponentialMovingAverage(t.ema_momentum, t.ema_overwrite_frequency)] if t.use_ema else []
    if t.swa is not None:
        first.append(StochasticWeightAveraging(t.swa.start_epoch, t.swa.lr))
    listed = [make_callback(c) for c in with_run_names(cfg, *names).callbacks]  # a checkpoint's run names filled
    return first + (interleaved(listed, extra, extra_at) if extra_at else listed + list(extra))


def single_run_variant(cfg: RunConfig, resolved: Mapping[str, Any]) -> str:
    """The row a single run of ``cfg`` (``resolved``: ``cfg.resolved()``) is recorded as where none is
    given: its model's name, its model file's stem, or a model given inline its own (:func:`inline_model_name`)."""
    return str(resolved["model"].get("name") or (Path(cfg.model).stem if isinstance(cfg.model, str)
                                                 else inline_model_name(cfg.model)))


def with_run_names(cfg: RunConfig, experiment: str = "train", variant: str | None = None) -> RunConfig:
    """``cfg`` with each ModelCheckpoint's ``{experiment}``, ``{variant}`` (None: the model's name, as a
    single run's row is named) and ``{seed}`` filled for its run (:func:`~mnistlab.config.run_named`);
    ``cfg`` itself where none names them. The recorded config keeps what was written."""
    from mnistlab.callbacks import RUN_NAME_KEYS, filepath_keys

    if not any(set(RUN_NAME_KEYS) & set(filepath_keys(str(getattr(c, "filepath", "")))) for c in cfg.callbacks):
        return cfg
    if variant is None:
        variant = single_run_variant(cfg, cfg.resolved())
    return cfg.model_copy(update={"callbacks": run_named(cfg.callbacks, experiment=experiment, variant=variant,
                                                         seed=cfg.train.seed)})


def interleaved(listed: Sequence[Any], extra: Sequence[Any], at: Sequence[int]) -> list[Any]:
    """``listed`` with each of ``extra`` put back at its place ``at`` in the list it was taken from
    (callback objects among a list of callback tables): the list as the user gave it."""
    out = list(listed)
    for i, item in sorted(zip(at, extra), key=lambda placed: placed[0]):  # ascending: each lands where it was
        out.insert(i, item)
    return out


def _finish_averaging(cfg: RunConfig, trainer: Trainer, data: Split, outcome: FitOutcome) -> dict[str, str]:
    """What a run with a weight average records in ``env`` (``weight_average``; nothing without one).
    After an SWA fit that wrote its average into the model, BatchNormalization's statistics are
    recomputed for it over the training images first."""
    from mnistlab.averaging import StochasticWeightAveraging, recompute_bn

    t = cfg.train
    if t.use_ema:
        every = f"every {t.ema_overwrite_frequency} steps" if t.ema_overwrite_frequency else "at the end"
        replaced = restored_epoch(trainer.callbacks)
        then = "" if replaced is None else (
            f"; then EarlyStopping's restored average of epoch {replaced}" if swaps_before_restoring(trainer.callbacks)
            else f"; then replaced by EarlyStopping's restored weights of epoch {replaced}")
        return {"weight_average": f"ema: Keras's optimizer EMA, momentum {t.ema_momentum:g}, written into the "
                f"weights {every}{then}"}
    swa = next((cb for cb in trainer.callbacks if isinstance(cb, StochasticWeightAveraging)), None)
    if swa is None or outcome.status not in ("finished", "diverged"):
        return {}
    if not swa.averaged:  # e.g. EarlyStopping ended the fit first: say so, or "swa" reads as if it ran
        return {"weight_average": f"swa: never started (training ended after epoch {len(outcome.history)}, "
                f"before swa.start_epoch {swa.start_epoch}): the model is the plain one"}
    bn = recompute_bn(trainer.model, data.train_x, trainer.plan.inputs)
    return {"weight_average": (f"swa: the mean of {swa.averaged} epochs' weights" if swa.averaged > 1 else
                               f"swa: the weights of epoch {swa.start_epoch} alone (training ended there), the plain model's")
            + (", BatchNormalization statistics recomputed over the training images" if bn else "")}


def _after_test(cfg: RunConfig, trainer: Trainer, data: Split, averaged: Mapping[str, str],
                outcome: FitOutcome) -> dict[str, Any]:
    """What a tested run scores after its test pass (TTA, a weight average's validation), guarded
    as the test pass is (:func:`_safe_test`): a Ctrl-C makes the run interrupted (trained again from
    its checkpoint), a failed allocation leaves them out, said in its message; neither escapes, a
    trained run's record is kept (helper-131)."""
    try:
        return _tta_metrics(cfg, trainer, data) | _averaged_val(trainer, data, averaged)
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        outcome.message = "; ".join(filter(None, [outcome.message, "interrupted after its test pass, while taking "
                                                                   "its TTA or final validation scores"]))
    except (RuntimeError, MemoryError) as exc:
        if not allocation_failed(exc):
            raise
        outcome.message = "; ".join(filter(None, [outcome.message, "an allocation failed after the test pass: its "
                                                                   "TTA and final validation scores were not taken"]))
    return {}


def _averaged_val(trainer: Trainer, data: Split, averaged: Mapping[str, str]) -> dict[str, Any]:
    """A weight-averaged run's (``averaged``: what :func:`_finish_averaging` recorded) ``val_loss``
    and ``val_accuracy``, scored on the weights it ends with, the ones the test set scores, and
    ``val_scored = "final weights"``; nothing without an average or validation images. Its
    epochs' validation scored the raw weights (unless SwapEMAWeights swapped the EMA in), so the
    last epoch's figures are another model's (helper-128: an SWA run recorded val 87.80% for
    weights that score 89.2%, and choosing on validation, a search, could not see the average)."""
    if not averaged or data.val_x is None or data.val_y is None:
        return {}
    loss, acc = trainer.evaluate(data.val_x, data.val_y)
    return {"val_loss": loss if math.isfinite(loss) else None, "val_accuracy": acc, "val_scored": "final weights"}


def swaps_before_restoring(callbacks: Sequence[Any]) -> bool:
    """Whether among ``callbacks`` (objects or their config tables, in the order they run) a
    SwapEMAWeights(swap_on_epoch) comes before every EarlyStopping(restore_best_weights): then it
    keeps the EMA of its best epoch; after one, that epoch's raw weights (helper-128)."""
    from mnistlab.averaging import SwapEMAWeights

    swapped = False
    for c in callbacks:
        swapped = swapped or (isinstance(c, (SwapEMAWeights, SwapEMAWeightsConfig)) and c.swap_on_epoch)
        if isinstance(c, (EarlyStopping, EarlyStoppingConfig)) and c.restore_best_weights and not swapped:
            return False
    return swapped


def restored_epoch(callbacks: Sequence[Callback]) -> int | None:
    """The epoch (from 1) whose weights an ``EarlyStopping(restore_best_weights)`` among ``callbacks``
    put back at the end of the fit (Keras: "Restoring model weights from the end of the best
    epoch"), or None where none did."""
    for cb in callbacks:
        if isinstance(cb, EarlyStopping) and cb.restore_best_weights and cb.best_weights is not None:
            return cb.best_epoch + 1
    return None


def _tta_metrics(cfg: RunConfig, trainer: Trainer, data: Split) -> dict[str, Any]:
    """What ``evaluate.tta`` records (none without it): ``tta_test_loss``, ``tta_test_accuracy``,
    ``tta_views`` and, where the run holds out validation images of its own (not the test set),
    ``tta_val_accuracy`` and ``tta_val_gain``: the validation accuracy with TTA and its gain over
    the same final weights without it (a fraction: 0.001 is 0.1 points), so whether TTA pays is read
    on validation, never on the test set."""
    from mnistlab.evaluate import evaluate_tta, tta_views

    tta = cfg.evaluate.tta
    if tta is None:
        return {}
    views = tta_views(tta.shift, tta.rotation, tta.flip)
    score = functools.partial(evaluate_tta, trainer.model, label_smoothing=trainer.label_smoothing,
                              channels_last=trainer.plan.channels_last, forward=trainer.plan.forward)
    loss, acc, _ = score(data.test_x, data.test_y, views)
    out = {"tta_test_loss": loss if math.isfinite(loss) else None, "tta_test_accuracy": acc, "tta_views": len(views)}
    if data.val_x is not None and data.val_y is not None and not data.validation_is_test:
        _, plain, _ = score(data.val_x, data.val_y, views[:1])
        _, val, _ = score(data.val_x, data.val_y, views)
        out |= {"tta_val_accuracy": val, "tta_val_gain": val - plain}
    return out


def optimizer_settings(cfg: RunConfig) -> dict[str, Any]:
    """The run's optimizer settings as keyword arguments of :func:`mnistlab.optim.make_optimizer`
    (and of :class:`~mnistlab.trainer.Trainer`): the one place a config becomes an optimizer."""
    return {"lr": cfg.lr, **{k: getattr(cfg.train, k) for k in OPTIMIZER_SETTINGS},
            "weight_decay": cfg.weight_decay}  # (the run's: the optimizer's Keras default where the config has none)


# long: run_config's steps for M members at once, in the same order; split, they would scatter
def run_members(cfgs: Sequence[RunConfig], *, data_dir: str | os.PathLike | None = None) -> list[RunResult]:
    """Train a committee's members as one stacked model (:mod:`mnistlab.accel.members`) and return
    one :class:`RunResult` per member, as :func:`run_config` would for each (its ``env`` says
    ``batched_members``: M). The configs must pass
    :func:`~mnistlab.accel.members.batch_refusal` (SpecError otherwise). Like :func:`run_config`,
    never raises for what happens during training: a failure is every member's ``failed`` result.
    Each member's ``metrics["warnings"]`` keeps the warnings said while they trained, all of them
    (the members train as one: a warning of one member is in every member's record).
    """
    with warnings_kept() as said:
        results = _run_members(cfgs, data_dir=data_dir)
    for result in results:
        if said:
            result.metrics["warnings"] = list(said)
    return results


def _run_members(cfgs: Sequence[RunConfig], *, data_dir: str | os.PathLike | None) -> list[RunResult]:
    """:func:`run_members`, without keeping its warnings."""
    from mnistlab.accel.members import StackedMembers, batch_refusal, evaluate_members, fit_members
    from mnistlab.optim import make_optimizer

    if (why := batch_refusal(cfgs)) is not None:
        raise SpecError(f"these members cannot train as one stack: {why}")
    first, t = cfgs[0], cfgs[0].train
    spec, device = first.model_spec(), accel.pick_device(t.device)
    data = prepare_data(first, data_dir, device)
    summary = summarize(spec)
    spec = adapt_normalization(spec, data.train_x)
    _fit_data_to_model(first, spec, data, None, device)
    models = [build_model(spec, seed=c.train.seed).to(device) for c in cfgs]
    plan = accel.plan(models[0], precision=t.precision, threads=t.threads or None, channels_last=False,
                      macs_per_image=summary.flops, batch_size=t.batch_size, conv_pool_forward=False)
    stack = StackedMembers(models)
    optimizer = make_optimizer(t.optimizer, stack.parameters(), **optimizer_settings(first))
    val = (data.val_x, data.val_y) if data.val_x is not None and data.val_y is not None else None
    with plan.use_threads():
        try:
            outcomes = fit_members(stack, data.train_x, data.train_y, seeds=[c.train.seed for c in cfgs],
                                   epochs=t.epochs, batch_size=t.batch_size, optimizer=optimizer,
                                   base_lr=float(optimizer.param_groups[0]["lr"]),
                                   schedule=t.schedule, label_smoothing=t.label_smoothing, augment=first.augment, val=val,
                                   autocast_dtype=plan.autocast_dtype)
        except Exception as exc:  # a bug or a resource problem mid-run: every member records it
            if os.environ.get("MNISTLAB_DEBUG"):
                raise
            outcomes = [FitOutcome("failed", failure_message(exc)) for _ in cfgs]
        losses, accs, probs = evaluate_members(stack, data.test_x, data.test_y, label_smoothing=t.label_smoothing,
                                               autocast_dtype=plan.autocast_dtype, return_probs=True)
        stack.write_back()
    env = {**environment(device), **plan.describe(), "batched_members": len(cfgs), "deterministic": device.type == "cpu",
           "data": data.provenance}
    results = []
    for i, (cfg, outcome, model) in enumerate(zip(cfgs, outcomes, models)):
        tested = outcome.status != "failed" and weights_finite(model)
        metrics = _metrics(outcome, losses[i] if tested and math.isfinite(losses[i]) else None,
                           accs[i] if tested else None, summary.total, summary.flops, data)
        metrics["validation"] = "test" if data.validation_is_test else "none" if data.val_y is None else cfg.data.split
        resolved = cfg.resolved()
        resolved["model"] = spec.to_dict()
        member_probs = probs[i] if tested and probs is not None else _untested(data)[2]
        metrics.update(dataset_metrics(data, member_probs))
        model = model.eval().to("cpu")
        results.append(RunResult(resolved, outcome.status, list(outcome.history), metrics, env, member_probs, model,
                                 outcome.message))
    return results


def _fit_data_to_model(cfg: RunConfig, spec: ModelSpec, data: Split, validation_data: tuple[Any, Any] | None,
                       device: torch.device) -> None:
    """SpecError unless the model's outputs match the dataset's classes; ``validation_data`` into
    ``data`` (``validation_is_test`` when its images and labels are the test set's, or begin with
    them: a notebook's ``validation_data=(x_test, y_test)``)."""
    if spec.num_classes != data.num_classes:
        raise SpecError(class_count_mismatch(spec, cfg.dataset, data.num_classes))
    if why := input_size_mismatch(spec, cfg.dataset, tuple(data.train_x.shape[1:3])):
        raise SpecError(why, path=("model", "input_shape"))
    if validation_data is not None:
        if cfg.data.validation:
            raise SpecError("validation_data was given, and data.validation is set too: choose one")
        data.val_x, data.val_y = given_validation(validation_data, spec.input_shape[:2], data.num_classes, device)
        n = len(data.test_y)  # the notebooks' validation_data=(x_test, y_test): the test set (or a subset's first part)
        data.validation_is_test = bool(n and len(data.val_y) >= n and torch.equal(data.val_x[:n], data.test_x)
                                       and torch.equal(data.val_y[:n], data.test_y))
        _warn_shared_images(data)
        if unlike := unlike_training(data.train_x, data.val_x):
            said = as_given(f"validation_data: its images look unlike {dataset_label(cfg.dataset)}'s training images "
                            f"({unlike}): images of another dataset, or inverted? (train(dataset=...) names the one trained "
                            f"on; the default is {_DEFAULT_DATASET})")  # (arrays in memory: not their cache file, helper-197)
            warnings.warn(said, DataWarning, stacklevel=user_level())


def _warn_shared_images(data: Split) -> None:
    """A DataWarning for ``validation_data`` that shares images with the test set (and is not the
    test set itself, said elsewhere) or with the training images: choosing on it (EarlyStopping,
    restore_best_weights, a search) chooses on test images, or validation scores what was learnt
    (helper-128: 100 of the 166 test images, or 300 training images, passed unsaid)."""
    def hashed(images: torch.Tensor) -> list[int]:  # one per image, of its bytes (exact copies only)
        return [hash(row.tobytes()) for row in images.cpu().numpy().reshape(len(images), -1)]

    assert data.val_x is not None
    val = hashed(data.val_x)

    def shared(images: torch.Tensor) -> int:
        among = set(hashed(images))
        return sum(h in among for h in val)

    if not data.validation_is_test and (in_test := shared(data.test_x)):
        warnings.warn(f"validation_data: {in_test} of its {len(data.val_x)} images are test images: choosing on it "
                      "(EarlyStopping, restore_best_weights, a search) chooses on the test set, and the test score "
                      "is no longer an unseen one", DataWarning, stacklevel=user_level())
    if in_train := shared(data.train_x):
        warnings.warn(f"validation_data: {in_train} of its {len(data.val_x)} images are training images too: "
                      "validation scores on them what the model learnt, not how it does on unseen images",
                      DataWarning, stacklevel=user_level())


# How far apart two sets of images' inked fractions may be before they look like two datasets:
# MNIST inks 19% of its pixels, Fashion-MNIST 50%; one dataset's own splits agree to a point.
INK_RATIO = 1.6


def unlike_training(train_x: torch.Tensor, val_x: torch.Tensor, *, least: int = 20) -> str:
    """Why validation images ``val_x`` look unlike training images ``train_x`` (both uint8 (N, H, W)):
    the fractions of their pixels that are not background (0) differ by more than :data:`INK_RATIO`
    times (``"19% of pixels inked, against 50%"``); '' when they agree, or with fewer than
    ``least`` validation images to tell by. The first 10,000 training images are counted."""
    if len(val_x) < least or not len(train_x):
        return ""
    val = float((val_x != 0).float().mean())
    train = float((train_x[:10_000] != 0).float().mean())
    if min(val, train) > 0 and max(val, train) / min(val, train) <= INK_RATIO:
        return ""
    return f"{val:.0%} of pixels inked, against {train:.0%}"


def _fit(trainer: Trainer, data: Split, epochs: int, key: tuple[str, str], memory: MemoryEstimate, *,
         folder: str | os.PathLike | None, resume: bool, every: float, run_id: str = "") -> FitOutcome:
    """``trainer.fit`` where anything but a checkpoint problem becomes a ``failed`` outcome with its history
    (a failed allocation: :func:`memory_message` for ``memory``); ``folder``, ``resume``, ``every``:
    its checkpoints (:meth:`Trainer.fit`); ``key``: their config key and the config it hashes."""
    val = (data.val_x, data.val_y) if data.val_x is not None and data.val_y is not None else None
    try:
        return trainer.fit(data.train_x, data.train_y, epochs=epochs, val=val, checkpoint_dir=folder,
                           resume=resume, config_key=key[0], checkpoint_every=every, key_config=key[1], run_id=run_id)
    except CheckpointError:
        raise
    except MnistlabError as exc:
        return FitOutcome("failed", str(exc), trainer.history)
    except Exception as exc:  # a bug or a resource problem mid-run: record it, keep the history
        if os.environ.get("MNISTLAB_DEBUG"):
            raise
        message = memory_message(memory, "an allocation failed while training") if allocation_failed(exc) else None
        return FitOutcome("failed", message or failure_message(exc), trainer.history,
                          error=exc if raised_by_users_callback(exc, trainer.callbacks) else None)


def raised_by_users_callback(exc: BaseException, callbacks: Sequence[Callback]) -> bool:
    """Whether ``exc`` came out of a method of one of ``callbacks`` whose class is the user's own
    (not mnistlab's): its traceback passes through a frame whose ``self`` is that callback."""
    theirs = {id(cb) for cb in callbacks if not type(cb).__module__.startswith("mnistlab.")}
    tb = exc.__traceback__
    while tb is not None and theirs:
        if id(tb.tb_frame.f_locals.get("self")) in theirs:
            return True
        tb = tb.tb_next
    return False


def build_on(device: torch.device, spec: ModelSpec, seed: int, memory: MemoryEstimate) -> torch.nn.Module:
    """``build_model(spec, seed=seed)`` on ``device``, or :class:`ResourceError` (one line) when
    ``memory`` (the run's estimate) exceeds :func:`available_memory` or an allocation fails."""
    free = available_memory(device)
    if free is not None and memory.total > free:
        raise ResourceError(memory_message(memory, f"{gigabytes(free)} GB available"))
    try:
        return build_model(spec, seed=seed).to(device)
    except (RuntimeError, MemoryError) as exc:
        if not allocation_failed(exc):
            raise
        raise ResourceError(memory_message(memory, "the allocation failed")) from None


NOT_ENOUGH_MEMORY = "not enough memory for a "


def memory_message(memory: MemoryEstimate, why: str) -> str:
    """``not enough memory for a 318M-parameter model: about 5.1 GB needed with adam (batch 32; why)``."""
    n = memory.params
    count = next((f"{n / size:.3g}{unit}" for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)) if n >= size), str(n))
    return (f"{NOT_ENOUGH_MEMORY}{count}-parameter model: about {gigabytes(memory.total)} GB needed with "
            f"{memory.optimizer} (batch {memory.batch_size}; {why})")


def allocation_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed memory allocation: MemoryError, or torch's RuntimeError (CPU "can't
    allocate memory", CUDA "out of memory", MPS "not enough memory")."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and any(
        s in text for s in ("can't allocate", "cannot allocate", "out of memory", "not enough memory")))


def available_memory(device: torch.device) -> int | None:
    """Bytes a run may still allocate on ``device``, or None when unknown (mps, no /proc).

    CUDA: the free device memory. CPU: the kernel's MemAvailable, capped by the cgroup's limit
    (a container's) less what the cgroup uses. Address-space limits (``ulimit -v``) are not counted.
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    found = []
    for limit, usage in (("memory.max", "memory.current"),  # cgroup v2, then v1
                         ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            root = Path("/sys/fs/cgroup")
            found.append(int((root / limit).read_text()) - int((root / usage).read_text()))
        except (OSError, ValueError):  # no such cgroup, or "max" (no limit)
            pass
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        found.append(int(info["MemAvailable"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        pass
    return min(found) if found else None


def failure_message(exc: BaseException) -> str:
    """How a run records an unexpected exception: its type and first 300 characters, on one line."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _untested(data: Split) -> tuple[None, None, np.ndarray]:
    return None, None, np.full((len(data.test_y), data.num_classes), np.nan, np.float32)


def _test(trainer: Trainer, data: Split, memory: MemoryEstimate,
          outcome: FitOutcome) -> tuple[float | None, float | None, np.ndarray]:
    """The trained model's test loss, accuracy and probabilities, unless its weights are not finite
    (a diverged model's "accuracy" would be one class's share), the fit failed (its weights are no
    result: helper-128 saw a run failed before its first epoch record the untrained weights' 15.7%,
    as stacked members never did) or the test pass cannot run; why not goes into ``outcome.message``
    (a failed allocation also makes the run ``failed``)."""
    if outcome.status == "failed":
        return _untested(data)
    finite = weights_finite(trainer.model)
    test_loss, test_acc, probs, untested = _safe_test(trainer, data, memory) if finite else (
        *_untested(data), "its weights are not finite, so it was not tested")
    if untested:
        if untested.startswith(NOT_ENOUGH_MEMORY):  # trained, but without a test there is no result
            outcome.status = "failed"
        if untested == UNTESTED_BY_STOP:  # a stop while testing: no result, and the sweep stops as for one
            outcome.status = "interrupted"  # in training (the cell is trained again, from its checkpoint)
        outcome.message = "; ".join(filter(None, [outcome.message, untested]))
    return test_loss, test_acc, probs


UNTESTED_BY_STOP = "interrupted before its test pass"  # an interrupted run's message when Ctrl-C came while testing


def _safe_test(trainer: Trainer, data: Split,
               memory: MemoryEstimate) -> tuple[float | None, float | None, np.ndarray, str | None]:
    """(test loss, accuracy, probabilities, why it was not tested or None). A Ctrl-C skips the test
    pass (:data:`UNTESTED_BY_STOP`: the run is then interrupted, :func:`_test`); a failed allocation
    (:func:`allocation_failed`) says so in one line."""
    try:
        loss, acc, probs = evaluate_model(trainer.model, data.test_x, data.test_y, return_probs=True,
                                          label_smoothing=trainer.label_smoothing,
                                          channels_last=trainer.plan.channels_last, forward=trainer.plan.forward)
    except KeyboardInterrupt:  # skip the test pass: the run is recorded interrupted
        return *_untested(data), UNTESTED_BY_STOP
    except (RuntimeError, MemoryError) as exc:
        if not allocation_failed(exc):
            raise
        return *_untested(data), memory_message(memory, "an allocation failed while testing")
    return (loss if math.isfinite(loss) else None), acc, probs, None  # type: ignore[return-value]


def _metrics(outcome: FitOutcome, test_loss: float | None, test_acc: float | None, params: int, flops: int,
             data: Split, restored: int | None = None) -> dict[str, Any]:
    """A run's metrics. The train and val figures are those of the epoch whose weights the model
    ends with: the last, or the one EarlyStopping restored (``restored``, from 1, then recorded as
    ``restored_epoch``), so that they describe the model the test set scored (a weight average's
    val figures: :func:`_averaged_val`)."""
    hist = outcome.history
    last = hist[restored - 1] if restored is not None and 0 < restored <= len(hist) else hist[-1] if hist else {}
    seconds = sum(h["epoch_seconds"] for h in hist)
    m: dict[str, Any] = {
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "train_loss": last.get("loss"),
        "train_accuracy": last.get("accuracy"),
        "train_seconds": seconds,
        "seconds_per_epoch": seconds / len(hist) if hist else None,
        "epochs_run": len(hist),
        "params": params,
        "flops": flops,
        "train_size": len(data.train_y),
        "val_size": 0 if data.val_y is None else len(data.val_y),
        "test_size": len(data.test_y),
        "validation_is_test": data.validation_is_test,
        "resumed_from_epoch": outcome.resumed_from,
    }
    if outcome.resumed_from_run:  # the recorded run whose checkpoint it continued (helper-171: unsaid)
        m["resumed_from_run"] = outcome.resumed_from_run
    if data.test_set_size is not None:
        m["test_set_size"] = data.test_set_size  # test_size of them scored (data.subset): a note says so
    if outcome.resumed_from_step:
        m["resumed_from_step"] = outcome.resumed_from_step  # batches of the next epoch its checkpoint held
    if outcome.status == "interrupted" and outcome.checkpointed is not None:
        m["checkpoint_epoch"] = outcome.checkpointed  # where the next run continues (0: from the start) ...
        if outcome.checkpointed_step:
            m["checkpoint_step"] = outcome.checkpointed_step  # ... and after how many batches of the next epoch
    if restored is not None:
        m["restored_epoch"] = restored
    if "val_accuracy" in last:
        m["val_loss"] = last["val_loss"]
        m["val_accuracy"] = last["val_accuracy"]
        m["best_val_accuracy"] = max(h["val_accuracy"] for h in hist)
    return m


def environment(device: torch.device) -> dict[str, Any]:
    """Provenance of a run: versions, device, threads, git commit of mnistlab's checkout (if any),
    and the machine and process that trained it (``host``, ``pid``: on Ray, the worker's node, where
    the store's own host and pid columns are its driver's), and the `mnistlab` command line that
    trained it with its working folder (``command``, ``cwd``: where a run came from the CLI)."""
    env = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "mnistlab": __version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        "git_commit": _git_source()[0],
        "git_dirty": _git_source()[1],
    }
    return {**env, **command_env()}  # the `mnistlab` command that trained it, and where (MLflow's source; note 58)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_PACKAGE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def _git_source(here: Path = _PACKAGE) -> tuple[str | None, bool | None]:
    """The commit of the git checkout mnistlab's own source is tracked in (an editable install), for
    ``env.git_commit``, and whether that source differs from the commit (``env.git_dirty``: an edited
    file of ``src/``, which the commit alone does not give back; helper-171), as ``git describe
    --dirty`` and MLflow's source tags tell; (None, None) for an installed package or without git.
    Never the repository the command happens to run in: that commit says nothing of the code that
    trained. Asked once per process (three git calls), when its first run is recorded: the code it
    runs was loaded by then. ``here``: the package's folder (another, in a test)."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=3, check=False)

    try:
        if git("ls-files", "--error-unmatch", Path(__file__).name).returncode != 0:  # site-packages, or ignored
            return None, None
        out = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None, None
    if out.returncode != 0 or not out.stdout.strip():
        return None, None
    try:  # (a slow status loses only the flag; no index lock taken: --jobs workers ask at once, beside a `git commit`)
        changed = git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", str(here.parent))
    except (OSError, subprocess.SubprocessError):
        return out.stdout.strip(), None
    return out.stdout.strip(), bool(changed.stdout.strip()) if changed.returncode == 0 else None


# ------------------------------------------------------------------------------ notebook API
class Recorder:
    """The one way a run gets into a :class:`~mnistlab.store.RunStore` (``mnistlab train``,
    ``train(store=...)`` and every cell of a sweep): marked ``running`` before it trains, so that
    even a crash leaves a trace, then :meth:`finish` writes its result, or :meth:`fail` /
    :meth:`abandon` say why there is none. Its ``config_hash`` is :func:`~mnistlab.config.run_key`
    of the resolved config: the run's identity, whoever ran it.

        recorder = Recorder(store, experiment="train", variant="cnn", config=cfg.resolved(), seed=0)
        recorder.finish(run_config(cfg))
    """

    source = ""  # the experiment file a sweep's cell came from (env["experiment_file"], from its claim on)

    def __init__(self, store: RunStore, *, experiment: str, variant: str, config: dict[str, Any], seed: int,
                 member: int = 0, repeat: int = 0) -> None:
        self.store, self.experiment, self.variant = store, experiment, variant
        self.run_id = store.start_run(experiment=experiment, variant=variant, seed=seed, member=member,
                                      config=config, config_hash=run_key(config), repeat=repeat)

    @classmethod
    def claim(cls, store: RunStore, *, experiment: str, variant: str, config: dict[str, Any], seed: int,
              member: int = 0, repeat: int = 0, done: tuple[str, ...] = (),
              source: str = "") -> tuple[Recorder | None, str]:
        """A recorder for a run of a sweep's cell that this process claims, and its run id; or None and
        the id of the run that holds the cell: running in a live process (another driver of the same
        experiment on this store) or already in a status of ``done`` (:meth:`RunStore.claim_run`).
        ``source``: the cell's experiment file (:attr:`~mnistlab.experiments.Cell.source`), recorded from
        the claim on (note 50: a running row had none, so `run` could not tell another file's from its own)."""
        run_id, claimed = store.claim_run(experiment=experiment, variant=variant, seed=seed, member=member,
                                          config=config, config_hash=run_key(config), repeat=repeat, done=done,
                                          env={"experiment_file": source} if source else None, whole=True)
        if not claimed:
            return None, run_id
        recorder = cls.__new__(cls)
        recorder.store, recorder.run_id, recorder.source = store, run_id, source
        recorder.experiment, recorder.variant = experiment, variant
        return recorder, run_id

    @classmethod
    def for_config(cls, store: RunStore, experiment: str, cfg: RunConfig, variant: str | None = None) -> Recorder:
        """A single run of ``cfg`` (not a sweep cell): its variant is ``variant`` where given (MLflow's run
        name: ``train --variant``), else the model's name, its file's stem, or a model given inline its own
        (:func:`inline_model_name`)."""
        resolved, given = cfg.resolved(), variant
        variant = variant or single_run_variant(cfg, resolved)
        _joins_a_files(store, experiment, variant, run_key(resolved), named=given is not None)
        return cls(store, experiment=experiment, variant=variant, config=resolved, seed=cfg.train.seed)

    def fail(self, exc: BaseException, why: str | None = None, metrics: Mapping[str, Any] | None = None) -> str:
        """Record that the run raised ``exc`` instead of finishing: ``interrupted`` (Ctrl-C; ``why`` says
        what stopped it, when the caller knows more) or ``failed`` with the error's message; returns
        that status. ``metrics``: what the caller knows of the run without a result (a search trial's
        number and parameters), recorded in its metrics. A store problem here is swallowed: it must
        not hide the run's own error, which the caller re-raises or reports."""
        if isinstance(exc, KeyboardInterrupt):
            status, message = "interrupted", why or "interrupted before it finished"
        else:
            status, message = "failed", str(exc) if isinstance(exc, MnistlabError) else failure_message(exc)
        try:
            # the epochs it posted while training (a Ray cell's, a sweep's) stay, stopped or failed: it
            # did train them (helper-134: a cell whose Ray worker died twice showed 0 epochs of its 11)
            rec = self.store.get(self.run_id)
            self.store.finish_run(self.run_id, status=status, history=rec.history if rec else [], env=self._env({}),
                                  metrics={**(self._checkpointed(rec) if rec else {}), **(metrics or {})},
                                  message=message)
        except MnistlabError:
            pass  # the row is gone (deleted meanwhile): nothing left to mark
        return status

    def _checkpointed(self, rec: RunRecord) -> dict[str, int]:
        """Where the next run of an interrupted sweep cell continues, from the checkpoint its worker
        left in the store (a Ray task cancelled by Ctrl-C reports nothing back): ``checkpoint_epoch``
        and ``checkpoint_step``, as a run that ended itself records them; {} where it left none."""
        from mnistlab.trainer import CHECKPOINT_FILE, read_checkpoint

        path = self.store.checkpoint_dir(rec.experiment, rec.variant, rec.config_hash, own=False) / CHECKPOINT_FILE
        try:
            state = read_checkpoint(path) if path.is_file() else {}
        except (MnistlabError, OSError):
            return {}
        done, inside = state.get("epochs_done"), state.get("partial_epoch")
        steps = inside.get("steps") if isinstance(inside, dict) else None
        if not isinstance(done, int):
            return {}
        return {"checkpoint_epoch": done, **({"checkpoint_step": steps} if isinstance(steps, int) and steps else {})}

    def abandon(self, exc: BaseException, why: str | None = None) -> None:
        """Like :meth:`fail`, except that bad input (a :class:`MnistlabError`: bad data, config or
        checkpoint) leaves no record at all: nothing ran (``mnistlab train``, ``train(store=...)``).
        A :class:`ResourceError` (not enough memory) is no bad input: it is recorded as failed."""
        if not isinstance(exc, MnistlabError) or isinstance(exc, ResourceError):  # it ran, or tried to
            self.fail(exc, why)
            return
        try:
            self.store.rm([self.run_id])
        except MnistlabError:
            pass

    def _env(self, env: dict[str, Any]) -> dict[str, Any]:
        """``env`` with the run's experiment file, where it has one (a failed run's too: helper-194)."""
        return {**env, "experiment_file": self.source} if self.source else env

    def finish(self, result: RunResult) -> str | None:
        """Record the result; returns None, or one line of why it could not be ("the run was not
        recorded: ...", its row deleted meanwhile...) or not whole (its files: a full disk; the run is
        then recorded failed, with its metrics).
        Ctrl-C and SIGTERM are held back while it is written (:func:`~mnistlab.files.stop_signals_held`):
        a result that is whole is recorded whole, then the stop goes on (KeyboardInterrupt raised here).
        Where the store's database was damaged or lost while the run trained (overwritten by a
        truncated copy, deleted), it is rebuilt from the run folders with a ReportWarning and the
        result recorded in it (helper-156: `train` said "recorded" into a database no command read)."""
        problem = self._finish(result)
        try:  # (helper-158: a truncated copy written over it took the write unhurt, unreadable after)
            rebuilt = self.store.rebuilt_if_lost()
        except MnistlabError:  # locked, unreadable, of a newer mnistlab: recorded, or the problem says enough
            return problem
        if rebuilt is None:
            return problem
        warnings.warn(rebuilt, ReportWarning, stacklevel=user_level())
        return self._finish(result) if problem else None  # (recorded: its folder gave the rebuilt one its row)

    def _finish(self, result: RunResult) -> str | None:
        """:meth:`finish`'s one try."""
        with stop_signals_held():
            try:
                unwritten = self.store.finish_run(
                    self.run_id, status=result.status, history=result.history, metrics=result.metrics,
                    env=self._env(result.env),
                    message=result.message, weights=result.model.state_dict(), predictions=result.test_probs,
                    config=result.config)
            except Exception as exc:  # a store error, or a callback's value JSON cannot hold: never "running"
                problem = str(exc) if isinstance(exc, MnistlabError) else f"{type(exc).__name__}: {exc}"
                try:
                    self.store.finish_run(self.run_id, status="failed", history=[], metrics={}, env=self._env({}),
                                          message=f"could not record the result: {problem}"[:400],
                                          files=False)  # the result's files, written already, stay
                except MnistlabError:
                    pass  # the row is gone (deleted meanwhile): nothing left to mark
                return f"the run was not recorded: {problem}"
        if unwritten is not None:  # helper-156: `train` said "finished ... recorded" of a run the store had failed
            return (f"run {self.run_id} is recorded failed, its metrics without its files (its weights cannot be "
                    f"loaded): {unwritten}")
        return None


def inline_model_name(model: Any) -> str:
    """The variant a `train` run of a model given inline (not a preset or a file), without a name,
    is recorded under: its compact form's settings as a grid names its cells ("dense=128",
    "conv=32/64,dense=128,activation=tanh"), else "model-" and 6 hex digits of the spec's hash, so
    that two such models are two rows of `compare train`, not one hiding the other's runs
    (session 44's trials: both were "model"). "model" for anything else."""
    from mnistlab.specs import COMPACT_KEYS

    if not isinstance(model, Mapping):
        return "model"
    if set(model) <= set(COMPACT_KEYS):
        name = ",".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in model.items())
        if 0 < len(name) <= 60:
            return name
    return "model-" + hashlib.sha256(json.dumps(model, sort_keys=True, default=str).encode()).hexdigest()[:6]


RECORDED_FILE = "recorded.json"  # beside a checkpoint: the recorded run that ended with it


def _checkpoint_sha256(folder: Path) -> str | None:
    """The SHA-256 of the checkpoint in ``folder`` (:func:`~mnistlab.datasets.file_digest`); None
    when there is none, or it cannot be read."""
    try:
        return file_digest(folder / CHECKPOINT_FILE)
    except DataError:
        return None


def mark_checkpoint_recorded(folder: str | os.PathLike | None, run_id: str, cfg: RunConfig, result: RunResult) -> None:
    """Note beside the checkpoint in ``folder`` (``recorded.json``) that run ``run_id``, of ``cfg``,
    ended with it, when ``result`` finished and was tested (not diverged, failed or interrupted),
    so that ``--resume`` of the same run finds it recorded (:func:`recorded_end`) instead of
    testing it again and recording a copy. The note holds the checkpoint's SHA-256: a checkpoint
    written since no longer matches it. Best effort: a note that cannot be written (a full disk)
    only leaves that check out; no ``folder`` (no checkpoints), no note."""
    if folder is None or result.status != "finished" or result.metrics.get("test_accuracy") is None:
        return
    folder = Path(folder)
    digest = _checkpoint_sha256(folder)
    if digest is None:
        return
    note = {"run_id": run_id, "checkpoint_sha256": digest, "config_key": checkpoint_key(cfg.resolved()),
            "epochs": cfg.train.epochs}
    try:
        write_atomic(folder / RECORDED_FILE, lambda tmp: tmp.write_text(json.dumps(note) + "\n", encoding="utf-8"),
                     through=False)
    except OSError:
        pass


def recorded_end(folder: str | os.PathLike | None, store: RunStore, cfg: RunConfig) -> RunRecord | None:
    """The finished, tested run in ``store`` whose training ended with the checkpoint in ``folder``
    when ``cfg`` asks for that same run (the same config and ``train.epochs``): resuming would
    train nothing and record a copy of it. None otherwise: no note or one that does not parse, a
    checkpoint written since (another SHA-256), other settings or more epochs (a run trained on
    from it), or the run deleted from the store or not finished; no ``folder`` (no checkpoints)."""
    if folder is None:
        return None
    folder = Path(folder)
    note = _recorded_note(folder / RECORDED_FILE)
    if not (note is not None and note.get("epochs") == cfg.train.epochs
            and note.get("config_key") == checkpoint_key(cfg.resolved())):
        return None
    if not (folder / CHECKPOINT_FILE).is_file():  # a FIFO or a device there: never read (it would not end)
        return None
    if note.get("checkpoint_sha256") != _checkpoint_sha256(folder):
        return None
    try:
        rec = store.get(note["run_id"])
    except MnistlabError:
        return None
    tested = rec.status == "finished" and rec.metrics.get("test_accuracy") is not None
    return rec if tested and rec.run_id == note["run_id"] else None


def _recorded_note(path: Path) -> dict[str, Any] | None:
    """The note :func:`mark_checkpoint_recorded` wrote at ``path``; None when there is none, and,
    with a :class:`~mnistlab.errors.SpecWarning`, when it is damaged or not a file (a FIFO or a
    device is never read): whether a recorded run ended with the checkpoint is then unknown, so a
    resume tests it and records a run of its own, as before the note existed."""
    if not path.exists() and not path.is_symlink():
        return None
    why = "not a regular file" if not path.is_file() else None
    note: Any = None
    if why is None:
        try:
            with open(path, "rb") as f:
                note = json.loads(f.read(1 << 16).decode("utf-8"))
        except (OSError, ValueError):
            why = "not the note mnistlab writes (damaged or edited)"
    if why is None and not (isinstance(note, dict) and isinstance(note.get("run_id"), str)
                            and isinstance(note.get("checkpoint_sha256"), str)):
        why = "not the note mnistlab writes (damaged or edited)"
    if why is not None:
        warnings.warn(f"{path}: {why}: which recorded run ended with this checkpoint is unknown, so --resume "
                      "tests it and records a run of its own (delete the file to silence this)", SpecWarning,
                      stacklevel=user_level())
        return None
    return note


def _no_metric(key: str, keys: Sequence[str]) -> str:
    """The KeyError's words for a metric no history has, with Keras 2's name said in Keras 3's
    (:func:`~mnistlab.callbacks.logged_hint`: "acc" is far from "accuracy" in spelling)."""
    if key.startswith("val_") and not any(k.startswith("val_") for k in keys) and key[4:] in keys:  # helper-157:
        return (f"no metric {key!r} in this history: the run had no validation data (validation=0.1, a count, "  # "did
                f'"test" or validation_data=(x, y) gives it); it has {", ".join(keys)}')  # you mean 'accuracy'"
    return f"no metric {key!r} in this history{logged_hint(key, keys)}; it has {', '.join(keys) or 'no epochs'}"


class _MetricDict(dict):
    """:attr:`History.history`: a plain dict of the recorded metrics that also reads Keras 3's
    ``learning_rate`` as ``lr`` (:data:`~mnistlab.callbacks.KERAS3_LOGGED`) and says a missing one as History does."""

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, str) and (alias := KERAS3_LOGGED.get(key)) in self:
            return self[alias]
        raise NoSuchMetric(_no_metric(key, list(self)) if isinstance(key, str) else key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and super().__contains__(KERAS3_LOGGED.get(key)))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


TIMINGS = ("epoch_seconds", "images_per_second")  # an epoch's dict's timings, which Keras's logs have not


class History(list):
    """A run's epochs, oldest first: a list of one dict per epoch (``history[-1]["val_accuracy"]``)
    that also reads as Keras's ``History.history`` dict does, one list per metric:
    ``history["val_accuracy"]`` and ``history.keys()`` ("loss", "accuracy", "val_loss",
    "val_accuracy", "lr", ...). An unknown metric raises KeyError naming the recorded ones.
    ``history["learning_rate"]`` reads ``lr``: Keras 3 logs the rate under that name (where a
    ReduceLROnPlateau or LearningRateScheduler runs; Keras 2 said ``lr``), mnistlab every epoch as
    ``lr``, which ``keys()`` lists. ``params``: Keras's ``History.params``, ``{"verbose", "epochs",
    "steps"}`` (steps: batches an epoch)."""


    def __init__(self, epochs: Sequence[dict[str, Any]] = (), params: dict[str, Any] | None = None) -> None:
        super().__init__(epochs)
        self.params = dict(params or {})

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        if key not in self.keys() and KERAS3_LOGGED.get(key) in self.keys():
            key = KERAS3_LOGGED[key]
        if key not in self.keys() and not self._timed(key):
            raise NoSuchMetric(_no_metric(key, self.keys()))
        return [epoch.get(key) for epoch in self]

    def __contains__(self, key: object) -> bool:
        """``"val_accuracy" in history``: whether that metric is recorded, as for Keras's dict."""
        if isinstance(key, str):
            return key in self.keys() or KERAS3_LOGGED.get(key) in self.keys() or self._timed(key)
        return super().__contains__(key)

    def _timed(self, key: str) -> bool:
        """Whether ``key`` is a timing an epoch recorded (:data:`TIMINGS`): read by name, not listed."""
        return key in TIMINGS and any(key in epoch for epoch in self)

    def keys(self) -> list[str]:
        """The metrics recorded per epoch, in the order Keras lists them (the epoch number and the
        timings, :data:`TIMINGS`, left out: ``history["epoch_seconds"]`` reads those)."""
        return [k for k in dict.fromkeys(k for epoch in self for k in epoch) if k != "epoch" and k not in TIMINGS]

    def items(self) -> list[tuple[str, list[Any]]]:
        """``(metric, [one value per epoch])`` pairs, as Keras's dict's items."""
        return [(k, self[k]) for k in self.keys()]

    def get(self, key: str, default: Any = None) -> Any:
        """One metric's values per epoch, or ``default`` where it is not recorded, as a dict's get."""
        return self[key] if key in self else default

    @property
    def history(self) -> dict[str, list[Any]]:
        """Keras's ``History.history``: ``{metric: [one value per epoch]}``, whose ``["learning_rate"]``
        reads ``lr`` too (:data:`~mnistlab.callbacks.KERAS3_LOGGED`, not listed; helper-147: the usual idiom raised KeyError).
        The metrics alone, as Keras logs them: each epoch's seconds and images per second (:data:`TIMINGS`)
        stay in its dict, ``history[-1]["epoch_seconds"]`` (helper-248: ``pd.DataFrame(history.history).plot()``
        drew 72,000 images a second on the scale of a loss)."""
        return _MetricDict({k: self[k] for k in self.keys()})

    @property
    def epoch(self) -> list[int]:
        """Keras's ``History.epoch``: the epochs' indices, from 0 (each entry's ``"epoch"`` field
        counts from 1, as Keras prints "Epoch 1/5": ``history[0]["epoch"]`` is 1, ``history.epoch[0]`` 0)."""
        return [int(e.get("epoch", i + 1)) - 1 for i, e in enumerate(self)]


class _Trained:
    """What a :class:`Run` and a :class:`Committee` share: Keras's ``evaluate`` and ``save``; each
    gives :meth:`_log_probs` its own way."""

    def _log_probs(self, x: Any, preprocess: bool | None, batch_size: int | None) -> tuple[np.ndarray, Any, float]:
        raise NotImplementedError

    @property
    def dataset(self) -> Any:
        raise NotImplementedError

    @property
    def class_names(self) -> list[str]:
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, int]:
        raise NotImplementedError

    @overload
    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None, verbose: Any = "auto", *,
                 preprocess: bool | None = None, return_dict: Literal[False] = False) -> list[float]: ...

    @overload
    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None, verbose: Any = "auto", *,
                 preprocess: bool | None = None, return_dict: Literal[True]) -> dict[str, float]: ...

    @overload
    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None, verbose: Any = "auto", *,
                 preprocess: bool | None = None, return_dict: bool) -> list[float] | dict[str, float]: ...

    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None, verbose: Any = "auto", *,
                 preprocess: bool | None = None, return_dict: bool = False) -> list[float] | dict[str, float]:
        """Keras's ``model.evaluate(x, y)``: ``[loss, accuracy]`` of the model on images ``x``
        (anything :meth:`Run.predict` takes) and labels ``y``: class indices (N,), as Keras's
        sparse_categorical_crossentropy takes them, or rows of class probabilities (N, classes),
        one-hot as ``to_categorical`` makes them (categorical_crossentropy). ``return_dict``: as
        Keras's, ``{"loss": ..., "accuracy": ...}``. A run's loss is its own: the cross-entropy
        of the predicted probabilities (with the run's label smoothing) plus the weight penalties,
        as Keras adds them, from the logits (a confident mistake costs what it costs: helper-190); on
        the run's test images it is the recorded ``test_accuracy`` and ``test_loss`` (this to float32
        rounding: a batch's sum in another order moves the sixth digit). A committee's is of its
        averaged probabilities (:meth:`Committee.predict`): their cross-entropy (no weight penalty: a
        committee has no one model's weights, and no label smoothing), the accuracy as its recorded
        ``test_accuracy`` counts it on the test images. ``batch_size`` (images a pass, 250 if None)
        and ``verbose`` are taken as Keras takes them; nothing is printed. No images, or labels
        that do not fit the images or the classes, raise SpecError. Kaggle-style CSV files ``x``
        with a label column need no ``y``: ``run.evaluate("train.csv")`` scores its labels (numbers
        as the dataset's files number the classes, or class names); a label that is no class of the
        model raises DataError.
        """
        del verbose  # Keras's progress bar: evaluate prints nothing
        if y is None:  # (each CSV read once: its images in the model's size, in dataset form, and its labels)
            x, y = csv_labelled(x, self.class_names, self.dataset, self.input_shape)
            preprocess = False
        log_probs, model, smoothing = self._log_probs(x, preprocess, batch_size)
        return evaluation(log_probs, y, model, label_smoothing=smoothing, return_dict=return_dict)

    def save(self, path: str | os.PathLike, fmt: str | None = None, *, data_dir: str | os.PathLike | None = None,
             verify: bool = True) -> Verification | None:
        """Write the model to ``path``, where Keras's ``model.save`` would, in the formats mnistlab
        exports: ``.onnx``, ``.pt`` (TorchScript) or ``.safetensors`` by the suffix, or ``fmt``
        (``"onnx"``, ``"torchscript"`` or ``"safetensors"``) for another suffix; verified on
        the test set: :func:`mnistlab.export.export_model`, whose Verification it returns (None
        without ``verify``; the check scores the whole test set, 5-15 s on a CPU). Unlike a Keras
        file, the model takes float32 (N, 1, 28, 28) pixels / 255 (channels first) and returns
        logits, not the softmax of its last layer (a committee's, every member's network in one
        file: the log of its mean probabilities): softmax them for probabilities. A ``.keras`` or
        ``.h5`` file raises OutputError: export ONNX to take it to Keras."""
        from mnistlab.export import export_model

        return export_model(cast("Run | Committee", self), path, fmt, data_dir=data_dir, verify=verify)


class Run(_Trained):
    """A finished run for notebooks: ``.history``, ``.test_accuracy``, ``.model``, ``.predict()``,
    and Keras's ``evaluate()`` and ``summary()``."""

    def __init__(self, result: RunResult, run_id: str | None = None) -> None:
        self.result = result
        self.run_id = run_id  # its id in the run store, when train(store=...) recorded it
        self.record: RunRecord | None = None  # its row in the run store, when loaded from one (from_store)
        self.chosen: str | None = None  # how load_trained chose it among several runs (pick_note), for its card
        self.notes: Any = None  # its tags and note in the store (mnistlab.notes.Notes), when loaded from one
        self.verbose = 0  # Keras's verbose of the progress train() showed (history.params): 0 none, 1 bar, 2 lines
        # the experiment and variant (its row in `compare`; MLflow's experiment and run name) it was recorded under,
        # where known: from the store, train(store=...), or a file's metadata (note 58: a Run had no .variant)
        self.experiment: str | None = None
        self.variant: str | None = None

    @property
    def status(self) -> str:
        """How it ended: "finished", "diverged", "interrupted" or "failed" (``message`` says why)."""
        return self.result.status

    @property
    def history(self) -> History:
        """Its epochs (:class:`History`), also by metric: ``history["val_accuracy"]``, with Keras's ``params``."""
        train, n = self.result.config.get("train") or {}, self.result.metrics.get("train_size")
        size = train.get("batch_size")
        steps = math.ceil(n / size) if isinstance(n, int) and isinstance(size, int) and size > 0 else None
        return History(self.result.history, {"verbose": self.verbose, "epochs": train.get("epochs"), "steps": steps})

    @property
    def metrics(self) -> dict[str, Any]:
        """Its recorded results: ``test_accuracy`` (a fraction), ``test_loss``, ``train_seconds``,
        ``params``, the TTA and EMA scores where asked, ``warnings``."""
        return self.result.metrics

    @property
    def config(self) -> dict[str, Any]:
        """The resolved run config it trained with (every setting, defaults included), as ``config.json`` keeps it."""
        return self.result.config

    @property
    def env(self) -> dict[str, Any]:
        """Where and on what it ran: ``host``, ``device``, ``precision`` (float32 or bf16), torch's
        version, threads; ``env['data']`` the data's checksums."""
        return self.result.env

    @property
    def model(self) -> torch.nn.Module:
        """The trained ``torch.nn.Module``, float32, in eval mode; it takes float32 (N, 1, H, W) images
        in [0, 1] and gives logits (N, classes). A run tested in bf16 (``env["precision"]``) computed
        its ``test_accuracy`` and :meth:`predict` under ``torch.autocast(device_type,
        dtype=torch.bfloat16)``: calling ``model(x)`` in float32 gives logits a little different (a few
        predictions in a thousand may change); wrap the call in that autocast to get :meth:`predict`'s numbers."""
        return self.result.model

    @property
    def message(self) -> str:
        """Why it ended as it did (empty for a finished run)."""
        return self.result.message

    @property
    def test_accuracy(self) -> float | None:
        """Its accuracy on the test set, a fraction (0.9912), as Keras's evaluate gives it; None for a
        run that was not scored (interrupted or failed before its test pass)."""
        return self.result.metrics.get("test_accuracy")

    @property
    def test_loss(self) -> float | None:
        """Its loss on the test set (cross-entropy plus weight penalties, as Keras's evaluate); None
        where it was not scored."""
        return self.result.metrics.get("test_loss")

    @property
    def dataset(self) -> Any:
        """The dataset it trained on: a registered name (str), or the user's data (a path or a table)."""
        return self.result.config.get("dataset")

    @property
    def input_shape(self) -> tuple[int, int]:
        """The (height, width) of the images its model takes, in pixels."""
        height, width = self.result.config["model"]["input_shape"][:2]
        return int(height), int(width)

    @property
    def class_names(self) -> list[str]:
        """Its classes' names in label order (column ``i`` of :meth:`predict`'s rows is class ``i``),
        without reading any data file: the registry's for a registered dataset, those recorded in
        the run (``env["data"]["class_names"]``: the user's own data's folder names or label
        values), else numbers 0..N-1 (runs recorded before names were)."""
        from mnistlab.datasets import get_info

        try:
            return list(get_info(self.dataset).class_names)
        except MnistlabError:  # the user's own data (or a dataset this mnistlab does not register)
            pass
        recorded = (self.result.env.get("data") or {}).get("class_names")
        if isinstance(recorded, list) and all(isinstance(n, str) for n in recorded):
            return recorded
        from mnistlab.specs import ModelSpec

        return [str(i) for i in range(ModelSpec.from_dict(self.config["model"]).num_classes)]

    def test_data(self, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The test images (uint8 (N, H, W), at the model's input size) and labels (int64 (N,)) the
        run was scored on: its dataset read, resized, split and ordered as the run read it (the
        user's own data with the run's test seed and shuffle, which ``load_dataset``'s defaults give
        unless ``data.test_seed`` was set: :func:`~mnistlab.datasets.run_dataset`), its first
        ``metrics["test_size"]`` where ``data.subset`` scored a part. ``run.evaluate(*run.test_data())``
        gives ``test_loss`` and ``test_accuracy`` again. Raises DataError where the data cannot be
        read, or the user's files changed since the run read them."""
        from mnistlab.datasets import run_dataset

        ds = run_dataset(self.config, data_dir, self.env)
        n = self.metrics.get("test_size")
        n = n if isinstance(n, int) and not isinstance(n, bool) else len(ds.test_labels)
        return np.asarray(ds.test_images[:n]), np.asarray(ds.test_labels[:n])

    @classmethod
    def from_store(cls, store: RunStore | str | os.PathLike[str], run_id: str) -> Run:
        """A recorded run (id or unique prefix) of ``store`` (a RunStore or its folder) with its model
        rebuilt from the stored spec and weights.

        Raises StoreError for an unknown id and for a run that has no usable model (not finished).
        """
        if not isinstance(store, RunStore):  # helper-157: "'str' object has no attribute 'get'"
            store = RunStore(store, create=False)
        rec = store.get(run_id)
        if rec.status != "finished":
            why = f": {rec.message}" if rec.message else ""
            raise StoreError(f"run {rec.run_id} is {rec.status}{why}; only a finished run has a model to use")
        probs = store.load_predictions(rec.run_id)
        run = cls(RunResult(rec.config, rec.status, rec.history, rec.metrics, rec.env, probs,
                            store.load_model(rec.run_id), rec.message), rec.run_id)
        run.record, run.experiment, run.variant = rec, rec.experiment, rec.variant
        run.notes = store.notes(rec.run_id)  # its tags and note (`mnistlab note`), for its card (helper-252)
        return run

    def predict(self, images: Any, preprocess: bool | None = None, *, batch_size: int | None = None,
                verbose: Any = "auto") -> np.ndarray:
        """Class probabilities float32 (N, classes), computed in the precision the run was tested in
        (so they agree with ``test_accuracy``).

        ``images``: an image file or a folder of them (a path, or a list of paths; row ``i`` is
        :func:`mnistlab.list_images`'s file ``i``), Kaggle-style CSV files (images already in dataset
        form, a row each, a label column left unread: ``run.predict("test.csv")``), PIL images, or arrays.
        ``preprocess`` (None: files and PIL images yes, arrays no) puts each image in dataset form first, as the
        run's dataset was made (:func:`mnistlab.preprocessing.preprocess`: for MNIST, inverted when
        the background is light, cropped, scaled to 20 px, centred by mass): any size, colour or
        polarity is then fine. ``preprocess=False`` takes files already in dataset form (28x28).
        ``batch_size``: images a pass (250 if None; a whole number at least 1, else SpecError), and
        ``verbose``, as Keras's ``predict`` takes them (nothing is printed).

        Arrays without preprocessing: numpy or torch, uint8 (0-255), float ([0, 1]), or floats of whole
        numbers 0-255 (read as pixels, as training reads them), shaped
        (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) (Keras's channels-last), flat rows (N, 784) as a
        CSV or an ``.npz`` holds them, or one image (28, 28) / (28, 28, 1) (giving one row).
        Anything else raises :class:`SpecError` in one line ("convert to grayscale" for colour
        images, the size the model takes for a wrong size).
        Images that look inverted for the run's registered dataset (a bright border) warn
        :class:`~mnistlab.errors.InvertedImageWarning`; for the user's own data, which may be drawn
        either way, those whose border is on the other side of every training image's (recorded as
        ``env["data"]["border"]``: a light border where all were dark, or the reverse) warn so.
        Unreadable files and images with no ink raise :class:`~mnistlab.errors.DataError` (one for
        a folder or list, naming each file that could not be read).
        """
        del verbose  # Keras's progress bar: predict prints nothing
        return self._predicted(images, preprocess, batch_size)

    def _predicted(self, images: Any, preprocess: bool | None, batch_size: int | None, *, log: bool = False) -> np.ndarray:
        """:meth:`predict`'s probabilities, or (``log``) their logarithms from the logits (:meth:`evaluate`)."""
        size = pass_size(batch_size, "predict")
        x = model_input(images, preprocess, self.dataset, self.input_shape)
        bf16 = self.result.env.get("precision") == "bf16"
        known = is_registered(self.dataset)  # the user's data (a path or a table): its polarity is its own ...
        border = None if known else (self.result.env.get("data") or {}).get("border")  # ... as its training images'
        try:
            return predict_probs(self.result.model, x, batch_size=size,
                                 autocast_dtype=torch.bfloat16 if bf16 else None,
                                 dataset=self.dataset if known else None, check_inverted=known or bool(border),
                                 trained_border=border, log=log)
        except (ValueError, TypeError) as exc:  # check_pixels / numpy on something that is not images
            hint = ("; or pass preprocess=True for images of any size or colour" if preprocess is None
                    and "NaN" not in str(exc) else "")  # (helper-157: no size or colour makes NaN pixels usable)
            raise SpecError(f"predict: {exc}{hint}") from None

    def _log_probs(self, x: Any, preprocess: bool | None, batch_size: int | None) -> tuple[np.ndarray, Any, float]:
        """:meth:`_Trained.evaluate`'s (log-probabilities of ``x``, the model whose weight penalties its
        loss adds, its label smoothing): the run's own."""
        log_probs = _evaluated(functools.partial(self._predicted, log=True), x, preprocess, batch_size)
        return log_probs, self.result.model, float((self.result.config.get("train") or {}).get("label_smoothing") or 0.0)

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Keras's ``model.summary()``: the model's layers, output shapes and parameter counts, in
        Keras's format (:func:`mnistlab.summary.format_summary`), given to ``print_fn``; its training
        memory with the run's optimizer and batch, as `mnistlab summary RUN_ID` says it (helper-168:
        "with adam at batch 32" for any run)."""
        memory = recorded_memory(self.result.config, self.result.metrics.get("train_size"))
        print_fn(format_summary(summarize(ModelSpec.from_dict(self.result.config["model"])), memory))

    def __repr__(self) -> str:
        m = self.result.metrics
        name = self.result.config["model"].get("name") or "model"
        acc = f"{m['test_accuracy']:.4f}" if m.get("test_accuracy") is not None else "n/a"
        from mnistlab.comparison import scored_part

        if acc != "n/a" and (part := scored_part(self.dataset, m)) is not None:  # data.subset's part
            acc += f" on {part[0]:,} of {part[1]:,} test images"
        from mnistlab.data.userdata import dataset_label

        recorded = f", run_id={self.run_id!r}" if self.run_id else ""  # (helper-211: which run, and not a cache path)
        if "epochs_run" not in m:  # a model loaded from its file (export.load_model): no run's figures with it
            return f"Run({as_given(dataset_label(self.result.config['dataset']))}, {name}, {self.result.message})"
        return (f"Run({as_given(dataset_label(self.result.config['dataset']))}, {name}, {self.status}, "
                f"epochs={m['epochs_run']}, "
                f"test_accuracy={acc}, train_seconds={m['train_seconds']:.3g}{recorded})")  # (0.0095: not 0.0, helper-237)


def _train_store(store: RunStore | str | os.PathLike | bool, experiment: str) -> RunStore:
    """The store :func:`train` records into (``True``: the default one), once ``experiment`` is a
    name every command can take back. SpecError otherwise."""
    from mnistlab.experiments import NAME_RULE, is_valid_name

    if not isinstance(store, (RunStore, str, os.PathLike, bool)):
        raise SpecError(f"store: expected a folder, a RunStore or True, got {type(store).__name__}")
    if not is_valid_name(experiment):
        raise SpecError(f"experiment: must be {NAME_RULE} (got {experiment!r})")
    if experiment.lower().endswith((".toml", ".json")):  # (helper-254: every command read it as a file, not found)
        raise SpecError(f"experiment: {experiment!r} reads as a file's name: give the experiment a name, "
                        f"{experiment.rsplit('.', 1)[0]!r}")
    if isinstance(store, RunStore):
        return store
    return RunStore(None if isinstance(store, bool) else store)  # True: the default store (False never gets here)


# train()'s defaults, read once from the schema so that they live in one place (config.py).
_DEFAULT_DATASET: str = setting_default("dataset")
_DEFAULT_MODEL: str = setting_default("model")
_DEFAULT_EPOCHS: int = setting_default("epochs")


def _as_written(dataset: Any, model: Any, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`train`'s dataset and model as a config file writes them: a ``pathlib.Path`` as its
    string (alone or a table's value), a :class:`~mnistlab.specs.ModelSpec` as its table. SpecError
    for Keras's ``fit(x, y, verbose=0, validation_split=0.1)`` words, saying mnistlab's word for
    each (not only "unknown setting")."""
    _no_data_loader("dataset", dataset)
    for word in overrides:  # the first Keras (or Lightning) word given, as the user wrote them
        hint = KERAS_ELSEWHERE_IN_PYTHON.get(word) or KERAS_ELSEWHERE.get(word) or LIGHTNING_ELSEWHERE.get(word)
        if hint is None or word in TrainConfig.model_fields:  # (class_weight: Keras's word, train()'s too)
            continue
        raise SpecError(f'train(): unknown setting "{word}": ' + hint.replace("{value!r}", repr(overrides[word])), path=(word,),
                        source="train()")
    if overrides.get("shuffle") is False:  # Keras's fit(shuffle=False): the batches' order, which mnistlab always draws
        warnings.warn("train(shuffle=False) sets data.shuffle, the order your own data's images are read in, not "
                      "Keras's fit(shuffle=False): each epoch's batches are drawn in a new order whatever it says",
                      SpecWarning, stacklevel=user_level())
    model = model.to_dict() if hasattr(model, "to_dict") else os.fspath(model) if isinstance(model, os.PathLike) else model
    return {"dataset": plain_paths(dataset), "model": model}


def _no_data_loader(name: str, given: Any) -> None:
    """SpecError, in PyTorch's words, for a ``DataLoader`` given to :func:`train` as ``name`` ("dataset" or
    "validation_data"; helper-251: "must be a valid string"); a torch model or optimizer the config's
    boundary says (:func:`~mnistlab.config.torch_objects_said`)."""
    if is_a(given, "torch.utils.data", "DataLoader"):
        instead = ("its dataset, train(loader.dataset, ...), a torch Dataset of (image, label), or arrays (x, y)"
                   if name == "dataset" else "its images and labels as arrays, validation_data=(x_val, y_val)")
        raise SpecError(f"train(): {name}: a DataLoader is not taken (mnistlab batches the images itself): give "
                        f"{instead}", path=(name,), source="train()")


# long: Keras's fit in one call; its docstring is the Python API's reference for every argument
def train(
    dataset: Any = _DEFAULT_DATASET,
    model: Any = _DEFAULT_MODEL,
    epochs: int | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    validation_data: tuple[Any, Any] | None = None,
    store: RunStore | str | os.PathLike | bool | None = None,
    experiment: str = "train",
    variant: str | None = None,
    **overrides: Any,
) -> Run:
    """Train a model the way a notebook does; returns a :class:`Run`.

    ``epochs``: as Keras's ``fit`` (None: the default, 5; ``train={"epochs": 2}`` sets it too, and the
    two given differently are a SpecError).
    ``dataset``: a registered name, or your own data: a path (``.csv``, ``.npz``, a folder of class
    folders; a string or a ``pathlib.Path``) or a table such as ``{"csv": "train.csv", "test": "test.csv"}``
    (``{"idx": "folder"}`` for a folder of IDX files), or arrays in memory (:mod:`mnistlab.data.arrays`:
    ``(x, y)`` as Keras's ``fit`` takes them, ``load_data()``'s pairs, a PyTorch ``Dataset``; ``test_fraction=``
    the share held out of them where no test pair is given), or the :class:`~mnistlab.datasets.Dataset`
    :func:`~mnistlab.load_dataset` returned (as what it was given: :func:`~mnistlab.data.arrays.given_dataset`). ``overrides``
    are config settings by name: ``batch_size``, ``lr``, ``optimizer``, ``seed``, ``validation``, ``augment={...}``,
    ``callbacks=[{"type": "EarlyStopping", ...}]`` (or :class:`~mnistlab.callbacks.Callback` objects),
    ``schedule={"type": "cosine"}`` ... ``validation_data=(images, labels)`` validates on your own
    arrays, as Keras's ``fit`` does: images as :meth:`Run.predict` takes arrays, labels (N,), (N, 1) or
    one-hot (N, classes). ``store`` (a folder, a :class:`~mnistlab.store.RunStore`, or True for the
    default one) records the run there under ``experiment``, as ``mnistlab train`` does (``run.run_id``), as the
    row ``variant`` (MLflow's run name; default: the model's name), so that runs of one model with other
    settings are rows of their own in ``compare(store, experiment)``.
    ``resume=True`` continues from the checkpoint in ``checkpoint_dir`` (SpecError without one; a folder
    with no checkpoint yet trains from the first epoch, as Keras's BackupAndRestore); where a run in
    ``store`` ended with it (the same settings and epochs: :func:`recorded_end`), that run is returned.
    A run that diverged or failed is returned, its ``status`` and ``message`` saying so (an error of a
    callback class of the user's own is raised, as Keras's ``fit`` does, once the run is recorded);
    Ctrl-C raises :class:`TrainingInterrupted` (a KeyboardInterrupt, as Keras's ``fit``) once the run is
    recorded, its ``.run`` the run as it ended. Bad settings or data raise
    :class:`~mnistlab.errors.MnistlabError` before anything trains.

        >>> train("fashion-mnist", "seed000-dense", epochs=1, subset=600).test_accuracy   # doctest: +SKIP
    """
    if resume and checkpoint_dir is None:  # it would train afresh, and say nothing
        raise SpecError("train(resume=True) needs checkpoint_dir=, the folder its checkpoint is in")
    if validation_data is not None:
        _no_data_loader("validation_data", validation_data)
    if not resume and checkpoint_dir is not None and (held := unfinished_checkpoint(Path(checkpoint_dir) / CHECKPOINT_FILE)):
        raise SpecError(f"checkpoint_dir={os.fspath(checkpoint_dir)!r} holds the checkpoint of {held}, which this run "
                        "would write over: resume=True continues it, or delete it to start afresh")
    dataset, data_dir = given_dataset(dataset, data_dir)  # (a Dataset load_dataset returned: by what it was given)
    dataset, overrides = saved_if_given(dataset, given_weights(overrides, source="train()", store=store), source="train()")
    with said_as_given():  # a mistake in arrays in memory named as theirs, not their cache file's
        cfg, cb_objects, cb_at = _train_config(dataset, model, epochs, overrides, validating=validation_data is not None)
        recorded_cfg = cfg.model_copy(update={"callbacks": interleaved(cfg.callbacks, [callback_config(c) for c in cb_objects],
                                                                        cb_at)}) if cb_objects else cfg
        recorder = _train_recorder(store, experiment, recorded_cfg, checkpoint_dir if resume else None, variant)
        if isinstance(recorder, Run):  # the checkpoint is where that run ended: nothing to train
            return recorder
        try:  # (its checkpoints name its run: helper-206)
            result = run_config(cfg, data_dir=data_dir, progress=progress, checkpoint_dir=checkpoint_dir, resume=resume,
                                extra_callbacks=cb_objects, extra_at=cb_at, validation_data=validation_data,
                                run_id=recorder.run_id if recorder is not None else "", names=(experiment, variant))
            if cb_objects:  # its callback objects as their tables (callback_config), as recorded
                result.config = {**result.config, "callbacks": recorded_cfg.resolved()["callbacks"]}
        except BaseException as exc:
            if recorder is not None:
                recorder.abandon(exc)
            raise
    run = Run(result) if recorder is None else _recorded(recorder, recorded_cfg, result, checkpoint_dir)  # (its note
    # keyed as recorded_end reads it: review of session 58, a resume with callback objects recorded a second run)
    run.verbose = _keras_verbose(progress)
    if result.status == "interrupted":
        raise TrainingInterrupted.of(run)
    if result.error is not None:  # the user's own callback raised: theirs to see, as Keras's fit shows it
        raise _noted(result.error, run)
    return run


def _train_recorder(store: RunStore | str | os.PathLike | bool | None, experiment: str, cfg: RunConfig,
                    resumed_from: str | os.PathLike | None, variant: str | None = None) -> Recorder | Run | None:
    """What records :func:`train`'s run in ``store`` under ``experiment`` as ``variant`` (None: no store);
    the recorded run itself where the checkpoint in ``resumed_from`` is where it ended (:func:`recorded_end`)."""
    from mnistlab.experiments import NAME_RULE, is_valid_name

    if variant is not None and not is_valid_name(variant):
        raise SpecError(f"variant: must be {NAME_RULE} (got {variant!r})")
    if store is None or store is False:
        if variant is not None:
            raise SpecError("variant= names the run in a store: give store= (a folder, or True for the default one)")
        return None
    runs = _train_store(store, experiment)
    if resumed_from is not None and (done := recorded_end(resumed_from, runs, cfg)) is not None:
        return Run.from_store(runs, done.run_id)
    return Recorder.for_config(runs, experiment, cfg, variant)


def _keras_verbose(progress: str) -> int:
    """Keras's ``verbose`` for a :data:`~mnistlab.callbacks.PROGRESS_MODES` mode, ``"auto"`` resolved
    as :class:`~mnistlab.callbacks.ProgressLogger` resolves it: 0 none, 1 a bar, 2 a line an epoch."""
    return {"none": 0, "bar": 1, "lines": 2}.get(shown_mode(progress), 0)


def _noted(error: BaseException, run: Run) -> BaseException:
    """``error`` (the user's callback's), with a note under its traceback naming ``run``'s record
    where it has one (Python 3.11's ``add_note``; helper-120: the user had no id to look at)."""
    if run.run_id and hasattr(error, "add_note"):
        error.add_note(f"mnistlab: the run is recorded as failed, run {run.run_id} "
                       f"(`mnistlab show {run.run_id}`: its epochs so far)")
    return error


def _train_config(dataset: Any, model: Any, epochs: int | None, overrides: dict[str, Any], *,
                  validating: bool) -> tuple[RunConfig, list[Callback], list[int]]:
    """:func:`train`'s arguments as a checked config, the callback objects among ``overrides``
    (checked as their tables are) and their places in the list given; ``validating``:
    ``validation_data`` was given. SpecError otherwise."""
    cb_objects, cb_at = _callback_objects(overrides)
    if cb_objects:  # each object's place held by its class, so that the tables are checked (and named) where they
        overrides["callbacks"] = interleaved(overrides["callbacks"], [  # stand, after the objects before them
            {"type": "Python", "class_name": _qualified(c)} for c in cb_objects], cb_at)
    given = {"epochs": epochs} if epochs is not None else {}  # (one given twice, as train={"epochs": 2} too, is said
    raw = apply_overrides({**_as_written(dataset, model, overrides), "train": {"epochs": _DEFAULT_EPOCHS}},  # there)
                          {**given, **overrides}, source="train()")
    with warnings.catch_warnings():
        if cb_objects:  # the tables' order among themselves is not the order they run in: said below, of all of them
            warnings.filterwarnings("ignore", message=f".*{re.escape(RAW_RESTORED)}")
        cfg = parse_run_config(raw, source="train()", check_callbacks=not validating)
    if cb_objects:  # the tables alone: the objects run themselves (run_callbacks)
        cfg = cfg.model_copy(update={"callbacks": [c for i, c in enumerate(cfg.callbacks) if i not in set(cb_at)]})
    _check_callback_objects(cb_objects, bool(cfg.data.validation) or validating, cfg)
    listed = interleaved(cfg.callbacks, cb_objects, cb_at)
    restores = any(isinstance(c, (EarlyStopping, EarlyStoppingConfig)) and c.restore_best_weights for c in listed)
    if cb_objects and cfg.train.use_ema and restores and not swaps_before_restoring(listed):
        warnings.warn(ema_replaced("train(): callbacks", python=True), SpecWarning, stacklevel=user_level())
    if mistakes := setting_mistakes(cfg.resolved()):  # as `mnistlab train` finds them (helper-164: the API warned)
        raise mistakes[0]
    return cfg, cb_objects, cb_at


def _recorded(recorder: Recorder, cfg: RunConfig, result: RunResult, checkpoint_dir: str | os.PathLike | None) -> Run:
    """:func:`train`'s run, recorded by ``recorder`` (without its id when that failed: a warning says
    why), its checkpoint noted as recorded. A stop meanwhile waits for both, then raises
    :class:`TrainingInterrupted`."""
    problem = None
    try:
        with stop_signals_held():
            problem = recorder.finish(result)
            if not problem:
                mark_checkpoint_recorded(checkpoint_dir, recorder.run_id, cfg, result)
    except KeyboardInterrupt:
        raise TrainingInterrupted.of(_named_run(result, recorder, recorded=not problem), recorder.store) from None
    if problem:  # the run itself is fine and returned; only its record is missing
        warnings.warn(problem, stacklevel=user_level())
        return Run(result)
    return _named_run(result, recorder)


def _named_run(result: RunResult, recorder: Recorder, *, recorded: bool = True) -> Run:
    """``result`` as the Run ``recorder`` recorded, with its id (where ``recorded``), experiment and variant."""
    run = Run(result, recorder.run_id if recorded else None)
    if recorded:
        run.experiment, run.variant = recorder.experiment, recorder.variant
    return run


def _joins_a_files(store: RunStore, experiment: str, variant: str, key: str, *, named: bool) -> None:
    """Warn where a single run is recorded under an experiment an experiment file's sweep made
    (helper-250, -252: `train --experiment NAME` joined a file's runs unsaid, and `experiments` then
    named its score the sweep's best), and where it takes the row of earlier single runs of other
    settings (``named``: its variant was not given); SpecError where its row is one of the file's own
    variants (helper-254: the file's run hid it, and `rm -e FILE` counted it the file's)."""
    from mnistlab.files import display_name

    runs = store.variants_of(experiment)  # (the rows alone: no history or config parsed for a single run's start)
    files = {file for _, _, file in runs if file}
    if variant in {v for v, _, file in runs if file}:
        raise SpecError(f'the row "{variant}" is a variant of {display_name(sorted(files)[0])}\'s sweep under experiment '
                        f'"{experiment}": name this run\'s row otherwise (--variant NAME, variant=) or record it under '
                        "another experiment")
    if not named and not files and any(v == variant and hash_ != key for v, hash_, _ in runs):
        warnings.warn(f'experiment "{experiment}" has runs of "{variant}" with other settings: this run takes that row '
                      f"in `compare {experiment}` (theirs are then of other settings); --variant NAME (variant=) names "
                      "a row of its own", ReportWarning, stacklevel=user_level())
    if files:
        warnings.warn(f'experiment "{experiment}" holds the runs of {display_name(sorted(files)[0])}'
                      f"{' and other files' if len(files) > 1 else ''}: this run joins them, as the row {variant!r} of "
                      f"`compare {experiment}` (another experiment name keeps it apart)", ReportWarning,
                      stacklevel=user_level())


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`train` when Ctrl-C stopped it, as Keras's ``fit`` lets
    KeyboardInterrupt through: a loop of ``train()`` calls stops, not only the one run. Raised once
    the run is recorded (``train(store=...)``: status ``interrupted``, its epochs so far kept; a
    stop while a finished run was being recorded waits for the record, then comes). ``run`` is the
    :class:`Run` as it ended: its history, metrics and weights so far. Catching KeyboardInterrupt
    catches it too.

        try:
            run = mnistlab.train("mnist", "seed000-cnn", epochs=10)
        except mnistlab.TrainingInterrupted as stop:
            run = stop.run          # run.status == "interrupted", run.history: the epochs it trained
    """

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole (a train() in a worker process): its run too
        return type(self), (str(self), self.run)

    @classmethod
    def of(cls, run: Run, store: RunStore | None = None) -> TrainingInterrupted:
        """The exception for ``run``: stopped in training, or (``store``: it holds the run's record) once
        the run was recorded, as the store says it was."""
        if store is not None and run.run_id is not None:
            try:
                status = store.get(run.run_id).status
            except MnistlabError:
                status = "deleted meanwhile"
            return cls(f"stopped once run {run.run_id} was recorded ({status}); the run is this exception's .run", run)
        done = f"after {epochs_trained(run.result)}"
        recorded = f", recorded as run {run.run_id}" if run.run_id else ""
        return cls(f"training interrupted {done}{recorded}; the run as it ended is this exception's .run", run)


# ------------------------------------------------------------------- using a trained model
def _callback_objects(overrides: dict[str, Any]) -> tuple[list[Callback], list[int]]:
    """The Callback objects among ``overrides["callbacks"]`` (one alone too, as Keras 3 takes it),
    taken out of it, and each one's place in that list: the tables left there are the run config's."""
    given = overrides.get("callbacks", [])
    given = [given] if isinstance(given, (Callback, Mapping)) else given
    if isinstance(given, Iterable) and not isinstance(given, (str, bytes)):  # a tuple, a set, a generator: a list
        given = list(given)  # (helper-131: a set's objects were dropped; anything else is the config's mistake)
    if "callbacks" in overrides and isinstance(given, list):
        overrides["callbacks"] = [c for c in given if not isinstance(c, Callback)]
    placed = [(i, c) for i, c in enumerate(given) if isinstance(c, Callback)] if isinstance(given, list) else []
    return [c for _, c in placed], [i for i, _ in placed]


def callback_config(callback: Callback) -> BaseModel:
    """How a run records a callback object given to :func:`train` (Keras records none), as its config: one of
    mnistlab's own classes (``EarlyStopping(patience=3)``) as the table that builds it, ``{"type":
    "EarlyStopping", "patience": 3, ...}``, the same run as that table gives; any other (a subclass too)
    as ``{"type": "Python", "class_name": "__main__.HalveLR", "settings": {"factor": 0.01}}``, its class
    and its settings: as Keras's ``get_config`` convention has it, the attributes named as its
    ``__init__``'s arguments, of plain values (numbers, strings, lists and tables of them; not a state it
    keeps, nor what a fit sets on it, such as ``params``: the same object given to two runs is one
    setting) (:class:`~mnistlab.config.PythonCallbackConfig`). Either is part of the run's key: a sweep
    never takes a run a callback changed for one without it (helper-251: a sweep reused one, and ``train
    --config`` of its record trained another run)."""
    import inspect

    from pydantic import ValidationError

    from mnistlab.config import CALLBACKS, PythonCallbackConfig
    from mnistlab.callbacks import callback_type

    name = type(callback).__name__
    if name in CALLBACKS and type(callback) is callback_type(name):
        schema = CALLBACKS[name]
        values = {f: getattr(callback, f) for f in schema.model_fields if f != "type" and hasattr(callback, f)}
        if "mode" in values:  # as written: "auto" stays auto (one key with the table that leaves it out), and
            values["mode"] = getattr(callback, "mode_given", values["mode"])  # "min" on val_loss stays "min"
        try:
            return schema.model_validate({**values, "type": name})
        except ValidationError:
            pass  # (changed by hand past what a table takes: recorded as any other object)
    try:
        arguments = set(inspect.signature(type(callback).__init__).parameters) - {"self"}
    except (TypeError, ValueError):
        arguments = set()
    settings = {k: _plain(v) for k, v in vars(callback).items()
                if k in arguments and not k.startswith("_") and _plain(v) is not _NOT_PLAIN}
    return PythonCallbackConfig(class_name=_qualified(callback), settings=settings)


_NOT_PLAIN = object()


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON holds it where it is plain data (None, a bool, number or string, a list, tuple
    or table of such, a tuple as a list: helper-253, milestones=[1] and [2] shared a key; a NumPy number
    as the number it holds); else :data:`_NOT_PLAIN` (a tensor, a function, a model, NaN)."""
    if isinstance(value, np.generic) and value.ndim == 0:
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if depth < 4 and isinstance(value, (list, tuple)) and len(value) <= 1000:
        items = [_plain(v, depth + 1) for v in value]
        return _NOT_PLAIN if any(i is _NOT_PLAIN for i in items) else items
    if depth < 4 and isinstance(value, Mapping) and len(value) <= 1000 and all(isinstance(k, str) for k in value):
        table = {k: _plain(v, depth + 1) for k, v in value.items()}
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in table.values()) else table
    return _NOT_PLAIN


def _qualified(callback: Callback) -> str:
    """``callback``'s class as ``module.QualName``: ``"__main__.HalveLR"``."""
    return f"{type(callback).__module__}.{type(callback).__qualname__}"


def _check_callback_objects(callbacks: Sequence[Callback], validation: bool, cfg: RunConfig) -> None:
    """What a callback given as a table is checked for before training, for callback objects
    (``EarlyStopping(monitor="val_acc")``): a monitor the run logs, a ``val_*`` one only with
    validation data, a SwapEMAWeights only with ``use_ema``, no restore_best_weights with SWA, no
    ReduceLROnPlateau with SWA's own lr (nor, a warning, with a min_lr it never goes below).
    SpecError, one line (helper-117: an object only warned each epoch and did nothing; helper-128: a
    SwapEMAWeights object without an EMA failed the run once trained, untrained weights scored)."""
    from mnistlab.averaging import SwapEMAWeights
    from mnistlab.callbacks import check_monitor, logged_keys

    adds_logs = False  # a callback of the user's own came before: it may log values of its own, as in Keras
    for cb in callbacks:
        adds_logs = adds_logs or not type(cb).__module__.startswith("mnistlab.")
        if isinstance(cb, SwapEMAWeights) and not cfg.train.use_ema:
            raise SpecError("train(): callbacks: SwapEMAWeights needs an optimizer EMA: pass use_ema=True")
        if isinstance(cb, EarlyStopping) and cb.restore_best_weights and cfg.train.swa is not None:
            raise SpecError("train(): callbacks: EarlyStopping(restore_best_weights=True) would replace swa's average "
                            "with one epoch's weights: use one of them")
        if isinstance(cb, ReduceLROnPlateau) and cfg.train.swa is not None and cfg.train.swa.lr is not None:
            raise SpecError("train(): callbacks: ReduceLROnPlateau and swa's lr both set the learning rate (SWA sets "
                            "its lr again every epoch): drop one of them")
        if isinstance(cb, ReduceLROnPlateau):
            warn_if_min_lr_never_acts("train(): callbacks", cb.min_lr, cfg.lr)
        monitor = getattr(cb, "monitor", None)
        if adds_logs and isinstance(monitor, str) and monitor not in logged_keys() and getattr(cb, "mode_given", "") == "auto":
            raise SpecError(f'train(): callbacks: {type(cb).__name__}(monitor={monitor!r}): mode "auto" cannot tell '
                            f'whether {monitor}, a value no run logs (a callback of yours may), is better high or low: '
                            'give mode="max" or "min" (Keras 3 refuses "auto" on it too)')  # (helper-253: minimised F1)
        if not isinstance(monitor, str) or getattr(cb, "save_best_only", True) is False or (
                adds_logs and monitor not in logged_keys()):
            continue  # (a ModelCheckpoint saving every epoch never reads its monitor; a value a callback of yours logs)
        who = f"train(): callbacks: {type(cb).__name__}(monitor={monitor!r})"
        check_monitor(monitor, who)
        if monitor.startswith("val_") and not validation:
            raise SpecError(f'{who} needs validation data: pass validation=0.1 (a count, or "test") or '
                            f'validation_data=(x, y), or monitor "{monitor[4:]}"')


def evaluation(log_probs: np.ndarray, y: Any, model: torch.nn.Module | None, *, label_smoothing: float = 0.0,
               return_dict: bool = False) -> list[float] | dict[str, float]:
    """What :meth:`Run.evaluate` (and a committee's) returns of predicted log-probabilities
    ``log_probs`` (float32 (N, classes)) and labels ``y`` (:func:`label_targets`): ``[loss, accuracy]``
    or, with ``return_dict``, Keras's dict; the loss :func:`~mnistlab.evaluate.log_probs_loss`'s
    (``model``'s weight penalties; None for a committee). SpecError for no images, or labels that do not fit."""
    if not len(log_probs):
        raise SpecError("evaluate: no images to evaluate on")
    target = label_targets(y, len(log_probs), log_probs.shape[1])
    loss = log_probs_loss(torch.from_numpy(log_probs), torch.from_numpy(target).float(), model,
                          label_smoothing=label_smoothing)
    acc = float((log_probs.argmax(1) == target.argmax(1)).mean())
    return {"loss": loss, "accuracy": acc} if return_dict else [loss, acc]


def class_weights(setting: Any, data: Split) -> torch.Tensor | None:
    """``train.class_weight`` (:class:`~mnistlab.config.TrainConfig`) as the float32 (classes,) the
    trainer weighs each image's loss by, for ``data``'s classes: a list, one weight each; a table by
    class index (digits: ``"3"`` in a file, as Keras's keys) or by a class's name (one that is not all
    digits), the classes not in it 1.0 (Keras's ``class_weight``); ``"balanced"``: scikit-learn's
    ``compute_class_weight`` formula over the training labels, n / (k * count), a class with no
    training image 1.0 (where scikit-learn refuses it). None for None. SpecError (:func:`class_weight_mistake`) for
    a list of another length, a key that names no class, every class 0."""
    if setting is None:
        return None
    k, names = data.num_classes, [str(n) for n in data.provenance.get("class_names") or range(data.num_classes)]
    if why := class_weight_mistake(setting, k, names):
        raise SpecError(why)
    if setting == "balanced":
        counts = torch.bincount(data.train_y.cpu(), minlength=k).double()
        return torch.where(counts > 0, len(data.train_y) / (k * counts.clamp(min=1)), 1.0).float()
    return torch.tensor(_weight_list(setting, k, names), dtype=torch.float32)


def _weight_list(setting: list[float] | Mapping[Any, float], k: int, names: Sequence[str]) -> list[float]:
    """Each of the ``k`` classes' weight of a ``train.class_weight`` list or table (a class not in
    the table: 1.0, as Keras's); its keys name classes (:func:`class_weight_mistake` says where not)."""
    if isinstance(setting, list):
        return [float(w) for w in setting]
    weights = [1.0] * k
    for key, w in setting.items():
        if (at := _class_at(key, names)) is not None:
            weights[at] = float(w)
    return weights


def _class_at(key: Any, names: Sequence[str]) -> int | None:
    """The class a ``train.class_weight`` table's key names: a class index, as Keras's
    ``class_weight`` keys are (an int, or a string of digits: a file's keys are strings, and a run
    records Python's ints as them, so both read alike), else a class's name; None for neither.
    (helper-249: digits read as a name first made {1: 5.0} and {"1": 5.0} two classes under one key.)"""
    at = key if isinstance(key, int) else int(key) if str(key).isascii() and str(key).isdigit() else None
    if at is None:
        return names.index(str(key)) if str(key) in names else None
    return at if 0 <= at < len(names) else None


def class_weight_mistake(setting: Any, k: int, names: Sequence[str]) -> str | None:
    """What is wrong with ``train.class_weight`` ``setting`` for data of ``k`` classes named
    ``names`` (None: nothing): a list of another length, a table key that names no class, every
    class weighing 0. Said before anything trains (:func:`run_data_mistakes`) and as a run starts."""
    if setting is None or setting == "balanced":
        return None
    if isinstance(setting, list) and len(setting) != k:
        return (f"train.class_weight: {len(setting)} weights for {k} classes: give one for each class, in their order "
                f"({', '.join(names[:4])}{', ...' if k > 4 else ''}), or a table of some of them")
    if isinstance(setting, Mapping) and (bad := next((key for key in setting if _class_at(key, names) is None), None)):
        near = did_you_mean(str(bad), list(names))
        return (f"train.class_weight: {bad!r} is no class of the data{near} (its {k} classes: {clip(', '.join(names), 80)}; "
                f"by index 0 to {k - 1})")
    return ("train.class_weight: every class weighs 0: no image would train" if not any(_weight_list(setting, k, names))
            else None)


def csv_labelled(x: Any, class_names: Sequence[str], dataset: Any, size: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The images uint8 (N, *size) and the labels' class indices int64 (N,) of Kaggle-style CSV
    files ``x`` (a path or a list of them, every one a CSV with a label column), each file read
    once, for ``evaluate(x)`` without ``y`` (:func:`~mnistlab.data.userdata.class_indices_of`).
    SpecError for other ``x`` (helper-211: a TypeError, "missing 1 required positional argument"),
    or a CSV without labels, said before any image is predicted; DataError for a label that is no
    class of the model, with its file."""
    from mnistlab.data.userdata import class_indices_of, label_column

    paths = [x] if isinstance(x, (str, os.PathLike)) else list(x) if isinstance(x, (list, tuple)) else []
    if not paths or not all(isinstance(p, (str, os.PathLike)) and _is_csv(p) for p in paths):
        raise SpecError("evaluate: give the labels of x too, evaluate(x, y), as Keras's takes them (class indices, or "
                        "one-hot rows), got None; predict(x) gives the outputs alone")
    label = label_column(dataset)
    images, labels = [], []
    for path in paths:
        read = _csv_read(path, label, size)
        if read.labels is None:
            raise SpecError(f"evaluate: {path} has no {label!r} column" + (f" ({read.unscored})" if read.unscored else "")
                            + ": give its labels, evaluate(x, y)")
        try:
            labels.append(class_indices_of(read.labels, class_names, dataset))
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
        images.append(read.images)
    return np.concatenate(images), np.concatenate(labels)


def pass_size(batch_size: Any, where: str) -> int:
    """Images a forward pass for :meth:`Run.predict` and :meth:`Run.evaluate`: ``batch_size``, a
    whole number at least 1, or 250 for None (SpecError otherwise: a batch of -1 returned no rows)."""
    if batch_size is None:
        return 250
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SpecError(f"{where}: batch_size must be a whole number of images, at least 1, got {show(batch_size)}")
    return int(batch_size)


def label_targets(labels: Any, n: int, classes: int) -> np.ndarray:
    """Labels for :meth:`Run.evaluate` as float64 target rows (n, classes): class indices (n,) (whole
    numbers, as ints or floats; one image's may be a bare number) become one-hot rows; rows
    (n, classes) of non-negative numbers summing to 1 (Keras's ``to_categorical``) are taken as
    they are. Anything else (strings, None, booleans), or a count other than ``n``, raises
    SpecError in one line."""
    raw = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    try:
        y = np.asarray(raw)
    except (TypeError, ValueError):
        y = np.asarray(None)
    if y.dtype.kind not in "iuf":
        got = "None" if raw is None else {"U": "strings", "S": "bytes", "b": "booleans", "c": "complex numbers"}.get(
            y.dtype.kind, f"{type_name(raw)} of objects" if y.ndim else type_name(raw))
        raise SpecError(f"evaluate: labels must be class indices or one-hot rows of numbers, got {got}")
    y = y.astype(np.float64).reshape(1) if y.ndim == 0 and n == 1 else y.astype(np.float64)
    if y.ndim == 2 and y.shape[1] == 1 and classes != 1:  # Keras's sparse labels, a column: (N, 1)
        y = y[:, 0]
    if y.ndim not in (1, 2) or len(y) != n:
        raise SpecError(f"evaluate: {n} image{'s' * (n != 1)} but labels of shape {tuple(y.shape)}: give {n} class "
                        f"{'index' if n == 1 else 'indices'} (shape ({n},)) or {n} one-hot row{'s' * (n != 1)} "
                        f"(shape ({n}, {classes}))")
    if y.ndim == 2:
        if y.shape[1] != classes or not np.isfinite(y).all() or (y < 0).any() or not np.allclose(y.sum(1), 1.0):
            raise SpecError(f"evaluate: labels of shape {tuple(y.shape)} are not one-hot rows of the model's {classes} "
                            "classes (each row non-negative, summing to 1)")
        return y
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(f"evaluate: label {y[i]:g} (at index {i}) is not a class of the model (0-{classes - 1})")
    return np.eye(classes)[y.astype(np.int64)]


def _is_csv(path: str | os.PathLike) -> bool:
    return os.fspath(path).lower().endswith(".csv")


def _csv_read(path: str | os.PathLike, label: str, size: tuple[int, ...]) -> Any:
    """:func:`~mnistlab.data.userdata.csv_to_predict` of ``path`` (its images in the model's
    ``size``, its labels), a DataWarning where it resized them."""
    from mnistlab.data.userdata import csv_to_predict

    read = csv_to_predict(Path(path), label, size)
    if (was := read.resized_from) is not None:
        warnings.warn(f"{path}: its {was[1]}x{was[0]} images resized to the model's {size[1]}x{size[0]}, as a "
                      "CSV dataset's are for training", DataWarning, stacklevel=user_level())
    return read


def _every_file(paths: Sequence[str | os.PathLike], dataset: str | None, size: tuple[int, ...],
                preprocessing: bool) -> np.ndarray:
    """:func:`~mnistlab.preprocessing.read_images`' uint8 (N, H, W) of the image files ``paths`` name
    (files, folders: :func:`~mnistlab.preprocessing.image_sources`), or one DataError naming each that
    is missing or could not be read (not the first alone: note 54, helper-230), as ``mnistlab
    predict`` lists them; row ``i`` is file ``i``, so none is left out silently."""
    from mnistlab.preprocessing import image_sources, read_images

    missing: list[str] = []
    sources = image_sources(paths, errors=missing)
    errors: list[tuple[int, str]] = []
    seen = read_images(sources, dataset, size=size, preprocessing=preprocessing, errors=errors)[1]
    said = missing + [message for _, message in errors]
    if not said:
        return seen
    if len(sources) + len(missing) == 1:
        raise DataError(said[0])
    shown = "; ".join(said[:3]) + (f"; and {len(said) - 3} more" if len(said) > 3 else "")
    raise DataError(f"{len(said)} of {len(sources) + len(missing)} files could not be read ({shown}): predict a list of "
                    "the others (mnistlab.list_images gives a folder's) to keep row i for file i")


def model_input(images: Any, preprocess: bool | None, dataset: Any, shape: Sequence[int]) -> Any:
    """What :meth:`Run.predict` feeds the model: files and PIL images read (and preprocessed unless
    ``preprocess`` is False), arrays preprocessed one by one when ``preprocess`` is True, else
    ``images`` as given.
    ``dataset``: the run's (a registered name picks its recipe; the user's own data, a path or a
    table, is only resized).

    Arrays to preprocess: one image (H, W) / (H, W, 1-4), a batch (N, H, W) / (N, H, W, 1-4) /
    (N, 1, H, W), a PIL image, or a list of any of those images, each of any size.
    """
    from mnistlab.preprocessing import image_sources, preprocess as prepare, read_images, recipe_dataset
    from mnistlab.data.userdata import label_column

    size = tuple(shape)
    label = label_column(dataset)
    dataset = recipe_dataset(dataset)
    is_path = lambda x: isinstance(x, (str, os.PathLike))
    if is_path(images) or (isinstance(images, (list, tuple)) and images and all(is_path(i) for i in images)):
        paths = [images] if is_path(images) else list(images)
        if any(_is_csv(p) for p in paths):  # Kaggle-style CSVs, as `mnistlab predict` reads them (helper-214)
            return np.concatenate([_csv_read(p, label, size).images if _is_csv(p) else _every_file(
                [p], dataset, size, preprocess is not False) for p in paths])
        return _every_file(paths, dataset, size, preprocess is not False)
    one = lambda im: prepare(im, dataset, size=None if size == (28, 28) else size)
    is_pil = lambda x: hasattr(x, "convert")
    if isinstance(images, (list, tuple)) and images and all(is_path(i) or is_pil(i) for i in images) \
            and preprocess is not False:  # files beside PIL images (helper-120: numpy's "inhomogeneous shape")
        return np.concatenate([read_images(image_sources([i]), dataset, size=size)[1] if is_path(i) else one(i)[None]
                               for i in images])
    pil = is_pil(images) or (isinstance(images, (list, tuple)) and images and all(is_pil(i) for i in images))
    if preprocess is False or (preprocess is None and not pil):  # PIL images, as files, are preprocessed
        flat: tuple[int, ...] = tuple(getattr(images, "shape", ()))
        if len(flat) == 2 and flat[1] == size[0] * size[1] != size[1]:  # rows (N, H * W), as a CSV holds them
            return images.reshape(-1, *size)
        return images
    if isinstance(images, (list, tuple)):
        return np.stack([one(im) for im in images]) if images else np.zeros((0, *size), np.uint8)
    if hasattr(images, "convert"):  # a PIL image
        return one(images)[None]
    a = as_array(images)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4)):
        return one(a)[None]
    if a.ndim == 4 and a.shape[1] in (1, 3, 4) and a.shape[3] not in (1, 3, 4):
        a = np.moveaxis(a, 1, -1)  # (N, C, H, W) -> (N, H, W, C)
    if a.ndim not in (3, 4):
        raise SpecError(f"predict: expected images (H, W), (H, W, C), (N, H, W) or (N, H, W, C); got shape {a.shape}")
    return np.stack([one(im) for im in a]) if len(a) else np.zeros((0, *size), np.uint8)


class Committee(_Trained):
    """A recorded committee (seed 002's): its members' softmax outputs averaged. ``.predict`` as :class:`Run`'s."""

    def __init__(self, members: Sequence[Run], record: CommitteeRecord | None = None) -> None:
        if not members:
            raise SpecError("a committee needs at least one member")
        self.members = list(members)
        self.record = record
        self.chosen: str | None = None  # how load_trained chose it among its variant's committees, for its card

    @property
    def config(self) -> dict[str, Any]:
        """Its first member's resolved run config (:attr:`Run.config`)."""
        return self.members[0].config

    @property
    def env(self) -> dict[str, Any]:
        """Its first member's environment (:attr:`Run.env`)."""
        return self.members[0].env

    @property
    def dataset(self) -> Any:
        """The dataset its members trained on (:attr:`Run.dataset`)."""
        return self.members[0].dataset

    @property
    def input_shape(self) -> tuple[int, int]:
        """The (height, width) of the images its members take, in pixels."""
        return self.members[0].input_shape

    @property
    def class_names(self) -> list[str]:
        """One name per class, as its members' (:attr:`Run.class_names`)."""
        return self.members[0].class_names

    @property
    def run_ids(self) -> list[str | None]:
        """Its members' run ids, in member order (None for a member not recorded)."""
        return [m.run_id for m in self.members]

    @property
    def test_accuracy(self) -> float | None:
        """The accuracy of its averaged outputs on the test set, a fraction, as recorded when it was
        scored (:class:`~mnistlab.store.CommitteeRecord`); None for a committee not recorded."""
        return self.record.accuracy if self.record is not None else None

    def test_data(self, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The test images and labels its members were scored on (:meth:`Run.test_data`)."""
        return self.members[0].test_data(data_dir)

    def predict(self, images: Any, preprocess: bool | None = None, *, batch_size: int | None = None,
                verbose: Any = "auto") -> np.ndarray:
        """The members' probabilities (:meth:`Run.predict`, ``batch_size`` and ``verbose`` as
        there) averaged: float32 (N, classes)."""
        from mnistlab.metrics import committee_probs

        pass_size(batch_size, "predict")  # said before the images are read
        x = model_input(images, preprocess, self.dataset, self.input_shape)  # read and preprocessed once
        return committee_probs([m.predict(x, preprocess=False, batch_size=batch_size) for m in self.members])

    def _log_probs(self, x: Any, preprocess: bool | None, batch_size: int | None) -> tuple[np.ndarray, Any, float]:
        """:meth:`_Trained.evaluate`'s inputs for the committee: the log of its averaged probabilities
        (:meth:`predict`, floored as its record's), no model (no one model's weight penalties), no
        label smoothing."""
        probs = _evaluated(self.predict, x, preprocess, batch_size)
        return np.log(np.maximum(probs, PROB_FLOOR)), None, 0.0

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Each member's :meth:`Run.summary` (Keras's ``model.summary()``), one network once: a
        committee of one network says so above its table, a mixed one gives each network's (helper-211:
        an AttributeError)."""
        networks: dict[str, list[Run]] = {}
        for m in self.members:
            networks.setdefault(json.dumps(m.result.config.get("model"), sort_keys=True), []).append(m)
        for same in networks.values():
            print_fn(f"{len(same)} of the committee's {len(self.members)} members:" if len(networks) > 1 or len(same) > 1
                     else "the committee's one member:")
            same[0].summary(print_fn)

    def __repr__(self) -> str:
        from mnistlab.comparison import scored_part

        acc = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        if acc != "n/a" and (part := scored_part(self.dataset, self.members[0].metrics)) is not None:  # as a Run says it
            acc += f" on {part[0]:,} of {part[1]:,} test images"
        return f"Committee({len(self.members)} members, {self.dataset}, test_accuracy={acc})"


def _evaluated(predict: Callable[..., np.ndarray], x: Any, preprocess: bool | None, batch_size: int | None) -> np.ndarray:
    """``predict(x, ...)`` for ``evaluate``, its errors in evaluate's name (helper-157: "predict: ...")."""
    try:
        return predict(x, preprocess, batch_size=pass_size(batch_size, "evaluate"))
    except SpecError as exc:
        if not str(exc).startswith("predict: "):
            raise
        raise SpecError("evaluate: " + str(exc).removeprefix("predict: ")) from None


def check_trained(model: Any, caller: str) -> None:
    """SpecError unless ``model`` is a :class:`Run` or a :class:`Committee`: ``caller`` (a function
    of one, such as ``export_model``) given a run id string raised an AttributeError deep inside."""
    if not isinstance(model, (Run, Committee)):
        raise SpecError(f"{caller} takes a Run or a Committee (mnistlab.load_trained(store, RUN_ID) gives one), "
                        f"not {type(model).__name__}")


#: the flags of a command that takes a MODEL, as load_trained's keywords
MODEL_KEYWORDS = {"--variant": "variant=", "--pick latest": 'pick="latest"', "--pick best-val": 'pick="best-val"',
                  "--pick": "pick="}


def load_trained(store: RunStore | str | os.PathLike[str], target: str | None = None, *, variant: str | None = None,
                 pick: Literal["best", "best-val", "latest"] = "best") -> Run | Committee:
    """The trained model ``target`` (a run id, an experiment, a committee) names in ``store`` (a
    :class:`~mnistlab.store.RunStore` or its folder), ready to predict: a :class:`Run` or a
    :class:`Committee`, the runs :func:`~mnistlab.views.trained_runs` chooses, with their weights loaded.
    StoreError when the folder holds no store or ``target`` is not in it. Given a model file alone
    (``load_trained("m.safetensors")``), the model it holds: :func:`mnistlab.export.load_model`."""
    if target is None:
        if isinstance(store, (str, os.PathLike)) and Path(store).suffix.lower() in (".safetensors", ".onnx", ".pt"):
            from mnistlab.export import load_model

            return load_model(store)  # (helper-251: a saved file came back as "missing 'target'")
        raise SpecError("load_trained(store, target): give the run id, experiment or committee to load from the store "
                        "(or a model file alone: load_trained(\"m.safetensors\"))")
    with in_python_words(MODEL_KEYWORDS):  # the commands' words are flags: this caller's are keywords
        return open_trained(store, target, variant=variant, pick=pick)


def open_trained(store: RunStore | str | os.PathLike[str], target: str, *, variant: str | None = None,
                 pick: str = "best") -> Run | Committee:
    """:func:`load_trained` for the commands that take a MODEL: its errors name their flags (``--variant``)."""
    from mnistlab.views import committee_pick_note, named_as_now, pick_note, trained_runs, variant_committees

    if not isinstance(store, RunStore):
        store = RunStore(store, create=False)
    ids, committee = trained_runs(store, target, variant=variant, pick=pick)
    if committee is None:
        run = Run.from_store(store, ids[0])
        run.chosen = pick_note(store, target, run.record, variant=variant, pick=pick)
        if run.record is not None and (now := named_as_now(store, target, variant, run.record)) is not None:  # file's names
            run.config["model"] = now
            cast(Any, run.model).spec = ModelSpec.from_dict(now)  # (the Sequential torch module keeps its spec)
        return run
    chosen = Committee([Run.from_store(store, m) for m in ids], committee)
    try:  # among the committees its table row counts (a [[committees]] across variants: none to choose among)
        among = variant_committees(store, target, str(committee.variant))
    except StoreError:
        among = []
    chosen.chosen = committee_pick_note(committee, among, pick)
    return chosen


