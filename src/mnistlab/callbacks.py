"""Callbacks with Keras's protocol: objects whose hooks see a ``logs`` dict and can stop training.

The trainer holds its callbacks in a :class:`CallbackList` and calls its hooks in this order::

    set_trainer(trainer); set_params({"epochs": E, "steps": S, "samples": N, "batch_size": B})
    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_batch_begin(batch, logs) -> on_batch_end(batch, logs)     (each batch)
        on_test_begin(logs) -> on_test_end(logs)                      (around validation)
      on_epoch_end(epoch, logs)                                       (each epoch)
    on_train_end(logs)
    close()                                                           (always, last)

``epoch`` and ``batch`` count from 0 as in Keras (the history's ``epoch`` field counts from 1, as
Keras prints it). Batch logs hold ``loss`` (this batch's mean loss), ``batch`` and ``size`` (the
number of images in the batch); epoch logs hold ``loss``, ``accuracy``, ``val_loss`` and
``val_accuracy`` (with validation) and ``lr``. A callback reaches the trainer as ``self.trainer``
(see :class:`TrainerLike`: ``.model``, the settable base learning rate ``.lr``, ``.history`` and
``.stop_training``; set it to True to stop: after this epoch in ``on_epoch_end``, right after this
batch in ``on_batch_end``), and the run's ``self.params``. A custom callback in Python::

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs):
            if logs["accuracy"] > 0.95:
                self.trainer.stop_training = True

Callbacks that carry state across epochs implement ``state_dict``/``load_state_dict`` so that a
resumed run continues exactly where it stopped. :func:`make_callback` builds one from its config;
:func:`make_progress` builds the progress output, itself a callback (:class:`ProgressLogger`).

Where mnistlab deliberately differs from Keras:

- Callbacks see ``self.trainer`` (the model is ``self.trainer.model``); ``self.model``, Keras's
  name, is the same trainer (``self.model.stop_training = True`` ends the fit as in Keras; the
  torch module is ``self.model.model``, the learning rate ``self.model.lr``).
- Only the training hooks exist, plus ``on_test_begin``/``on_test_end`` around the validation pass
  of each epoch (not around the final test pass); ``on_train_batch_*`` call ``on_batch_*``, as in Keras 3 (a
  callback may override either name); ``on_test_batch_*`` and ``on_predict_*`` are never called (a
  callback defining one is warned). Batch logs hold the
  batch's own loss and size (Keras 3 passes the epoch's running averages instead).
- A run resumed from a checkpoint does not call ``on_train_begin`` again: the callbacks' saved state
  carries on. ``on_train_end`` comes when a run finishes or diverges, not when it is interrupted;
  :meth:`Callback.close` (mnistlab's own hook) comes whatever happened.
- A callback may decline batch hooks (:attr:`Callback.wants_batch_hooks`, tf.keras 2's
  ``_implements_train_batch_hooks``), so that a trainer whose callbacks all decline pays nothing
  per batch.
- ``mode="auto"`` follows tf.keras 2's name rule (:func:`resolve_mode`); Keras 3 asks the metric.
  For the values a run logs (:data:`EPOCH_LOG_KEYS`) the two agree: losses fall, accuracies rise,
  and ``lr`` has no direction (refused, as Keras 3 raises).
- A config's callbacks may only watch what a run logs: :func:`check_monitor` and
  :func:`check_filepath` reject ``val_acc`` (Keras 2's name) or a typo before training, where Keras
  warns after the first epoch and then does nothing.

Every monitoring callback decides "did it improve?" with one function, :func:`is_improvement`,
Keras 3's arithmetic (float32 comparisons); tests/data/keras_callbacks.json holds the decisions of
Keras's own callbacks fed the same logs (bench/keras_callbacks.py) and the tests replay them.
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import numpy as np

from mnistlab.errors import SpecError, SpecWarning, clip, did_you_mean, user_level
from mnistlab.files import save_weights

if TYPE_CHECKING:  # annotations only: this module loads without torch (the CLI's help lists its progress modes)
    import torch

    from mnistlab.config import CallbackConfig

Logs = dict[str, Any]


class TrainerLike(Protocol):
    """What a callback may use of its trainer (:class:`mnistlab.trainer.Trainer` provides it)."""

    model: torch.nn.Module
    lr: float  # the base learning rate; settable (schedules scale it per batch)
    stop_training: bool
    history: list[dict[str, Any]]


class Callback:
    """Base class: every hook does nothing. Override the hooks you need."""

    _trainer: TrainerLike | None = None
    # The run's parameters, at least {"epochs": int, "steps": int} (steps per epoch); set_params
    # replaces this empty, read-only default.
    params: Mapping[str, Any] = MappingProxyType({})

    @property
    def trainer(self) -> TrainerLike:
        """The trainer this callback serves (set by :meth:`set_trainer`)."""
        if self._trainer is None:
            raise RuntimeError(f"{type(self).__name__} has no trainer: call set_trainer() (CallbackList does) first")
        return self._trainer

    @property
    def model(self) -> TrainerLike:
        """Keras's ``self.model`` in a callback, here the trainer: ``self.model.stop_training = True``
        ends the fit after this epoch (or batch) as in Keras; ``self.model.lr`` is the learning rate
        (Keras's ``self.model.optimizer.learning_rate``, which reads and sets it too:
        :class:`~mnistlab.optim.KerasLearningRate`). Under ``train.schedule`` both are the base rate the
        schedule scales, read and set alike, where Keras reads the scheduled rate and refuses a set
        (a deliberate difference: ``lr = lr / 2`` halves the base); the rate of the last batch is
        ``self.model.optimizer.param_groups[0]["lr"]``, as ``history["lr"]`` logs it. ``self.model.model`` the torch module
        (helper-157: a Keras callback's ``self.model`` was an AttributeError). A callback of one's own
        that sets ``self.model`` itself keeps what it set."""
        return self.__dict__["_own_model"] if "_own_model" in self.__dict__ else self.trainer

    @model.setter
    def model(self, value: Any) -> None:  # (review: `self.model = ...` in a subclass failed: no setter)
        self.__dict__["_own_model"] = value

    def set_trainer(self, trainer: TrainerLike) -> None:
        """Attach the trainer this callback serves (:class:`CallbackList` does it before a fit)."""
        self._trainer = trainer

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Keras's ``set_params``: the fit's parameters, at least ``{"epochs": int, "steps": int}``
        (steps per epoch), before :meth:`on_train_begin`."""
        self.params = params

    @property
    def wants_batch_hooks(self) -> bool:
        """Whether the batch hooks must be called: by default, whether this callback overrides one.

        Override it to decline batch hooks a callback overrides but sometimes does not need (as
        :class:`ProgressLogger` does with ``mode="none"``)."""
        return any(_overrides(self, hook) for hook in BATCH_HOOKS)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Once, before the first epoch (Keras's hook; ``logs`` empty)."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Once, after the last epoch (or the one a callback stopped at); ``logs`` the last epoch's."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before each epoch; ``epoch`` counts from 0, as in Keras (``history[epoch]["epoch"]`` is ``epoch + 1``)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After each epoch (``epoch`` from 0); ``logs`` holds its numbers under Keras's names, floats:
        ``loss``, ``accuracy``, with a validation split ``val_loss``, ``val_accuracy``, and ``lr``
        (``history`` then adds ``epoch_seconds``, once the hooks have run). Set
        ``self.model.stop_training = True`` to end the fit after it, as in Keras."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before each training batch (``batch`` from 0 within the epoch; ``logs``: ``batch`` and
        ``size``); defining it (or another batch hook) makes the trainer build batch logs, which costs
        a little speed."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After each training batch (``batch`` from 0); ``logs``: ``loss`` (this batch's mean loss,
        where Keras 3 gives the epoch's running average: see the module docstring), ``batch`` and
        ``size`` (its number of images). ``self.model.stop_training = True`` ends the fit right after it."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Keras 3's name of the hook before each training batch, which the trainer calls; by default
        it calls :meth:`on_batch_begin`, as Keras 3's does (helper-178: a callback overriding this
        name was never called)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Keras 3's name of the hook after each training batch; by default :meth:`on_batch_end`."""
        self.on_batch_end(batch, logs)
    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Before each epoch's validation pass (not around the final test pass)."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """After each epoch's validation pass; ``logs``: its ``loss`` and ``accuracy`` (unprefixed, as
        Keras 3 gives them; :meth:`on_epoch_end` has them as ``val_loss`` and ``val_accuracy``)."""

    def close(self) -> None:
        """Called once the fit is over, whatever happened (also on Ctrl-C or an error); must be
        safe to call twice. mnistlab's own hook: the progress output finishes here."""

    def state_dict(self) -> dict[str, Any]:
        """Plain data (numbers, strings, tensors) needed to resume; empty for stateless callbacks."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (each key becomes an attribute)."""
        for key, value in state.items():
            setattr(self, key, value)


BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
# Keras's hooks that mnistlab never calls: validation and the final test are one pass each, not batches
# seen by callbacks, and there is no predict loop (a callback defining one is told so: SpecWarning)
UNCALLED_HOOKS = ("on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
                  "on_predict_batch_begin", "on_predict_batch_end")
# PyTorch Lightning's hook names a Keras callback has not, and the Keras hook each is nearest (helper-253: a
# Lightning-style on_train_epoch_end was never called, unsaid, and its run recorded as if it had acted)
LIGHTNING_HOOKS = {"on_train_epoch_start": "on_epoch_begin(epoch, logs)", "on_train_epoch_end": "on_epoch_end(epoch, logs)",
                   "on_validation_epoch_end": "on_epoch_end(epoch, logs), whose logs hold val_loss and val_accuracy",
                   "on_validation_end": "on_test_end(logs)", "on_validation_start": "on_test_begin(logs)",
                   "on_fit_start": "on_train_begin(logs)", "on_fit_end": "on_train_end(logs)",
                   "on_train_start": "on_train_begin(logs)", "on_before_optimizer_step": "on_batch_end(batch, logs)",
                   "on_after_backward": "on_batch_end(batch, logs)"}


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback.<hook>`` is something other than :class:`Callback`'s no-op (a subclass's
    method or a function set on the instance)."""
    method = getattr(callback, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class CallbackList:
    """The trainer's one hook channel: calls each hook on every callback, in list order.

    Whether any callback wants batch hooks is worked out once, here (:attr:`wants_batch_hooks`), and
    the batch hooks reach only those callbacks. A trainer checks it once per fit and skips building
    batch logs when it is False::

        callbacks = CallbackList([*configured, make_progress("lines")], trainer)
        callbacks.set_params({"epochs": 5, "steps": 1875, "samples": 60000, "batch_size": 32})
        batch_hooks = callbacks.wants_batch_hooks
    """

    def __init__(self, callbacks: Iterable[Callback] = (), trainer: TrainerLike | None = None) -> None:
        self.callbacks = list(callbacks)
        self._batch_callbacks = tuple(cb for cb in self.callbacks if cb.wants_batch_hooks)
        for cb in self.callbacks:
            if uncalled := [h for h in UNCALLED_HOOKS if callable(getattr(cb, h, None))]:
                warnings.warn(f"{type(cb).__name__} defines {', '.join(uncalled)}, which mnistlab never calls: validation "
                              "and the test are one pass each (on_test_begin/on_test_end around validation are "
                              "called), and there is no predict loop", SpecWarning, stacklevel=user_level())
            if lightning := [h for h in LIGHTNING_HOOKS if callable(getattr(cb, h, None))]:
                warnings.warn(f"{type(cb).__name__} defines {', '.join(lightning)}: PyTorch Lightning's hook"
                              f"{'s' * (len(lightning) > 1)}, which mnistlab never calls; its callbacks are Keras's: "
                              + "; ".join(f"{h} is {LIGHTNING_HOOKS[h]}" for h in lightning)
                              + " (self.model is the trainer, self.model.model the torch module)", SpecWarning,
                              stacklevel=user_level())
        self.params: Mapping[str, Any] = MappingProxyType({})
        if trainer is not None:
            self.set_trainer(trainer)

    @property
    def wants_batch_hooks(self) -> bool:
        """True when some callback wants ``on_batch_begin``/``on_batch_end``."""
        return bool(self._batch_callbacks)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_trainer(self, trainer: TrainerLike) -> None:
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Hand every callback the run's parameters: at least ``{"epochs": int, "steps": int}`` (Keras's);
        the Trainer adds ``samples`` and ``batch_size``, which the progress lines' img/s needs."""
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    # Every callback sees the same logs dict, as in Keras: a callback may add keys for those after it.
    def on_train_begin(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self._batch_callbacks:
            cb.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self._batch_callbacks:
            cb.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def close(self) -> None:
        """End of fit, whatever happened: call it in a ``finally``. Safe to call twice.

        Every callback's ``close`` runs even when one raises; the first error is raised after."""
        error: BaseException | None = None
        for cb in self.callbacks:
            try:
                cb.close()
            except BaseException as exc:  # a second Ctrl-C too: the other callbacks still finish
                error = error or exc
        if error is not None:
            raise error


# ------------------------------------------------------------------------------ monitored values
# What the trainer puts in every epoch's logs; the val_* values only when the run has validation data.
EPOCH_LOG_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
MODES = ("auto", "min", "max")


def logged_keys(validation: bool = True) -> tuple[str, ...]:
    """The keys of a run's epoch logs (:data:`EPOCH_LOG_KEYS`), without ``val_*`` when ``validation`` is False."""
    return tuple(k for k in EPOCH_LOG_KEYS if validation or not k.startswith("val_"))


# Keras's names of values a run logs under another: Keras 3 logs the rate as learning_rate (which a
# History reads as lr), Keras 2 wrote acc and val_acc; difflib alone finds neither
KERAS3_LOGGED = {"learning_rate": "lr"}
KERAS2_LOGGED = {"acc": "accuracy", "val_acc": "val_accuracy"}


def logged_as(key: str) -> str | None:
    """The name a run logs Keras's ``key`` under (:data:`KERAS3_LOGGED`, :data:`KERAS2_LOGGED`; a
    Keras 2 ``*_acc`` as ``*_accuracy``), or None where Keras has no other name for it."""
    if near := KERAS3_LOGGED.get(key) or KERAS2_LOGGED.get(key):
        return near
    return key.removesuffix("_acc") + "_accuracy" if key.endswith("_acc") else None


def logged_hint(key: str, keys: Iterable[str]) -> str:
    """`` (did you mean "val_accuracy"?)`` for a metric ``key`` none of ``keys`` is: Keras's other
    name for it (:func:`logged_as`) where ``keys`` has it, else the nearest spelling; "" for none."""
    keys = list(keys)
    near = logged_as(key)
    return f' (did you mean "{near}"?)' if near in keys else did_you_mean(key, keys)


def _not_logged(key: str) -> str:
    """``'"val_acc" is not a value a run logs (did you mean "val_accuracy"?); a run logs ...'``."""
    return (f'"{key}" is not a value a run logs{logged_hint(key, EPOCH_LOG_KEYS)}; '
            f"a run logs {', '.join(EPOCH_LOG_KEYS)} (val_* with validation data)")


def check_monitor(monitor: str, who: str = "monitor") -> None:
    """Raise :class:`SpecError` unless ``monitor`` is a key a run logs (:data:`EPOCH_LOG_KEYS`).

    Keras 2's names (``acc``, ``val_acc``) and typos get a did-you-mean hint (``"val_accuracy"``);
    ``who`` starts the message. Whether a ``val_*`` key has validation data is the caller's check.
    """
    if monitor not in EPOCH_LOG_KEYS:
        raise SpecError(f"{who}: {_not_logged(monitor)}")


def filepath_keys(filepath: str, who: str = "filepath") -> list[str]:
    """The keys a ModelCheckpoint ``filepath`` formats (``"e{epoch}-{val_loss:.2f}"`` -> epoch,
    val_loss; ``""`` for a positional ``{}``). Raises :class:`SpecError` for a malformed pattern
    (an unclosed ``{``); ``who`` starts the message."""
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(filepath) if f is not None]
    except ValueError as exc:
        raise SpecError(f'{who}: "{filepath}": {exc} (write {{{{ and }}}} for literal braces)') from None
    return [f.split(".")[0].split("[")[0] for f in fields]


#: What a ModelCheckpoint filepath may name besides ``{epoch}`` and the logs, filled once per run before
#: it trains (:func:`named_filepath`): its experiment, its variant (the row) and its seed, so that one
#: filepath in an experiment's base gives each run a file of its own (note 57: the runs replaced each other's)
RUN_NAME_KEYS = ("experiment", "variant", "seed")


def named_filepath(filepath: str, *, experiment: str, variant: str, seed: int) -> str:
    """``filepath`` with its ``{experiment}``, ``{variant}`` and ``{seed}`` fields filled (a format spec
    too: ``{seed:02d}``), its other fields (``{epoch}``, logged values) kept for each save:
    ``"ckpt/{variant}-s{seed}-e{epoch}.safetensors"`` -> ``"ckpt/lr=0.01-s3-e{epoch}.safetensors"``."""
    names: dict[str, Any] = {"experiment": experiment, "variant": variant, "seed": seed}
    return re.sub(r"\{(experiment|variant|seed)(:[^{}]*)?\}", lambda m: format(names[m[1]], (m[2] or ":")[1:]), filepath)


def check_filepath(filepath: str, who: str = "filepath") -> list[str]:
    """Raise :class:`SpecError` unless every ``{key}`` of a ModelCheckpoint ``filepath`` is ``epoch``
    or a key a run logs, each format spec suits its value (``{epoch:03d}``, ``{val_loss:.4f}``),
    and the path ends in ``.safetensors`` (what is written).

    Returns the logs keys the path uses (so that a caller can check ``val_*`` against validation);
    ``who`` starts the messages. Keras finds these mistakes when it first saves, after an epoch.
    """
    keys = filepath_keys(filepath, who)
    _check_filepath_text(filepath, who)
    for key in keys:
        if key == "":
            raise SpecError(f'{who}: "{filepath}" has a positional {{}} field; name a key: epoch or '
                            f"{', '.join(EPOCH_LOG_KEYS)}")
        if key != "epoch" and key not in EPOCH_LOG_KEYS and key not in RUN_NAME_KEYS:
            raise SpecError(f'{who}: "{filepath}": {_not_logged(key)}')
    try:
        sample = sample_filepath(filepath)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SpecError(f'{who}: "{filepath}" cannot be formatted: {exc}') from None
    if not sample.lower().endswith(".safetensors"):  # Keras 3 refuses a wrong suffix as well (.keras, .weights.h5)
        raise SpecError(f'{who}: "{filepath}" must end in .safetensors: mnistlab saves the weights as safetensors '
                        "(Keras's .keras and .weights.h5 files are not written)")
    if (long := next((part for part in sample.split("/") if len(part.encode()) > MAX_NAME_BYTES), None)) is not None:
        raise SpecError(f'{who}: "{clip(filepath, 60)}" makes a file or folder name of {len(long.encode())} bytes: '
                        f"file systems take {MAX_NAME_BYTES} at most")
    return [k for k in keys if k != "epoch" and k not in RUN_NAME_KEYS]


def sample_filepath(filepath: str) -> str:
    """The file a ModelCheckpoint ``filepath`` names at a save of epoch 1, every logged value 0.5
    (the types a save formats: epoch an int, each logged value a float), a run's names those of a
    run "e", "v", seed 0: what the checks before training look at. Raises what ``str.format``
    raises for a pattern it cannot fill."""
    return filepath.format(epoch=1, experiment="e", variant="v", seed=0, **{k: 0.5 for k in EPOCH_LOG_KEYS})


def nearest_folder(path: Path) -> Path:
    """The nearest of ``path``'s parents that exists (or is a link, if broken), where a save makes
    the folders it needs; the last of them (``.`` or the root) where none does."""
    return next((p for p in path.parents if p.exists() or p.is_symlink()), path.parents[-1])


def checkpoint_folder_mistake(filepath: str, who: str = "filepath") -> str | None:
    """Why the folder a ModelCheckpoint ``filepath`` (checked by :func:`check_filepath`) saves into
    cannot be made or written on this machine, or None: no folder can be made in its nearest folder
    that exists (``/proc``, a read-only disk, another user's folder, a file). Probed by making and
    removing an empty folder there, so that a run fails before it trains, not at its first save
    (Keras makes the folder then). Relative paths are from the current folder."""
    import tempfile

    there = nearest_folder(Path(sample_filepath(filepath)))
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mnistlab-probe-", dir=there))
    except OSError as exc:  # (said of the folder it was made in: /proc/self exists, and takes no folder)
        return (f'{who}: "{clip(filepath, 60)}" cannot be written here: a folder cannot be made in {there} '
                f"({exc.strerror or exc})")
    return None


MAX_NAME_BYTES = 255  # one file or folder name (Linux's NAME_MAX, macOS's and Windows's 255 characters)
MAX_PATH_BYTES = 4000  # a whole path (Linux's PATH_MAX is 4096, with the folder it is relative to)
MAX_FIELD_WIDTH = 32  # a {key:WIDTH.PRECISION} over this is a mistake (helper-143: {epoch:>999999999} built 1 GB)


def _check_filepath_text(filepath: str, who: str) -> None:
    """SpecError, before anything trains, for what a ModelCheckpoint ``filepath`` cannot become a
    file by (helper-143: each trained, then failed the run): a NUL or other control character, a
    field reaching into its value (``{epoch.__class__}``, ``{epoch[0]}``: Python's format would
    evaluate it), a width or precision over :data:`MAX_FIELD_WIDTH`."""
    import string

    if any(ord(c) < 32 or ord(c) == 127 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in filepath):
        raise SpecError(f"{who}: {filepath!r} holds a control character (a file name cannot; a right-to-left mark "
                        "would show it otherwise than it is)")
    if filepath.startswith("~"):  # Python's open() does not expand it: a folder named "~" here (rm -rf ~ ...)
        raise SpecError(f'{who}: "{clip(filepath, 60)}" starts with "~", which is not your home folder here: '
                        "mnistlab (as Keras) makes a folder named \"~\"; write the full path")
    if len(filepath.encode()) > MAX_PATH_BYTES:
        raise SpecError(f'{who}: "{clip(filepath, 60)}" is {len(filepath.encode()):,} bytes long: file systems take '
                        f"{MAX_PATH_BYTES:,} at most")
    for _, field, spec, _ in string.Formatter().parse(filepath):
        if field is None:
            continue
        if "{" in (spec or ""):  # helper-145: {epoch:>{epoch}0} grew with the epochs, past a name's length
            raise SpecError(f'{who}: "{{{field}:{clip(spec or "", 20)}}}" formats its format with a value: write a '
                            "fixed one, such as {epoch:03d}")
        if "." in field or "[" in field:
            raise SpecError(f'{who}: "{{{field}}}" reaches into a value: name a key alone, {{epoch}} or a logged '
                            "value such as {val_loss:.4f}")
        widths = [int(w) for w in re.findall(r"\d+", spec or "")]  # a width or a precision (.999999999f too)
        if widths and max(widths) > MAX_FIELD_WIDTH:
            raise SpecError(f'{who}: "{{{field}:{clip(spec or "", 20)}}}" makes {max(widths):,} characters: '
                            f"{MAX_FIELD_WIDTH} at most")


def resolve_mode(mode: str, monitor: str) -> str:
    """Keras's "auto": maximise accuracies (and anything named like one), minimise the rest.

    Raises :class:`SpecError` for a mode other than "auto", "min" or "max" (Keras warns and uses
    "auto"), and for "auto" on the learning rate ``lr``, no metric, whose direction Keras 3 does not
    infer either (``MonitorCallback._set_monitor_op`` raises ValueError at the first epoch's end)."""
    if mode not in MODES:
        raise SpecError(f'unknown mode "{mode}"{did_you_mean(mode, MODES)}; use auto, min or max')
    if mode in ("min", "max"):
        return mode
    if monitor == "lr":  # helper-155: minimised unsaid, where Keras stops with an error
        raise SpecError('mode "auto" cannot tell whether the learning rate "lr" should rise or fall (Keras 3 '
                        'cannot either): give mode = "min" or "max"')
    return "max" if ("acc" in monitor or monitor.startswith("fmeasure") or "auc" in monitor) else "min"


def is_improvement(value: float, reference: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` improves on ``reference`` by more than ``min_delta``, as Keras decides it.

    ``mode`` is "min" or "max" (resolved, see :func:`resolve_mode`); ``min_delta`` is taken as
    ``abs(min_delta)``. No reference yet (None) is an improvement. The delta moves the value, not the
    reference, and the comparison is made in float32, as Keras 3's ``MonitorCallback._is_improvement``
    (``keras/src/callbacks/monitor_callback.py``) does with ``ops.less``/``ops.greater``, on the value
    as Keras's ``fit`` logs it, a float32 (``pythonify_logs``; mnistlab logs float64 fractions, such as
    4990 / 5000, and a gain of exactly ``min_delta`` went the other way: helper-155)::

        min: float32(float32(value) + min_delta) < float32(reference)
        max: float32(float32(value) - min_delta) > float32(reference)

    So with accuracies on 10,000 images (steps of 1e-4) and the default ``min_delta=1e-4`` a
    one-image gain is no improvement. NaN is never an improvement (except as the first value).

    >>> is_improvement(0.3, 0.4, "min", 0.1), is_improvement(0.9008, 0.9007, "max", 1e-4)
    (False, False)
    """
    if reference is None:
        return True
    delta, logged = abs(float(min_delta)), float(np.float32(value))
    if mode == "max":
        return bool(np.float32(logged - delta) > np.float32(reference))
    return bool(np.float32(logged + delta) < np.float32(reference))


def _monitored(logs: Logs | None, monitor: str, who: str, then: str = "skipping") -> float | None:
    """``logs[monitor]`` as a float, or None with the one "not available" warning (ending in ``then``),
    pointing at the first line outside mnistlab (:func:`~mnistlab.errors.user_level`)."""
    value = (logs or {}).get(monitor)
    if value is None:
        available = ", ".join(sorted(k for k, v in (logs or {}).items() if isinstance(v, (int, float))))
        warnings.warn(f"{who}: metric {monitor!r} is not available (available: {available}); {then}",
                      SpecWarning, stacklevel=user_level())
        return None
    return float(value)


class MonitorCallback(Callback):
    """Base for callbacks that watch ``logs[monitor]`` and ask "did it improve?" (Keras's
    MonitorCallback). ``mode`` is "min", "max" or "auto" (:func:`resolve_mode`); an improvement must
    beat the reference by more than ``abs(min_delta)``, in float32 (:func:`is_improvement`)."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode_given = mode  # as written: "auto" on a value no run logs is refused before training (run.py)
        self.mode = resolve_mode(mode, monitor)
        self.min_delta = abs(float(min_delta))

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        """:func:`is_improvement` with this callback's mode and ``min_delta``."""
        return is_improvement(value, reference, self.mode, self.min_delta)

    def _monitored(self, logs: Logs | None, then: str = "skipping") -> float | None:
        """The monitored value, or None (with a warning) when the logs lack it."""
        return _monitored(logs, self.monitor, type(self).__name__, then=then)


class StopAtLoss(Callback):
    """Stop training once ``logs[monitor] < threshold`` at the end of an epoch (seed 001)."""

    def __init__(self, threshold: float, monitor: str = "loss") -> None:
        self.threshold = float(threshold)
        self.monitor = monitor
        self.stopped_epoch = -1  # the epoch (from 0) it stopped at, as EarlyStopping's

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored(logs, self.monitor, "StopAtLoss")
        if value is not None and value < self.threshold:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True


class EarlyStopping(MonitorCallback):
    """Keras's EarlyStopping: stop after ``patience`` epochs without an improvement > ``min_delta``.

    The improvement test is :func:`is_improvement` (float32, ``min_delta`` on the value). Epochs
    before ``start_from_epoch`` and epochs whose logs lack ``monitor`` are not counted. An epoch that
    improves on the best but not on ``baseline`` does not reset ``wait``. It never stops at epoch 0.
    With ``restore_best_weights`` the model ends with the weights of its best epoch, also when the
    run reaches its last epoch without stopping early (Keras 3, ``keras/src/callbacks/early_stopping.py``).
    Unlike Keras, ``best_epoch`` and ``stopped_epoch`` are -1 (not 0) until set.
    """

    def __init__(
        self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
        baseline: float | None = None, restore_best_weights: bool = False, start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.verbose = verbose  # Keras's: "Epoch 7: early stopping" as training ends, and the weights restored
        self.patience = int(patience)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.best: float | None = None
        self.best_epoch = -1
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stopped_epoch = -1

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._monitored(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._is_improvement(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose:  # Keras 3 says it as training ends, then the restore
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "best_weights": self.best_weights, "stopped_epoch": self.stopped_epoch}


class ReduceLROnPlateau(MonitorCallback):
    """Keras's ReduceLROnPlateau: ``lr = max(lr * factor, min_lr)`` after ``patience`` epochs without
    an improvement > ``min_delta`` (:func:`is_improvement`), then wait ``cooldown`` epochs before
    counting again.

    As in Keras 3 (``keras/src/callbacks/reduce_lr_on_plateau.py``) the learning rate is a float32
    value: it is read and set rounded to float32, and it is only reduced while
    ``float32(lr) > float32(min_lr)``. Once at ``min_lr`` nothing happens: no reduction is recorded
    and ``wait`` and the cooldown are not reset.
    """

    def __init__(
        self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
        min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, verbose: int = 0,
    ) -> None:
        if not 0 < factor < 1:
            raise SpecError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor = float(factor)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best: float | None = None
        self.reductions: list[tuple[int, float]] = []  # (epoch, new lr), for the record

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._monitored(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(value, self.best):
            self.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce(epoch)

    def _reduce(self, epoch: int) -> None:
        # Keras's learning rate is a float32 variable: it reads float32(lr), multiplies in float64 and
        # stores float32 again; so 1e-3 * 0.1 lands one float32 step above min_lr=1e-4, reduces once
        # more, and then stops at float32(1e-4) (a float64 lr would stop one reduction early).
        old = float(np.float32(self.trainer.lr))
        if old > np.float32(self.min_lr):
            wanted = max(old * self.factor, self.min_lr)
            new = float(np.float32(wanted))
            self.trainer.lr = new
            self.reductions.append((epoch, new))
            if self.verbose:  # Keras says the float64 product, before its float32 variable rounds it
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {wanted}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best,
                "reductions": [list(r) for r in self.reductions]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.reductions = [(int(e), float(lr)) for e, lr in self.reductions]


class ModelCheckpoint(MonitorCallback):
    """Save the model's weights (safetensors) after each epoch, or only when ``monitor`` improves.

    ``filepath`` is formatted with ``epoch`` (from 1) and the logs, e.g. ``"e{epoch:02d}.safetensors"``
    (``save_weights_only``, Keras's, may only be true: the weights alone are what is saved);
    the path is formatted every epoch, before deciding to save (a bad pattern fails at once, as in
    Keras; configs are checked before training by :func:`check_filepath`). With ``save_best_only``
    a save needs an improvement on the best so far (:func:`is_improvement`, no ``min_delta``), the
    first best being ``initial_value_threshold`` (None: the first value saves); when ``monitor`` is
    missing from the logs it warns and saves, as Keras 3 does
    (``keras/src/callbacks/model_checkpoint.py``).
    """

    def __init__(self, filepath: str | Path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", initial_value_threshold: float | None = None, save_weights_only: bool = True,
                 save_freq: str = "epoch", verbose: int = 0) -> None:
        if not save_weights_only:  # Keras's whole-model file: not what mnistlab writes
            raise SpecError("ModelCheckpoint: save_weights_only = false asks for Keras's whole-model .keras file; "
                            "mnistlab saves the weights alone (safetensors)")
        if save_freq != "epoch":
            raise SpecError(f"ModelCheckpoint: save_freq {save_freq!r}: mnistlab saves at epochs' ends (\"epoch\")")
        super().__init__(monitor, mode, min_delta=0.0)
        self.verbose = verbose  # Keras's: "Epoch 3: saving model to ..." at each save (and "did not improve")
        self.initial_value_threshold = initial_value_threshold  # as given (recorded: run.callback_config)
        self.filepath = str(filepath)
        self.save_best_only = save_best_only
        self.best: float | None = None if initial_value_threshold is None else float(initial_value_threshold)
        self.saved: list[str] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        try:
            path = Path(self.filepath.format(epoch=epoch + 1, **logs))
        except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
            raise SpecError(f"ModelCheckpoint: cannot format filepath {self.filepath!r}: {exc}") from None
        said = f"Epoch {epoch + 1}: saving model to {path}"
        if self.save_best_only:
            value = self._monitored(logs, then="saving anyway")
            if value is not None:  # a missing monitor saves (Keras: "Can save best model only with ...")
                best = "None" if self.best is None else f"{self.best:.5f}"  # Keras 3's words, line for line
                if not self._is_improvement(value, self.best):
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                said = f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {value:.5f}, saving model to {path}"
                self.best = value
        if self.verbose:
            print(said)
        save_weights(self.trainer.model.state_dict(), path)  # whole: a stop while saving keeps the last file
        self.saved.append(str(path))
        if self.verbose:  # Keras 3's second line of a save, once it is written
            print(f"Epoch {epoch + 1}: finished saving model to {path}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "saved": list(self.saved)}


# The config's callback types defined here (mnistlab.config.CALLBACKS holds their schemas; a test
# pins the two); SwapEMAWeights is the other (:func:`callback_type`).
CALLBACK_TYPES: dict[str, type[Callback]] = {
    "StopAtLoss": StopAtLoss,
    "EarlyStopping": EarlyStopping,
    "ReduceLROnPlateau": ReduceLROnPlateau,
    "ModelCheckpoint": ModelCheckpoint,
}


class StopBetweenEpochs(Callback):
    """A stop noticed while an epoch ends, taken before the next one begins, with that epoch kept
    (its history and checkpoint): give it to the trainer both as a callback and as its interrupt,
    ``Trainer(callbacks=[s], interrupt=s.asked)``.

    ``stop`` is an :class:`~mnistlab.execute.StopSignal`. From this callback's ``on_epoch_end``
    (the trainer's callbacks come before its progress output) until the trainer asks :meth:`asked`
    before the next epoch, ``stop.defer`` is set: whoever notices a stop then (`mnistlab train`'s
    closed output, noticed while the epoch's line is printed) sets ``stop.pending`` to its signal
    instead of raising in the middle of the epoch's end. A stop noticed after the last epoch is
    not taken: the run ends as it would have. Not a config callback: `mnistlab train` adds it."""

    def __init__(self, stop: Any) -> None:
        self.stop = stop
        self.began = False  # whether training began: a stop before it is said so

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.began = True

    def asked(self) -> bool:
        """Whether a stop is pending (then ``stop.signum`` becomes its signal); ends the deferring."""
        self.stop.defer = False
        if self.stop.pending:
            self.stop.signum = self.stop.pending
            return True
        return False

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.stop.defer = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        self.stop.defer = False

    def close(self) -> None:
        self.stop.defer = False


def make_callback(cfg: CallbackConfig) -> Callback:
    """Build a callback from its validated config (see :mod:`mnistlab.config`), its settings left
    out of the run's key (``verbose``) included."""
    kwargs = cfg.model_dump()
    kwargs.update({k: getattr(cfg, k) for k, field in type(cfg).model_fields.items() if field.exclude})
    kind = kwargs.pop("type")
    if kind == "Python":  # a recorded callback object of the user's own (run.setting_mistakes says it sooner)
        raise SpecError(f"a config cannot rebuild the callback object of class {kwargs['class_name']} a run trained with: "
                        "pass that object to mnistlab.train(callbacks=[...])")
    return callback_type(kind)(**kwargs)


def callback_type(kind: str) -> type[Callback]:
    """The class of config callback type ``kind`` (a key of :data:`mnistlab.config.CALLBACKS`).
    SwapEMAWeights lives beside the optimizer EMA it swaps, in :mod:`mnistlab.averaging` (which
    builds on this module, and loads torch): imported when first asked for. Raises KeyError for an
    unknown kind (the config validates kinds before this)."""
    if kind == "SwapEMAWeights":
        from mnistlab.averaging import SwapEMAWeights

        return SwapEMAWeights
    return CALLBACK_TYPES[kind]


# ------------------------------------------------------------------------------------ progress
PROGRESS_MODES = ("auto", "bar", "lines", "none")


def shown_mode(mode: str, stream: TextIO | None = None) -> str:
    """The progress a :data:`PROGRESS_MODES` mode shows on ``stream`` (default stdout): ``"auto"``
    is "bar" on a terminal that redraws in place (:func:`~mnistlab.files.redraws`: not a dumb one),
    else "lines"; any other mode itself."""
    from mnistlab.files import redraws

    if mode != "auto":
        return mode
    return "bar" if redraws(stream or sys.stdout) else "lines"


def check_progress_mode(mode: str) -> None:
    """Raise :class:`SpecError` (with a did-you-mean hint) unless ``mode`` is in :data:`PROGRESS_MODES`."""
    if isinstance(mode, (bool, int)):  # Keras's verbose=0/1/2, or progress=False
        raise SpecError(f'progress={mode!r}: progress is a mode, not a number or a flag: use auto, bar, lines or none '
                        '(Keras\'s verbose=0 is progress="none", verbose=2 is progress="lines")')
    if mode not in PROGRESS_MODES:
        raise SpecError(f'unknown progress mode "{mode}"{did_you_mean(mode, PROGRESS_MODES)}; use auto, bar, lines or none')


def format_epoch(entry: dict[str, Any], epochs: int) -> str:
    """Keras's one-line epoch summary: ``Epoch 2/5 - 3.1s - loss: 0.4123 - accuracy: 0.8512 ...``.

    ``entry`` is a history entry: ``epoch`` (from 1), the epoch logs, ``epoch_seconds`` and
    ``images_per_second``."""
    parts = [f"Epoch {entry['epoch']}/{epochs}", f"{entry['epoch_seconds']:.1f}s"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if entry.get(key) is not None:
            parts.append(f"{key}: {entry[key]:.4f}")
    parts.append(f"lr: {entry['lr']:.3g}")
    if entry.get("images_per_second") is not None:
        parts.append(f"{entry['images_per_second']:,.0f} img/s")
    return " - ".join(parts)


NARROW = 60  # a terminal narrower than this many columns gets the progress bar's figures without the bar


class _LiveBar:
    """A rich progress bar for the running epoch, removed (transient) when the epoch ends.

    Each epoch gets a bar of its own: in Jupyter, rich's live display is an ipywidgets Output that
    its stop closes, and a stopped one started again cleared the whole cell (helper-182: the lines
    printed before training and every epoch's line but the last were gone)."""

    def __init__(self, stream: TextIO | None) -> None:
        from rich.console import Console

        from mnistlab.files import console_style

        self.console = Console(file=stream, **console_style())
        self.bar: Any = None
        self.task: Any = None
        self.next_draw = 0.0

    def start(self, description: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # On a narrow terminal the bar itself goes, not the step count and the time left (helper-176:
        # at 40 columns "184…" and "0:00:…"): the figures fit, the drawing was what could go.
        drawn = [BarColumn()] if self.console.width >= NARROW else []
        self.bar = Progress(TextColumn("{task.description}"), *drawn, MofNCompleteColumn(),
                            TextColumn("loss: {task.fields[loss]}"), TimeRemainingColumn(),
                            console=self.console, transient=True, auto_refresh=False)
        self.bar.start()
        self.task = self.bar.add_task(description, total=total, loss="-")

    def update(self, step: int, total: int, loss: float, now: float) -> None:
        # Redrawn at most 10 times a second: a redraw costs more than a small model's step.
        if now >= self.next_draw or step + 1 == total:
            self.next_draw = now + 0.1
            self.bar.update(self.task, completed=step + 1, loss=f"{loss:.4f}")
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is None:
            return
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        self.bar.stop()
        self.bar = None


class ProgressLogger(Callback):
    """Progress output as a callback (Keras's ProgbarLogger). Modes:

    - ``"lines"``: one summary line per epoch (log files, notebooks, tests), see :func:`format_epoch`;
      it declines batch hooks, so that on a GPU no step waits for the host to read its loss;
    - ``"bar"``: a live bar for the running epoch with the running mean loss, replaced by the
      epoch's summary line when the epoch ends (each step's loss is read: on a GPU, a wait per step);
    - ``"none"``: silent, and declines batch hooks;
    - ``"auto"``: "bar" when the stream (default stdout) is a terminal, else "lines".

    It reads ``epochs`` and ``steps`` (and, in lines mode, ``samples`` and ``batch_size``, which the
    Trainer adds to Keras's; without them the line leaves img/s out) from ``self.params`` when an
    epoch begins (a resumed run skips ``on_train_begin``); the bar needs ``loss`` and ``size`` in the batch logs. It measures the
    epoch itself: seconds from ``on_epoch_begin`` to ``on_epoch_end`` (put it last in the list, as
    Keras does, so that they include the other callbacks), plus, for an epoch resumed from a
    checkpoint written inside it, the ``seconds_before_resume`` its ``on_epoch_begin`` logs give;
    and images per second over the training part (from ``on_epoch_begin`` to the last
    ``on_batch_end``, or in lines mode to ``on_test_begin`` or, without validation,
    ``on_epoch_end``). ``clock`` is its timer (seconds); tests replace it.
    """

    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        check_progress_mode(mode)
        mode = shown_mode(mode, stream)
        self.mode, self.stream = mode, stream
        self.clock = time.perf_counter
        self._bar = _LiveBar(stream) if mode == "bar" else None
        self._epochs = self._steps = 0  # from params, when an epoch begins
        self._epoch_start = self._train_end = self._earlier = 0.0
        self._loss_sum, self._seen, self._tested = 0.0, 0, False

    @property
    def wants_batch_hooks(self) -> bool:
        return self.mode == "bar"

    def _param(self, key: str) -> int:
        if key not in self.params:
            raise RuntimeError(f"ProgressLogger needs params[{key!r}]: call set_params() (CallbackList does) first")
        return int(self.params[key])

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epochs, self._steps = self._param("epochs"), self._param("steps")
        self._loss_sum, self._seen, self._tested = 0.0, 0, False
        self._earlier = float((logs or {}).get("seconds_before_resume", 0.0))  # an epoch resumed mid-way
        if self._bar is not None:
            self._bar.start(f"Epoch {epoch + 1}/{self._epochs}", total=self._steps)
        elif self.mode == "lines" and {"samples", "batch_size"} <= set(self.params):  # no batch hooks: the images
            done = int((logs or {}).get("resumed_after_batch", 0)) * int(self.params["batch_size"])  # trained now
            self._seen = max(int(self.params["samples"]) - done, 0)
        elif self.mode == "lines":
            self._seen = -1  # not said (params of Keras's two keys only): the line leaves img/s out
        self._epoch_start = self._train_end = self.clock()

    def on_test_begin(self, logs: Logs | None = None) -> None:
        if self.mode == "lines":
            self._train_end, self._tested = self.clock(), True  # the training part of the epoch ends

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        # Every step of a lines or bar run passes here: keep it to a few additions.
        size = logs["size"]  # type: ignore[index]  # the trainer's batch logs: loss, batch, size
        self._loss_sum += logs["loss"] * size  # type: ignore[index]
        self._seen += size
        self._train_end = self.clock()
        if self._bar is not None:
            self._show_step(batch, self._loss_sum / self._seen)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        now = self.clock()
        if self.mode == "lines" and not self._tested:
            self._train_end = now
        train_seconds = self._train_end - self._epoch_start
        speed = None if self._seen < 0 else self._seen / train_seconds if train_seconds > 0 else 0.0
        self._show_epoch({"epoch": epoch + 1, **(logs or {}), "epoch_seconds": now - self._epoch_start + self._earlier,
                          "images_per_second": speed})

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def _show_step(self, step: int, mean_loss: float) -> None:
        if self._bar is not None:
            self._bar.update(step, self._steps, mean_loss, self._train_end)

    def _show_epoch(self, entry: dict[str, Any]) -> None:
        if self.mode == "none":
            return
        line = format_epoch(entry, self._epochs)
        if self._bar is not None:
            self._bar.close()
            self._bar.console.print(line, highlight=False, soft_wrap=True)  # the terminal wraps it: one line copied
        else:
            print(line, file=self.stream or sys.stdout, flush=True)


def make_progress(mode: str, stream: TextIO | None = None) -> ProgressLogger:
    """The progress callback for a :data:`PROGRESS_MODES` mode (:class:`ProgressLogger`); the trainer
    puts it last in its :class:`CallbackList`."""
    return ProgressLogger(mode, stream)


def __getattr__(name: str) -> Any:
    """``mnistlab.callbacks.SwapEMAWeights``, where Keras has it (``keras.callbacks``), though it lives
    with the average it swaps (:mod:`mnistlab.averaging`, which imports this module; helper-130)."""
    if name == "SwapEMAWeights":
        from mnistlab.averaging import SwapEMAWeights

        return SwapEMAWeights
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
